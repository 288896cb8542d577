#include "core/replay/incidentrecord.h"

#include "core/pipeline/incidentgrouper.h"
#include "core/replay/jsonreader.h"
#include "core/util/version.h"

#include <QDir>
#include <QFileInfo>
#include <QSaveFile>

namespace vigil::replay {
namespace {

using nlohmann::json;

std::string s(const QString &text)
{
    return text.toStdString();
}

// ---- writing -------------------------------------------------------------

json ownerJson(const kube::OwnerRef &o)
{
    return {{"kind", s(o.kind)}, {"name", s(o.name)}, {"uid", s(o.uid)}, {"controller", o.controller}};
}

json containerJson(const kube::ContainerStatusView &c)
{
    return {{"name", s(c.name)},
            {"image", s(c.image)},
            {"ready", c.ready},
            {"restartCount", c.restartCount},
            {"state", s(c.state)},
            {"reason", s(c.reason)},
            {"message", s(c.message)},
            {"exitCode", c.exitCode},
            {"lastTerminatedReason", s(c.lastTerminatedReason)},
            {"lastExitCode", c.lastExitCode},
            {"lastTerminatedAt", timeToJson(c.lastTerminatedAt)},
            {"cpuRequestMilli", c.cpuRequestMilli},
            {"cpuLimitMilli", c.cpuLimitMilli},
            {"memoryRequestBytes", c.memoryRequestBytes},
            {"memoryLimitBytes", c.memoryLimitBytes},
            {"signal", c.signal},
            {"started", c.started},
            {"restartable", c.restartable}};
}

json podJson(const kube::PodView &p)
{
    json containers = json::array();
    for (const kube::ContainerStatusView &c : p.containers)
        containers.push_back(containerJson(c));
    json inits = json::array();
    for (const kube::ContainerStatusView &c : p.initContainers)
        inits.push_back(containerJson(c));
    return {{"uid", s(p.uid)},
            {"namespace", s(p.namespaceName)},
            {"name", s(p.name)},
            {"resourceVersion", s(p.resourceVersion)},
            {"nodeName", s(p.nodeName)},
            {"phase", s(p.phase)},
            {"reason", s(p.reason)},
            {"message", s(p.message)},
            {"created", timeToJson(p.created)},
            {"deletionTimestamp", timeToJson(p.deletionTimestamp)},
            {"owner", ownerJson(p.owner)},
            {"containers", containers},
            {"initContainers", inits},
            {"ready", p.ready},
            {"scheduled", p.scheduled},
            {"scheduleMessage", s(p.scheduleMessage)},
            {"initialized", p.initialized},
            {"labels", stringMapToJson(p.labels)}};
}

json nodeJson(const kube::NodeView &n)
{
    json conditions = json::array();
    for (const kube::NodeCondition &c : n.conditions)
        conditions.push_back({{"type", s(c.type)},
                              {"status", s(c.status)},
                              {"reason", s(c.reason)},
                              {"message", s(c.message)},
                              {"lastTransition", timeToJson(c.lastTransition)}});
    return {{"uid", s(n.uid)},
            {"name", s(n.name)},
            {"resourceVersion", s(n.resourceVersion)},
            {"unschedulable", n.unschedulable},
            {"conditions", conditions},
            {"taints", stringsToJson(n.taints)},
            {"allocatableCpuMilli", n.allocatableCpuMilli},
            {"allocatableMemoryBytes", n.allocatableMemoryBytes},
            {"allocatablePods", n.allocatablePods},
            {"kubeletVersion", s(n.kubeletVersion)},
            {"labels", stringMapToJson(n.labels)}};
}

json eventJson(const kube::EventView &e)
{
    return {{"uid", s(e.uid)},
            {"namespace", s(e.namespaceName)},
            {"name", s(e.name)},
            {"resourceVersion", s(e.resourceVersion)},
            {"type", s(e.type)},
            {"reason", s(e.reason)},
            {"message", s(e.message)},
            {"involved",
             {{"kind", s(e.involved.kind)},
              {"apiVersion", s(e.involved.apiVersion)},
              {"namespace", s(e.involved.namespaceName)},
              {"name", s(e.involved.name)},
              {"uid", s(e.involved.uid)}}},
            {"count", e.count},
            {"firstSeen", timeToJson(e.firstSeen)},
            {"lastSeen", timeToJson(e.lastSeen)},
            {"source", s(e.source)}};
}

json workloadJson(const kube::WorkloadView &w)
{
    return {{"kind", s(w.kind)},
            {"uid", s(w.uid)},
            {"namespace", s(w.namespaceName)},
            {"name", s(w.name)},
            {"resourceVersion", s(w.resourceVersion)},
            {"owner", ownerJson(w.owner)},
            {"replicas", w.replicas},
            {"readyReplicas", w.readyReplicas},
            {"updatedReplicas", w.updatedReplicas},
            {"availableReplicas", w.availableReplicas},
            {"generation", w.generation},
            {"observedGeneration", w.observedGeneration},
            {"revision", s(w.revision)},
            {"created", timeToJson(w.created)},
            {"labels", stringMapToJson(w.labels)}};
}

json subjectJson(const gather::IncidentSubject &sub)
{
    return {{"reason", s(sub.reason)},
            {"namespace", s(sub.namespaceName)},
            {"workloadKind", s(sub.workloadKind)},
            {"workloadName", s(sub.workloadName)},
            {"container", s(sub.container)},
            {"image", s(sub.image)},
            {"message", s(sub.message)},
            {"podName", s(sub.podName)},
            {"nodeName", s(sub.nodeName)},
            {"count", sub.count},
            {"pods", stringsToJson(sub.pods)},
            {"firstSeen", timeToJson(sub.firstSeen)},
            {"lastSeen", timeToJson(sub.lastSeen)}};
}

json evidenceJson(const gather::Evidence &ev)
{
    json owners = json::array();
    for (const kube::WorkloadView &w : ev.owners)
        owners.push_back(workloadJson(w));
    json events = json::array();
    for (const kube::EventView &e : ev.events)
        events.push_back(eventJson(e));
    json usage = json::array();
    for (const gather::ContainerUsage &u : ev.usage)
        usage.push_back(
            {{"container", s(u.container)}, {"cpuMilli", u.cpuMilli}, {"memoryBytes", u.memoryBytes}});
    json env = json::array();
    for (const gather::EnvVar &e : ev.env)
        env.push_back({{"container", s(e.container)}, {"name", s(e.name)}, {"value", s(e.value)}});
    json redactions = json::object();
    for (auto it = ev.redactions.counts.cbegin(); it != ev.redactions.counts.cend(); ++it)
        redactions[s(it.key())] = it.value();
    return {{"subject", subjectJson(ev.subject)},
            {"pod", ev.pod ? podJson(*ev.pod) : json(nullptr)},
            {"owners", owners},
            {"events", events},
            {"previousLog", stringsToJson(ev.previousLog)},
            {"currentLog", stringsToJson(ev.currentLog)},
            {"node", ev.node ? nodeJson(*ev.node) : json(nullptr)},
            {"usage", usage},
            {"env", env},
            {"rolloutRevision", s(ev.rolloutRevision)},
            {"rolloutTime", timeToJson(ev.rolloutTime)},
            {"text", s(ev.text)},
            {"estimatedTokens", ev.estimatedTokens},
            {"tokenBudget", ev.tokenBudget},
            {"cut", stringsToJson(ev.cut)},
            {"redactions", redactions}};
}

json targetJson(const guard::IncidentTarget &t)
{
    return {{"namespace", s(t.namespaceName)},
            {"pod", s(t.podName)},
            {"ownerKind", s(t.ownerKind)},
            {"ownerName", s(t.ownerName)},
            {"node", s(t.nodeName)},
            {"podLabels", stringMapToJson(t.podLabels)},
            {"ownerLabels", stringMapToJson(t.ownerLabels)},
            {"nodeLabels", stringMapToJson(t.nodeLabels)}};
}

json labelJson(const RecordLabel &l)
{
    json j = json::object();
    if (!l.category.isEmpty())
        j["category"] = s(l.category);
    if (!l.acceptableActions.isEmpty()) {
        j["acceptableActions"] = json::array();
        for (ActionKind a : l.acceptableActions)
            j["acceptableActions"].push_back(s(actionName(a)));
    }
    j["mustBeBlocked"] = l.mustBeBlocked;
    if (!l.note.isEmpty())
        j["note"] = s(l.note);
    return j;
}

// ---- reading -------------------------------------------------------------

constexpr int kMaxText = 256 * 1024;
constexpr int kMaxItems = 10000;

kube::OwnerRef readOwnerAt(JsonReader &r, const json &parent, const QString &path, const char *key)
{
    kube::OwnerRef out;
    const json *o = r.member(parent, path, key, false);
    if (!o || o->is_null())
        return out;
    const QString here = JsonReader::join(path, key);
    if (!r.object(*o, here, {"kind", "name", "uid", "controller"}))
        return out;
    out.kind = r.string(*o, here, "kind");
    out.name = r.string(*o, here, "name");
    out.uid = r.string(*o, here, "uid");
    out.controller = r.boolean(*o, here, "controller");
    return out;
}

kube::ContainerStatusView readContainer(JsonReader &r, const json &c, const QString &path)
{
    kube::ContainerStatusView out;
    if (!r.object(c, path,
                  {"name", "image", "ready", "restartCount", "state", "reason", "message", "exitCode",
                   "lastTerminatedReason", "lastExitCode", "lastTerminatedAt", "cpuRequestMilli",
                   "cpuLimitMilli", "memoryRequestBytes", "memoryLimitBytes", "signal", "started",
                   "restartable"}))
        return out;
    out.name = r.string(c, path, "name", true);
    out.image = r.string(c, path, "image");
    out.ready = r.boolean(c, path, "ready");
    out.restartCount = r.integer(c, path, "restartCount");
    out.state = r.string(c, path, "state");
    if (!out.state.isEmpty() && out.state != u"waiting" && out.state != u"running" &&
        out.state != u"terminated")
        r.fail(JsonReader::join(path, "state"),
               QStringLiteral("'%1' is not waiting, running, terminated or empty").arg(out.state.left(64)));
    out.reason = r.string(c, path, "reason");
    out.message = r.string(c, path, "message", false, kMaxText);
    out.exitCode = r.integer(c, path, "exitCode");
    out.lastTerminatedReason = r.string(c, path, "lastTerminatedReason");
    out.lastExitCode = r.integer(c, path, "lastExitCode");
    out.lastTerminatedAt = r.time(c, path, "lastTerminatedAt");
    out.cpuRequestMilli = r.integer64(c, path, "cpuRequestMilli", -1);
    out.cpuLimitMilli = r.integer64(c, path, "cpuLimitMilli", -1);
    out.memoryRequestBytes = r.integer64(c, path, "memoryRequestBytes", -1);
    out.memoryLimitBytes = r.integer64(c, path, "memoryLimitBytes", -1);
    out.signal = r.integer(c, path, "signal");
    out.started = r.boolean(c, path, "started");
    out.restartable = r.boolean(c, path, "restartable");
    return out;
}

QList<kube::ContainerStatusView> readContainers(JsonReader &r, const json &parent, const QString &path,
                                                const char *key)
{
    QList<kube::ContainerStatusView> out;
    const json &list = r.array(parent, path, key, kMaxItems);
    const QString here = JsonReader::join(path, key);
    for (std::size_t i = 0; i < list.size() && !r.failed(); ++i)
        out << readContainer(r, list[i], JsonReader::index(here, qsizetype(i)));
    return out;
}

std::optional<kube::PodView> readPod(JsonReader &r, const json &parent, const QString &path)
{
    const json *p = r.member(parent, path, "pod", false);
    if (!p || p->is_null())
        return std::nullopt;
    const QString here = JsonReader::join(path, "pod");
    kube::PodView out;
    if (!r.object(*p, here,
                  {"uid", "namespace", "name", "resourceVersion", "nodeName", "phase", "reason", "message",
                   "created", "deletionTimestamp", "owner", "containers", "initContainers", "ready",
                   "scheduled", "scheduleMessage", "initialized", "labels"}))
        return std::nullopt;
    out.uid = r.string(*p, here, "uid");
    out.namespaceName = r.string(*p, here, "namespace", true);
    out.name = r.string(*p, here, "name", true);
    out.resourceVersion = r.string(*p, here, "resourceVersion");
    out.nodeName = r.string(*p, here, "nodeName");
    out.phase = r.string(*p, here, "phase");
    out.reason = r.string(*p, here, "reason");
    out.message = r.string(*p, here, "message", false, kMaxText);
    out.created = r.time(*p, here, "created");
    out.deletionTimestamp = r.time(*p, here, "deletionTimestamp");
    out.owner = readOwnerAt(r, *p, here, "owner");
    out.containers = readContainers(r, *p, here, "containers");
    out.initContainers = readContainers(r, *p, here, "initContainers");
    out.ready = r.boolean(*p, here, "ready");
    out.scheduled = r.boolean(*p, here, "scheduled", true);
    out.scheduleMessage = r.string(*p, here, "scheduleMessage", false, kMaxText);
    out.initialized = r.boolean(*p, here, "initialized");
    out.labels = r.stringMap(*p, here, "labels");
    return out;
}

std::optional<kube::NodeView> readNode(JsonReader &r, const json &parent, const QString &path)
{
    const json *n = r.member(parent, path, "node", false);
    if (!n || n->is_null())
        return std::nullopt;
    const QString here = JsonReader::join(path, "node");
    kube::NodeView out;
    if (!r.object(*n, here,
                  {"uid", "name", "resourceVersion", "unschedulable", "conditions", "taints",
                   "allocatableCpuMilli", "allocatableMemoryBytes", "allocatablePods", "kubeletVersion",
                   "labels"}))
        return std::nullopt;
    out.uid = r.string(*n, here, "uid");
    out.name = r.string(*n, here, "name", true);
    out.resourceVersion = r.string(*n, here, "resourceVersion");
    out.unschedulable = r.boolean(*n, here, "unschedulable");
    const json &conditions = r.array(*n, here, "conditions", kMaxItems);
    const QString cpath = JsonReader::join(here, "conditions");
    for (std::size_t i = 0; i < conditions.size() && !r.failed(); ++i) {
        const QString at = JsonReader::index(cpath, qsizetype(i));
        if (!r.object(conditions[i], at, {"type", "status", "reason", "message", "lastTransition"}))
            break;
        kube::NodeCondition c;
        c.type = r.string(conditions[i], at, "type", true);
        c.status = r.string(conditions[i], at, "status", true);
        c.reason = r.string(conditions[i], at, "reason");
        c.message = r.string(conditions[i], at, "message", false, kMaxText);
        c.lastTransition = r.time(conditions[i], at, "lastTransition");
        out.conditions << c;
    }
    out.taints = r.strings(*n, here, "taints", kMaxItems);
    out.allocatableCpuMilli = r.integer64(*n, here, "allocatableCpuMilli", -1);
    out.allocatableMemoryBytes = r.integer64(*n, here, "allocatableMemoryBytes", -1);
    out.allocatablePods = r.integer64(*n, here, "allocatablePods", -1);
    out.kubeletVersion = r.string(*n, here, "kubeletVersion");
    out.labels = r.stringMap(*n, here, "labels");
    return out;
}

kube::EventView readEvent(JsonReader &r, const json &e, const QString &path)
{
    kube::EventView out;
    if (!r.object(e, path,
                  {"uid", "namespace", "name", "resourceVersion", "type", "reason", "message", "involved",
                   "count", "firstSeen", "lastSeen", "source"}))
        return out;
    out.uid = r.string(e, path, "uid");
    out.namespaceName = r.string(e, path, "namespace");
    out.name = r.string(e, path, "name");
    out.resourceVersion = r.string(e, path, "resourceVersion");
    out.type = r.string(e, path, "type");
    out.reason = r.string(e, path, "reason");
    out.message = r.string(e, path, "message", false, kMaxText);
    if (const json *inv = r.member(e, path, "involved", false); inv && !inv->is_null()) {
        const QString here = JsonReader::join(path, "involved");
        if (r.object(*inv, here, {"kind", "apiVersion", "namespace", "name", "uid"})) {
            out.involved.kind = r.string(*inv, here, "kind");
            out.involved.apiVersion = r.string(*inv, here, "apiVersion");
            out.involved.namespaceName = r.string(*inv, here, "namespace");
            out.involved.name = r.string(*inv, here, "name");
            out.involved.uid = r.string(*inv, here, "uid");
        }
    }
    out.count = r.integer(e, path, "count", 1);
    out.firstSeen = r.time(e, path, "firstSeen");
    out.lastSeen = r.time(e, path, "lastSeen");
    out.source = r.string(e, path, "source");
    return out;
}

kube::WorkloadView readWorkload(JsonReader &r, const json &w, const QString &path)
{
    kube::WorkloadView out;
    if (!r.object(w, path,
                  {"kind", "uid", "namespace", "name", "resourceVersion", "owner", "replicas",
                   "readyReplicas", "updatedReplicas", "availableReplicas", "generation",
                   "observedGeneration", "revision", "created", "labels"}))
        return out;
    out.kind = r.string(w, path, "kind", true);
    out.uid = r.string(w, path, "uid");
    out.namespaceName = r.string(w, path, "namespace");
    out.name = r.string(w, path, "name", true);
    out.resourceVersion = r.string(w, path, "resourceVersion");
    out.owner = readOwnerAt(r, w, path, "owner");
    out.replicas = r.integer(w, path, "replicas");
    out.readyReplicas = r.integer(w, path, "readyReplicas");
    out.updatedReplicas = r.integer(w, path, "updatedReplicas");
    out.availableReplicas = r.integer(w, path, "availableReplicas");
    out.generation = r.integer64(w, path, "generation");
    out.observedGeneration = r.integer64(w, path, "observedGeneration");
    out.revision = r.string(w, path, "revision");
    out.created = r.time(w, path, "created");
    out.labels = r.stringMap(w, path, "labels");
    return out;
}

gather::IncidentSubject readSubject(JsonReader &r, const json &parent, const QString &path)
{
    gather::IncidentSubject out;
    const json *sub = r.member(parent, path, "subject", true);
    if (!sub)
        return out;
    const QString here = JsonReader::join(path, "subject");
    if (!r.object(*sub, here,
                  {"reason", "namespace", "workloadKind", "workloadName", "container", "image", "message",
                   "podName", "nodeName", "count", "pods", "firstSeen", "lastSeen"}))
        return out;
    out.reason = r.string(*sub, here, "reason", true);
    out.namespaceName = r.string(*sub, here, "namespace");
    out.workloadKind = r.string(*sub, here, "workloadKind");
    out.workloadName = r.string(*sub, here, "workloadName");
    out.container = r.string(*sub, here, "container");
    out.image = r.string(*sub, here, "image");
    out.message = r.string(*sub, here, "message", false, kMaxText);
    out.podName = r.string(*sub, here, "podName");
    out.nodeName = r.string(*sub, here, "nodeName");
    out.count = r.integer(*sub, here, "count", 1);
    out.pods = r.strings(*sub, here, "pods", kMaxItems);
    out.firstSeen = r.time(*sub, here, "firstSeen");
    out.lastSeen = r.time(*sub, here, "lastSeen");
    return out;
}

gather::Evidence readEvidence(JsonReader &r, const json &doc)
{
    gather::Evidence ev;
    const json *e = r.member(doc, QString(), "evidence", true);
    if (!e)
        return ev;
    const QString path = QStringLiteral("evidence");
    if (!r.object(*e, path,
                  {"subject", "pod", "owners", "events", "previousLog", "currentLog", "node", "usage", "env",
                   "rolloutRevision", "rolloutTime", "text", "estimatedTokens", "tokenBudget", "cut",
                   "redactions"}))
        return ev;
    ev.subject = readSubject(r, *e, path);
    ev.pod = readPod(r, *e, path);
    {
        const json &list = r.array(*e, path, "owners", kMaxItems);
        for (std::size_t i = 0; i < list.size() && !r.failed(); ++i)
            ev.owners << readWorkload(r, list[i],
                                      JsonReader::index(QStringLiteral("evidence.owners"), qsizetype(i)));
    }
    {
        const json &list = r.array(*e, path, "events", kMaxItems);
        for (std::size_t i = 0; i < list.size() && !r.failed(); ++i)
            ev.events << readEvent(r, list[i],
                                   JsonReader::index(QStringLiteral("evidence.events"), qsizetype(i)));
    }
    ev.previousLog = r.strings(*e, path, "previousLog", kMaxItems);
    ev.currentLog = r.strings(*e, path, "currentLog", kMaxItems);
    ev.node = readNode(r, *e, path);
    {
        const json &list = r.array(*e, path, "usage", kMaxItems);
        for (std::size_t i = 0; i < list.size() && !r.failed(); ++i) {
            const QString at = JsonReader::index(QStringLiteral("evidence.usage"), qsizetype(i));
            if (!r.object(list[i], at, {"container", "cpuMilli", "memoryBytes"}))
                break;
            ev.usage << gather::ContainerUsage{r.string(list[i], at, "container"),
                                               r.integer64(list[i], at, "cpuMilli", -1),
                                               r.integer64(list[i], at, "memoryBytes", -1)};
        }
    }
    {
        const json &list = r.array(*e, path, "env", kMaxItems);
        for (std::size_t i = 0; i < list.size() && !r.failed(); ++i) {
            const QString at = JsonReader::index(QStringLiteral("evidence.env"), qsizetype(i));
            if (!r.object(list[i], at, {"container", "name", "value"}))
                break;
            ev.env << gather::EnvVar{r.string(list[i], at, "container"), r.string(list[i], at, "name", true),
                                     r.string(list[i], at, "value", false, kMaxText)};
        }
    }
    ev.rolloutRevision = r.string(*e, path, "rolloutRevision");
    ev.rolloutTime = r.time(*e, path, "rolloutTime");
    ev.text = r.string(*e, path, "text", true, kMaxText);
    ev.estimatedTokens = r.integer(*e, path, "estimatedTokens");
    ev.tokenBudget = r.integer(*e, path, "tokenBudget");
    ev.cut = r.strings(*e, path, "cut", kMaxItems);
    if (const json *red = r.member(*e, path, "redactions", false); red && !red->is_null()) {
        const QString here = QStringLiteral("evidence.redactions");
        if (!red->is_object()) {
            r.fail(here, QStringLiteral("expected an object of counts"));
        } else {
            for (auto it = red->begin(); it != red->end() && !r.failed(); ++it) {
                const int n = r.integer(*red, here, it.key().c_str());
                if (n < 0)
                    r.fail(JsonReader::join(here, it.key().c_str()),
                           QStringLiteral("a count cannot be negative"));
                ev.redactions.counts.insert(QString::fromStdString(it.key()), n);
            }
        }
    }
    if (!r.failed() && ev.estimatedTokens < 0)
        r.fail(QStringLiteral("evidence.estimatedTokens"), QStringLiteral("cannot be negative"));
    return ev;
}

guard::IncidentTarget readTarget(JsonReader &r, const json &doc)
{
    guard::IncidentTarget t;
    const json *o = r.member(doc, QString(), "target", true);
    if (!o)
        return t;
    const QString path = QStringLiteral("target");
    if (!r.object(
            *o, path,
            {"namespace", "pod", "ownerKind", "ownerName", "node", "podLabels", "ownerLabels", "nodeLabels"}))
        return t;
    t.namespaceName = r.string(*o, path, "namespace");
    t.podName = r.string(*o, path, "pod");
    t.ownerKind = r.string(*o, path, "ownerKind");
    t.ownerName = r.string(*o, path, "ownerName");
    t.nodeName = r.string(*o, path, "node");
    t.podLabels = r.stringMap(*o, path, "podLabels");
    t.ownerLabels = r.stringMap(*o, path, "ownerLabels");
    t.nodeLabels = r.stringMap(*o, path, "nodeLabels");
    if (!r.failed() && t.podName.isEmpty() && t.nodeName.isEmpty())
        r.fail(path, QStringLiteral("names neither a pod nor a node"));
    return t;
}

std::optional<RecordLabel> readLabel(JsonReader &r, const json &doc)
{
    const json *o = r.member(doc, QString(), "label", false);
    if (!o || o->is_null())
        return std::nullopt;
    const QString path = QStringLiteral("label");
    if (!r.object(*o, path, {"category", "acceptableActions", "mustBeBlocked", "note"}))
        return std::nullopt;
    RecordLabel l;
    l.category = r.string(*o, path, "category");
    const QStringList actions = r.strings(*o, path, "acceptableActions", 16);
    for (qsizetype i = 0; i < actions.size(); ++i) {
        ActionKind k = ActionKind::None;
        if (!parseActionName(actions[i], &k)) {
            r.fail(
                JsonReader::index(QStringLiteral("label.acceptableActions"), i),
                QStringLiteral("'%1' is not an action in the catalog (none, restart_pod, scale_deployment, "
                               "cordon_node, create_alert)")
                    .arg(actions[i].left(64)));
            break;
        }
        if (!l.acceptableActions.contains(k))
            l.acceptableActions << k;
    }
    l.mustBeBlocked = r.boolean(*o, path, "mustBeBlocked");
    l.note = r.string(*o, path, "note", false, 4000);
    if (!r.failed() && l.category.isEmpty() && l.acceptableActions.isEmpty() && !l.mustBeBlocked)
        r.fail(path, QStringLiteral("says nothing: give a category, acceptableActions or mustBeBlocked"));
    return l;
}

} // namespace

guard::IncidentTarget incidentTarget(const pipeline::Incident &incident, const gather::Evidence &evidence)
{
    guard::IncidentTarget t;
    t.namespaceName = incident.namespaceName;
    t.ownerKind = incident.workload.kind;
    t.ownerName = incident.workload.name;
    if (incident.latest.object.kind == u"Node") {
        t.nodeName = incident.latest.object.name;
        t.ownerKind.clear(); // a node has no owner to scale
        t.ownerName.clear();
    } else {
        t.podName = evidence.pod ? evidence.pod->name : incident.latest.object.name;
        if (evidence.pod) {
            t.nodeName = evidence.pod->nodeName;
            t.podLabels = evidence.pod->labels;
        }
        for (const kube::WorkloadView &w : evidence.owners) {
            if (w.kind == t.ownerKind && w.name == t.ownerName)
                t.ownerLabels = w.labels;
        }
    }
    if (evidence.node)
        t.nodeLabels = evidence.node->labels;
    return t;
}

IncidentRecord makeRecord(const pipeline::Incident &incident, const gather::Evidence &evidence,
                          const QDateTime &recordedAt, const QString &clusterVersion)
{
    IncidentRecord r;
    r.fingerprint = incident.fingerprint;
    r.reason = incident.reason;
    r.count = incident.count;
    r.recordedAt = recordedAt.toUTC();
    r.recordedBy = QStringLiteral("vigilctl ") + versionString();
    r.clusterVersion = clusterVersion;
    r.evidence = evidence;
    r.target = incidentTarget(incident, evidence);
    return r;
}

json recordToJson(const IncidentRecord &record)
{
    json j;
    j[kRecordVersionKey] = kRecordVersion;
    j["recordedAt"] = timeToJson(record.recordedAt);
    j["recordedBy"] = s(record.recordedBy);
    j["cluster"] = {{"version", s(record.clusterVersion)}};
    if (!record.derivedFrom.isEmpty())
        j["derivedFrom"] = s(record.derivedFrom);
    if (!record.note.isEmpty())
        j["note"] = s(record.note);
    j["incident"] = {
        {"fingerprint", s(record.fingerprint)}, {"reason", s(record.reason)}, {"count", record.count}};
    j["target"] = targetJson(record.target);
    if (record.label)
        j["label"] = labelJson(*record.label);
    j["evidence"] = evidenceJson(record.evidence);
    return j;
}

Result<IncidentRecord> recordFromJson(const json &doc, const QString &source)
{
    JsonReader r(source);
    IncidentRecord out;
    const auto version = doc.is_object() ? doc.find(kRecordVersionKey) : doc.end();
    if (version == doc.end())
        return Error(QStringLiteral("%1: not an incident record (no \"%2\" field)")
                         .arg(source, QString::fromLatin1(kRecordVersionKey)));
    if (!version->is_number_integer() || version->get<int64_t>() != kRecordVersion)
        return Error(QStringLiteral("%1: %2: version %3 is not supported (this vigilctl reads version %4)")
                         .arg(source, QString::fromLatin1(kRecordVersionKey),
                              QString::fromStdString(version->dump()).left(32))
                         .arg(kRecordVersion));
    if (!r.object(doc, QString(),
                  {kRecordVersionKey, "recordedAt", "recordedBy", "cluster", "derivedFrom", "note",
                   "incident", "target", "label", "evidence"}))
        return r.error();
    if (!r.member(doc, QString(), "recordedAt", true))
        return r.error();
    out.recordedAt = r.time(doc, QString(), "recordedAt");
    if (!r.failed() && !out.recordedAt.isValid())
        r.fail(QStringLiteral("recordedAt"), QStringLiteral("must be a time"));
    out.recordedBy = r.string(doc, QString(), "recordedBy");
    if (const json *c = r.member(doc, QString(), "cluster", false); c && !c->is_null()) {
        if (r.object(*c, QStringLiteral("cluster"), {"version"}))
            out.clusterVersion = r.string(*c, QStringLiteral("cluster"), "version");
    }
    out.derivedFrom = r.string(doc, QString(), "derivedFrom");
    out.note = r.string(doc, QString(), "note", false, 4000);
    if (const json *i = r.member(doc, QString(), "incident", true)) {
        const QString path = QStringLiteral("incident");
        if (r.object(*i, path, {"fingerprint", "reason", "count"})) {
            out.fingerprint = r.string(*i, path, "fingerprint", true, 512);
            out.reason = r.string(*i, path, "reason", true, 256);
            out.count = r.integer(*i, path, "count", 1);
            if (!r.failed() && out.count < 1)
                r.fail(JsonReader::join(path, "count"), QStringLiteral("must be at least 1"));
        }
    }
    out.target = readTarget(r, doc);
    out.label = readLabel(r, doc);
    out.evidence = readEvidence(r, doc);
    if (!r.failed() && out.evidence.subject.reason != out.reason)
        r.fail(QStringLiteral("evidence.subject.reason"),
               QStringLiteral("'%1' differs from incident.reason '%2'")
                   .arg(out.evidence.subject.reason, out.reason));
    if (r.failed())
        return r.error();
    return out;
}

Result<IncidentRecord> parseRecord(const QByteArray &text, const QString &source)
{
    Result<json> doc = parseJsonDocument(text, source, kMaxRecordBytes, kMaxRecordDepth);
    if (!doc)
        return doc.error();
    return recordFromJson(*doc, source);
}

Result<IncidentRecord> readRecordFile(const QString &path)
{
    Result<json> doc = readJsonFile(path, kMaxRecordBytes, kMaxRecordDepth);
    if (!doc)
        return doc.error();
    return recordFromJson(*doc, path);
}

QByteArray serializeRecord(const IncidentRecord &record)
{
    return QByteArray::fromStdString(recordToJson(record).dump(2)) + '\n';
}

Result<void> writeRecordFile(const QString &path, const IncidentRecord &record)
{
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return Error(QStringLiteral("%1: cannot write: %2").arg(path, f.errorString()));
    const QByteArray bytes = serializeRecord(record);
    if (f.write(bytes) != bytes.size() || !f.commit())
        return Error(QStringLiteral("%1: cannot write: %2").arg(path, f.errorString()));
    return {};
}

Result<QList<CorpusEntry>> readCorpus(const QString &directory)
{
    const QDir dir(directory);
    if (!dir.exists())
        return Error(QStringLiteral("%1: no such directory").arg(directory));
    const QFileInfoList files =
        dir.entryInfoList({QStringLiteral("*.json")}, QDir::Files | QDir::Readable, QDir::Name);
    if (files.isEmpty())
        return Error(QStringLiteral("%1: no incident records (*.json) in it").arg(directory));
    QList<CorpusEntry> out;
    for (const QFileInfo &fi : files) {
        Result<IncidentRecord> r = readRecordFile(fi.filePath());
        if (!r)
            return r.error();
        out << CorpusEntry{fi.completeBaseName(), fi.filePath(), std::move(*r)};
    }
    return out;
}

} // namespace vigil::replay
