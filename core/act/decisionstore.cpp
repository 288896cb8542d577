#include "core/act/decisionstore.h"

#include "core/util/jsondepth.h"
#include "core/util/sqlite.h"

#include <QDateTime>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

namespace vigil::act {
namespace {

Error sqlError(const QString &path, const QString &what, const QSqlError &e)
{
    return Error(QStringLiteral("decision store %1: %2: %3").arg(path, what, e.text()));
}

Result<Decision> parseRow(const QString &path, const QString &text)
{
    // A row is only as trustworthy as the file: Decision::fromJson copies parameters, which recurses per
    // level.
    const QByteArray utf8 = text.toUtf8();
    const Result<nlohmann::json> doc = parseJson(utf8);
    if (!doc)
        return Error(QStringLiteral("decision store %1: a row is %2").arg(path, doc.errorMessage()));
    return Decision::fromJson(*doc);
}

} // namespace

DecisionStore::DecisionStore(QString connection, QString path)
    : m_connection(std::move(connection))
    , m_path(std::move(path))
{
}

DecisionStore::~DecisionStore()
{
    closeSqlite(m_connection);
}

Result<std::unique_ptr<DecisionStore>> DecisionStore::open(const QString &path)
{
    Result<QString> name =
        openDurableSqlite(path, QStringLiteral("vigil-decisions"), QStringLiteral("decision store"));
    if (!name)
        return name.error();
    std::unique_ptr<DecisionStore> store(new DecisionStore(*name, path));
    QSqlQuery q(QSqlDatabase::database(*name, false));
    for (const char *sql : {"CREATE TABLE IF NOT EXISTS decisions (id TEXT PRIMARY KEY, state TEXT NOT NULL, "
                            "created INTEGER NOT NULL, updated INTEGER NOT NULL, doc TEXT NOT NULL)",
                            "CREATE INDEX IF NOT EXISTS decisions_state ON decisions(state)"}) {
        if (!q.exec(QString::fromLatin1(sql)))
            return sqlError(path, QStringLiteral("cannot set up the schema"), q.lastError());
    }
    return store;
}

Result<void> DecisionStore::insert(const Decision &decision)
{
    QSqlQuery q(QSqlDatabase::database(m_connection));
    q.prepare(
        QStringLiteral("INSERT INTO decisions (id, state, created, updated, doc) VALUES (?, ?, ?, ?, ?)"));
    q.addBindValue(decision.id);
    q.addBindValue(stateName(decision.state));
    q.addBindValue(decision.createdMs);
    q.addBindValue(decision.updatedMs);
    q.addBindValue(QString::fromStdString(decision.toJson().dump()));
    if (!q.exec())
        return sqlError(m_path, QStringLiteral("cannot insert decision %1").arg(decision.id), q.lastError());
    return {};
}

Result<void> DecisionStore::transition(const Decision &decision, DecisionState expected)
{
    if (decision.state != expected && !canTransition(expected, decision.state))
        return Error(QStringLiteral("decision %1 cannot go from %2 to %3")
                         .arg(decision.id, stateName(expected), stateName(decision.state)));
    Decision d = decision;
    d.updatedMs = QDateTime::currentMSecsSinceEpoch();
    QSqlQuery q(QSqlDatabase::database(m_connection));
    q.prepare(
        QStringLiteral("UPDATE decisions SET state = ?, updated = ?, doc = ? WHERE id = ? AND state = ?"));
    q.addBindValue(stateName(d.state));
    q.addBindValue(d.updatedMs);
    q.addBindValue(QString::fromStdString(d.toJson().dump()));
    q.addBindValue(d.id);
    q.addBindValue(stateName(expected));
    if (!q.exec())
        return sqlError(m_path, QStringLiteral("cannot update decision %1").arg(d.id), q.lastError());
    if (q.numRowsAffected() != 1) {
        Result<Decision> now = load(d.id);
        return Error(QStringLiteral("decision %1 is no longer %2 (it is %3); nothing was done")
                         .arg(d.id, stateName(expected), now ? stateName(now->state) : now.errorMessage()));
    }
    return {};
}

Result<Decision> DecisionStore::load(const QString &id) const
{
    QSqlQuery q(QSqlDatabase::database(m_connection));
    q.prepare(QStringLiteral(
        "SELECT id, doc FROM decisions WHERE id = ? OR (length(?) >= 6 AND id LIKE ? || '%')"));
    q.addBindValue(id);
    q.addBindValue(id);
    q.addBindValue(id);
    if (!q.exec())
        return sqlError(m_path, QStringLiteral("cannot read decision %1").arg(id), q.lastError());
    QList<QString> docs;
    while (q.next()) {
        if (q.value(0).toString() == id)
            return parseRow(m_path, q.value(1).toString());
        docs << q.value(1).toString();
    }
    if (docs.size() == 1)
        return parseRow(m_path, docs.first());
    if (docs.size() > 1)
        return Error(QStringLiteral("decision id prefix '%1' matches %2 decisions").arg(id).arg(docs.size()));
    return Error(QStringLiteral("no decision with id '%1' in %2").arg(id, m_path), 404);
}

Result<QList<Decision>> DecisionStore::list(std::optional<DecisionState> state) const
{
    QSqlQuery q(QSqlDatabase::database(m_connection));
    if (state) {
        q.prepare(QStringLiteral("SELECT doc FROM decisions WHERE state = ? ORDER BY created, id"));
        q.addBindValue(stateName(*state));
    } else {
        q.prepare(QStringLiteral("SELECT doc FROM decisions ORDER BY created, id"));
    }
    if (!q.exec())
        return sqlError(m_path, QStringLiteral("cannot list decisions"), q.lastError());
    QList<Decision> out;
    while (q.next()) {
        Result<Decision> d = parseRow(m_path, q.value(0).toString());
        if (!d)
            return d.error();
        out << *d;
    }
    return out;
}

} // namespace vigil::act
