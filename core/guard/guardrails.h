#pragma once

// Guardrails: the pure, deterministic judgement of one proposed action
// against the policy, the incident it is about and the recent history.
// Every failing check adds a reason; nothing stops at the first one.
//
// Parameters each action must carry (exactly these keys, no others):
//   restart_pod       {namespace: string, pod: string}
//   scale_deployment  {namespace: string, deployment: string, replicas: integer}
//   cordon_node       {node: string}
//   create_alert      {summary: string (1..2000 chars), severity: info|warning|critical}
//   none              {} (notify only)
// (the same shape core/reason's reply validator demands of a model).
// Names are single Kubernetes object names (RFC 1123): lists, commas,
// spaces and wildcards mean "several objects" and are blocked.

#include "core/guard/policy.h"
#include "core/reason/diagnosis.h"

#include <QDateTime>
#include <QList>
#include <QMap>
#include <QString>

namespace vigil::guard {

/// The object an incident is about, as the pipeline observed it (not as a model claims).
struct IncidentTarget {
    QString namespaceName; ///< empty for node-only incidents
    QString podName;       ///< empty when the incident is not about one pod
    QString ownerKind;     ///< the pod's top workload ("Deployment" after following its ReplicaSet)
    QString ownerName;
    QString nodeName; ///< the node the pod runs on, or the node the incident is about
    QMap<QString, QString> podLabels;
    QMap<QString, QString> ownerLabels;
    QMap<QString, QString> nodeLabels;
};

/// A diagnosis proposed for one incident.
struct Proposal {
    Diagnosis diagnosis;
    /// The action name exactly as the model wrote it; a null QString when the
    /// proposal did not come from text (rules). When not null, it must name
    /// diagnosis.action exactly (an empty string is an unknown action).
    QString actionWireName;
    IncidentTarget target;
};

/// One action Vigil executed, for cooldown and rate limits.
struct ExecutionRecord {
    QDateTime at;
    ActionKind action = ActionKind::None;
    QString targetKey; ///< targetKey() of what it acted on
};

/// Everything besides the proposal that evaluate() may look at.
struct GuardContext {
    Policy policy;
    QDateTime now; ///< injected clock
    QList<ExecutionRecord> recentExecutions;
};

struct VerdictReason {
    QString code;    ///< stable, e.g. "params.range", "target.mismatch"
    QString message; ///< one sentence a person reads
    bool blocking = false;

    bool operator==(const VerdictReason &) const = default;
};

struct Verdict {
    enum Decision { Allowed, NeedsApproval, Blocked };
    Decision decision = Blocked;
    QList<VerdictReason> reasons; ///< every check that spoke, in a fixed order

    bool hasReason(const QString &code) const;
    QStringList codes() const;
};

/// "allowed", "needs-approval", "blocked".
QString decisionName(Verdict::Decision decision);

/// "pod/<ns>/<name>", "deployment/<ns>/<name>", "node/<name>", "alert/<ns>/<pod or node>";
/// empty for none. Built from the incident target, never from model output.
QString targetKey(ActionKind action, const IncidentTarget &target);

/// Judges a proposal. Pure: same inputs, same verdict.
Verdict evaluate(const Proposal &proposal, const GuardContext &context);

} // namespace vigil::guard
