#pragma once

// What LLM calls cost, and a budget that refuses to send once spent.

#include "core/reason/llm/clock.h"
#include "core/util/result.h"

#include <QHash>
#include <QString>

#include <memory>
#include <optional>

namespace vigil::llm {

/// USD per one million tokens.
struct ModelPrice {
    double inputPerMTok = 0.0;
    double outputPerMTok = 0.0;
};

/// Prices by model name; a lookup takes the longest entry that prefixes the
/// model ("gpt-4o-mini-2024-07-18" → "gpt-4o-mini"), else the "*" entry.
class PriceTable final {
public:
    /// Published list prices at the time of writing; override with a file.
    static PriceTable defaults();
    /// Reads YAML or JSON: `models: { <name>: { input: <usd/1M>, output: <usd/1M> } }`.
    static Result<PriceTable> loadFile(const QString &path);
    /// As loadFile; `source` names the text in error messages.
    static Result<PriceTable> parse(const QByteArray &text, const QString &source);

    void set(const QString &model, ModelPrice price) { m_prices.insert(model, price); }
    std::optional<ModelPrice> find(const QString &model) const;
    int size() const { return static_cast<int>(m_prices.size()); }

private:
    QHash<QString, ModelPrice> m_prices;
};

/// Caps in USD; 0 means no cap.
struct CostBudget {
    double dailyUsd = 0.0;
    double sessionUsd = 0.0;
};

/// Running totals per UTC day and per session. One owner thread. With a
/// store attached, every call is also written to SQLite, and the daily total
/// (and so the daily cap) is what every process recorded there today.
class CostMeter final {
public:
    CostMeter(PriceTable prices, CostBudget budget, const Clock *clock); // clock not owned
    ~CostMeter();
    CostMeter(const CostMeter &) = delete;
    CostMeter &operator=(const CostMeter &) = delete;

    /// Keeps the totals in the SQLite file at `path` (table llm_cost, one row
    /// per UTC day, session and model; WAL, synchronous=FULL) under
    /// `sessionId`. Usable only from the thread that opened it. Errors name the path.
    Result<void> openStore(const QString &path, const QString &sessionId);
    bool hasStore() const { return m_store != nullptr; }
    QString sessionId() const;

    /// Cost of a call; 0 for models without a price.
    double costOf(const QString &model, int promptTokens, int completionTokens) const;
    /// OK if the worst case of this call (all of maxOutputTokens) fits every
    /// cap, else "budget spent: ..." naming the cap and what was spent.
    Result<void> checkBudget(const QString &model, int estimatedPromptTokens, int maxOutputTokens) const;
    /// Adds a finished call to the totals (and the store) and returns its cost.
    double record(const QString &model, int promptTokens, int completionTokens);

    /// This session's spend (this instance's calls).
    double sessionTotal() const { return m_session; }
    /// Today's spend (UTC): from the store when attached, else this instance's.
    double todayTotal() const;
    /// What the store holds for the UTC day containing epochMs, or for a session.
    Result<double> storedDayTotal(qint64 epochMs) const;
    Result<double> storedSessionTotal(const QString &sessionId) const;
    /// The last failure to read or write the store (the meter then counts in memory).
    QString lastStoreError() const { return m_storeError; }

    const CostBudget &budget() const { return m_budget; }
    void setBudget(CostBudget budget) { m_budget = budget; }
    const PriceTable &prices() const { return m_prices; }

private:
    struct Store;
    qint64 today() const;

    PriceTable m_prices;
    CostBudget m_budget;
    const Clock *m_clock;
    double m_session = 0.0;
    QHash<qint64, double> m_perDay; ///< key: days since epoch (UTC)
    std::unique_ptr<Store> m_store;
    mutable QString m_storeError;
};

} // namespace vigil::llm
