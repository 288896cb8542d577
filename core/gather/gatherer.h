#pragma once

// Gatherer: builds Evidence for one incident from already-fetched inputs.
// The I/O (logs, events, owners over REST) happens elsewhere; this part is
// pure, so its selection, redaction and budget are deterministic and tested.

#include "core/gather/evidence.h"

namespace vigil::gather {

/// Everything the gatherer needs, already fetched.
struct GatherInput {
    IncidentSubject subject;
    QList<kube::PodView> pods; ///< the incident's pods; subject.podName is the focus (else the first)
    QList<kube::NodeView> nodes;
    QList<kube::EventView> events;       ///< any events; the gatherer keeps the relevant ones
    QList<kube::WorkloadView> workloads; ///< ReplicaSets/Deployments/... of the namespace
    QString currentLog;                  ///< focus container's log text
    QString previousLog;                 ///< focus container's previous instance's log text
    QList<ContainerUsage> usage;
    QList<NodeUsage> nodeUsage; ///< per node; the evidence's node picks its own
    QList<EnvVar> env;
    QDateTime now; ///< events older than GatherOptions::eventAge are dropped
};

struct GatherOptions {
    int tokenBudget = 3000;
    int logLines = 50; ///< last lines kept per log (older error lines may survive too)
    int maxEvents = 20;
    int eventAgeSeconds = 3600;
    int maxLineChars = 400; ///< longer lines are shortened
};

class Gatherer final {
public:
    using Options = GatherOptions;

    explicit Gatherer(Options options = Options{});

    /// Selects, redacts (through `redactor`, the one redaction point) and
    /// renders under the budget. Pure: same input, same output.
    Evidence gather(const GatherInput &input, Redactor &redactor) const;

private:
    Options m_options;
};

} // namespace vigil::gather
