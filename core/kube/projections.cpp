#include "core/kube/projections.h"

#include <QTimeZone>

#include <cmath>

namespace vigil::kube {

namespace {

using nlohmann::json;

const json &nullJson()
{
    static const json n;
    return n;
}

// Safe navigation: a missing key or a wrong type yields null, never throws.
const json &at(const json &j, const char *key)
{
    if (!j.is_object())
        return nullJson();
    const auto it = j.find(key);
    return it == j.end() ? nullJson() : *it;
}

QString str(const json &j, const char *key)
{
    const json &v = at(j, key);
    return v.is_string() ? QString::fromStdString(v.get<std::string>()) : QString();
}

// str(), interned when there is a pool.
QString pstr(StringPool *pool, const json &j, const char *key)
{
    const json &v = at(j, key);
    if (!v.is_string())
        return QString();
    return pool ? pool->intern(v.get_ref<const std::string &>())
                : QString::fromStdString(v.get<std::string>());
}

QString pooled(StringPool *pool, const QString &s)
{
    return pool ? pool->intern(s) : s;
}

int64_t num(const json &j, const char *key, int64_t fallback = 0)
{
    const json &v = at(j, key);
    if (v.is_number_integer())
        return v.get<int64_t>();
    if (v.is_number_float()) {
        // Out of int64 range (or NaN) the conversion is undefined behaviour.
        const double d = v.get<double>();
        return d >= -9.2e18 && d <= 9.2e18 ? static_cast<int64_t>(d) : fallback;
    }
    return fallback;
}

bool boolean(const json &j, const char *key)
{
    const json &v = at(j, key);
    return v.is_boolean() && v.get<bool>();
}

QString truncated(const QString &s, int max = 512)
{
    return s.size() <= max ? s : s.left(max) + QStringLiteral("…");
}

QMap<QString, QString> stringMap(const json &j, StringPool *pool = nullptr)
{
    QMap<QString, QString> out;
    if (!j.is_object())
        return out;
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (it->is_string())
            out.insert(QString::fromStdString(it.key()), QString::fromStdString(it->get<std::string>()));
    }
    return pool ? pool->intern(out) : out;
}

OwnerRef controllerOwner(const json &meta, StringPool *pool = nullptr)
{
    const json &owners = at(meta, "ownerReferences");
    if (!owners.is_array())
        return {};
    OwnerRef first;
    bool haveFirst = false;
    for (const json &o : owners) {
        OwnerRef ref{pstr(pool, o, "kind"), pstr(pool, o, "name"), pstr(pool, o, "uid"),
                     boolean(o, "controller")};
        if (ref.controller)
            return ref;
        if (!haveFirst) {
            first = ref;
            haveFirst = true;
        }
    }
    return first;
}

// Common checks: an object with metadata.uid.
Result<const json *> metadataOf(const json &obj, const char *what)
{
    if (!obj.is_object())
        return Error(QStringLiteral("%1: not a JSON object").arg(QLatin1String(what)));
    const json &meta = at(obj, "metadata");
    if (str(meta, "uid").isEmpty())
        return Error(QStringLiteral("%1 %2/%3: metadata.uid is missing")
                         .arg(QLatin1String(what), str(meta, "namespace"), str(meta, "name")));
    return &meta;
}

ContainerStatusView containerStatus(const json &cs, const json &spec, StringPool *pool)
{
    ContainerStatusView c;
    c.name = pstr(pool, cs, "name");
    c.image = pstr(pool, cs, "image");
    c.ready = boolean(cs, "ready");
    c.started = boolean(cs, "started");
    c.restartCount = static_cast<int>(num(cs, "restartCount"));
    const json &state = at(cs, "state");
    for (const char *kind : {"waiting", "running", "terminated"}) {
        const json &s = at(state, kind);
        if (!s.is_object())
            continue;
        c.state = pooled(pool, QLatin1String(kind));
        c.reason = pstr(pool, s, "reason");
        c.message = pooled(pool, truncated(str(s, "message")));
        c.exitCode = static_cast<int>(num(s, "exitCode"));
        c.signal = static_cast<int>(num(s, "signal"));
        break;
    }
    const json &last = at(at(cs, "lastState"), "terminated");
    if (last.is_object()) {
        c.lastTerminatedReason = pstr(pool, last, "reason");
        c.lastExitCode = static_cast<int>(num(last, "exitCode"));
        c.lastTerminatedAt = parseKubeTime(str(last, "finishedAt"));
    }
    if (spec.is_object()) {
        const json &res = at(spec, "resources");
        c.cpuRequestMilli = cpuMilli(str(at(res, "requests"), "cpu"));
        c.cpuLimitMilli = cpuMilli(str(at(res, "limits"), "cpu"));
        c.memoryRequestBytes = quantityBytes(str(at(res, "requests"), "memory"));
        c.memoryLimitBytes = quantityBytes(str(at(res, "limits"), "memory"));
        c.restartable = str(spec, "restartPolicy") == QLatin1String("Always");
        if (c.image.isEmpty())
            c.image = pstr(pool, spec, "image");
    }
    return c;
}

// Statuses in the order the API reports them, joined with their spec entries by name.
QList<ContainerStatusView> containers(const json &specList, const json &statusList, StringPool *pool)
{
    QList<ContainerStatusView> out;
    auto specFor = [&](const QString &name) -> const json & {
        if (specList.is_array()) {
            for (const json &s : specList) {
                if (str(s, "name") == name)
                    return s;
            }
        }
        return nullJson();
    };
    if (statusList.is_array() && !statusList.empty()) {
        for (const json &cs : statusList)
            out.append(containerStatus(cs, specFor(str(cs, "name")), pool));
    } else if (specList.is_array()) {
        // Not started yet: still list the containers, without a state.
        for (const json &s : specList) {
            json placeholder = json::object();
            placeholder["name"] = at(s, "name");
            out.append(containerStatus(placeholder, s, pool));
        }
    }
    return pool ? pool->intern(out) : out;
}

const json &condition(const json &status, const char *type)
{
    const json &conds = at(status, "conditions");
    if (conds.is_array()) {
        for (const json &c : conds) {
            if (str(c, "type") == QLatin1String(type))
                return c;
        }
    }
    return nullJson();
}

} // namespace

