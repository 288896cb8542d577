#pragma once

// Evidence: the structured context gathered for one incident, after
// redaction, and its rendering under the prompt budget. `text` is exactly
// what may leave the machine.

#include "core/gather/redactor.h"
#include "core/kube/objects.h"

#include <QDateTime>
#include <QList>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <optional>

namespace vigil::gather {

/// The incident the evidence is about. gather sits below pipeline, so this is
/// the pipeline's Incident reduced to plain fields.
struct IncidentSubject {
    QString reason; ///< a detector reason ("CrashLoopBackOff", "NodeNotReady", ...)
    QString namespaceName;
    QString workloadKind; ///< "Deployment", "StatefulSet", "Node", "Pod", ...
    QString workloadName;
    QString container;
    QString image;
    QString message;  ///< the latest observation's message
    QString podName;  ///< the pod to focus on (the latest observation's)
    QString nodeName; ///< for node incidents
    int count = 1;
    QStringList pods; ///< every pod involved
    QDateTime firstSeen;
    QDateTime lastSeen;
};

/// Live usage from metrics-server, when present. -1 = unknown.
struct ContainerUsage {
    QString container;
    int64_t cpuMilli = -1;
    int64_t memoryBytes = -1;
};

/// A node's live usage from metrics.k8s.io NodeMetrics, when present. -1 = unknown.
struct NodeUsage {
    QString node;
    int64_t cpuMilli = -1;
    int64_t memoryBytes = -1;
    QDateTime timestamp; ///< when the sample was taken
    QString window;      ///< the sampling window as the server says it ("20.05s")
};

/// One environment variable of a container spec (the value gets redacted).
struct EnvVar {
    QString container;
    QString name;
    QString value;
};

struct Evidence {
    IncidentSubject subject;
    std::optional<kube::PodView> pod;   ///< the focus pod, messages redacted
    QList<kube::WorkloadView> owners;   ///< owner chain, nearest first
    QList<kube::EventView> events;      ///< relevant events, newest first, messages redacted
    QStringList previousLog;            ///< previous container's log lines (redacted, before the budget)
    QStringList currentLog;             ///< current container's log lines (redacted, before the budget)
    std::optional<kube::NodeView> node; ///< the pod's node, or the incident's node
    QList<ContainerUsage> usage;
    std::optional<NodeUsage> nodeUsage; ///< usage of `node`, when metrics-server has a sample
    QList<EnvVar> env;                  ///< values redacted
    QString rolloutRevision;            ///< the owning Deployment's current revision
    QDateTime rolloutTime;              ///< when that revision's ReplicaSet was created

    QString text; ///< the rendered, redacted, budgeted prompt text
    int estimatedTokens = 0;
    int tokenBudget = 0;
    QStringList cut; ///< what the budget removed, e.g. "37 log lines"
    RedactionReport redactions;

    /// Error-looking log lines (both logs), newest last; used by analyzers.
    QStringList errorLines() const;
};

/// ~4 characters per token: close enough for English and logs, and stable.
int estimateTokens(const QString &text);
/// True for log lines that look like errors (error, exception, panic, refused, ...).
bool looksLikeError(const QString &line);

} // namespace vigil::gather
