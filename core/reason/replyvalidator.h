#pragma once

// ReplyValidator: the gate between an untrusted model reply and a Diagnosis.
// Strict: exact field set, types, ranges, the action catalog and each
// action's parameters. Errors are written to be sent back to the model in a
// repair round-trip.

#include "core/reason/diagnosis.h"
#include "core/util/result.h"

#include <QString>

#include <nlohmann/json.hpp>

namespace vigil::reason {

struct ReplyLimits {
    int maxReplyChars = 64 * 1024;
    int maxDepth = 32; ///< checked by a bracket pre-scan, before the JSON parser runs
    int maxDiagnosisChars = 2000;
    int maxReasoningChars = 4000;
    int maxSummaryChars = 500;
    int minReplicas = 2;
    int maxReplicas = 20;
};

/// Finds the one JSON object in a reply: the whole reply, the content of one
/// ```json fence, or the single top-level object inside prose. More than one
/// candidate, none, or nesting deeper than `maxDepth` is an error.
Result<QString> extractJsonObject(const QString &reply, const ReplyLimits &limits = ReplyLimits{});

/// Parses and validates a raw model reply. On success the Diagnosis carries
/// the reply in rawReply; source and category are left for the caller.
Result<Diagnosis> validateReply(const QString &reply, const ReplyLimits &limits = ReplyLimits{});

/// Validates an already-parsed object (same rules as validateReply).
Result<Diagnosis> validateReplyObject(const nlohmann::json &object,
                                      const ReplyLimits &limits = ReplyLimits{});

/// The wire form {diagnosis, confidence, action, parameters, reasoning}.
nlohmann::json diagnosisToJson(const Diagnosis &diagnosis);

} // namespace vigil::reason
