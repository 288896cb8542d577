#include "core/pipeline/detector.h"

#include <QLatin1String>

namespace vigil::pipeline {
namespace {

// THE reason table. Order is precedence: for one container the first row
// that matches wins. docs/detector.md embeds reasonTableMarkdown() of this.
const QList<ReasonSpec> kReasons{
    {"OOMKilled", Trigger::ContainerTerminated, "OOMKilled", "",
     "A container was killed for exceeding its memory limit (current state, or last termination within the "
     "recent window)."},
    {"CrashLoopBackOff", Trigger::ContainerWaiting, "CrashLoopBackOff", "",
     "A container keeps crashing and the kubelet backs off restarting it."},
    {"ImagePullBackOff", Trigger::ContainerWaiting, "ImagePullBackOff", "",
     "The image cannot be pulled; the kubelet backs off retrying."},
    {"ErrImagePull", Trigger::ContainerWaiting, "ErrImagePull", "",
     "The last image pull failed (missing tag, registry auth, network)."},
    {"CreateContainerConfigError", Trigger::ContainerWaiting, "CreateContainerConfigError", "",
     "The container config references a missing ConfigMap, Secret or key."},
    {"CreateContainerError", Trigger::ContainerWaiting, "CreateContainerError", "",
     "The runtime failed to create the container."},
    {"InvalidImageName", Trigger::ContainerWaiting, "InvalidImageName", "",
     "The image reference cannot be parsed."},
    {"RunContainerError", Trigger::ContainerWaiting, "RunContainerError", "",
     "The runtime failed to start the container (bad command, mount, permissions)."},
    {"NonZeroExit", Trigger::ContainerExit, "", "",
     "A container exited with a non-zero code and has been restarted."},
    {"FailedScheduling", Trigger::PodUnschedulable, "", "FailedScheduling",
     "Pending and unschedulable for longer than the pending grace period (default 60 s)."},
    {"ReadinessFailing", Trigger::PodReadiness, "", "Unhealthy",
     "Readiness probe failing (Unhealthy events), or running but not ready past the readiness grace period."},
    {"Evicted", Trigger::PodStatusReason, "Evicted", "Evicted",
     "The kubelet evicted the pod (node pressure)."},
    {"NodeNotReady", Trigger::NodeCondition, "Ready", "NodeNotReady",
     "Node condition Ready is False or Unknown."},
    {"NodeMemoryPressure", Trigger::NodeCondition, "MemoryPressure", "NodeHasInsufficientMemory",
     "Node condition MemoryPressure is True."},
    {"NodeDiskPressure", Trigger::NodeCondition, "DiskPressure", "NodeHasDiskPressure",
     "Node condition DiskPressure is True."},
    {"NodePIDPressure", Trigger::NodeCondition, "PIDPressure", "NodeHasInsufficientPID",
     "Node condition PIDPressure is True."},
};

QString triggerName(Trigger t)
{
    switch (t) {
    case Trigger::ContainerTerminated:
        return QStringLiteral("container terminated");
    case Trigger::ContainerWaiting:
        return QStringLiteral("container waiting");
    case Trigger::ContainerExit:
        return QStringLiteral("container exit code");
    case Trigger::PodUnschedulable:
        return QStringLiteral("pod unschedulable");
    case Trigger::PodReadiness:
        return QStringLiteral("pod readiness");
    case Trigger::PodStatusReason:
        return QStringLiteral("pod status reason");
    case Trigger::NodeCondition:
        return QStringLiteral("node condition");
    }
    return QString();
}

bool isNodeTrigger(Trigger t)
{
    return t == Trigger::NodeCondition;
}

kube::ObjectRef podRef(const kube::PodView &pod)
{
    return kube::ObjectRef{QStringLiteral("Pod"), QStringLiteral("v1"), pod.namespaceName, pod.name, pod.uid};
}

Observation podObservation(const kube::PodView &pod, const char *reason, const QDateTime &time)
{
    Observation o;
    o.reason = QLatin1String(reason);
    o.object = podRef(pod);
    o.owner = pod.owner;
    o.podTemplateHash = pod.labels.value(QStringLiteral("pod-template-hash"));
    o.time = time;
    return o;
}

bool olderThan(const QDateTime &since, const QDateTime &now, std::chrono::seconds grace)
{
    return since.isValid() && since.secsTo(now) > grace.count();
}

bool recent(const QDateTime &at, const QDateTime &now, std::chrono::seconds window)
{
    return at.isValid() && at.secsTo(now) <= window.count();
}

// The first table row matching this container, or nullptr.
const ReasonSpec *matchContainer(const kube::ContainerStatusView &c, const QDateTime &now,
                                 const Detector::Options &opt, QDateTime *time)
{
    const bool terminated = c.state == QLatin1String("terminated");
    for (const ReasonSpec &spec : kReasons) {
        const QLatin1String match(spec.match);
        switch (spec.trigger) {
        case Trigger::ContainerTerminated:
            if (terminated && c.reason == match) {
                *time = now;
                return &spec;
            }
            if (c.lastTerminatedReason == match && recent(c.lastTerminatedAt, now, opt.recentTermination)) {
                *time = c.lastTerminatedAt;
                return &spec;
            }
            break;
        case Trigger::ContainerWaiting:
            if (c.state == QLatin1String("waiting") && c.reason == match) {
                *time = now;
                return &spec;
            }
            break;
        case Trigger::ContainerExit:
            if (c.restartCount > 0 && terminated && c.exitCode != 0) {
                *time = now;
                return &spec;
            }
            if (c.restartCount > 0 && c.lastExitCode != 0 &&
                recent(c.lastTerminatedAt, now, opt.recentTermination)) {
                *time = c.lastTerminatedAt;
                return &spec;
            }
            break;
        default:
            break;
        }
    }
    return nullptr;
}

const ReasonSpec *specFor(Trigger trigger)
{
    for (const ReasonSpec &spec : kReasons) {
        if (spec.trigger == trigger)
            return &spec;
    }
    return nullptr;
}

} // namespace

const QList<ReasonSpec> &incidentReasons()
{
    return kReasons;
}

QStringList incidentReasonNames()
{
    QStringList names;
    for (const ReasonSpec &spec : kReasons)
        names << QLatin1String(spec.reason);
    return names;
}

QString reasonTableMarkdown()
{
    QString out =
        QStringLiteral("| Reason | Trigger | Matches | Event reason | Meaning |\n|---|---|---|---|---|\n");
    for (const ReasonSpec &spec : kReasons) {
        const QString match = QLatin1String(spec.match);
        const QString event = QLatin1String(spec.eventReason);
        out += QStringLiteral("| `") + QLatin1String(spec.reason) + QStringLiteral("` | ") +
               triggerName(spec.trigger) + QStringLiteral(" | ") +
               (match.isEmpty() ? QStringLiteral("-") : QStringLiteral("`") + match + u'`') +
               QStringLiteral(" | ") +
               (event.isEmpty() ? QStringLiteral("-") : QStringLiteral("`") + event + u'`') +
               QStringLiteral(" | ") + QLatin1String(spec.description) + QStringLiteral(" |\n");
    }
    return out;
}

Detector::Detector(Options options, Clock clock)
    : m_options(options)
    , m_clock(clock ? std::move(clock) : Clock([] { return QDateTime::currentDateTimeUtc(); }))
{
}

QList<Observation> Detector::detectPod(const kube::PodView &pod, const QDateTime &now) const
{
    QList<Observation> out;
    if (pod.deletionTimestamp.isValid())
        return out; // going away on purpose

    for (const ReasonSpec &spec : kReasons) {
        if (spec.trigger == Trigger::PodStatusReason && pod.reason == QLatin1String(spec.match)) {
            Observation o = podObservation(pod, spec.reason, now);
            o.message = pod.message;
            o.occurrence = QStringLiteral("status:") + pod.reason;
            out << o;
            return out; // an evicted pod's containers are consequences, not causes
        }
    }

    for (const auto *list : {&pod.initContainers, &pod.containers}) {
        for (const kube::ContainerStatusView &c : *list) {
            QDateTime time;
            const ReasonSpec *spec = matchContainer(c, now, m_options, &time);
            if (!spec)
                continue;
            Observation o = podObservation(pod, spec->reason, time);
            o.container = c.name;
            o.image = c.image;
            o.message = c.message;
            if (o.message.isEmpty() && spec->trigger != Trigger::ContainerWaiting) {
                const int code = c.state == QLatin1String("terminated") ? c.exitCode : c.lastExitCode;
                o.message = QStringLiteral("exit code %1").arg(code);
            }
            o.occurrence = c.name + u':' + o.reason + u':' + QString::number(c.restartCount);
            out << o;
        }
    }
    if (!out.isEmpty())
        return out;

    if (pod.phase == QLatin1String("Pending") && !pod.scheduled &&
        olderThan(pod.created, now, m_options.pendingGrace)) {
        const ReasonSpec *spec = specFor(Trigger::PodUnschedulable);
        Observation o = podObservation(pod, spec->reason, now);
        o.message = pod.scheduleMessage;
        o.occurrence = QStringLiteral("unschedulable");
        out << o;
        return out;
    }

    if (pod.phase == QLatin1String("Running") && !pod.ready && !pod.containers.isEmpty() &&
        olderThan(pod.created, now, m_options.readinessGrace)) {
        bool allRunning = true;
        QString notReady;
        for (const kube::ContainerStatusView &c : pod.containers) {
            allRunning = allRunning && c.state == QLatin1String("running");
            if (!c.ready && notReady.isEmpty())
                notReady = c.name;
        }
        if (allRunning && !notReady.isEmpty()) {
            const ReasonSpec *spec = specFor(Trigger::PodReadiness);
            Observation o = podObservation(pod, spec->reason, now);
            o.container = notReady;
            for (const kube::ContainerStatusView &c : pod.containers) {
                if (c.name == notReady)
                    o.image = c.image;
            }
            o.message = QStringLiteral("running but not ready for more than %1 s")
                            .arg(m_options.readinessGrace.count());
            o.occurrence = QStringLiteral("notready");
            out << o;
        }
    }
    return out;
}

QList<Observation> Detector::detectNode(const kube::NodeView &node, const QDateTime &now) const
{
    QList<Observation> out;
    for (const ReasonSpec &spec : kReasons) {
        if (spec.trigger != Trigger::NodeCondition)
            continue;
        const QLatin1String type(spec.match);
        for (const kube::NodeCondition &cond : node.conditions) {
            if (cond.type != type)
                continue;
            const bool bad = type == QLatin1String("Ready") ? cond.status != QLatin1String("True")
                                                            : cond.status == QLatin1String("True");
            if (!bad)
                continue;
            Observation o;
            o.reason = QLatin1String(spec.reason);
            o.object =
                kube::ObjectRef{QStringLiteral("Node"), QStringLiteral("v1"), QString(), node.name, node.uid};
            o.message = cond.message.isEmpty() ? cond.reason : cond.message;
            o.time = now;
            o.occurrence = QStringLiteral("condition:") + cond.type + u':' + cond.status + u':' +
                           cond.lastTransition.toString(Qt::ISODate);
            out << o;
        }
    }
    return out;
}

QList<Observation> Detector::detectEvent(const kube::EventView &event, const QDateTime &now) const
{
    QList<Observation> out;
    if (event.reason.isEmpty())
        return out;
    const bool onNode = event.involved.kind == QLatin1String("Node");
    const bool onPod = event.involved.kind == QLatin1String("Pod");
    if (!onNode && !onPod)
        return out;
    for (const ReasonSpec &spec : kReasons) {
        if (event.reason != QLatin1String(spec.eventReason) || isNodeTrigger(spec.trigger) != onNode)
            continue;
        if (spec.trigger == Trigger::PodReadiness &&
            !event.message.contains(QLatin1String("Readiness probe"), Qt::CaseInsensitive))
            continue; // liveness failures surface as restarts instead
        const QDateTime first = event.firstSeen.isValid() ? event.firstSeen : event.lastSeen;
        if (spec.trigger == Trigger::PodUnschedulable && !olderThan(first, now, m_options.pendingGrace))
            continue;
        Observation o;
        o.reason = QLatin1String(spec.reason);
        o.object = event.involved;
        if (o.object.namespaceName.isEmpty() && onPod)
            o.object.namespaceName = event.namespaceName;
        o.message = event.message;
        o.time = event.lastSeen.isValid() ? event.lastSeen : now;
        o.occurrence = QStringLiteral("event:") + (event.uid.isEmpty() ? event.name : event.uid) + u':' +
                       QString::number(event.count);
        out << o;
        break;
    }
    return out;
}

} // namespace vigil::pipeline
