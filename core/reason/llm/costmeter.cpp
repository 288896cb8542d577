#include "core/reason/llm/costmeter.h"

#include "core/util/sqlite.h"

#include <QFile>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace vigil::llm {
namespace {

constexpr qint64 kMsPerDay = 86400000;

Error sqlError(const QString &path, const QString &what, const QSqlError &e)
{
    return Error(QStringLiteral("cost store %1: %2: %3").arg(path, what, e.text()));
}

Result<double> readPrice(const YAML::Node &node, const char *field, const QString &where)
{
    const YAML::Node v = node[field];
    const QString at =
        QStringLiteral("%1.%2 (line %3)").arg(where, QLatin1String(field)).arg(node.Mark().line + 1);
    if (!v)
        return Error(QStringLiteral("%1: missing; expected USD per 1M tokens").arg(at));
    if (!v.IsScalar())
        return Error(QStringLiteral("%1: expected a number").arg(at));
    const QString text = QString::fromStdString(v.Scalar());
    bool ok = false;
    const double d = text.toDouble(&ok);
    if (!ok || d < 0)
        return Error(QStringLiteral("%1: expected a non-negative number, got '%2'").arg(at, text));
    return d;
}

} // namespace

PriceTable PriceTable::defaults()
{
    PriceTable t;
    const struct {
        const char *model;
        double in;
        double out;
    } rows[] = {
        {"gpt-4o-mini", 0.15, 0.60},
        {"gpt-4o", 2.50, 10.00},
        {"gpt-4.1-nano", 0.10, 0.40},
        {"gpt-4.1-mini", 0.40, 1.60},
        {"gpt-4.1", 2.00, 8.00},
        {"gpt-5-nano", 0.05, 0.40},
        {"gpt-5-mini", 0.25, 2.00},
        {"gpt-5", 1.25, 10.00},
        {"o4-mini", 1.10, 4.40},
        {"o3-mini", 1.10, 4.40},
        {"o3", 2.00, 8.00},
        {"claude-3-5-haiku", 0.80, 4.00},
        {"claude-haiku-4-5", 1.00, 5.00},
        {"claude-3-5-sonnet", 3.00, 15.00},
        {"claude-3-7-sonnet", 3.00, 15.00},
        {"claude-sonnet-4", 3.00, 15.00},
        {"claude-opus-4", 15.00, 75.00},
    };
    for (const auto &row : rows)
        t.set(QString::fromLatin1(row.model), {row.in, row.out});
    return t;
}

Result<PriceTable> PriceTable::loadFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return Error(QStringLiteral("price table %1: %2").arg(path, file.errorString()));
    return parse(file.readAll(), path);
}

Result<PriceTable> PriceTable::parse(const QByteArray &text, const QString &source)
{
    YAML::Node root;
    try {
        root = YAML::Load(text.toStdString());
    } catch (const YAML::Exception &e) {
        return Error(QStringLiteral("price table %1: line %2: %3")
                         .arg(source)
                         .arg(e.mark.line + 1)
                         .arg(QString::fromStdString(e.msg)));
    }
    try {
        if (!root.IsMap() || !root["models"])
            return Error(QStringLiteral("price table %1: expected a top-level 'models' map").arg(source));
        const YAML::Node models = root["models"];
        if (!models.IsMap())
            return Error(
                QStringLiteral(
                    "price table %1: 'models' (line %2) must be a map of model name to {input, output}")
                    .arg(source)
                    .arg(models.Mark().line + 1));
        PriceTable table;
        for (const auto &entry : models) {
            const QString name = QString::fromStdString(entry.first.as<std::string>());
            const QString where = QStringLiteral("price table %1: models.%2").arg(source, name);
            if (!entry.second.IsMap())
                return Error(QStringLiteral("%1 (line %2): expected {input: <usd>, output: <usd>}")
                                 .arg(where)
                                 .arg(entry.second.Mark().line + 1));
            const auto in = readPrice(entry.second, "input", where);
            if (!in)
                return in.error();
            const auto out = readPrice(entry.second, "output", where);
            if (!out)
                return out.error();
            table.set(name, {*in, *out});
        }
        return table;
    } catch (const YAML::Exception &e) {
        return Error(QStringLiteral("price table %1: line %2: %3")
                         .arg(source)
                         .arg(e.mark.line + 1)
                         .arg(QString::fromStdString(e.msg)));
    }
}

std::optional<ModelPrice> PriceTable::find(const QString &model) const
{
    const ModelPrice *best = nullptr;
    qsizetype bestLen = -1;
    for (auto it = m_prices.constBegin(); it != m_prices.constEnd(); ++it) {
        if (model.startsWith(it.key()) && it.key().size() > bestLen) {
            best = &it.value();
            bestLen = it.key().size();
        }
    }
    if (best)
        return *best;
    const auto wildcard = m_prices.constFind(QStringLiteral("*"));
    if (wildcard != m_prices.constEnd())
        return *wildcard;
    return std::nullopt;
}

struct CostMeter::Store {
    QString path;
    QString connection;
    QString session;

    ~Store() { closeSqlite(connection); }

    Result<double> sum(const char *where, const QVariant &value) const
    {
        QSqlQuery q(QSqlDatabase::database(connection));
        q.prepare(QStringLiteral("SELECT COALESCE(SUM(cost_usd), 0) FROM llm_cost WHERE %1 = ?")
                      .arg(QLatin1String(where)));
        q.addBindValue(value);
        if (!q.exec() || !q.next())
            return sqlError(path, QStringLiteral("cannot read the totals"), q.lastError());
        return q.value(0).toDouble();
    }
};

