#include "core/reason/llm/diagnosiscache.h"

#include "core/util/jsondepth.h"

#include <QAtomicInteger>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

namespace vigil::llm {
namespace {

QAtomicInteger<int> g_connectionSerial;

nlohmann::json toJson(const Diagnosis &d)
{
    return nlohmann::json{
        {"category", d.category.toStdString()},
        {"diagnosis", d.diagnosis.toStdString()},
        {"confidence", d.confidence},
        {"action", actionName(d.action).toStdString()},
        {"parameters", d.parameters},
        {"reasoning", d.reasoning.toStdString()},
        {"source",
         {{"kind", static_cast<int>(d.source.kind)},
          {"provider", d.source.provider.toStdString()},
          {"model", d.source.model.toStdString()}}},
        {"promptVersion", d.promptVersion.toStdString()},
        {"promptTokens", d.promptTokens},
        {"completionTokens", d.completionTokens},
        {"costUsd", d.costUsd},
        {"rawReply", d.rawReply.toStdString()},
    };
}

QString str(const nlohmann::json &j, const char *key)
{
    return QString::fromStdString(j.value(key, std::string()));
}

Result<Diagnosis> fromJson(const QByteArray &text, const QString &where)
{
    // The file can be edited by anyone who can write it: a deep payload would overflow the stack when
    // the parameters are copied out.
    const Result<nlohmann::json> parsed = parseJson(text);
    if (!parsed)
        return Error(QStringLiteral("%1: stored diagnosis is %2").arg(where, parsed.errorMessage()));
    try {
        const nlohmann::json &j = *parsed;
        Diagnosis d;
        d.category = str(j, "category");
        d.diagnosis = str(j, "diagnosis");
        d.confidence = jsonValue(j, "confidence", 0.0);
        if (!parseActionName(str(j, "action"), &d.action))
            return Error(QStringLiteral("%1: unknown action '%2'").arg(where, str(j, "action")));
        d.parameters = j.value("parameters", nlohmann::json::object());
        d.reasoning = str(j, "reasoning");
        const auto source = j.value("source", nlohmann::json::object());
        d.source.provider = str(source, "provider");
        d.source.model = str(source, "model");
        d.promptVersion = str(j, "promptVersion");
        d.promptTokens = jsonValue(j, "promptTokens", 0);
        d.completionTokens = jsonValue(j, "completionTokens", 0);
        d.costUsd = jsonValue(j, "costUsd", 0.0);
        d.rawReply = str(j, "rawReply");
        return d;
    } catch (const nlohmann::json::exception &e) {
        return Error(
            QStringLiteral("%1: stored diagnosis is malformed: %2").arg(where, QString::fromUtf8(e.what())));
    }
}

Error sqlError(const QString &path, const QString &what, const QSqlError &e)
{
    return Error(QStringLiteral("diagnosis cache %1: %2: %3").arg(path, what, e.text()));
}

} // namespace

DiagnosisCache::DiagnosisCache(QString path, QString connection, qint64 ttlMs, const Clock *clock)
    : m_path(std::move(path))
    , m_connection(std::move(connection))
    , m_ttlMs(ttlMs)
    , m_clock(clock)
{
}

DiagnosisCache::~DiagnosisCache()
{
    {
        QSqlDatabase db = QSqlDatabase::database(m_connection, false);
        db.close();
    }
    QSqlDatabase::removeDatabase(m_connection);
}

Result<std::unique_ptr<DiagnosisCache>> DiagnosisCache::open(const QString &path, qint64 ttlMs,
                                                             const Clock *clock)
{
    const QString name =
        QStringLiteral("vigil-diagnosis-cache-%1").arg(g_connectionSerial.fetchAndAddRelaxed(1));
    // Constructed before the database so that every failure below removes the connection.
    std::unique_ptr<DiagnosisCache> cache(new DiagnosisCache(path, name, ttlMs, clock));
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(path);
        if (!db.open())
            return sqlError(path, QStringLiteral("cannot open"), db.lastError());
        QSqlQuery q(db);
        const char *setup[] = {
            "PRAGMA journal_mode=WAL",
            "PRAGMA busy_timeout=5000",
            "CREATE TABLE IF NOT EXISTS diagnosis_cache ("
            " fingerprint TEXT PRIMARY KEY,"
            " payload TEXT NOT NULL,"
            " stored_at INTEGER NOT NULL,"
            " expires_at INTEGER NOT NULL,"
            " hit_count INTEGER NOT NULL DEFAULT 0)",
            "CREATE INDEX IF NOT EXISTS diagnosis_cache_expiry ON diagnosis_cache(expires_at)",
        };
        for (const char *sql : setup) {
            if (!q.exec(QString::fromLatin1(sql)))
                return sqlError(path, QStringLiteral("cannot prepare the schema"), q.lastError());
        }
    }
    if (auto purged = cache->purgeExpired(); !purged)
        return purged.error();
    return cache;
}

