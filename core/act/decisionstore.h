#pragma once

// DecisionStore: the decisions' durable state in SQLite (QtSql, WAL,
// synchronous=FULL), so a state is on disk before the side effect it guards.
// transition() is a compare-and-set on the state column: two processes that
// race to move the same decision out of Approved cannot both win, which is
// what makes execution at-most-once.
//
// One store owns one named QtSql connection; use it from the thread that opened it.

#include "core/act/decision.h"
#include "core/util/result.h"

#include <QList>
#include <QString>

#include <memory>
#include <optional>

namespace vigil::act {

class DecisionStore final {
public:
    /// Opens or creates the store at path.
    static Result<std::unique_ptr<DecisionStore>> open(const QString &path);
    ~DecisionStore();
    DecisionStore(const DecisionStore &) = delete;
    DecisionStore &operator=(const DecisionStore &) = delete;

    /// Inserts a new decision; an error when the id exists.
    Result<void> insert(const Decision &decision);
    /// Writes decision (its new state included) only if the stored state is
    /// still expected; the error names both states otherwise. Also checks
    /// canTransition(expected, decision.state) unless they are equal.
    Result<void> transition(const Decision &decision, DecisionState expected);
    /// The decision with this id (a unique prefix of at least 6 characters also matches).
    Result<Decision> load(const QString &id) const;
    /// All decisions, oldest first, optionally only those in one state.
    Result<QList<Decision>> list(std::optional<DecisionState> state = std::nullopt) const;

    QString path() const { return m_path; }

private:
    DecisionStore(QString connection, QString path);

    QString m_connection;
    QString m_path;
};

} // namespace vigil::act
