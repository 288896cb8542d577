#pragma once

// The audit rows of an incident's walk before it becomes a decision, shared by
// the desktop session and the agent: "observed" once when an incident opens
// and "diagnosed" for every diagnosis of it. Neither carries a decision id;
// the incident fingerprint in their payload links them to the decision's
// rows (Decision::incidentFingerprint).

#include "core/audit/auditlog.h"
#include "core/gather/evidence.h"
#include "core/pipeline/incidentgrouper.h"
#include "core/reason/diagnosis.h"

namespace vigil::reason {
struct PromptSet;
}

namespace vigil::pipeline {

/// "deployment/shop/web", "node/worker-1": the workload an incident is about.
QString incidentAuditTarget(const Incident &incident);

/// One short line for Decision::observation and the AgentDecision's spec.observation: reason,
/// workload, count and the latest message (redacted, at most ~300 characters).
QString incidentObservation(const Incident &incident);

/// The "observed" row: outcome the incident reason; payload fingerprint, reason, message (redacted),
/// container, image, count, pods and first/last seen.
audit::AuditEvent observedEvent(const Incident &incident, const QString &actor);

/// The "diagnosed" row: action the proposed action, outcome act::routeTier(); payload fingerprint,
/// category, diagnosis, confidence, parameters, reasoning and act::reasoningContext() (what the model
/// was sent and answered, tokens, cost, route).
audit::AuditEvent diagnosedEvent(const Incident &incident, const gather::Evidence &evidence,
                                 const Diagnosis &diagnosis, const reason::PromptSet &prompts,
                                 const QString &actor);

} // namespace vigil::pipeline