QDateTime parseKubeTime(const QString &text)
{
    if (text.isEmpty())
        return {};
    QDateTime t = QDateTime::fromString(text, Qt::ISODateWithMs);
    if (!t.isValid())
        t = QDateTime::fromString(text, Qt::ISODate);
    return t.isValid() ? t.toUTC() : QDateTime();
}

bool parseQuantity(const QString &text, double *value)
{
    const QString s = text.trimmed();
    if (s.isEmpty())
        return false;
    qsizetype i = 0;
    if (s[i] == QLatin1Char('+') || s[i] == QLatin1Char('-'))
        ++i;
    while (i < s.size() && (s[i].isDigit() || s[i] == QLatin1Char('.')))
        ++i;
    bool ok = false;
    double number = s.left(i).toDouble(&ok);
    if (!ok)
        return false;
    const QString suffix = s.mid(i);
    static const QList<QPair<QString, double>> suffixes{{QStringLiteral("Ki"), 1024.0},
                                                        {QStringLiteral("Mi"), std::pow(1024.0, 2)},
                                                        {QStringLiteral("Gi"), std::pow(1024.0, 3)},
                                                        {QStringLiteral("Ti"), std::pow(1024.0, 4)},
                                                        {QStringLiteral("Pi"), std::pow(1024.0, 5)},
                                                        {QStringLiteral("Ei"), std::pow(1024.0, 6)},
                                                        {QStringLiteral("n"), 1e-9},
                                                        {QStringLiteral("u"), 1e-6},
                                                        {QStringLiteral("m"), 1e-3},
                                                        {QString(), 1.0},
                                                        {QStringLiteral("k"), 1e3},
                                                        {QStringLiteral("M"), 1e6},
                                                        {QStringLiteral("G"), 1e9},
                                                        {QStringLiteral("T"), 1e12},
                                                        {QStringLiteral("P"), 1e15},
                                                        {QStringLiteral("E"), 1e18}};
    for (const auto &sfx : suffixes) {
        if (suffix == sfx.first) {
            *value = number * sfx.second;
            return true;
        }
    }
    if (suffix.startsWith(QLatin1Char('e')) || suffix.startsWith(QLatin1Char('E'))) {
        const int exponent = suffix.mid(1).toInt(&ok);
        if (!ok)
            return false;
        *value = number * std::pow(10.0, exponent);
        return true;
    }
    return false;
}

namespace {

// -1 (invalid) outside int64's range, where the conversion would be undefined behaviour.
int64_t ceilToInt64(double v)
{
    const double c = std::ceil(v);
    return c >= -9.2e18 && c <= 9.2e18 ? static_cast<int64_t>(c) : -1;
}

} // namespace

int64_t cpuMilli(const QString &quantity)
{
    double v = 0;
    if (!parseQuantity(quantity, &v))
        return -1;
    return ceilToInt64(v * 1000.0 - 1e-9);
}

int64_t quantityBytes(const QString &quantity)
{
    double v = 0;
    if (!parseQuantity(quantity, &v))
        return -1;
    return ceilToInt64(v - 1e-9);
}

