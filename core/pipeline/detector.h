#pragma once

// Detector: turns store objects (pods, nodes, events) into Observations of
// known incident reasons. The reason table in detector.cpp is the only place
// the list of reasons lives; docs/detector.md embeds reasonTableMarkdown().

#include "core/kube/objects.h"

#include <QDateTime>
#include <QList>
#include <QString>

#include <chrono>
#include <functional>

namespace vigil::pipeline {

/// One sighting of a known problem on one object.
struct Observation {
    QString reason;          ///< a reason from incidentReasons()
    kube::ObjectRef object;  ///< the pod or node
    kube::OwnerRef owner;    ///< the pod's controller owner; empty for nodes
    QString podTemplateHash; ///< the pod's pod-template-hash label, if any
    QString container;       ///< empty when the problem is pod- or node-wide
    QString message;
    QString image;
    QDateTime time;
    /// Stable key of this occurrence: the same occurrence seen in a later
    /// delta has the same key, so re-detection does not inflate counts.
    QString occurrence;
};

/// How a reason is recognised.
enum class Trigger {
    ContainerTerminated, ///< current or last termination reason equals `match`
    ContainerWaiting,    ///< waiting reason equals `match`
    ContainerExit,       ///< non-zero exit code with restarts
    PodUnschedulable,    ///< Pending + unschedulable past the grace period, or FailedScheduling events
    PodReadiness,        ///< running but not ready past the grace period, or readiness Unhealthy events
    PodStatusReason,     ///< status.reason equals `match` (or an event with that reason)
    NodeCondition,       ///< condition `match` in its bad state (Ready != True, pressure == True)
};

/// One row of the reason table.
struct ReasonSpec {
    const char *reason;
    Trigger trigger;
    const char *match;       ///< status/condition value the trigger compares against
    const char *eventReason; ///< Event reason that also reports this reason; "" for none
    const char *description;
};

/// The reason table, in precedence order: for one container the first
/// matching row wins (an OOMKilled container in back-off reports OOMKilled).
const QList<ReasonSpec> &incidentReasons();
/// All reason names, in table order.
QStringList incidentReasonNames();
/// The table rendered as a Markdown table (embedded in docs/detector.md).
QString reasonTableMarkdown();

/// Grace periods; defaults match docs/detector.md.
struct DetectorOptions {
    std::chrono::seconds pendingGrace{60};       ///< unschedulable for longer than this
    std::chrono::seconds readinessGrace{60};     ///< running-but-not-ready for longer than this
    std::chrono::seconds recentTermination{600}; ///< a last termination older than this is history
};

/// Stateless detection over projections. Time is injected: either passed in
/// or read from the clock given at construction.
class Detector final {
public:
    using Clock = std::function<QDateTime()>;

    using Options = DetectorOptions;

    explicit Detector(Options options = Options{}, Clock clock = Clock{});

    QList<Observation> detectPod(const kube::PodView &pod, const QDateTime &now) const;
    QList<Observation> detectPod(const kube::PodView &pod) const { return detectPod(pod, m_clock()); }
    QList<Observation> detectNode(const kube::NodeView &node, const QDateTime &now) const;
    QList<Observation> detectNode(const kube::NodeView &node) const { return detectNode(node, m_clock()); }
    QList<Observation> detectEvent(const kube::EventView &event, const QDateTime &now) const;
    QList<Observation> detectEvent(const kube::EventView &event) const
    {
        return detectEvent(event, m_clock());
    }

private:
    Options m_options;
    Clock m_clock;
};

} // namespace vigil::pipeline
