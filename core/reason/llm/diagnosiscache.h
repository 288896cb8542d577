#pragma once

// Incident fingerprint → Diagnosis, with a TTL, in SQLite so answers survive
// restarts and a recurring incident does not cost another LLM call.

#include "core/reason/diagnosis.h"
#include "core/reason/llm/clock.h"
#include "core/util/result.h"

#include <QString>

#include <memory>
#include <optional>

namespace vigil::llm {

/// One SQLite file (WAL) per cache; each instance opens its own named
/// connection, usable only from the thread that opened it.
class DiagnosisCache final {
public:
    /// Opens or creates the cache at `path` (":memory:" for a private one).
    static Result<std::unique_ptr<DiagnosisCache>> open(const QString &path, qint64 ttlMs,
                                                        const Clock *clock);
    ~DiagnosisCache();
    DiagnosisCache(const DiagnosisCache &) = delete;
    DiagnosisCache &operator=(const DiagnosisCache &) = delete;

    /// The stored diagnosis (source kind Cache, provider/model kept), or nullopt
    /// when absent or expired. Counts a hit or a miss.
    Result<std::optional<Diagnosis>> get(const QString &fingerprint);
    /// Stores or replaces; the TTL starts now.
    Result<void> put(const QString &fingerprint, const Diagnosis &diagnosis);
    /// Deletes expired entries; returns how many.
    Result<int> purgeExpired();
    /// Live (unexpired) entries.
    Result<int> count() const;
    /// How often this fingerprint was served from the cache, over all instances.
    Result<int> hitCount(const QString &fingerprint) const;

    int hits() const { return m_hits; }
    int misses() const { return m_misses; }
    QString path() const { return m_path; }

private:
    DiagnosisCache(QString path, QString connection, qint64 ttlMs, const Clock *clock);

    QString m_path;
    QString m_connection;
    qint64 m_ttlMs;
    const Clock *m_clock;
    int m_hits = 0;
    int m_misses = 0;
};

} // namespace vigil::llm