Result<std::optional<Diagnosis>> DiagnosisCache::get(const QString &fingerprint)
{
    QSqlDatabase db = QSqlDatabase::database(m_connection);
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT payload FROM diagnosis_cache WHERE fingerprint = ? AND expires_at > ?"));
    q.addBindValue(fingerprint);
    q.addBindValue(m_clock->nowMs());
    if (!q.exec())
        return sqlError(m_path, QStringLiteral("cannot read %1").arg(fingerprint), q.lastError());
    if (!q.next()) {
        ++m_misses;
        return std::optional<Diagnosis>();
    }
    auto d = fromJson(q.value(0).toString().toUtf8(),
                      QStringLiteral("diagnosis cache %1: %2").arg(m_path, fingerprint));
    q.finish();
    if (!d) {
        ++m_misses;
        return d.error();
    }
    QSqlQuery bump(db);
    bump.prepare(
        QStringLiteral("UPDATE diagnosis_cache SET hit_count = hit_count + 1 WHERE fingerprint = ?"));
    bump.addBindValue(fingerprint);
    if (!bump.exec())
        return sqlError(m_path, QStringLiteral("cannot count a hit for %1").arg(fingerprint),
                        bump.lastError());
    ++m_hits;
    Diagnosis out = std::move(*d);
    out.source.kind = DiagnosisSource::Cache;
    return std::optional<Diagnosis>(std::move(out));
}

Result<void> DiagnosisCache::put(const QString &fingerprint, const Diagnosis &diagnosis)
{
    QSqlQuery q(QSqlDatabase::database(m_connection));
    q.prepare(QStringLiteral(
        "INSERT INTO diagnosis_cache (fingerprint, payload, stored_at, expires_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(fingerprint) DO UPDATE SET payload = excluded.payload,"
        " stored_at = excluded.stored_at, expires_at = excluded.expires_at"));
    const qint64 now = m_clock->nowMs();
    q.addBindValue(fingerprint);
    q.addBindValue(QString::fromStdString(toJson(diagnosis).dump()));
    q.addBindValue(now);
    q.addBindValue(now + m_ttlMs);
    if (!q.exec())
        return sqlError(m_path, QStringLiteral("cannot store %1").arg(fingerprint), q.lastError());
    return {};
}

Result<int> DiagnosisCache::purgeExpired()
{
    QSqlQuery q(QSqlDatabase::database(m_connection));
    q.prepare(QStringLiteral("DELETE FROM diagnosis_cache WHERE expires_at <= ?"));
    q.addBindValue(m_clock->nowMs());
    if (!q.exec())
        return sqlError(m_path, QStringLiteral("cannot purge expired entries"), q.lastError());
    return q.numRowsAffected();
}

Result<int> DiagnosisCache::count() const
{
    QSqlQuery q(QSqlDatabase::database(m_connection));
    q.prepare(QStringLiteral("SELECT COUNT(*) FROM diagnosis_cache WHERE expires_at > ?"));
    q.addBindValue(m_clock->nowMs());
    if (!q.exec() || !q.next())
        return sqlError(m_path, QStringLiteral("cannot count entries"), q.lastError());
    return q.value(0).toInt();
}

Result<int> DiagnosisCache::hitCount(const QString &fingerprint) const
{
    QSqlQuery q(QSqlDatabase::database(m_connection));
    q.prepare(QStringLiteral("SELECT hit_count FROM diagnosis_cache WHERE fingerprint = ?"));
    q.addBindValue(fingerprint);
    if (!q.exec())
        return sqlError(m_path, QStringLiteral("cannot read hits of %1").arg(fingerprint), q.lastError());
    return q.next() ? q.value(0).toInt() : 0;
}

} // namespace vigil::llm
