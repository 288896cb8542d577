#pragma once

// Compact projections of Kubernetes objects, held by the informer store and
// passed between layers. They are plain values, not JSON documents: a pod in
// the store should cost well under 2 KB.

#include <QByteArray>
#include <QDateTime>
#include <QList>
#include <QMap>
#include <QString>
#include <QStringList>

#include <cstdint>

namespace vigil::kube {

/// Identifies one object: enough to GET it again.
struct ObjectRef {
    QString kind;          ///< "Pod", "Node", "Deployment", ...
    QString apiVersion;    ///< "v1", "apps/v1", ...
    QString namespaceName; ///< empty for cluster-scoped objects
    QString name;
    QString uid;

    bool operator==(const ObjectRef &) const = default;
};

/// metadata.ownerReferences[] entry (only the controller one matters to us).
struct OwnerRef {
    QString kind;
    QString name;
    QString uid;
    bool controller = false;

    bool operator==(const OwnerRef &) const = default;
};

struct ContainerStatusView {
    QString name;
    QString image;
    bool ready = false;
    int restartCount = 0;
    QString state;                ///< "waiting" | "running" | "terminated" | ""
    QString reason;               ///< current state's reason (CrashLoopBackOff, OOMKilled, ...)
    QString message;              ///< current state's message, truncated
    int exitCode = 0;             ///< when terminated
    QString lastTerminatedReason; ///< lastState.terminated.reason
    int lastExitCode = 0;
    QDateTime lastTerminatedAt;
    // Resources from the spec, in canonical units: millicores and bytes. -1 = unset.
    int64_t cpuRequestMilli = -1;
    int64_t cpuLimitMilli = -1;
    int64_t memoryRequestBytes = -1;
    int64_t memoryLimitBytes = -1;
    int signal = 0;           ///< terminated.signal, when the state is terminated
    bool started = false;     ///< status.started (startup probe passed)
    bool restartable = false; ///< init container with restartPolicy Always (a sidecar)

    bool operator==(const ContainerStatusView &) const = default;
};

struct PodView {
    QString uid;
    QString namespaceName;
    QString name;
    QString resourceVersion;
    QString nodeName;
    QString phase;   ///< Pending | Running | Succeeded | Failed | Unknown
    QString reason;  ///< status.reason (e.g. Evicted)
    QString message; ///< status.message, truncated
    QDateTime created;
    QDateTime deletionTimestamp;
    OwnerRef owner; ///< the controller owner, if any
    QList<ContainerStatusView> containers;
    QList<ContainerStatusView> initContainers;
    bool ready = false;            ///< the Ready condition
    bool scheduled = true;         ///< the PodScheduled condition (false = unschedulable)
    QString scheduleMessage;       ///< PodScheduled's message when false
    bool initialized = false;      ///< the Initialized condition
    QMap<QString, QString> labels; ///< kept: selectors and the protected label need them

    int restarts() const;
    int readyContainers() const;
    /// kubectl's STATUS column: the most telling reason, as `kubectl get pods` prints it.
    QString displayStatus() const;
};

struct NodeCondition {
    QString type;   ///< Ready, MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable
    QString status; ///< True | False | Unknown
    QString reason;
    QString message;
    QDateTime lastTransition;
};

struct NodeView {
    QString uid;
    QString name;
    QString resourceVersion;
    bool unschedulable = false;
    QList<NodeCondition> conditions;
    QStringList taints; ///< "key=value:Effect"
    int64_t allocatableCpuMilli = -1;
    int64_t allocatableMemoryBytes = -1;
    int64_t allocatablePods = -1;
    QString kubeletVersion;
    QMap<QString, QString> labels;

    bool ready() const;
};

/// core/v1 Event and events.k8s.io/v1 Event, reduced to what a person reads.
struct EventView {
    QString uid;
    QString namespaceName;
    QString name;
    QString resourceVersion;
    QString type; ///< Normal | Warning
    QString reason;
    QString message;
    ObjectRef involved; ///< regarding / involvedObject
    int count = 1;
    QDateTime firstSeen;
    QDateTime lastSeen;
    QString source; ///< reportingController / source.component
};

/// Deployment, ReplicaSet, StatefulSet, DaemonSet: the parts the pipeline uses.
struct WorkloadView {
    QString kind;
    QString uid;
    QString namespaceName;
    QString name;
    QString resourceVersion;
    OwnerRef owner;
    int replicas = 0; ///< spec.replicas
    int readyReplicas = 0;
    int updatedReplicas = 0;
    int availableReplicas = 0;
    int64_t generation = 0;
    int64_t observedGeneration = 0;
    QString revision; ///< deployment.kubernetes.io/revision
    QDateTime created;
    QMap<QString, QString> labels;
};

/// Any other resource (custom resources included): metadata plus the raw
/// JSON when the object is small, else only its status.
struct GenericView {
    QString kind;
    QString apiVersion;
    QString uid;
    QString namespaceName;
    QString name;
    QString resourceVersion;
    QDateTime created;
    QDateTime deletionTimestamp;
    OwnerRef owner;
    QMap<QString, QString> labels;
    QByteArray json;        ///< compact JSON: the whole object if small, else {"status": ...} or empty
    bool truncated = false; ///< json is not the whole object
};

} // namespace vigil::kube
