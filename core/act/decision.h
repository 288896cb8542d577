#pragma once

// A Decision ties one incident's proposal to its verdict, approval, execution,
// verification and outcome. Its state machine:
//
//   Proposed -> Previewed -> Approved -> Executing -> Executed -> Verified
//      |            |          |            |            |     -> VerifyFailed
//      +------------+----------+-> Rejected +-> Failed   +-> Undone (also from Verified/VerifyFailed)
//   Proposed/Previewed -> Approved is allowed (preview is optional); Approved -> Failed when a
//   precondition fails before any call.
//
// Executing is persisted before the API call, so a decision found in Executing
// after a restart is reconciled against the cluster, never re-executed.

#include "core/guard/guardrails.h"
#include "core/util/result.h"

#include <QList>
#include <QMetaType>
#include <QString>

#include <nlohmann/json.hpp>

namespace vigil::gather {
struct Evidence;
}
namespace vigil::reason {
struct PromptSet;
}

namespace vigil::act {

enum class DecisionState {
    Proposed,
    Previewed,
    Approved,
    Rejected,
    Executing,
    Executed,
    Verified,
    VerifyFailed,
    Failed,
    Undone
};

/// "proposed", "previewed", "approved", "rejected", "executing", "executed", "verified", "verify-failed",
/// "failed", "undone".
QString stateName(DecisionState state);
bool parseStateName(const QString &name, DecisionState *state);
/// Whether the machine allows from -> to.
bool canTransition(DecisionState from, DecisionState to);
/// True for states nothing leaves except Undone.
bool isTerminal(DecisionState state);

/// Who approved, rejected or undid a decision.
struct Approver {
    QString osUser;   ///< "alice" (login of the person at the keyboard)
    QString kubeUser; ///< from SelfSubjectReview; "system:admin", ...
    QString via;      ///< "vigilctl", "desktop", "agentdecision", "policy"

    /// "os:alice k8s:system:admin" (audit actor).
    QString actor() const;
};

struct Decision {
    QString id; ///< uuid, lowercase without braces
    QString incidentFingerprint;
    /// What was seen, short and redacted: "CrashLoopBackOff on Deployment shop/web (6 times): back-off ...".
    QString observation;
    guard::IncidentTarget target;
    Diagnosis diagnosis; ///< action and parameters live here
    guard::Verdict verdict;
    DecisionState state = DecisionState::Proposed;
    QString preview; ///< the dry run's text
    Approver approver;
    QString rejectReason;
    nlohmann::json facts = nlohmann::json::object();   ///< from preconditions: what undo/reconcile need
    nlohmann::json outcome = nlohmann::json::object(); ///< last outcome {status, message, response}
    qint64 createdMs = 0;
    qint64 updatedMs = 0;

    /// targetKey() of what it acts on ("pod/ns/name", ...).
    QString targetKey() const;
    /// The whole decision as JSON (for the store, the audit log and `vigilctl`).
    nlohmann::json toJson() const;
    static Result<Decision> fromJson(const nlohmann::json &doc);
};

/// A new Proposed decision with a fresh uuid.
Decision newDecision(const QString &fingerprint, const guard::IncidentTarget &target,
                     const Diagnosis &diagnosis, const guard::Verdict &verdict);

/// How a diagnosis was reached, as the router recorded it (Diagnosis::tier): "cache", "rules",
/// "fallback" (a model was asked but the rules answered), "small" or "strong" (the model tier whose
/// answer was taken).
QString routeTier(const Diagnosis &diagnosis);

/// The full reasoning context of one diagnosis, for the audit row that records it: "sent" is the
/// rendered, redacted user prompt that went to the model (system prompt and schema are named by
/// promptVersion), or "rules"/"cache" when no model was asked; "evidence" the redacted evidence text
/// with its token estimate, budget cuts and redaction counts; then rawReply, provider, model,
/// promptVersion, promptTokens, completionTokens, costUsd, tier (routeTier), route and fallbackReason.
nlohmann::json reasoningContext(const Diagnosis &diagnosis, const gather::Evidence &evidence,
                                const reason::PromptSet &prompts);

} // namespace vigil::act

Q_DECLARE_METATYPE(vigil::act::Decision)
