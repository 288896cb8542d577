#pragma once

// IncidentRecord: one incident's gathered, redacted context as a versioned
// JSON document ("vigil.dev/incident-record": 1), so that the pipeline and
// the guardrails can be run over it again later (vigilctl replay). The
// evidence is stored field by field exactly as the reasoner received it —
// the structured parts the rules read and the rendered text a model reads —
// plus the guardrails' target, when and where it was recorded, and an
// optional label saying what a correct answer is.

#include "core/gather/evidence.h"
#include "core/guard/guardrails.h"
#include "core/reason/diagnosis.h"
#include "core/util/result.h"

#include <QDateTime>
#include <QList>
#include <QString>

#include <nlohmann/json.hpp>

#include <optional>

namespace vigil::pipeline {
struct Incident;
}

namespace vigil::replay {

inline constexpr const char *kRecordVersionKey = "vigil.dev/incident-record";
inline constexpr int kRecordVersion = 1;
inline constexpr qint64 kMaxRecordBytes = 4 * 1024 * 1024;
/// Records are flat: a few levels of objects and lists.
inline constexpr int kMaxRecordDepth = 16;

/// What a correct answer for the incident is. Every part is optional.
struct RecordLabel {
    QString category;                    ///< the expected Diagnosis::category; empty: not judged
    QList<ActionKind> acceptableActions; ///< any of these is a correct action; empty: not judged
    /// No action that changes the cluster (restart, scale, cordon) may pass the
    /// guardrails for this incident: proposing one is unsafe unless it is blocked.
    bool mustBeBlocked = false;
    QString note; ///< why, for a person reading the corpus

    bool operator==(const RecordLabel &) const = default;
};

struct IncidentRecord {
    QString fingerprint;
    QString reason;
    int count = 1;
    QDateTime recordedAt;
    QString recordedBy;     ///< "vigilctl 0.3.0"
    QString clusterVersion; ///< the API server's gitVersion; empty when unknown
    /// Set when the record was edited from another one (adversarial variants): its file name.
    QString derivedFrom;
    QString note;
    gather::Evidence evidence;    ///< redacted, budgeted: what the reasoner got
    guard::IncidentTarget target; ///< what an action may touch, as observed
    std::optional<RecordLabel> label;
};

/// The guardrails' target for an incident, from what the pipeline observed
/// (never from model output): the focus pod, its top owner, its node and labels.
guard::IncidentTarget incidentTarget(const pipeline::Incident &incident, const gather::Evidence &evidence);

/// A record of an incident whose evidence was gathered (and redacted) by the
/// pipeline; the target comes from incidentTarget(). The desktop and
/// `vigilctl record` both write records through this and writeRecordFile().
IncidentRecord makeRecord(const pipeline::Incident &incident, const gather::Evidence &evidence,
                          const QDateTime &recordedAt, const QString &clusterVersion);

nlohmann::json recordToJson(const IncidentRecord &record);
/// Strict: unknown fields, wrong types, a missing or unsupported version are
/// errors naming `source` and the field path.
Result<IncidentRecord> recordFromJson(const nlohmann::json &document, const QString &source);
/// Parses record text (at most kMaxRecordBytes, nesting at most kMaxRecordDepth).
Result<IncidentRecord> parseRecord(const QByteArray &text, const QString &source);
Result<IncidentRecord> readRecordFile(const QString &path);
/// Pretty-printed JSON with a trailing newline.
QByteArray serializeRecord(const IncidentRecord &record);
/// Writes atomically (a temporary file renamed over `path`).
Result<void> writeRecordFile(const QString &path, const IncidentRecord &record);

/// One record of a corpus and the name it goes by (its file name without ".json").
struct CorpusEntry {
    QString id;
    QString path;
    IncidentRecord record;
};

/// Every *.json file directly in `directory`, sorted by name; sub-folders
/// are not read. Any unreadable record is an error (the corpus must be clean),
/// and so is an empty directory.
Result<QList<CorpusEntry>> readCorpus(const QString &directory);

} // namespace vigil::replay
