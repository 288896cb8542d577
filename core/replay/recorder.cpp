#include "core/replay/recorder.h"

#include "core/gather/fetcher.h"
#include "core/kube/projections.h"
#include "core/kube/restclient.h"
#include "core/reason/router.h"

namespace vigil::replay {

using nlohmann::json;

struct Recorder::Job {
    QString namespaceName;
    QString podName;
    QPointer<QObject> context;
    bool guarded = false;
    Callback callback;
    QString clusterVersion;
    QList<kube::PodView> pods;
    QList<kube::EventView> events;
    QList<kube::NodeView> nodes;
    QDateTime now;
    std::unique_ptr<pipeline::Diagnoser> diagnoser;
    QList<pipeline::Incident> incidents;
    QHash<QString, IncidentRecord> records; // by fingerprint
    QString error;
    int pending = 0;
};

Recorder::Recorder(kube::RestClient *client, reason::PromptSet prompts, QObject *parent)
    : QObject(parent)
    , m_client(client)
    , m_fetcher(std::make_unique<gather::GatherFetcher>(client))
    , m_router(std::make_unique<reason::Router>(std::move(prompts)))
{
}

Recorder::~Recorder() = default;

void Recorder::record(const QString &namespaceName, const QString &podName, QObject *context,
                      Callback callback)
{
    auto job = std::make_shared<Job>();
    job->namespaceName = namespaceName;
    job->podName = podName;
    job->context = context;
    job->guarded = context != nullptr;
    job->callback = std::move(callback);
    if (m_job) {
        QMetaObject::invokeMethod(
            this, [this, job] { finish(job, Error(QStringLiteral("another recording is still running"))); },
            Qt::QueuedConnection);
        return;
    }
    m_job = job;

    kube::Request version;
    version.path = QStringLiteral("/version");
    m_client->send(version, this, [this, job](Result<kube::Response> v) {
        if (v && v->status == 200) {
            const json doc =
                json::parse(v->body.constData(), v->body.constData() + v->body.size(), nullptr, false);
            if (doc.is_object() && doc.contains("gitVersion") && doc["gitVersion"].is_string())
                job->clusterVersion = QString::fromStdString(doc["gitVersion"].get<std::string>());
        }
        readPods(job);
    });
}

void Recorder::readPods(const std::shared_ptr<Job> &job)
{
    // The whole namespace, so the pod's replicas group into one incident as the agent sees it.
    m_client->list(
        kube::ResourcePath{kube::ResourceType::pods(), job->namespaceName, {}, {}}, kube::ListOptions{}, this,
        [this, job](Result<kube::ListResult> list) {
            if (!list) {
                finish(
                    job,
                    Error(
                        QStringLiteral("listing pods in %1: %2").arg(job->namespaceName, list.errorMessage()),
                        list.error().code));
                return;
            }
            QString node;
            bool found = false;
            for (const json &item : list->items) {
                Result<kube::PodView> p = kube::projectPod(item);
                if (!p)
                    continue;
                if (p->name == job->podName) {
                    found = true;
                    node = p->nodeName;
                }
                job->pods << *p;
            }
            if (!found) {
                finish(job, Error(QStringLiteral("pod %1/%2 not found").arg(job->namespaceName, job->podName),
                                  404));
                return;
            }
            readEvents(job, node);
        });
}

void Recorder::readEvents(const std::shared_ptr<Job> &job, const QString &node)
{
    m_client->list(kube::ResourcePath{kube::ResourceType::events(), job->namespaceName, {}, {}},
                   kube::ListOptions{}, this, [this, job, node](Result<kube::ListResult> list) {
                       // Events only add detail: the pods' status alone still shows their incidents.
                       if (list) {
                           for (const json &item : list->items) {
                               if (Result<kube::EventView> e = kube::projectEvent(item))
                                   job->events << *e;
                           }
                       }
                       if (node.isEmpty()) {
                           observe(job);
                           return;
                       }
                       m_client->get(kube::ResourcePath{kube::ResourceType::nodes(), {}, node, {}}, this,
                                     [this, job](Result<json> n) {
                                         if (n) {
                                             if (Result<kube::NodeView> v = kube::projectNode(*n))
                                                 job->nodes << *v;
                                         }
                                         observe(job);
                                     });
                   });
}

void Recorder::observe(const std::shared_ptr<Job> &job)
{
    pipeline::DiagnoserOptions options;
    options.autoDiagnose = false;
    // Asked explicitly about this pod: its problem is news now, not after the watcher's grace periods.
    options.detector.pendingGrace = std::chrono::seconds(0);
    options.detector.readinessGrace = std::chrono::seconds(0);
    job->diagnoser = std::make_unique<pipeline::Diagnoser>(m_fetcher.get(), m_router.get(), options);
    connect(job->diagnoser.get(), &pipeline::Diagnoser::diagnosed, this,
            [this](const pipeline::Incident &i, const gather::Evidence &e, const Diagnosis &) {
                onDiagnosed(i, e);
            });
    connect(job->diagnoser.get(), &pipeline::Diagnoser::failed, this, &Recorder::onFailed);
    job->now = QDateTime::currentDateTimeUtc();
    const QList<pipeline::Incident> opened =
        job->diagnoser->observe(job->pods, job->nodes, job->events, job->now);
    // A node problem under the pod is its root cause: it goes first.
    for (const pipeline::Incident &i : opened) {
        if (i.workload.kind == u"Node")
            job->incidents << i;
    }
    for (const pipeline::Incident &i : opened) {
        if (i.workload.kind != u"Node" && i.pods.contains(job->podName))
            job->incidents << i;
    }
    if (job->incidents.isEmpty()) {
        finish(job, Error(QStringLiteral("no incident to record: pod %1/%2 looks healthy (%3)")
                              .arg(job->namespaceName, job->podName, job->pods.first().displayStatus())));
        return;
    }
    job->pending = int(job->incidents.size());
    for (const pipeline::Incident &i : job->incidents)
        job->diagnoser->diagnose(i);
}

void Recorder::onDiagnosed(const pipeline::Incident &incident, const gather::Evidence &evidence)
{
    if (const std::shared_ptr<Job> job = m_job) {
        job->records.insert(incident.fingerprint,
                            makeRecord(incident, evidence, job->now, job->clusterVersion));
        settle(job);
    }
}

void Recorder::onFailed(const pipeline::Incident &incident, const QString &error)
{
    if (const std::shared_ptr<Job> job = m_job) {
        job->error = QStringLiteral("%1: %2").arg(incident.reason, error);
        settle(job);
    }
}

void Recorder::settle(const std::shared_ptr<Job> &job)
{
    if (--job->pending > 0)
        return;
    QList<IncidentRecord> out;
    for (const pipeline::Incident &i : job->incidents) {
        if (job->records.contains(i.fingerprint))
            out << job->records.value(i.fingerprint);
    }
    // One incident that could not be gathered (e.g. the pod vanished) does not void the others.
    if (out.isEmpty())
        finish(job, Error(job->error));
    else
        finish(job, out);
}

void Recorder::finish(const std::shared_ptr<Job> &job, Result<QList<IncidentRecord>> result)
{
    if (m_job == job) {
        m_job.reset();
        // The diagnoser may be inside its own signal: delete it later.
        if (job->diagnoser)
            job->diagnoser.release()->deleteLater();
    }
    if (job->guarded && job->context.isNull())
        return;
    job->callback(std::move(result));
}

} // namespace vigil::replay