Result<PodView> projectPod(const json &pod, StringPool *pool)
{
    const auto meta = metadataOf(pod, "pod");
    if (!meta)
        return meta.error();
    const json &m = **meta;
    const json &spec = at(pod, "spec");
    const json &status = at(pod, "status");
    PodView p;
    p.uid = str(m, "uid");
    p.namespaceName = pstr(pool, m, "namespace");
    p.name = str(m, "name");
    p.resourceVersion = str(m, "resourceVersion");
    p.created = parseKubeTime(str(m, "creationTimestamp"));
    p.deletionTimestamp = parseKubeTime(str(m, "deletionTimestamp"));
    p.labels = stringMap(at(m, "labels"), pool);
    p.owner = controllerOwner(m, pool);
    p.nodeName = pstr(pool, spec, "nodeName");
    p.phase = pstr(pool, status, "phase");
    p.reason = pstr(pool, status, "reason");
    p.message = pooled(pool, truncated(str(status, "message")));
    p.containers = containers(at(spec, "containers"), at(status, "containerStatuses"), pool);
    p.initContainers = containers(at(spec, "initContainers"), at(status, "initContainerStatuses"), pool);
    p.ready = str(condition(status, "Ready"), "status") == QLatin1String("True");
    p.initialized = str(condition(status, "Initialized"), "status") == QLatin1String("True");
    const json &sched = condition(status, "PodScheduled");
    if (str(sched, "status") == QLatin1String("False")) {
        p.scheduled = false;
        p.scheduleMessage = pooled(pool, truncated(str(sched, "message")));
    }
    return p;
}

Result<NodeView> projectNode(const json &node, StringPool *pool)
{
    const auto meta = metadataOf(node, "node");
    if (!meta)
        return meta.error();
    const json &m = **meta;
    const json &spec = at(node, "spec");
    const json &status = at(node, "status");
    NodeView n;
    n.uid = str(m, "uid");
    n.name = str(m, "name");
    n.resourceVersion = str(m, "resourceVersion");
    n.labels = stringMap(at(m, "labels"), pool);
    n.unschedulable = boolean(spec, "unschedulable");
    const json &conds = at(status, "conditions");
    if (conds.is_array()) {
        for (const json &c : conds) {
            n.conditions.append({pstr(pool, c, "type"), pstr(pool, c, "status"), pstr(pool, c, "reason"),
                                 pooled(pool, truncated(str(c, "message"))),
                                 parseKubeTime(str(c, "lastTransitionTime"))});
        }
    }
    const json &taints = at(spec, "taints");
    if (taints.is_array()) {
        for (const json &t : taints) {
            const QString value = str(t, "value");
            n.taints.append(str(t, "key") + (value.isEmpty() ? QString() : QLatin1Char('=') + value) +
                            QLatin1Char(':') + str(t, "effect"));
        }
    }
    const json &alloc = at(status, "allocatable");
    n.allocatableCpuMilli = cpuMilli(str(alloc, "cpu"));
    n.allocatableMemoryBytes = quantityBytes(str(alloc, "memory"));
    n.allocatablePods = quantityBytes(str(alloc, "pods"));
    n.kubeletVersion = pstr(pool, at(status, "nodeInfo"), "kubeletVersion");
    return n;
}

