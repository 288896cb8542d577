#pragma once

// The audit log: an append-only, hash-chained SQLite table of everything
// Vigil observed, proposed, judged and did. Each row's hash is SHA-256 over a
// canonical serialization of its fields and the previous row's hash, so an
// edit, a deletion or a reordering shows up in verify(). SQL triggers refuse
// UPDATE and DELETE as defense in depth. The chain is tamper-evident, not
// tamper-proof: someone who can write the file can rebuild it.
//
// Retention is the one sanctioned deletion: applyRetention() drops the
// oldest rows and appends a "retention" checkpoint row carrying the hash of
// the last dropped row, from which verify() accepts the shortened chain.
//
// One AuditLog owns one named QtSql connection and must be used from the
// thread that opened it.

#include "core/util/result.h"

#include <QDateTime>
#include <QList>
#include <QString>

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>

class QIODevice;

namespace vigil::audit {

/// One row of the hash chain. id, prevHash and hash are assigned by append().
struct AuditEvent {
    qint64 id = 0;
    qint64 tsMs = 0; ///< UTC milliseconds since the epoch; 0 = now, at append
    QString decisionId;
    QString kind; ///< observed, diagnosed, proposed, verdict, approved, rejected, executed, verified, undone,
                  ///< error, retention, ...
    QString actor; ///< "os:<user>", "k8s:<user>", "agent"
    QString namespaceName;
    QString target;
    QString action;
    QString outcome;
    nlohmann::json payload =
        nlohmann::json::object(); ///< full context: evidence, reply, provider, model, tokens, reasons, ...
    QString prevHash;
    QString hash;
};

/// The event as one JSON object with the export's field names: id, ts, time (ISO 8601 UTC),
/// decision_id, kind, actor, namespace, target, action, outcome, payload, prev_hash, hash.
/// exportJsonl() writes one per line; `vigilctl audit show` and the desktop print the same.
nlohmann::json toJson(const AuditEvent &event);

/// "os:<login>" for the person running this process (USER, then LOGNAME; "os:unknown").
QString osUserActor();

/// The prev_hash of the first row ever written: 64 zeros.
QString genesisHash();

/// The payload as stored and hashed: compact JSON, keys sorted, invalid UTF-8 replaced.
std::string canonicalPayload(const nlohmann::json &payload);

/// SHA-256 (hex) over the canonical serialization of the row: the compact JSON
/// array [id, ts, decision_id, kind, actor, namespace, target, action, outcome,
/// payload (canonical text), prev_hash].
QString computeHash(const AuditEvent &event);

/// Filters for query() and export; empty fields match everything.
struct AuditFilter {
    std::optional<qint64> fromMs; ///< inclusive
    std::optional<qint64> toMs;   ///< exclusive
    QString namespaceName;
    QString action;
    QString outcome;
    QString kind;
    QString decisionId;
    QString text;  ///< substring of target, actor, decision id, action, outcome or payload
    int limit = 0; ///< 0 = no limit
};

/// The result of walking a chain.
struct VerifyReport {
    enum Problem { NoProblem, Edited, Missing, Reordered };
    bool ok = true;
    qint64 rowsChecked = 0;
    qint64 firstBadId = 0; ///< the first row that does not verify
    Problem problem = NoProblem;
    QString message; ///< "row 7 was edited: ..."
};

/// Verifies events in id order. With allowGaps (a filtered export), each row
/// must match its own hash and rows with consecutive ids must link.
VerifyReport verifyChain(const QList<AuditEvent> &events, bool allowGaps = false);

/// Reads an exportJsonl() file back; errors name the line and field.
Result<QList<AuditEvent>> readJsonl(QIODevice *in);

class AuditLog final {
public:
    /// Opens or creates the log at path (WAL, synchronous=FULL, busy timeout 5 s).
    static Result<std::unique_ptr<AuditLog>> open(const QString &path);
    ~AuditLog();
    AuditLog(const AuditLog &) = delete;
    AuditLog &operator=(const AuditLog &) = delete;

    /// Appends one event and returns its id; the row is durable when this returns.
    Result<qint64> append(AuditEvent event);
    /// Events matching the filter, oldest first.
    Result<QList<AuditEvent>> query(const AuditFilter &filter = {}) const;
    /// Walks the whole chain (Result errors are database failures, not tampering).
    Result<VerifyReport> verify() const;
    /// Drops the oldest contiguous rows older than days (>= 1) before now and
    /// appends a "retention" checkpoint; refuses when the chain does not verify.
    /// Returns the number of rows dropped (0: nothing old enough, no checkpoint).
    Result<qint64> applyRetention(int days, const QDateTime &now, const QString &actor);

    /// One JSON object per line (payload as an object); returns rows written.
    Result<qint64> exportJsonl(QIODevice *out, const AuditFilter &filter = {}) const;
    /// RFC 4180 CSV (CRLF, quoted when needed) with cells that start with
    /// = + - @ tab or CR prefixed by ' so spreadsheets never run them.
    Result<qint64> exportCsv(QIODevice *out, const AuditFilter &filter = {}) const;

    QString path() const { return m_path; }

private:
    AuditLog(QString connectionName, QString path);
    Result<qint64> appendInTransaction(AuditEvent &event, const QString &prevHashIfEmpty);

    QString m_connection;
    QString m_path;
};

/// One CSV cell: formula-safe and RFC 4180 quoted.
QString csvCell(const QString &value);

} // namespace vigil::audit