CostMeter::CostMeter(PriceTable prices, CostBudget budget, const Clock *clock)
    : m_prices(std::move(prices))
    , m_budget(budget)
    , m_clock(clock)
{
}

CostMeter::~CostMeter() = default;

Result<void> CostMeter::openStore(const QString &path, const QString &sessionId)
{
    const Result<QString> connection =
        openDurableSqlite(path, QStringLiteral("vigil-cost"), QStringLiteral("cost store"));
    if (!connection)
        return connection.error();
    auto store = std::make_unique<Store>();
    store->path = path;
    store->session = sessionId;
    store->connection = *connection;
    // One row per UTC day, session and model; totals are sums over it.
    QSqlQuery q(QSqlDatabase::database(store->connection));
    const char *setup[] = {
        "CREATE TABLE IF NOT EXISTS llm_cost ("
        " day INTEGER NOT NULL,"
        " session TEXT NOT NULL,"
        " model TEXT NOT NULL,"
        " calls INTEGER NOT NULL DEFAULT 0,"
        " prompt_tokens INTEGER NOT NULL DEFAULT 0,"
        " completion_tokens INTEGER NOT NULL DEFAULT 0,"
        " cost_usd REAL NOT NULL DEFAULT 0,"
        " updated_at INTEGER NOT NULL,"
        " PRIMARY KEY (day, session, model))",
        "CREATE INDEX IF NOT EXISTS llm_cost_session ON llm_cost(session)",
    };
    for (const char *sql : setup) {
        if (!q.exec(QString::fromLatin1(sql)))
            return sqlError(path, QStringLiteral("cannot prepare the schema"), q.lastError());
    }
    m_store = std::move(store);
    m_storeError.clear();
    return {};
}

QString CostMeter::sessionId() const
{
    return m_store ? m_store->session : QString();
}

double CostMeter::costOf(const QString &model, int promptTokens, int completionTokens) const
{
    const auto price = m_prices.find(model);
    if (!price)
        return 0.0;
    return (price->inputPerMTok * promptTokens + price->outputPerMTok * completionTokens) / 1e6;
}

Result<void> CostMeter::checkBudget(const QString &model, int estimatedPromptTokens,
                                    int maxOutputTokens) const
{
    const double worst = costOf(model, estimatedPromptTokens, maxOutputTokens);
    const double today = todayTotal();
    if (m_budget.dailyUsd > 0 && today + worst > m_budget.dailyUsd)
        return Error(QStringLiteral("budget spent: $%1 of the $%2 daily LLM budget used today; this call to "
                                    "%3 could cost up to $%4")
                         .arg(today, 0, 'f', 4)
                         .arg(m_budget.dailyUsd, 0, 'f', 2)
                         .arg(model)
                         .arg(worst, 0, 'f', 4));
    if (m_budget.sessionUsd > 0 && m_session + worst > m_budget.sessionUsd)
        return Error(
            QStringLiteral(
                "budget spent: $%1 of the $%2 session LLM budget used; this call to %3 could cost up to $%4")
                .arg(m_session, 0, 'f', 4)
                .arg(m_budget.sessionUsd, 0, 'f', 2)
                .arg(model)
                .arg(worst, 0, 'f', 4));
    return {};
}

double CostMeter::record(const QString &model, int promptTokens, int completionTokens)
{
    const double cost = costOf(model, promptTokens, completionTokens);
    m_session += cost;
    m_perDay[today()] += cost;
    if (m_store) {
        QSqlQuery q(QSqlDatabase::database(m_store->connection));
        q.prepare(QStringLiteral(
            "INSERT INTO llm_cost (day, session, model, calls, prompt_tokens, completion_tokens, cost_usd,"
            " updated_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?)"
            " ON CONFLICT(day, session, model) DO UPDATE SET calls = calls + 1,"
            " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
            " completion_tokens = completion_tokens + excluded.completion_tokens,"
            " cost_usd = cost_usd + excluded.cost_usd, updated_at = excluded.updated_at"));
        q.addBindValue(today());
        q.addBindValue(m_store->session);
        q.addBindValue(model);
        q.addBindValue(promptTokens);
        q.addBindValue(completionTokens);
        q.addBindValue(cost);
        q.addBindValue(m_clock->nowMs());
        if (!q.exec())
            m_storeError = sqlError(m_store->path, QStringLiteral("cannot record a call to %1").arg(model),
                                    q.lastError())
                               .message;
    }
    return cost;
}

double CostMeter::todayTotal() const
{
    const double mine = m_perDay.value(today(), 0.0);
    if (!m_store)
        return mine;
    const Result<double> stored = m_store->sum("day", today());
    if (!stored) {
        m_storeError = stored.errorMessage();
        return mine;
    }
    // The store holds this instance's calls too; never less than what it knows itself.
    return std::max(*stored, mine);
}

Result<double> CostMeter::storedDayTotal(qint64 epochMs) const
{
    if (!m_store)
        return Error(QStringLiteral("cost meter: no store attached"));
    return m_store->sum("day", epochMs / kMsPerDay);
}

Result<double> CostMeter::storedSessionTotal(const QString &sessionId) const
{
    if (!m_store)
        return Error(QStringLiteral("cost meter: no store attached"));
    return m_store->sum("session", sessionId);
}

qint64 CostMeter::today() const
{
    return m_clock->nowMs() / kMsPerDay;
}

} // namespace vigil::llm
