#include "core/gather/fetcher.h"

#include "core/kube/projections.h"
#include "core/kube/restclient.h"
#include "core/util/jsondepth.h"

#include <QPointer>
#include <QUrl>

namespace vigil::gather {
namespace {

using nlohmann::json;

constexpr int kMaxOwnerDepth = 4;

QString str(const json &j, const char *key)
{
    if (!j.is_object())
        return {};
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? QString::fromStdString(it->get<std::string>()) : QString();
}

// Refuses deep bodies before nlohmann copies them (recursively) into projections.
Result<json> parse(const QByteArray &body)
{
    return parseJson(body);
}

QString seg(const QString &s)
{
    return QString::fromUtf8(QUrl::toPercentEncoding(s));
}

QString apiPathFor(const QString &kind)
{
    if (kind == QLatin1String("ReplicaSet"))
        return QStringLiteral("/apis/apps/v1/namespaces/%1/replicasets/");
    if (kind == QLatin1String("Deployment"))
        return QStringLiteral("/apis/apps/v1/namespaces/%1/deployments/");
    if (kind == QLatin1String("StatefulSet"))
        return QStringLiteral("/apis/apps/v1/namespaces/%1/statefulsets/");
    if (kind == QLatin1String("DaemonSet"))
        return QStringLiteral("/apis/apps/v1/namespaces/%1/daemonsets/");
    if (kind == QLatin1String("Job"))
        return QStringLiteral("/apis/batch/v1/namespaces/%1/jobs/");
    if (kind == QLatin1String("CronJob"))
        return QStringLiteral("/apis/batch/v1/namespaces/%1/cronjobs/");
    return {};
}

QString firstLine(const QString &s)
{
    const QString line = s.section(u'\n', 0, 0);
    return line.size() > 200 ? line.left(200) + QStringLiteral("...") : line;
}

// The focus container: the subject's, else the first that is not healthy, else the first.
QString focusContainer(const kube::PodView &pod, const QString &wanted)
{
    if (!wanted.isEmpty())
        return wanted;
    for (const kube::ContainerStatusView &c : pod.containers) {
        if (c.state != QLatin1String("running") || !c.ready || c.restartCount > 0)
            return c.name;
    }
    return pod.containers.isEmpty() ? QString() : pod.containers.first().name;
}

} // namespace

Result<NodeUsage> projectNodeMetrics(const json &doc)
{
    if (!doc.is_object())
        return Error(QStringLiteral("NodeMetrics is not a JSON object"));
    NodeUsage u;
    if (const auto meta = doc.find("metadata"); meta != doc.end())
        u.node = str(*meta, "name");
    const auto usage = doc.find("usage");
    if (usage == doc.end() || !usage->is_object())
        return Error(QStringLiteral("NodeMetrics %1 has no usage").arg(u.node));
    const QString cpu = str(*usage, "cpu");
    const QString memory = str(*usage, "memory");
    u.cpuMilli = kube::cpuMilli(cpu);
    u.memoryBytes = kube::quantityBytes(memory);
    if (u.cpuMilli < 0 && u.memoryBytes < 0)
        return Error(QStringLiteral("NodeMetrics %1: usage.cpu '%2' and usage.memory '%3' are not quantities")
                         .arg(u.node, cpu, memory));
    u.timestamp = kube::parseKubeTime(str(doc, "timestamp"));
    u.window = str(doc, "window");
    return u;
}

struct GatherFetcher::Job {
    FetchResult result;
    QString namespaceName;
    QString podName;
    QPointer<QObject> context;
    bool guarded = false;
    Callback callback;
    int pending = 0;
    bool failed = false;
    bool delivered = false;
};

void appendNotes(Evidence *evidence, const QStringList &notes, Redactor &redactor)
{
    if (notes.isEmpty())
        return;
    QString section = QStringLiteral("## Gathering notes\n");
    for (const QString &n : notes) {
        const Redactor::Redacted r = redactor.redact(n);
        evidence->redactions.merge(r.report);
        section += r.text + u'\n';
    }
    if (!evidence->text.isEmpty()) {
        if (!evidence->text.endsWith(u'\n'))
            evidence->text += u'\n';
        evidence->text += u'\n'; // a blank line between sections, as the Gatherer renders them
    }
    evidence->text += section;
    evidence->estimatedTokens = estimateTokens(evidence->text);
}

GatherFetcher::GatherFetcher(kube::RestClient *client, Options options, QObject *parent)
    : QObject(parent)
    , m_client(client)
    , m_options(options)
{
}

GatherFetcher::~GatherFetcher() = default;

void GatherFetcher::request(const std::shared_ptr<Job> &job, const QString &path,
                            const QList<QPair<QString, QString>> &query, BodyCallback callback)
{
    // The one guard against reading Secret objects: no path that names them is ever sent.
    if (path.contains(QLatin1String("/secrets"))) {
        job->result.notes << QStringLiteral("not gathered: %1 (Vigil never reads Secrets)").arg(path);
        return;
    }
    m_paths << path;
    job->result.requestPaths << path;
    ++job->pending;
    kube::Request r;
    r.path = path;
    r.query = query;
    r.accept =
        path.endsWith(QLatin1String("/log")) ? QByteArray("text/plain, */*") : QByteArray("application/json");
    r.timeoutMs = m_options.timeoutMs;
    m_client->send(r, this, [this, job, cb = std::move(callback)](Result<kube::Response> response) {
        if (response)
            cb(response->body);
        else
            cb(response.error());
        --job->pending;
        done(job);
    });
}

void GatherFetcher::fetch(const IncidentSubject &subject, QObject *context, Callback callback)
{
    auto job = std::make_shared<Job>();
    job->result.input.subject = subject;
    job->result.input.now = QDateTime::currentDateTimeUtc();
    job->namespaceName = subject.namespaceName;
    job->podName = subject.podName;
    job->context = context;
    job->guarded = context != nullptr;
    job->callback = std::move(callback);

    // Hold one count ourselves so nothing can finish before every request is issued.
    ++job->pending;
    if (!subject.podName.isEmpty()) {
        const QString path =
            QStringLiteral("/api/v1/namespaces/%1/pods/%2").arg(seg(job->namespaceName), seg(job->podName));
        request(job, path, {}, [this, job](Result<QByteArray> body) {
            if (!body) {
                job->failed = true;
                const QString what = QStringLiteral("pod %1/%2").arg(job->namespaceName, job->podName);
                job->result.notes.clear();
                job->result.notes << (body.error().code == 404
                                          ? QString(what + QStringLiteral(" not found"))
                                          : QString(what + QStringLiteral(": ") + body.errorMessage()));
                return;
            }
            onPod(job, *body);
        });
    } else if (!subject.nodeName.isEmpty()) {
        fetchNode(job, subject.nodeName);
        fetchEvents(job, QStringLiteral("Node"), subject.nodeName, QString());
    } else {
        job->failed = true;
        job->result.notes << QStringLiteral("the incident names neither a pod nor a node");
    }
    QMetaObject::invokeMethod(
        this,
        [this, job] {
            --job->pending;
            done(job);
        },
        Qt::QueuedConnection);
}

void GatherFetcher::onPod(const std::shared_ptr<Job> &job, const QByteArray &body)
{
    const Result<json> parsed = parse(body);
    if (!parsed) {
        job->failed = true;
        job->result.notes << QStringLiteral("pod %1/%2: the response is %3")
                                 .arg(job->namespaceName, job->podName, parsed.errorMessage());
        return;
    }
    const json &doc = *parsed;
    Result<kube::PodView> pod = kube::projectPod(doc);
    if (!pod) {
        job->failed = true;
        job->result.notes
            << QStringLiteral("pod %1/%2: %3").arg(job->namespaceName, job->podName, pod.errorMessage());
        return;
    }
    GatherInput &in = job->result.input;
    in.pods << *pod;
    const QString container = focusContainer(*pod, in.subject.container);
    if (in.subject.container.isEmpty())
        in.subject.container = container;

    // Literal env values go through the redactor later; references are named, never resolved.
    const json &containers =
        doc.contains("spec") ? doc["spec"].value("containers", json::array()) : json::array();
    for (const json &c : containers) {
        if (str(c, "name") != container)
            continue;
        if (in.subject.image.isEmpty())
            in.subject.image = str(c, "image");
        for (const json &e : c.value("env", json::array())) {
            EnvVar v{container, str(e, "name"), str(e, "value")};
            if (e.contains("valueFrom") && e["valueFrom"].is_object() && !e["valueFrom"].empty())
                v.value =
                    QStringLiteral("(from %1)").arg(QString::fromStdString(e["valueFrom"].begin().key()));
            in.env << v;
        }
    }

    fetchEvents(job, QStringLiteral("Pod"), pod->name, pod->namespaceName);
    if (!pod->owner.kind.isEmpty())
        fetchOwner(job, pod->owner.kind, pod->owner.name, 0);
    if (!pod->nodeName.isEmpty())
        fetchNode(job, pod->nodeName);

    for (const kube::ContainerStatusView &c : pod->containers) {
        if (c.name != container)
            continue;
        if (c.state == QLatin1String("running") || c.state == QLatin1String("terminated") ||
            c.restartCount > 0)
            fetchLogs(job, container, false);
        else
            job->result.notes << QStringLiteral("no current log: container %1 has not started (%2)")
                                     .arg(container, c.reason.isEmpty() ? c.state : c.reason);
        if (c.restartCount > 0)
            fetchLogs(job, container, true);
    }
    if (!pod->nodeName.isEmpty())
        fetchPodMetrics(job);
}

void GatherFetcher::fetchOwner(const std::shared_ptr<Job> &job, const QString &kind, const QString &name,
                               int depth)
{
    const QString base = apiPathFor(kind);
    if (base.isEmpty() || depth >= kMaxOwnerDepth) {
        job->result.notes << QStringLiteral("owner %1 %2 not followed").arg(kind, name);
        return;
    }
    const QString path = base.arg(seg(job->namespaceName)) + seg(name);
    request(job, path, {},
            [this, job, kind, name, depth](Result<QByteArray> body) {
                if (!body) {
                    job->result.notes << QStringLiteral("not gathered: owner %1 %2: %3")
                                             .arg(kind, name, firstLine(body.errorMessage()));
                    return;
                }
                Result<json> parsed = parse(body.value());
                if (!parsed) {
                    job->result.notes << QStringLiteral("not gathered: owner %1 %2: the response is %3")
                                             .arg(kind, name, parsed.errorMessage());
                    return;
                }
                json &doc = *parsed;
                if (doc.is_object() && !doc.contains("kind"))
                    doc["kind"] = kind.toStdString();
                Result<kube::WorkloadView> w = kube::projectWorkload(doc);
                if (!w) {
                    job->result.notes
                        << QStringLiteral("not gathered: owner %1 %2: %3").arg(kind, name, w.errorMessage());
                    return;
                }
                job->result.input.workloads << *w;
                if (w->kind == QLatin1String("Deployment"))
                    fetchRollout(job, w->name);
                if (!w->owner.kind.isEmpty())
                    fetchOwner(job, w->owner.kind, w->owner.name, depth + 1);
            });
}

void GatherFetcher::fetchRollout(const std::shared_ptr<Job> &job, const QString &deployment)
{
    // The ReplicaSets of the Deployment: the one with its revision dates the last rollout.
    const QString path =
        QStringLiteral("/apis/apps/v1/namespaces/%1/replicasets").arg(seg(job->namespaceName));
    request(job, path, {{QStringLiteral("limit"), QStringLiteral("500")}},
            [job, deployment](Result<QByteArray> body) {
                if (!body) {
                    job->result.notes << QStringLiteral("not gathered: rollout history of %1: %2")
                                             .arg(deployment, firstLine(body.errorMessage()));
                    return;
                }
                const Result<json> parsed = parse(body.value());
                if (!parsed) {
                    job->result.notes
                        << QStringLiteral("not gathered: rollout history of %1: the response is %2")
                               .arg(deployment, parsed.errorMessage());
                    return;
                }
                const json &doc = *parsed;
                if (!doc.is_object() || !doc.contains("items") || !doc["items"].is_array())
                    return;
                for (json item : doc["items"]) {
                    item["kind"] = "ReplicaSet";
                    Result<kube::WorkloadView> rs = kube::projectWorkload(item);
                    if (!rs || rs->owner.kind != QLatin1String("Deployment") || rs->owner.name != deployment)
                        continue;
                    bool known = false;
                    for (const kube::WorkloadView &w : job->result.input.workloads)
                        known = known || (w.kind == rs->kind && w.name == rs->name);
                    if (!known)
                        job->result.input.workloads << *rs;
                }
            });
}

void GatherFetcher::fetchNode(const std::shared_ptr<Job> &job, const QString &node)
{
    request(job, QStringLiteral("/api/v1/nodes/") + seg(node), {}, [job, node](Result<QByteArray> body) {
        if (!body) {
            job->result.notes
                << QStringLiteral("not gathered: node %1: %2").arg(node, firstLine(body.errorMessage()));
            return;
        }
        const Result<json> parsed = parse(body.value());
        if (!parsed) {
            job->result.notes << QStringLiteral("not gathered: node %1: the response is %2")
                                     .arg(node, parsed.errorMessage());
            return;
        }
        Result<kube::NodeView> n = kube::projectNode(*parsed);
        if (!n) {
            job->result.notes << QStringLiteral("not gathered: node %1: %2").arg(node, n.errorMessage());
            return;
        }
        job->result.input.nodes << *n;
    });
    request(job, QStringLiteral("/apis/metrics.k8s.io/v1beta1/nodes/") + seg(node), {},
            [job, node](Result<QByteArray> body) {
                if (!body)
                    return; // metrics-server is optional
                const Result<json> parsed = parse(body.value());
                if (!parsed) {
                    job->result.notes << QStringLiteral("not gathered: node %1 metrics: the response is %2")
                                             .arg(node, parsed.errorMessage());
                    return;
                }
                Result<NodeUsage> usage = projectNodeMetrics(*parsed);
                if (!usage) {
                    job->result.notes << QStringLiteral("not gathered: node %1 metrics: %2")
                                             .arg(node, usage.errorMessage());
                    return;
                }
                if (usage->node.isEmpty())
                    usage->node = node;
                job->result.input.nodeUsage << *usage;
            });
}

void GatherFetcher::fetchEvents(const std::shared_ptr<Job> &job, const QString &kind, const QString &name,
                                const QString &namespaceName)
{
    const QString path = namespaceName.isEmpty()
                             ? QStringLiteral("/api/v1/events")
                             : QStringLiteral("/api/v1/namespaces/%1/events").arg(seg(namespaceName));
    QString selector = QStringLiteral("involvedObject.kind=%1,involvedObject.name=%2").arg(kind, name);
    if (!namespaceName.isEmpty())
        selector += QStringLiteral(",involvedObject.namespace=") + namespaceName;
    request(job, path,
            {{QStringLiteral("fieldSelector"), selector},
             {QStringLiteral("limit"), QString::number(m_options.maxEvents)}},
            [job, kind, name](Result<QByteArray> body) {
                if (!body) {
                    job->result.notes << QStringLiteral("not gathered: events of %1 %2: %3")
                                             .arg(kind, name, firstLine(body.errorMessage()));
                    return;
                }
                const Result<json> parsed = parse(body.value());
                if (!parsed) {
                    job->result.notes << QStringLiteral("not gathered: events of %1 %2: the response is %3")
                                             .arg(kind, name, parsed.errorMessage());
                    return;
                }
                const json &doc = *parsed;
                if (!doc.is_object() || !doc.contains("items") || !doc["items"].is_array())
                    return;
                for (json item : doc["items"]) {
                    item["kind"] = "Event";
                    Result<kube::EventView> e = kube::projectEvent(item);
                    if (e)
                        job->result.input.events << *e;
                }
            });
}

void GatherFetcher::fetchLogs(const std::shared_ptr<Job> &job, const QString &container, bool previous)
{
    const QString path =
        QStringLiteral("/api/v1/namespaces/%1/pods/%2/log").arg(seg(job->namespaceName), seg(job->podName));
    QList<QPair<QString, QString>> query{{QStringLiteral("container"), container},
                                         {QStringLiteral("tailLines"), QString::number(m_options.logLines)}};
    if (previous)
        query << qMakePair(QStringLiteral("previous"), QStringLiteral("true"));
    request(job, path, query, [job, container, previous](Result<QByteArray> body) {
        if (body) {
            (previous ? job->result.input.previousLog : job->result.input.currentLog) =
                QString::fromUtf8(*body);
            return;
        }
        const int code = body.error().code;
        // No previous instance, or a container that is waiting: nothing to read, nothing wrong.
        if (previous && (code == 400 || code == 404))
            return;
        job->result.notes << QStringLiteral("not gathered: %1 log of %2: %3")
                                 .arg(previous ? QStringLiteral("previous") : QStringLiteral("current"),
                                      container, firstLine(body.errorMessage()));
    });
}

void GatherFetcher::fetchPodMetrics(const std::shared_ptr<Job> &job)
{
    const QString path = QStringLiteral("/apis/metrics.k8s.io/v1beta1/namespaces/%1/pods/%2")
                             .arg(seg(job->namespaceName), seg(job->podName));
    request(job, path, {}, [job](Result<QByteArray> body) {
        if (!body)
            return; // metrics-server is optional, and a new pod has no sample yet
        const Result<json> parsed = parse(body.value());
        if (!parsed) {
            job->result.notes
                << QStringLiteral("not gathered: pod metrics: the response is %1").arg(parsed.errorMessage());
            return;
        }
        const json &doc = *parsed;
        if (!doc.is_object() || !doc.contains("containers") || !doc["containers"].is_array())
            return;
        for (const json &c : doc["containers"]) {
            const json usage = c.value("usage", json::object());
            job->result.input.usage << ContainerUsage{str(c, "name"), kube::cpuMilli(str(usage, "cpu")),
                                                      kube::quantityBytes(str(usage, "memory"))};
        }
    });
}

void GatherFetcher::done(const std::shared_ptr<Job> &job)
{
    if (job->pending > 0 || job->delivered)
        return;
    job->delivered = true;
    if (job->guarded && job->context.isNull())
        return;
    if (job->failed)
        job->callback(Error(job->result.notes.value(0, QStringLiteral("gathering failed"))));
    else
        job->callback(std::move(job->result));
}

} // namespace vigil::gather