Result<EventView> projectEvent(const json &event, StringPool *pool)
{
    const auto meta = metadataOf(event, "event");
    if (!meta)
        return meta.error();
    const json &m = **meta;
    EventView e;
    e.uid = str(m, "uid");
    e.namespaceName = pstr(pool, m, "namespace");
    e.name = str(m, "name");
    e.resourceVersion = str(m, "resourceVersion");
    e.type = pstr(pool, event, "type");
    e.reason = pstr(pool, event, "reason");
    const bool v1Events = str(event, "apiVersion").startsWith(QLatin1String("events.k8s.io/")) ||
                          at(event, "regarding").is_object();
    const QDateTime eventTime = parseKubeTime(str(event, "eventTime"));
    if (v1Events) {
        const json &r = at(event, "regarding");
        e.involved = {pstr(pool, r, "kind"), pstr(pool, r, "apiVersion"), pstr(pool, r, "namespace"),
                      pstr(pool, r, "name"), pstr(pool, r, "uid")};
        e.message = pooled(pool, truncated(str(event, "note"), 1024));
        const json &series = at(event, "series");
        e.count =
            static_cast<int>(series.is_object() ? num(series, "count", 1) : num(event, "deprecatedCount", 1));
        e.firstSeen = parseKubeTime(str(event, "deprecatedFirstTimestamp"));
        e.lastSeen = series.is_object() ? parseKubeTime(str(series, "lastObservedTime"))
                                        : parseKubeTime(str(event, "deprecatedLastTimestamp"));
        e.source = pstr(pool, event, "reportingController");
    } else {
        const json &r = at(event, "involvedObject");
        e.involved = {pstr(pool, r, "kind"), pstr(pool, r, "apiVersion"), pstr(pool, r, "namespace"),
                      pstr(pool, r, "name"), pstr(pool, r, "uid")};
        e.message = pooled(pool, truncated(str(event, "message"), 1024));
        const json &series = at(event, "series");
        e.count = static_cast<int>(num(event, "count", series.is_object() ? num(series, "count", 1) : 1));
        e.firstSeen = parseKubeTime(str(event, "firstTimestamp"));
        e.lastSeen = parseKubeTime(str(event, "lastTimestamp"));
        if (!e.lastSeen.isValid() && series.is_object())
            e.lastSeen = parseKubeTime(str(series, "lastObservedTime"));
        e.source = pstr(pool, at(event, "source"), "component");
        if (e.source.isEmpty())
            e.source = pstr(pool, event, "reportingComponent");
    }
    if (e.count < 1)
        e.count = 1;
    if (!e.firstSeen.isValid())
        e.firstSeen = eventTime.isValid() ? eventTime : parseKubeTime(str(m, "creationTimestamp"));
    if (!e.lastSeen.isValid())
        e.lastSeen = e.firstSeen;
    return e;
}

Result<WorkloadView> projectWorkload(const json &workload, StringPool *pool)
{
    const auto meta = metadataOf(workload, "workload");
    if (!meta)
        return meta.error();
    const json &m = **meta;
    const json &spec = at(workload, "spec");
    const json &status = at(workload, "status");
    WorkloadView w;
    w.kind = pstr(pool, workload, "kind");
    w.uid = str(m, "uid");
    w.namespaceName = pstr(pool, m, "namespace");
    w.name = str(m, "name");
    w.resourceVersion = str(m, "resourceVersion");
    w.owner = controllerOwner(m, pool);
    w.labels = stringMap(at(m, "labels"), pool);
    w.created = parseKubeTime(str(m, "creationTimestamp"));
    w.generation = num(m, "generation");
    w.revision = str(at(m, "annotations"), "deployment.kubernetes.io/revision");
    if (w.kind == QLatin1String("DaemonSet")) {
        w.replicas = static_cast<int>(num(status, "desiredNumberScheduled"));
        w.readyReplicas = static_cast<int>(num(status, "numberReady"));
        w.updatedReplicas = static_cast<int>(num(status, "updatedNumberScheduled"));
        w.availableReplicas = static_cast<int>(num(status, "numberAvailable"));
    } else {
        w.replicas = static_cast<int>(num(spec, "replicas", 1));
        w.readyReplicas = static_cast<int>(num(status, "readyReplicas"));
        w.updatedReplicas = static_cast<int>(num(status, "updatedReplicas"));
        w.availableReplicas = static_cast<int>(num(status, "availableReplicas"));
    }
    w.observedGeneration = num(status, "observedGeneration");
    return w;
}

Result<GenericView> projectGeneric(const json &object, qsizetype maxRawBytes, StringPool *pool)
{
    const auto meta = metadataOf(object, "object");
    if (!meta)
        return meta.error();
    const json &m = **meta;
    GenericView g;
    g.kind = pstr(pool, object, "kind");
    g.apiVersion = pstr(pool, object, "apiVersion");
    g.uid = str(m, "uid");
    g.namespaceName = pstr(pool, m, "namespace");
    g.name = str(m, "name");
    g.resourceVersion = str(m, "resourceVersion");
    g.created = parseKubeTime(str(m, "creationTimestamp"));
    g.deletionTimestamp = parseKubeTime(str(m, "deletionTimestamp"));
    g.owner = controllerOwner(m, pool);
    g.labels = stringMap(at(m, "labels"), pool);
    // managedFields are bulky and say nothing to a person.
    json copy = object;
    copy["metadata"].erase("managedFields");
    std::string text = copy.dump();
    if (static_cast<qsizetype>(text.size()) > maxRawBytes) {
        g.truncated = true;
        text.clear();
        const json &status = at(object, "status");
        if (!status.is_null()) {
            std::string statusText = json{{"status", status}}.dump();
            if (static_cast<qsizetype>(statusText.size()) <= maxRawBytes)
                text = std::move(statusText);
        }
    }
    g.json = QByteArray::fromStdString(text);
    return g;
}

} // namespace vigil::kube
