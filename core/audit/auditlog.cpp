#include "core/audit/auditlog.h"

#include "core/util/jsondepth.h"
#include "core/util/sqlite.h"

#include <QCryptographicHash>
#include <QHash>
#include <QIODevice>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

#include <algorithm>
#include <exception>

namespace vigil::audit {
namespace {

using json = nlohmann::json;

constexpr int kSchemaVersion = 1;
constexpr qint64 kMaxJsonlLine = 64LL * 1024 * 1024;

const char *const kNoUpdateTrigger =
    "CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'audit log is append-only: UPDATE refused'); END";
const char *const kNoDeleteTrigger =
    "CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events "
    "BEGIN SELECT RAISE(ABORT, 'audit log is append-only: DELETE refused'); END";

std::string utf8(const QString &s)
{
    return s.toStdString();
}

QString fromUtf8(const std::string &s)
{
    return QString::fromUtf8(s.data(), qsizetype(s.size()));
}

// The row's canonical form with the payload already in its stored text.
QString hashOf(const AuditEvent &e, const std::string &payloadText)
{
    const json row =
        json::array({e.id, e.tsMs, utf8(e.decisionId), utf8(e.kind), utf8(e.actor), utf8(e.namespaceName),
                     utf8(e.target), utf8(e.action), utf8(e.outcome), payloadText, utf8(e.prevHash)});
    const std::string bytes = row.dump(-1, ' ', false, json::error_handler_t::replace);
    return QString::fromLatin1(QCryptographicHash::hash(QByteArrayView(bytes.data(), qsizetype(bytes.size())),
                                                        QCryptographicHash::Sha256)
                                   .toHex());
}

struct StoredRow {
    AuditEvent event;
    std::string payloadText; // exactly as stored; hashes are over this text
};

// Shared by verify() and verifyChain(): rows must be in id order.
VerifyReport verifyRows(const std::vector<StoredRow> &rows, bool allowGaps, qint64 highestIdEverIssued)
{
    VerifyReport report;
    QHash<QString, qsizetype> indexOfHash;
    for (qsizetype i = 0; i < qsizetype(rows.size()); ++i)
        indexOfHash.insert(rows[std::size_t(i)].event.hash, i);
    auto fail = [&](qint64 id, VerifyReport::Problem problem, const QString &message) {
        report.ok = false;
        report.firstBadId = id;
        report.problem = problem;
        report.message = message;
        return report;
    };
    auto linksToLaterRow = [&](qsizetype i) {
        const auto it = indexOfHash.constFind(rows[std::size_t(i)].event.prevHash);
        return it != indexOfHash.cend() && it.value() > i;
    };

    for (qsizetype i = 0; i < qsizetype(rows.size()); ++i) {
        const AuditEvent &e = rows[std::size_t(i)].event;
        report.rowsChecked = i + 1;
        if (hashOf(e, rows[std::size_t(i)].payloadText) != e.hash) {
            if (linksToLaterRow(i))
                return fail(
                    e.id, VerifyReport::Reordered,
                    QStringLiteral("row %1 is out of order: it follows a row stored after it").arg(e.id));
            return fail(e.id, VerifyReport::Edited,
                        QStringLiteral("row %1 was edited: its content does not match its hash").arg(e.id));
        }
        if (i == 0) {
            if (allowGaps)
                continue;
            if (e.id == 1 && e.prevHash == genesisHash())
                continue;
            bool checkpointed = false;
            for (const StoredRow &r : rows) {
                const json &p = r.event.payload;
                if (r.event.kind != QLatin1String("retention") || !p.is_object())
                    continue;
                const auto through = p.find("droppedThroughId");
                const auto hash = p.find("lastDroppedHash");
                if (through != p.end() && through->is_number_integer() &&
                    through->get<qint64>() == e.id - 1 && hash != p.end() && hash->is_string() &&
                    hash->get_ref<const std::string &>() == utf8(e.prevHash)) {
                    checkpointed = true;
                    break;
                }
            }
            if (!checkpointed) {
                if (e.id == 1)
                    return fail(e.id, VerifyReport::Edited,
                                QStringLiteral("row 1 was edited: it does not start the chain"));
                return fail(
                    e.id, VerifyReport::Missing,
                    QStringLiteral("rows before %1 are missing and no retention checkpoint accounts for them")
                        .arg(e.id));
            }
            continue;
        }
        const AuditEvent &prev = rows[std::size_t(i - 1)].event;
        if (e.prevHash == prev.hash)
            continue;
        if (e.id != prev.id + 1) {
            if (allowGaps)
                continue;
            return fail(
                e.id, VerifyReport::Missing,
                e.id == prev.id + 2
                    ? QStringLiteral("row %1 is missing (deleted) before row %2").arg(prev.id + 1).arg(e.id)
                    : QStringLiteral("rows %1..%2 are missing (deleted) before row %3")
                          .arg(prev.id + 1)
                          .arg(e.id - 1)
                          .arg(e.id));
        }
        if (linksToLaterRow(i))
            return fail(e.id, VerifyReport::Reordered,
                        QStringLiteral("row %1 is out of order: it follows a row stored after it").arg(e.id));
        // The row itself is intact, so its predecessor changed and had its hash recomputed.
        return fail(prev.id, VerifyReport::Edited,
                    QStringLiteral("row %1 was edited: row %2 recorded a different hash for it")
                        .arg(prev.id)
                        .arg(e.id));
    }
    if (!allowGaps && highestIdEverIssued > 0) {
        const qint64 lastId = rows.empty() ? 0 : rows.back().event.id;
        if (highestIdEverIssued > lastId)
            return fail(lastId + 1, VerifyReport::Missing,
                        QStringLiteral("rows after %1 up to %2 are missing (deleted)")
                            .arg(lastId)
                            .arg(highestIdEverIssued));
    }
    return report;
}

QString sqlError(const QString &path, const QString &what, const QSqlError &e)
{
    return QStringLiteral("audit log %1: %2: %3").arg(path, what, e.text());
}

QString escapeLike(QString s)
{
    s.replace(u'\\', QStringLiteral("\\\\"));
    s.replace(u'%', QStringLiteral("\\%"));
    s.replace(u'_', QStringLiteral("\\_"));
    return u'%' + s + u'%';
}

json payloadFromText(const std::string &text)
{
    // A tampered row can nest 100,000 deep; exports dump the payload, which recurses per level.
    if (jsonNestingDepth(QByteArrayView(text.data(), qsizetype(text.size()))) > kMaxJsonDepth)
        return json(text);
    try {
        return json::parse(text);
    } catch (const std::exception &) {
        return json(text); // tampered or foreign text stays visible, and fails verification
    }
}

AuditEvent eventFromQuery(const QSqlQuery &q, std::string *payloadText)
{
    AuditEvent e;
    e.id = q.value(0).toLongLong();
    e.tsMs = q.value(1).toLongLong();
    e.decisionId = q.value(2).toString();
    e.kind = q.value(3).toString();
    e.actor = q.value(4).toString();
    e.namespaceName = q.value(5).toString();
    e.target = q.value(6).toString();
    e.action = q.value(7).toString();
    e.outcome = q.value(8).toString();
    *payloadText = utf8(q.value(9).toString());
    e.payload = payloadFromText(*payloadText);
    e.prevHash = q.value(10).toString();
    e.hash = q.value(11).toString();
    return e;
}

const char *const kColumns =
    "id, ts, decision_id, kind, actor, namespace, target, action, outcome, payload, prev_hash, hash";

} // namespace

json toJson(const AuditEvent &e)
{
    return json{{"id", e.id},
                {"ts", e.tsMs},
                {"time", utf8(QDateTime::fromMSecsSinceEpoch(e.tsMs, Qt::UTC).toString(Qt::ISODateWithMs))},
                {"decision_id", utf8(e.decisionId)},
                {"kind", utf8(e.kind)},
                {"actor", utf8(e.actor)},
                {"namespace", utf8(e.namespaceName)},
                {"target", utf8(e.target)},
                {"action", utf8(e.action)},
                {"outcome", utf8(e.outcome)},
                {"payload", e.payload},
                {"prev_hash", utf8(e.prevHash)},
                {"hash", utf8(e.hash)}};
}

QString osUserActor()
{
    QString user = qEnvironmentVariable("USER");
    if (user.isEmpty())
        user = qEnvironmentVariable("LOGNAME");
    return QStringLiteral("os:") + (user.isEmpty() ? QStringLiteral("unknown") : user);
}

QString genesisHash()
{
    return QString(64, u'0');
}

std::string canonicalPayload(const json &payload)
{
    return payload.dump(-1, ' ', false, json::error_handler_t::replace);
}

QString computeHash(const AuditEvent &event)
{
    return hashOf(event, canonicalPayload(event.payload));
}

VerifyReport verifyChain(const QList<AuditEvent> &events, bool allowGaps)
{
    std::vector<StoredRow> rows;
    rows.reserve(std::size_t(events.size()));
    for (const AuditEvent &e : events)
        rows.push_back({e, canonicalPayload(e.payload)});
    return verifyRows(rows, allowGaps, 0);
}

QString csvCell(const QString &value)
{
    QString v = value;
    if (!v.isEmpty()) {
        const QChar c = v.at(0);
        if (c == u'=' || c == u'+' || c == u'-' || c == u'@' || c == u'\t' || c == u'\r')
            v.prepend(u'\'');
    }
    if (v.contains(u',') || v.contains(u'"') || v.contains(u'\n') || v.contains(u'\r') || v != value) {
        v.replace(QStringLiteral("\""), QStringLiteral("\"\""));
        return u'"' + v + u'"';
    }
    return v;
}

Result<QList<AuditEvent>> readJsonl(QIODevice *in)
{
    QList<AuditEvent> out;
    qint64 lineNo = 0;
    while (!in->atEnd()) {
        // Read in chunks: readLine(max) would reserve max bytes for every line.
        QByteArray line;
        ++lineNo;
        while (!in->atEnd() && !line.endsWith('\n')) {
            line += in->readLine(64 * 1024);
            if (line.size() > kMaxJsonlLine)
                return Error(QStringLiteral("line %1: longer than %2 bytes").arg(lineNo).arg(kMaxJsonlLine));
        }
        line = line.trimmed();
        if (line.isEmpty())
            continue;
        // Copying the payload recurses per level: refuse deep lines before parsing.
        if (jsonNestingDepth(line) > kMaxJsonDepth)
            return Error(
                QStringLiteral("line %1: JSON nested deeper than %2 levels").arg(lineNo).arg(kMaxJsonDepth));
        json j;
        try {
            j = json::parse(line.constData(), line.constData() + line.size());
        } catch (const std::exception &e) {
            return Error(
                QStringLiteral("line %1: invalid JSON: %2").arg(lineNo).arg(QString::fromUtf8(e.what())));
        }
        if (!j.is_object())
            return Error(QStringLiteral("line %1: expected a JSON object").arg(lineNo));
        auto str = [&](const char *key, QString *to) -> bool {
            const auto it = j.find(key);
            if (it == j.end() || !it->is_string())
                return false;
            *to = fromUtf8(it->get_ref<const std::string &>());
            return true;
        };
        auto integer = [&](const char *key, qint64 *to) -> bool {
            const auto it = j.find(key);
            if (it == j.end() || !it->is_number_integer())
                return false;
            *to = it->get<qint64>();
            return true;
        };
        AuditEvent e;
        const char *bad = nullptr;
        if (!integer("id", &e.id))
            bad = "id";
        else if (!integer("ts", &e.tsMs))
            bad = "ts";
        else if (!str("decision_id", &e.decisionId))
            bad = "decision_id";
        else if (!str("kind", &e.kind))
            bad = "kind";
        else if (!str("actor", &e.actor))
            bad = "actor";
        else if (!str("namespace", &e.namespaceName))
            bad = "namespace";
        else if (!str("target", &e.target))
            bad = "target";
        else if (!str("action", &e.action))
            bad = "action";
        else if (!str("outcome", &e.outcome))
            bad = "outcome";
        else if (!str("prev_hash", &e.prevHash))
            bad = "prev_hash";
        else if (!str("hash", &e.hash))
            bad = "hash";
        else if (!j.contains("payload"))
            bad = "payload";
        if (bad)
            return Error(QStringLiteral("line %1: field '%2' is missing or has the wrong type")
                             .arg(lineNo)
                             .arg(QLatin1String(bad)));
        e.payload = j.at("payload");
        out.append(std::move(e));
    }
    return out;
}

AuditLog::AuditLog(QString connectionName, QString path)
    : m_connection(std::move(connectionName))
    , m_path(std::move(path))
{
}

AuditLog::~AuditLog()
{
    closeSqlite(m_connection);
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const QString &path)
{
    Result<QString> name =
        openDurableSqlite(path, QStringLiteral("vigil-audit"), QStringLiteral("audit log"));
    if (!name)
        return name.error();
    std::unique_ptr<AuditLog> log(new AuditLog(*name, path));
    QSqlQuery q(QSqlDatabase::database(*name, false));
    auto run = [&](const QString &sql, const QString &what) -> Result<void> {
        if (!q.exec(sql))
            return Error(sqlError(path, what, q.lastError()));
        return {};
    };
    if (auto r = run(QStringLiteral("PRAGMA user_version"), QStringLiteral("not an SQLite database")); !r)
        return r.error();
    const int version = q.next() ? q.value(0).toInt() : 0;
    if (version > kSchemaVersion)
        return Error(
            QStringLiteral("audit log %1: schema version %2 is newer than this Vigil understands (%3)")
                .arg(path)
                .arg(version)
                .arg(kSchemaVersion));
    const QString setup[] = {
        QStringLiteral(
            "CREATE TABLE IF NOT EXISTS events ("
            "id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, decision_id TEXT NOT NULL, "
            "kind TEXT NOT NULL, actor TEXT NOT NULL, namespace TEXT NOT NULL, target TEXT NOT NULL, "
            "action TEXT NOT NULL, outcome TEXT NOT NULL, payload TEXT NOT NULL, "
            "prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"),
        QStringLiteral("CREATE INDEX IF NOT EXISTS events_ts ON events(ts)"),
        QStringLiteral("CREATE INDEX IF NOT EXISTS events_decision ON events(decision_id)"),
        QString::fromLatin1(kNoUpdateTrigger),
        QString::fromLatin1(kNoDeleteTrigger),
        QStringLiteral("PRAGMA user_version=%1").arg(kSchemaVersion),
    };
    for (const QString &sql : setup) {
        if (auto r = run(sql, QStringLiteral("cannot set up the schema")); !r)
            return r.error();
    }
    return log;
}

Result<qint64> AuditLog::appendInTransaction(AuditEvent &event, const QString &prevHashIfEmpty)
{
    static const QRegularExpression kindRe(QStringLiteral("^[a-z][a-z_]{0,31}$"));
    if (!kindRe.match(event.kind).hasMatch())
        return Error(QStringLiteral("audit log %1: event kind '%2' is not a lowercase word")
                         .arg(m_path, event.kind.left(40)));
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    QSqlQuery q(db);
    qint64 lastId = 0;
    QString lastHash = prevHashIfEmpty;
    if (!q.exec(QStringLiteral("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1")))
        return Error(sqlError(m_path, QStringLiteral("cannot read the chain's tail"), q.lastError()));
    if (q.next()) {
        lastId = q.value(0).toLongLong();
        lastHash = q.value(1).toString();
    }
    if (!q.exec(QStringLiteral("SELECT seq FROM sqlite_sequence WHERE name = 'events'")))
        return Error(sqlError(m_path, QStringLiteral("cannot read the id sequence"), q.lastError()));
    if (q.next())
        lastId = std::max(lastId, q.value(0).toLongLong());

    event.id = lastId + 1;
    if (event.tsMs == 0)
        event.tsMs = QDateTime::currentMSecsSinceEpoch();
    event.prevHash = lastHash;
    const std::string payloadText = canonicalPayload(event.payload);
    event.hash = hashOf(event, payloadText);

    q.prepare(QStringLiteral("INSERT INTO events (%1) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                  .arg(QLatin1String(kColumns)));
    q.addBindValue(event.id);
    q.addBindValue(event.tsMs);
    for (const QString *s : {&event.decisionId, &event.kind, &event.actor, &event.namespaceName,
                             &event.target, &event.action, &event.outcome})
        q.addBindValue(s->isNull() ? QStringLiteral("") : *s);
    q.addBindValue(fromUtf8(payloadText));
    q.addBindValue(event.prevHash);
    q.addBindValue(event.hash);
    if (!q.exec())
        return Error(
            sqlError(m_path, QStringLiteral("cannot append a %1 event").arg(event.kind), q.lastError()));
    return event.id;
}

Result<qint64> AuditLog::append(AuditEvent event)
{
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    QSqlQuery q(db);
    // IMMEDIATE takes the write lock before reading the tail, so two writers cannot fork the chain.
    if (!q.exec(QStringLiteral("BEGIN IMMEDIATE")))
        return Error(sqlError(m_path, QStringLiteral("cannot begin a write"), q.lastError()));
    auto id = appendInTransaction(event, genesisHash());
    if (!id) {
        q.exec(QStringLiteral("ROLLBACK"));
        return id;
    }
    if (!q.exec(QStringLiteral("COMMIT"))) {
        const QString message = sqlError(m_path, QStringLiteral("cannot commit"), q.lastError());
        q.exec(QStringLiteral("ROLLBACK"));
        return Error(message);
    }
    return id;
}

Result<QList<AuditEvent>> AuditLog::query(const AuditFilter &filter) const
{
    QStringList where;
    QVariantList binds;
    if (filter.fromMs) {
        where << QStringLiteral("ts >= ?");
        binds << *filter.fromMs;
    }
    if (filter.toMs) {
        where << QStringLiteral("ts < ?");
        binds << *filter.toMs;
    }
    const std::pair<const char *, const QString *> exact[] = {{"namespace", &filter.namespaceName},
                                                              {"action", &filter.action},
                                                              {"outcome", &filter.outcome},
                                                              {"kind", &filter.kind},
                                                              {"decision_id", &filter.decisionId}};
    for (const auto &[column, value] : exact) {
        if (!value->isEmpty()) {
            where << QLatin1String(column) + QStringLiteral(" = ?");
            binds << *value;
        }
    }
    if (!filter.text.isEmpty()) {
        QStringList ors;
        for (const char *column :
             {"target", "actor", "decision_id", "action", "outcome", "namespace", "payload"}) {
            ors << QLatin1String(column) + QStringLiteral(" LIKE ? ESCAPE '\\'");
            binds << escapeLike(filter.text);
        }
        where << u'(' + ors.join(QStringLiteral(" OR ")) + u')';
    }
    QString sql = QStringLiteral("SELECT %1 FROM events").arg(QLatin1String(kColumns));
    if (!where.isEmpty())
        sql += QStringLiteral(" WHERE ") + where.join(QStringLiteral(" AND "));
    sql += QStringLiteral(" ORDER BY id");
    if (filter.limit > 0)
        sql += QStringLiteral(" LIMIT %1").arg(filter.limit);

    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.setForwardOnly(true);
    q.prepare(sql);
    for (const QVariant &b : binds)
        q.addBindValue(b);
    if (!q.exec())
        return Error(sqlError(m_path, QStringLiteral("query failed"), q.lastError()));
    QList<AuditEvent> out;
    std::string text;
    while (q.next())
        out.append(eventFromQuery(q, &text));
    return out;
}

Result<VerifyReport> AuditLog::verify() const
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.setForwardOnly(true);
    if (!q.exec(QStringLiteral("SELECT %1 FROM events ORDER BY id").arg(QLatin1String(kColumns))))
        return Error(sqlError(m_path, QStringLiteral("cannot read the chain"), q.lastError()));
    std::vector<StoredRow> rows;
    while (q.next()) {
        StoredRow r;
        r.event = eventFromQuery(q, &r.payloadText);
        rows.push_back(std::move(r));
    }
    qint64 highest = 0;
    if (!q.exec(QStringLiteral("SELECT seq FROM sqlite_sequence WHERE name = 'events'")))
        return Error(sqlError(m_path, QStringLiteral("cannot read the id sequence"), q.lastError()));
    if (q.next())
        highest = q.value(0).toLongLong();
    return verifyRows(rows, false, highest);
}

Result<qint64> AuditLog::applyRetention(int days, const QDateTime &now, const QString &actor)
{
    if (days < 1)
        return Error(
            QStringLiteral("audit log %1: retention must keep at least 1 day, got %2").arg(m_path).arg(days));
    if (!now.isValid())
        return Error(QStringLiteral("audit log %1: retention needs a valid current time").arg(m_path));
    // Dropping rows of a broken chain would launder the tampering into a checkpoint.
    auto report = verify();
    if (!report)
        return report.error();
    if (!report->ok)
        return Error(QStringLiteral("audit log %1: refusing retention, the chain does not verify: %2")
                         .arg(m_path, report->message));

    const qint64 cutoffMs = now.toMSecsSinceEpoch() - qint64(days) * 86400000;
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    QSqlQuery q(db);
    if (!q.exec(QStringLiteral("BEGIN IMMEDIATE")))
        return Error(sqlError(m_path, QStringLiteral("cannot begin retention"), q.lastError()));
    auto fail = [&](const QString &what) -> Result<qint64> {
        const QString message = sqlError(m_path, what, q.lastError());
        q.exec(QStringLiteral("ROLLBACK"));
        return Error(message);
    };
    // Only a contiguous prefix goes, so the kept rows still form one chain.
    q.prepare(QStringLiteral("SELECT MIN(id) FROM events WHERE ts >= ?"));
    q.addBindValue(cutoffMs);
    if (!q.exec() || !q.next())
        return fail(QStringLiteral("cannot find the retention cutoff"));
    const QVariant firstKept = q.value(0);
    if (firstKept.isNull())
        q.prepare(QStringLiteral(
            "SELECT id, hash, (SELECT COUNT(*) FROM events) FROM events ORDER BY id DESC LIMIT 1"));
    else {
        q.prepare(QStringLiteral("SELECT id, hash, (SELECT COUNT(*) FROM events WHERE id < ?) FROM events "
                                 "WHERE id < ? ORDER BY id DESC LIMIT 1"));
        q.addBindValue(firstKept.toLongLong());
        q.addBindValue(firstKept.toLongLong());
    }
    if (!q.exec())
        return fail(QStringLiteral("cannot find the rows to drop"));
    if (!q.next()) {
        q.exec(QStringLiteral("ROLLBACK"));
        return qint64(0);
    }
    const qint64 lastDroppedId = q.value(0).toLongLong();
    const QString lastDroppedHash = q.value(1).toString();
    const qint64 dropped = q.value(2).toLongLong();

    if (!q.exec(QStringLiteral("DROP TRIGGER events_no_delete")))
        return fail(QStringLiteral("cannot lift the delete guard"));
    q.prepare(QStringLiteral("DELETE FROM events WHERE id <= ?"));
    q.addBindValue(lastDroppedId);
    if (!q.exec())
        return fail(QStringLiteral("cannot drop old rows"));
    if (!q.exec(QString::fromLatin1(kNoDeleteTrigger)))
        return fail(QStringLiteral("cannot restore the delete guard"));

    AuditEvent checkpoint;
    checkpoint.tsMs = now.toMSecsSinceEpoch();
    checkpoint.kind = QStringLiteral("retention");
    checkpoint.actor = actor;
    checkpoint.outcome = QStringLiteral("dropped");
    checkpoint.payload = json{{"droppedThroughId", lastDroppedId},
                              {"lastDroppedHash", utf8(lastDroppedHash)},
                              {"droppedCount", dropped},
                              {"cutoffMs", cutoffMs},
                              {"days", days}};
    // When every row went, the checkpoint still links to the last dropped one.
    if (auto id = appendInTransaction(checkpoint, lastDroppedHash); !id) {
        q.exec(QStringLiteral("ROLLBACK"));
        return id.error();
    }
    if (!q.exec(QStringLiteral("COMMIT")))
        return fail(QStringLiteral("cannot commit retention"));
    return dropped;
}

Result<qint64> AuditLog::exportJsonl(QIODevice *out, const AuditFilter &filter) const
{
    auto events = query(filter);
    if (!events)
        return events.error();
    for (const AuditEvent &e : *events) {
        const std::string line = toJson(e).dump(-1, ' ', false, json::error_handler_t::replace) + '\n';
        if (out->write(line.data(), qint64(line.size())) != qint64(line.size()))
            return Error(QStringLiteral("audit export: cannot write: %1").arg(out->errorString()));
    }
    return qint64(events->size());
}

Result<qint64> AuditLog::exportCsv(QIODevice *out, const AuditFilter &filter) const
{
    auto events = query(filter);
    if (!events)
        return events.error();
    auto writeRow = [&](const QStringList &cells) -> bool {
        QStringList quoted;
        for (const QString &c : cells)
            quoted << csvCell(c);
        const QByteArray line = (quoted.join(u',') + QStringLiteral("\r\n")).toUtf8();
        return out->write(line) == line.size();
    };
    if (!writeRow({QStringLiteral("id"), QStringLiteral("time"), QStringLiteral("decision_id"),
                   QStringLiteral("kind"), QStringLiteral("actor"), QStringLiteral("namespace"),
                   QStringLiteral("target"), QStringLiteral("action"), QStringLiteral("outcome"),
                   QStringLiteral("payload"), QStringLiteral("prev_hash"), QStringLiteral("hash")}))
        return Error(QStringLiteral("audit export: cannot write: %1").arg(out->errorString()));
    for (const AuditEvent &e : *events) {
        const QStringList cells{QString::number(e.id),
                                QDateTime::fromMSecsSinceEpoch(e.tsMs, Qt::UTC).toString(Qt::ISODateWithMs),
                                e.decisionId,
                                e.kind,
                                e.actor,
                                e.namespaceName,
                                e.target,
                                e.action,
                                e.outcome,
                                fromUtf8(canonicalPayload(e.payload)),
                                e.prevHash,
                                e.hash};
        if (!writeRow(cells))
            return Error(QStringLiteral("audit export: cannot write: %1").arg(out->errorString()));
    }
    return qint64(events->size());
}

} // namespace vigil::audit
