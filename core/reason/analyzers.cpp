#include "core/reason/analyzers.h"

#include "core/gather/evidence.h"

#include <QRegularExpression>

namespace vigil::reason {
namespace {

using gather::Evidence;
using nlohmann::json;

constexpr int kQuoteChars = 200;

std::string s(const QString &text)
{
    return text.toStdString();
}

QString quoted(const QString &line)
{
    const QString t = line.trimmed();
    return u'"' + (t.size() > kQuoteChars ? t.left(kQuoteChars - 3) + QStringLiteral("...") : t) + u'"';
}

const kube::ContainerStatusView *focusContainer(const Evidence &ev)
{
    if (!ev.pod)
        return nullptr;
    for (const auto *list : {&ev.pod->containers, &ev.pod->initContainers}) {
        for (const kube::ContainerStatusView &c : *list) {
            if (c.name == ev.subject.container)
                return &c;
        }
    }
    return ev.pod->containers.isEmpty() ? nullptr : &ev.pod->containers.first();
}

QString podName(const Evidence &ev)
{
    return ev.pod ? ev.pod->name : ev.subject.podName;
}

QString namespaceOf(const Evidence &ev)
{
    return ev.pod ? ev.pod->namespaceName : ev.subject.namespaceName;
}

QString workload(const Evidence &ev)
{
    const gather::IncidentSubject &sub = ev.subject;
    QString w = sub.workloadKind.isEmpty() ? QStringLiteral("pod") : sub.workloadKind;
    w += u' ' + (sub.namespaceName.isEmpty() ? QString() : sub.namespaceName + u'/') +
         (sub.workloadName.isEmpty() ? podName(ev) : sub.workloadName);
    return w;
}

int podCount(const Evidence &ev)
{
    return std::max<int>(1, static_cast<int>(ev.subject.pods.size()));
}

QString memory(int64_t bytes)
{
    if (bytes < 0)
        return QStringLiteral("unset");
    return QString::number(bytes / (1024 * 1024)) + QStringLiteral("Mi");
}

// Incident message, container message and warning events: where kube says why.
QStringList statusTexts(const Evidence &ev)
{
    QStringList out;
    if (!ev.subject.message.isEmpty())
        out << ev.subject.message;
    if (const auto *c = focusContainer(ev); c && !c->message.isEmpty())
        out << c->message;
    if (ev.pod && !ev.pod->scheduleMessage.isEmpty())
        out << ev.pod->scheduleMessage;
    if (ev.pod && !ev.pod->message.isEmpty())
        out << ev.pod->message;
    for (const kube::EventView &e : ev.events) {
        if (e.type == QLatin1String("Warning"))
            out << e.message;
    }
    return out;
}

QString firstMatching(const QStringList &texts, const QRegularExpression &re)
{
    for (const QString &t : texts) {
        if (re.match(t).hasMatch())
            return t;
    }
    return QString();
}

QString summaryOf(const QString &text)
{
    return text.size() > 500 ? text.left(497) + QStringLiteral("...") : text;
}

Diagnosis make(const Evidence &ev, const QString &diagnosis, double confidence, const QString &reasoning)
{
    Diagnosis d;
    d.category = ev.subject.reason;
    d.diagnosis = diagnosis.left(2000);
    d.confidence = confidence;
    d.reasoning = reasoning.left(4000);
    d.source.kind = DiagnosisSource::Rules;
    return d;
}

Diagnosis alert(Diagnosis d, const char *severity, const QString &summary)
{
    d.action = ActionKind::CreateAlert;
    d.parameters = json{{"severity", severity}, {"summary", s(summaryOf(summary))}};
    return d;
}

Diagnosis restart(Diagnosis d, const Evidence &ev)
{
    d.action = ActionKind::RestartPod;
    d.parameters = json{{"namespace", s(namespaceOf(ev))}, {"pod", s(podName(ev))}};
    return d;
}

Diagnosis noAction(Diagnosis d)
{
    d.action = ActionKind::None;
    d.parameters = json::object();
    return d;
}

bool canRestart(const Evidence &ev)
{
    return !podName(ev).isEmpty() && !namespaceOf(ev).isEmpty();
}

// ---- analyzers ----------------------------------------------------------

Diagnosis crashLoop(const Evidence &ev)
{
    const auto *c = focusContainer(ev);
    const QStringList errors = ev.errorLines();
    const QString exit = c ? QStringLiteral("last exit code %1 (%2)")
                                 .arg(c->lastExitCode)
                                 .arg(c->lastTerminatedReason.isEmpty() ? QStringLiteral("no reason")
                                                                        : c->lastTerminatedReason)
                           : QStringLiteral("exit code unknown");
    const int restarts = c ? c->restartCount : 0;
    static const QRegularExpression dependency(
        QStringLiteral("connection refused|no such host|could not connect|dial tcp|timed? ?out|name "
                       "resolution|unreachable|ECONNREFUSED"),
        QRegularExpression::CaseInsensitiveOption);
    static const QRegularExpression config(
        QStringLiteral("not set|missing|required|invalid|no such file|permission denied|config|parse|unknown "
                       "flag|undefined"),
        QRegularExpression::CaseInsensitiveOption);

    if (!errors.isEmpty()) {
        const QString line = errors.last();
        QString kind = QStringLiteral("an application error");
        if (dependency.match(line).hasMatch())
            kind = QStringLiteral("a dependency it cannot reach");
        else if (config.match(line).hasMatch())
            kind = QStringLiteral("a configuration error");
        Diagnosis d =
            make(ev,
                 QStringLiteral(
                     "Container %1 of %2 is crash-looping (%3 restarts, %4) because of %5: the logs show %6.")
                     .arg(ev.subject.container, workload(ev))
                     .arg(restarts)
                     .arg(exit, kind, quoted(line)),
                 0.7,
                 QStringLiteral(
                     "The container exits on its own with an error in its logs; restarting the pod would "
                     "only repeat the crash, so a person needs to fix the cause (code, config or the "
                     "dependency). %1 pod(s) affected.")
                     .arg(podCount(ev)));
        return alert(d, podCount(ev) > 1 ? "critical" : "warning",
                     QStringLiteral("%1 crash-looping: %2").arg(workload(ev), line.trimmed()));
    }
    Diagnosis d = make(
        ev,
        QStringLiteral("Container %1 of %2 is crash-looping (%3 restarts, %4); the logs show no error line.")
            .arg(ev.subject.container, workload(ev))
            .arg(restarts)
            .arg(exit),
        podCount(ev) > 1 ? 0.4 : 0.3, QStringLiteral("Without an error in the logs the cause is unclear."));
    if (podCount(ev) == 1 && canRestart(ev)) {
        d.reasoning += QStringLiteral(
            " One pod is affected, so a fresh pod (new node placement, clean volumes) is a cheap, "
            "low-risk try; confidence is low.");
        return restart(d, ev);
    }
    d.reasoning +=
        QStringLiteral(" %1 pods crash alike, so restarting one would not help; a person should look.")
            .arg(podCount(ev));
    return alert(d, "warning",
                 QStringLiteral("%1 crash-looping in %2 pods with no error in the logs (%3)")
                     .arg(workload(ev))
                     .arg(podCount(ev))
                     .arg(exit));
}

Diagnosis oomKilled(const Evidence &ev)
{
    const auto *c = focusContainer(ev);
    const int64_t limit = c ? c->memoryLimitBytes : -1;
    const int64_t request = c ? c->memoryRequestBytes : -1;
    QString usage;
    for (const gather::ContainerUsage &u : ev.usage) {
        if (u.container == ev.subject.container && u.memoryBytes >= 0)
            usage = QStringLiteral(", current usage %1").arg(memory(u.memoryBytes));
    }
    const QString container = ev.subject.container.isEmpty() && c ? c->name : ev.subject.container;
    Diagnosis d =
        make(ev,
             QStringLiteral(
                 "Container %1 of %2 was OOMKilled (terminated reason OOMKilled, exit 137): it exceeded its "
                 "memory limit of %3 (request %4%5).")
                 .arg(container, workload(ev), memory(limit), memory(request), usage),
             c ? 0.85 : 0.7, // without the container status only the reason speaks
             QStringLiteral(
                 "The kernel killed the container for exceeding its memory limit; restarts will hit the "
                 "same limit. Raise the memory limit (or fix a leak) in the workload spec — a change "
                 "a person must make."));
    const QString suggestion = limit > 0 ? QStringLiteral("raise the memory limit above %1 (e.g. %2)")
                                               .arg(memory(limit), memory(limit * 3 / 2))
                                         : QStringLiteral("set a realistic memory request and limit");
    return alert(d, "warning",
                 QStringLiteral("%1 container %2 OOMKilled: %3.").arg(workload(ev), container, suggestion));
}

Diagnosis imagePull(const Evidence &ev)
{
    const QStringList texts = statusTexts(ev);
    static const QRegularExpression notFound(
        QStringLiteral("not found|manifest unknown|does not exist|no such image"),
        QRegularExpression::CaseInsensitiveOption);
    static const QRegularExpression auth(
        QStringLiteral("unauthorized|authentication required|access denied|forbidden|denied"),
        QRegularExpression::CaseInsensitiveOption);
    static const QRegularExpression network(
        QStringLiteral("timeout|i/o timeout|no such host|connection refused|TLS|x509"),
        QRegularExpression::CaseInsensitiveOption);
    QString cause = QStringLiteral("the image cannot be pulled");
    QString fix = QStringLiteral("check the image reference and registry access");
    QString line;
    // Auth first: Docker's "pull access denied, repository does not exist or
    // may require authorization" is about access more often than a typo.
    if (line = firstMatching(texts, auth); !line.isEmpty()) {
        cause =
            QStringLiteral("the registry refuses access (credentials, or a repository that does not exist)");
        fix = QStringLiteral("fix imagePullSecrets / registry credentials or the repository name");
    } else if (line = firstMatching(texts, notFound); !line.isEmpty()) {
        cause = QStringLiteral("the image or tag does not exist");
        fix = QStringLiteral("fix the image tag");
    } else if (line = firstMatching(texts, network); !line.isEmpty()) {
        cause = QStringLiteral("the registry cannot be reached");
        fix = QStringLiteral("check registry reachability from the nodes");
    } else if (!texts.isEmpty()) {
        line = texts.first();
    }
    const QString image = ev.subject.image.isEmpty() ? QStringLiteral("(unknown image)") : ev.subject.image;
    Diagnosis d = make(
        ev,
        QStringLiteral("%1 cannot start container %2: %3 (%4, image %5)%6.")
            .arg(workload(ev), ev.subject.container, ev.subject.reason, cause, image,
                 line.isEmpty() ? QString() : QStringLiteral("; kube says ") + quoted(line)),
        line.isEmpty() ? 0.6 : 0.85,
        QStringLiteral("Pulls fail the same way on every retry and restarting the pod only retries the pull; "
                       "the image reference or registry access must be fixed by a person."));
    return alert(d, "warning",
                 QStringLiteral("%1: %2 for %3 — %4.").arg(workload(ev), ev.subject.reason, image, fix));
}

Diagnosis invalidImage(const Evidence &ev)
{
    Diagnosis d =
        make(ev,
             QStringLiteral("%1 container %2 has an unparsable image reference %3 (InvalidImageName)%4.")
                 .arg(workload(ev), ev.subject.container, quoted(ev.subject.image),
                      ev.subject.message.isEmpty() ? QString()
                                                   : QStringLiteral(": ") + quoted(ev.subject.message)),
             ev.subject.image.isEmpty() ? 0.6 : 0.9,
             QStringLiteral("The image name itself is malformed; nothing but a spec change can fix it."));
    return alert(d, "warning",
                 QStringLiteral("%1: invalid image name %2 — fix the image reference.")
                     .arg(workload(ev), ev.subject.image));
}

Diagnosis configError(const Evidence &ev)
{
    const QStringList texts = statusTexts(ev);
    static const QRegularExpression missing(
        QStringLiteral("(secret|configmap)s? \"?([\\w.-]+)\"? not found|couldn't find key ([\\w.-]+)"),
        QRegularExpression::CaseInsensitiveOption);
    const QString line = firstMatching(texts, missing);
    const QString detail =
        line.isEmpty() ? (texts.isEmpty() ? QStringLiteral("no message") : texts.first()) : line;
    Diagnosis d = make(
        ev,
        QStringLiteral("%1 container %2 cannot be created (CreateContainerConfigError): it references a "
                       "ConfigMap, Secret or key that does not exist: %3.")
            .arg(workload(ev), ev.subject.container, quoted(detail)),
        line.isEmpty() ? 0.6 : 0.9,
        QStringLiteral("The kubelet will keep failing until the referenced object or key exists; restarting "
                       "changes nothing. Create the missing object or fix the reference."));
    return alert(d, "warning", QStringLiteral("%1: missing config — %2").arg(workload(ev), detail.trimmed()));
}

Diagnosis runtimeError(const Evidence &ev)
{
    const QStringList texts = statusTexts(ev);
    const QString detail = texts.isEmpty() ? QStringLiteral("no message from the runtime") : texts.first();
    Diagnosis d = make(
        ev,
        QStringLiteral("%1 container %2 fails to %3 (%4): %5.")
            .arg(workload(ev), ev.subject.container,
                 ev.subject.reason == QLatin1String("RunContainerError") ? QStringLiteral("start")
                                                                         : QStringLiteral("be created"),
                 ev.subject.reason, quoted(detail)),
        texts.isEmpty() ? 0.4 : 0.6,
        QStringLiteral("Runtime errors like a bad command, entrypoint, mount or security context repeat on "
                       "every attempt; the spec needs a fix."));
    return alert(d, "warning",
                 QStringLiteral("%1: %2 — %3").arg(workload(ev), ev.subject.reason, detail.trimmed()));
}

Diagnosis nonZeroExit(const Evidence &ev)
{
    const auto *c = focusContainer(ev);
    const QStringList errors = ev.errorLines();
    const int code = c ? (c->state == QLatin1String("terminated") ? c->exitCode : c->lastExitCode) : 0;
    const bool running = c && c->state == QLatin1String("running");
    if (running && podCount(ev) == 1 && errors.isEmpty()) {
        Diagnosis d = make(
            ev,
            QStringLiteral("Container %1 of %2 exited with code %3 and was restarted by the kubelet; it is "
                           "running again and the logs show no error.")
                .arg(ev.subject.container, workload(ev))
                .arg(code),
            0.5,
            QStringLiteral("A single restart that recovered needs no action; a recurrence would surface as "
                           "CrashLoopBackOff."));
        return noAction(d);
    }
    Diagnosis d = make(
        ev,
        QStringLiteral("Container %1 of %2 exited with code %3 (%4 pod(s))%5.")
            .arg(ev.subject.container, workload(ev))
            .arg(code)
            .arg(podCount(ev))
            .arg(errors.isEmpty() ? QString() : QStringLiteral("; the logs show ") + quoted(errors.last())),
        errors.isEmpty() ? 0.4 : 0.6,
        QStringLiteral("The kubelet already restarts the container; the exit code and logs point at the "
                       "application, which a person must look at."));
    return alert(d, errors.isEmpty() ? "info" : "warning",
                 QStringLiteral("%1 container %2 exits with code %3%4")
                     .arg(workload(ev), ev.subject.container)
                     .arg(code)
                     .arg(errors.isEmpty() ? QString() : QStringLiteral(": ") + errors.last().trimmed()));
}

Diagnosis failedScheduling(const Evidence &ev)
{
    QStringList texts = statusTexts(ev);
    static const QRegularExpression insufficient(
        QStringLiteral("Insufficient (cpu|memory|ephemeral-storage|pods|[\\w./-]+)"));
    static const QRegularExpression affinity(QStringLiteral("node affinity|node selector|didn't match"),
                                             QRegularExpression::CaseInsensitiveOption);
    static const QRegularExpression taint(QStringLiteral("untolerated taint|had taint|taint"),
                                          QRegularExpression::CaseInsensitiveOption);
    static const QRegularExpression volume(
        QStringLiteral("persistentvolumeclaim|unbound|volume node affinity|pvc"),
        QRegularExpression::CaseInsensitiveOption);
    QString cause = QStringLiteral("no node fits the pod");
    QString fix = QStringLiteral("review the pod's scheduling constraints");
    QString line;
    if (line = firstMatching(texts, insufficient); !line.isEmpty()) {
        const QString resource = insufficient.match(line).captured(1);
        cause = QStringLiteral("the cluster lacks free %1 for the pod's requests").arg(resource);
        fix = QStringLiteral("add node capacity or lower the %1 requests; scaling the deployment up would "
                             "only add more pending pods")
                  .arg(resource);
    } else if (line = firstMatching(texts, volume); !line.isEmpty()) {
        cause = QStringLiteral("its volume claim cannot be bound or reached");
        fix = QStringLiteral("fix the PersistentVolumeClaim / storage class");
    } else if (line = firstMatching(texts, affinity); !line.isEmpty()) {
        cause = QStringLiteral("no node matches its node selector or affinity");
        fix = QStringLiteral("fix the node selector/affinity or label a node");
    } else if (line = firstMatching(texts, taint); !line.isEmpty()) {
        cause = QStringLiteral("the nodes carry taints the pod does not tolerate");
        fix = QStringLiteral("add a toleration or untaint a node");
    } else if (!texts.isEmpty()) {
        line = texts.first();
    }
    Diagnosis d = make(
        ev,
        QStringLiteral("%1 has %2 pod(s) Pending and unschedulable: %3%4.")
            .arg(workload(ev))
            .arg(podCount(ev))
            .arg(cause, line.isEmpty() ? QString() : QStringLiteral(" (scheduler: ") + quoted(line) + u')'),
        line.isEmpty() ? 0.5 : 0.85,
        QStringLiteral("Restarting or scaling cannot help a pod no node can take: more replicas would be "
                       "just as unschedulable. A person must change capacity or constraints."));
    return alert(d, "warning", QStringLiteral("%1 unschedulable: %2 — %3.").arg(workload(ev), cause, fix));
}

Diagnosis readinessFailing(const Evidence &ev)
{
    QString probe;
    for (const kube::EventView &e : ev.events) {
        if (e.reason == QLatin1String("Unhealthy")) {
            probe = e.message;
            break;
        }
    }
    if (probe.isEmpty())
        probe = ev.subject.message;
    const bool recentRollout = ev.rolloutTime.isValid() && ev.subject.lastSeen.isValid() &&
                               ev.rolloutTime.secsTo(ev.subject.lastSeen) < 1800;
    if (podCount(ev) == 1 && canRestart(ev)) {
        Diagnosis d =
            make(ev,
                 QStringLiteral("Pod %1 of %2 is running but not ready: %3. Only this pod is affected.")
                     .arg(podName(ev), workload(ev), quoted(probe)),
                 0.5,
                 QStringLiteral(
                     "One replica failing readiness while the others serve suggests a stuck process or "
                     "a bad local state; the controller replaces a deleted pod, so a restart is low-risk "
                     "and the other replicas keep serving."));
        return restart(d, ev);
    }
    Diagnosis d =
        make(ev,
             QStringLiteral("%1 pods of %2 fail their readiness probe: %3%4.")
                 .arg(podCount(ev))
                 .arg(workload(ev), quoted(probe),
                      recentRollout
                          ? QStringLiteral("; revision %1 rolled out shortly before").arg(ev.rolloutRevision)
                          : QString()),
             recentRollout ? 0.7 : 0.6,
             QStringLiteral(
                 "Several replicas failing together points at a shared cause (a dependency, config or a "
                 "new rollout), which restarting one pod would not fix."));
    return alert(d, recentRollout ? "critical" : "warning",
                 QStringLiteral("%1: %2 pods not ready — %3")
                     .arg(workload(ev))
                     .arg(podCount(ev))
                     .arg(probe.trimmed()));
}

Diagnosis evicted(const Evidence &ev)
{
    QString msg = ev.pod && !ev.pod->message.isEmpty() ? ev.pod->message : ev.subject.message;
    QString pressure;
    if (ev.node) {
        for (const kube::NodeCondition &c : ev.node->conditions) {
            if (c.type != QLatin1String("Ready") && c.status == QLatin1String("True"))
                pressure += (pressure.isEmpty() ? QString() : QStringLiteral(", ")) + c.type;
        }
    }
    Diagnosis d = make(
        ev,
        QStringLiteral("%1 pod(s) of %2 were evicted by the kubelet: %3%4.")
            .arg(podCount(ev))
            .arg(workload(ev), quoted(msg),
                 pressure.isEmpty() ? QString()
                                    : QStringLiteral("; node %1 reports %2").arg(ev.node->name, pressure)),
        0.7,
        QStringLiteral("The controller already replaced the evicted pods; the node resource pressure behind "
                       "the eviction needs a person (requests/limits, node size)."));
    return alert(d, "info", QStringLiteral("%1: pods evicted — %2").arg(workload(ev), msg.trimmed()));
}

QString nodeName(const Evidence &ev)
{
    if (ev.node)
        return ev.node->name;
    return ev.subject.nodeName.isEmpty() ? ev.subject.workloadName : ev.subject.nodeName;
}

const kube::NodeCondition *condition(const Evidence &ev, const QString &type)
{
    if (!ev.node)
        return nullptr;
    for (const kube::NodeCondition &c : ev.node->conditions) {
        if (c.type == type)
            return &c;
    }
    return nullptr;
}

Diagnosis nodeNotReady(const Evidence &ev)
{
    const QString node = nodeName(ev);
    const auto *ready = condition(ev, QStringLiteral("Ready"));
    const QString detail = ready ? QStringLiteral("Ready=%1 (%2: %3) since %4")
                                       .arg(ready->status, ready->reason, ready->message,
                                            ready->lastTransition.toString(Qt::ISODate))
                                 : ev.subject.message;
    if (ev.node && ev.node->unschedulable) {
        Diagnosis d = make(
            ev, QStringLiteral("Node %1 is NotReady: %2. It is already cordoned.").arg(node, detail), 0.7,
            QStringLiteral(
                "Cordoning again changes nothing; the node needs a person to repair or replace it."));
        return alert(d, "critical",
                     QStringLiteral("Node %1 NotReady (already cordoned): %2").arg(node, detail));
    }
    Diagnosis d =
        make(ev, QStringLiteral("Node %1 is NotReady: %2.").arg(node, detail), ready ? 0.75 : 0.6,
             QStringLiteral(
                 "A NotReady node cannot run new pods reliably; cordoning it stops the scheduler placing "
                 "pods there while it is repaired, without evicting what runs on it."));
    d.action = ActionKind::CordonNode;
    d.parameters = json{{"node", s(node)}};
    return d;
}

Diagnosis nodePressure(const Evidence &ev)
{
    const QString node = nodeName(ev);
    QString type = ev.subject.reason;
    type.remove(0, 4); // "NodeMemoryPressure" -> "MemoryPressure"
    const auto *cond = condition(ev, type);
    const QString detail =
        cond ? QStringLiteral("%1=%2 (%3)").arg(cond->type, cond->status, cond->message) : ev.subject.message;
    QString fix = QStringLiteral("free the resource or move workloads");
    if (type == QLatin1String("DiskPressure"))
        fix = QStringLiteral("clean up images, logs and emptyDir usage or grow the disk");
    else if (type == QLatin1String("MemoryPressure"))
        fix = QStringLiteral("check pods without memory limits and node sizing");
    else if (type == QLatin1String("PIDPressure"))
        fix = QStringLiteral("find the pod leaking processes and set pid limits");
    Diagnosis d = make(
        ev, QStringLiteral("Node %1 is under %2: %3.").arg(node, type, detail), cond ? 0.75 : 0.6,
        QStringLiteral("The kubelet already taints the node and evicts pods under pressure; the cause needs "
                       "a person — %1.")
            .arg(fix));
    return alert(d, "warning", QStringLiteral("Node %1 %2: %3.").arg(node, type, fix));
}

} // namespace

const QList<Analyzer> &analyzers()
{
    static const QList<Analyzer> all{
        {"OOMKilled", &oomKilled},
        {"CrashLoopBackOff", &crashLoop},
        {"ImagePullBackOff", &imagePull},
        {"ErrImagePull", &imagePull},
        {"CreateContainerConfigError", &configError},
        {"CreateContainerError", &runtimeError},
        {"InvalidImageName", &invalidImage},
        {"RunContainerError", &runtimeError},
        {"NonZeroExit", &nonZeroExit},
        {"FailedScheduling", &failedScheduling},
        {"ReadinessFailing", &readinessFailing},
        {"Evicted", &evicted},
        {"NodeNotReady", &nodeNotReady},
        {"NodeMemoryPressure", &nodePressure},
        {"NodeDiskPressure", &nodePressure},
        {"NodePIDPressure", &nodePressure},
    };
    return all;
}

QStringList analyzedReasons()
{
    QStringList out;
    for (const Analyzer &a : analyzers())
        out << QLatin1String(a.reason);
    return out;
}

} // namespace vigil::reason
