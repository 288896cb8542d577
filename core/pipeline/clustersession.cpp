#include "core/pipeline/clustersession.h"

#include "core/util/jsondepth.h"

#include "core/act/actions.h"
#include "core/act/agentdecisionmirror.h"
#include "core/act/datapaths.h"
#include "core/act/decisionstore.h"
#include "core/act/executor.h"
#include "core/audit/auditlog.h"
#include "core/audit/retention.h"
#include "core/gather/fetcher.h"
#include "core/kube/config/execcredential.h"
#include "core/kube/projections.h"
#include "core/kube/restclient.h"
#include "core/pipeline/incidentaudit.h"
#include "core/pipeline/incidenttarget.h"
#include "core/reason/router.h"

#include <QProcessEnvironment>
#include <QRegularExpression>

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace vigil::pipeline {
namespace {

using nlohmann::json;

template<typename T>
QList<T> viewsOf(const kube::ObjectStore &store)
{
    QList<T> out;
    for (const kube::KubeObject &o : store.objects()) {
        if (const T *v = std::get_if<T>(&o))
            out.append(*v);
    }
    return out;
}

bool needsQuotes(const std::string &s)
{
    // Strings a YAML reader would take for something else: bools, nulls, numbers, empty.
    static const QRegularExpression special(QStringLiteral(
        R"(^(|~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N)$)"));
    static const QRegularExpression number(QStringLiteral(
        R"(^[-+]?(\.?[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+|\.inf|\.nan)$)"));
    const QString q = QString::fromStdString(s);
    return special.match(q).hasMatch() || number.match(q).hasMatch();
}

void emitJson(YAML::Emitter &e, const json &j)
{
    switch (j.type()) {
    case json::value_t::object:
        e << YAML::BeginMap;
        for (auto it = j.begin(); it != j.end(); ++it) {
            e << YAML::Key << it.key() << YAML::Value;
            emitJson(e, *it);
        }
        e << YAML::EndMap;
        return;
    case json::value_t::array:
        e << YAML::BeginSeq;
        for (const json &v : j)
            emitJson(e, v);
        e << YAML::EndSeq;
        return;
    case json::value_t::string: {
        const std::string s = j.get<std::string>();
        if (needsQuotes(s))
            e << YAML::DoubleQuoted << s;
        else
            e << s;
        return;
    }
    case json::value_t::boolean:
        e << j.get<bool>();
        return;
    case json::value_t::number_integer:
        e << j.get<int64_t>();
        return;
    case json::value_t::number_unsigned:
        e << j.get<uint64_t>();
        return;
    case json::value_t::number_float:
        e << j.get<double>();
        return;
    default:
        e << YAML::Null;
        return;
    }
}

int httpStatusIn(const QString &error)
{
    // RestClient::statusError writes "<verb> <path>: <code> <reason>: <message>".
    static const QRegularExpression re(QStringLiteral(R"(: (\d{3}) )"));
    const QRegularExpressionMatch m = re.match(error);
    return m.hasMatch() ? m.captured(1).toInt() : 0;
}

} // namespace

QString SessionHealth::sentence(const QDateTime &now) const
{
    switch (kind) {
    case Kind::Connecting:
        return QStringLiteral("Connecting: listing %1…")
            .arg(resource.isEmpty() ? QStringLiteral("pods") : resource);
    case Kind::Connected:
        return QStringLiteral("Connected: watching %1 pods.").arg(objects);
    case Kind::Reconnecting: {
        const qint64 s = nextRetry.isValid() ? std::max<qint64>(0, (now.msecsTo(nextRetry) + 999) / 1000) : 0;
        return QStringLiteral("Connection lost; retrying in %1 s.").arg(s);
    }
    case Kind::CredentialsExpired:
        return QStringLiteral("Credentials expired (401): the cluster no longer accepts your login. "
                              "Log in again to refresh the kubeconfig; Vigil keeps retrying.");
    case Kind::Forbidden:
        return QStringLiteral("RBAC missing (403): your user may not list and watch %1 here. "
                              "Ask for get/list/watch on %1, or pick a namespace you can read.")
            .arg(resource.isEmpty() ? QStringLiteral("pods") : resource);
    case Kind::Failed:
        return QStringLiteral("Cannot connect: %1").arg(detail);
    }
    return {};
}

SessionHealth SessionHealth::fromInformer(const kube::InformerHealth &health, const QString &resource)
{
    SessionHealth h;
    h.resource = resource;
    h.detail = health.lastError;
    switch (health.state) {
    case kube::InformerHealth::State::Stopped:
    case kube::InformerHealth::State::Listing:
        h.kind = health.synced ? Kind::Connected : Kind::Connecting;
        break;
    case kube::InformerHealth::State::Watching:
        h.kind = Kind::Connected;
        break;
    case kube::InformerHealth::State::BackingOff:
        h.kind = Kind::Reconnecting;
        h.nextRetry = health.nextRetry;
        break;
    }
    if (h.kind != Kind::Connected) {
        const int status = httpStatusIn(health.lastError);
        if (status == 401)
            h.kind = Kind::CredentialsExpired;
        else if (status == 403)
            h.kind = Kind::Forbidden;
    }
    return h;
}

ClusterSession::ClusterSession(kube::Connection connection, SessionOptions options, QObject *parent)
    : QObject(parent)
    , m_connection(std::move(connection))
    , m_options(std::move(options))
    , m_flushTimer(this)
    , m_metricsTimer(this)
    , m_rescanTimer(this)
{
    m_flushTimer.setSingleShot(true);
    m_flushTimer.setInterval(m_options.batchIntervalMs);
    connect(&m_flushTimer, &QTimer::timeout, this, &ClusterSession::flush);
    m_metricsTimer.setInterval(m_options.metricsIntervalMs);
    connect(&m_metricsTimer, &QTimer::timeout, this, &ClusterSession::pollMetrics);
    m_rescanTimer.setInterval(m_options.rescanIntervalMs);
    connect(&m_rescanTimer, &QTimer::timeout, this, &ClusterSession::rescan);
}

ClusterSession::~ClusterSession()
{
    // The executor and runner hold raw pointers to the client, store and log;
    // informers, the fetcher and the diagnoser to the client: they all go first.
    delete m_mirror; // follows the executor
    m_mirror = nullptr;
    m_executor.reset();
    m_runner.reset();
    delete m_diagnoser;
    delete m_fetcher;
    delete m_pods;
    delete m_events;
    delete m_nodes;
    delete m_agentDecisions;
}

void ClusterSession::start()
{
    // Exec plugins need consent before they run; ask for it once, up front,
    // with the exact command, instead of failing every request.
    if (m_connection.credentials) {
        Result<kube::Credentials> creds = m_connection.credentials->credentials();
        if (!creds && creds.error().code == kube::kExecConsentRequired) {
            QString line;
            if (auto *exec = dynamic_cast<kube::ExecCredentialSource *>(m_connection.credentials.get())) {
                Result<QString> l = exec->commandLine();
                line = l ? *l : QString();
            }
            SessionHealth h;
            h.kind = SessionHealth::Kind::Failed;
            h.detail = creds.errorMessage();
            Q_EMIT healthChanged(h);
            Q_EMIT execConsentRequired(line, creds.errorMessage());
            return;
        }
    }
    m_client = std::make_unique<kube::RestClient>(m_connection);
    openExecutor();
    if (m_options.diagnose)
        startDiagnoser();
    startInformers();
}

void ClusterSession::startDiagnoser()
{
    ReasonerSetup setup;
    if (m_options.reasoner)
        setup = m_options.reasoner(this);
    m_router = setup.router;
    if (!m_router) {
        Result<reason::PromptSet> prompts = reason::loadPrompts();
        m_router =
            new reason::Router(prompts ? *prompts : reason::PromptSet(), reason::RouterOptions(), this);
        if (setup.description.isEmpty())
            setup.description = QStringLiteral("rules only");
    }
    connect(m_router, &reason::Router::modelRequestStarted, this, &ClusterSession::onModelRequest);
    m_fetcher = new gather::GatherFetcher(m_client.get(), gather::FetchOptions(), this);
    m_diagnoser = new Diagnoser(m_fetcher, m_router, m_options.diagnoser, this);
    connect(m_diagnoser, &Diagnoser::diagnosed, this, &ClusterSession::onDiagnosed);
    connect(m_diagnoser, &Diagnoser::failed, this, &ClusterSession::onDiagnosisFailed);
    Q_EMIT reasonerReady(setup.description);
    if (m_options.rescanIntervalMs > 0)
        m_rescanTimer.start();
}

void ClusterSession::openExecutor()
{
    const QString dir = act::dataDirectory(m_options.dataDir);
    Result<std::unique_ptr<act::DecisionStore>> store = act::DecisionStore::open(act::decisionsPath(dir));
    if (!store) {
        m_executorError = store.errorMessage();
        return;
    }
    const QString auditFile = m_options.auditPath.isEmpty() ? act::auditPath(dir) : m_options.auditPath;
    Result<std::unique_ptr<audit::AuditLog>> log = audit::AuditLog::open(auditFile);
    if (!log) {
        m_executorError = log.errorMessage();
        return;
    }
    m_decisions = std::move(*store);
    m_audit = std::move(*log);
    // The policy's audit.retentionDays, now and daily; a failed pass is said, never fatal.
    m_retention = std::make_unique<audit::RetentionSchedule>(
        m_audit.get(), m_options.policy.auditRetentionDays, audit::osUserActor());
    connect(m_retention.get(), &audit::RetentionSchedule::failed, this, [this](const QString &why) {
        Q_EMIT notice(QStringLiteral("Audit retention not applied: %1").arg(why));
    });
    (void)m_retention->start(); // failed() reports it
    Result<act::AlertConfig> alerts =
        act::alertConfig(m_options.policy.alerts, QProcessEnvironment::systemEnvironment());
    if (!alerts)
        Q_EMIT notice(QStringLiteral("Alerts go to Kubernetes Events only: %1").arg(alerts.errorMessage()));
    m_runner = std::make_unique<act::ActionRunner>(m_client.get(), alerts ? *alerts : act::AlertConfig());
    guard::Policy policy = m_options.policy;
    if (m_options.readOnly)
        policy.mode = guard::PolicyMode::SuggestOnly;
    m_executor = std::make_unique<act::Executor>(m_decisions.get(), m_audit.get(), m_runner.get(), policy);
    act::Executor::fetchKubeUser(m_client.get(), this, [this](Result<QString> user) {
        // Without SelfSubjectReview the approver is the OS user alone.
        if (user)
            m_kubeUser = *user;
    });
    if (!m_options.mirrorDecisions) {
        reconcile();
        return;
    }
    // Mirroring starts first so the states reconcile settles reach the cluster too.
    act::AgentDecisionMirror::start(
        m_client.get(), m_executor.get(), m_options.namespaceName, this,
        [this](Result<act::AgentDecisionMirror *> mirror) {
            if (!mirror) {
                Q_EMIT decisionsMirrored(false, mirror.errorMessage());
                Q_EMIT notice(QStringLiteral("Decisions are %1.").arg(mirror.errorMessage()));
            } else {
                m_mirror = *mirror;
                connect(m_mirror, &act::AgentDecisionMirror::failed, this, [this](const QString &why) {
                    Q_EMIT notice(QStringLiteral("AgentDecision mirror: %1").arg(why));
                });
                connect(m_mirror, &act::AgentDecisionMirror::approved, this,
                        &ClusterSession::onMirrorApproved);
                Q_EMIT decisionsMirrored(true,
                                         QStringLiteral("Decisions are mirrored into the cluster as "
                                                        "AgentDecisions; spec.approved: true approves."));
            }
            reconcile();
        });
}

void ClusterSession::reconcile()
{
    // A decision left in Executing (the app died mid-call) is settled against the cluster, never rerun.
    m_executor->reconcile(this, [this](Result<QList<act::Decision>> settled) {
        if (!settled) {
            Q_EMIT notice(
                QStringLiteral("Could not reconcile interrupted actions: %1").arg(settled.errorMessage()));
            return;
        }
        for (const act::Decision &d : *settled) {
            if (!m_decisionIds.contains(d.incidentFingerprint))
                m_decisionIds.insert(d.incidentFingerprint, d.id);
            Q_EMIT decisionUpdated(d.incidentFingerprint, d.state,
                                   QStringLiteral("Interrupted by a restart; reconciled with the cluster: %1")
                                       .arg(act::stateName(d.state)));
        }
        if (!settled->isEmpty())
            Q_EMIT notice(
                settled->size() == 1
                    ? QStringLiteral("Reconciled 1 action interrupted by a restart.")
                    : QStringLiteral("Reconciled %1 actions interrupted by a restart.").arg(settled->size()));
    });
}

act::Approver ClusterSession::approver() const
{
    act::Approver a;
    a.osUser = audit::osUserActor().mid(3); // "os:<login>"
    a.kubeUser = m_kubeUser;
    a.via = QStringLiteral("desktop");
    return a;
}

void ClusterSession::proposeFor(IncidentReport &report)
{
    report.decisionId.clear();
    if (!m_executor || !report.diagnosed || !report.judged || report.diagnosis.action == ActionKind::None)
        return;
    const QString fp = report.incident.fingerprint;
    if (const auto it = m_decisionIds.constFind(fp); it != m_decisionIds.cend()) {
        // A fresh diagnosis keeps a running decision and an open one that proposes the same; it
        // supersedes an open one that proposes something else, and follows a finished one.
        using S = act::DecisionState;
        Result<act::Decision> existing = m_decisions->load(*it);
        if (existing) {
            const bool open = existing->state == S::Proposed || existing->state == S::Previewed;
            const bool running = existing->state == S::Approved || existing->state == S::Executing;
            const bool same = existing->diagnosis.action == report.diagnosis.action &&
                              existing->targetKey() == report.targetKey &&
                              existing->diagnosis.parameters == report.diagnosis.parameters;
            if (running || (open && same)) {
                report.decisionId = *it;
                return;
            }
            if (open) {
                Result<act::Decision> superseded =
                    m_executor->reject(*it, approver(),
                                       QStringLiteral("superseded by a new diagnosis (%1)")
                                           .arg(report.diagnosis.source.describe()));
                if (!superseded)
                    Q_EMIT notice(
                        QStringLiteral("The earlier proposal stays open: %1").arg(superseded.errorMessage()));
            }
        }
    }
    act::Decision proposal = act::newDecision(fp, report.target, report.diagnosis, report.verdict);
    proposal.observation = incidentObservation(report.incident);
    Result<act::Decision> d = m_executor->propose(
        proposal, act::reasoningContext(report.diagnosis, report.evidence, m_router->prompts()));
    if (!d) {
        Q_EMIT previewReady(fp, QStringLiteral("Not proposed: %1").arg(d.errorMessage()));
        return;
    }
    m_decisionIds.insert(fp, d->id);
    report.decisionId = d->id;
    if (report.verdict.decision == guard::Verdict::Blocked)
        return; // nothing will run: no dry run either
    m_executor->preview(d->id, this, [this, fp](Result<act::Decision> p) {
        Q_EMIT previewReady(fp, p ? p->preview : QStringLiteral("Dry run failed: %1").arg(p.errorMessage()));
    });
}

QString ClusterSession::decisionFor(const QString &fingerprint, const QString &verb)
{
    if (!m_executor) {
        Q_EMIT decisionUpdated(
            fingerprint, act::DecisionState::Failed,
            QStringLiteral("Cannot %1: the decision store is not available: %2")
                .arg(verb, m_executorError.isEmpty() ? QStringLiteral("not connected") : m_executorError));
        return {};
    }
    const QString id = m_decisionIds.value(fingerprint);
    if (id.isEmpty())
        Q_EMIT decisionUpdated(fingerprint, act::DecisionState::Failed,
                               QStringLiteral("Cannot %1: this incident has no proposed action.").arg(verb));
    return id;
}

namespace {
QString outcomeMessage(const act::Decision &d)
{
    if (d.outcome.is_object() && d.outcome.contains("message") && d.outcome["message"].is_string())
        return QString::fromStdString(d.outcome["message"].get<std::string>());
    return act::stateName(d.state);
}
} // namespace

void ClusterSession::approve(const QString &fingerprint)
{
    const QString id = decisionFor(fingerprint, QStringLiteral("approve"));
    if (id.isEmpty())
        return;
    Result<act::Decision> approved = m_executor->approve(id, approver());
    if (!approved) {
        Q_EMIT decisionUpdated(fingerprint, act::DecisionState::Failed, approved.errorMessage());
        return;
    }
    executeApproved(fingerprint, *approved);
}

void ClusterSession::onMirrorApproved(const QString &decisionId, const QString &by)
{
    // The mirror already ran Executor::approve (state machine and verdict decide); what is left
    // is what the Approve button does after approving.
    Result<act::Decision> approved = m_decisions->load(decisionId);
    if (!approved || approved->state != act::DecisionState::Approved)
        return;
    Q_EMIT notice(QStringLiteral("Decision %1 was approved in the cluster (by %2).").arg(decisionId, by));
    executeApproved(approved->incidentFingerprint, *approved);
}

void ClusterSession::executeApproved(const QString &fingerprint, const act::Decision &approved)
{
    const QString id = approved.id;
    Q_EMIT decisionUpdated(fingerprint, act::DecisionState::Executing,
                           QStringLiteral("Executing %1 on %2…")
                               .arg(actionName(approved.diagnosis.action), approved.targetKey()));
    m_executor->execute(id, this, [this, fingerprint, id](Result<act::Decision> done) {
        if (!done) {
            Q_EMIT decisionUpdated(fingerprint, act::DecisionState::Failed, done.errorMessage());
            return;
        }
        const QString executed = outcomeMessage(*done);
        if (done->state != act::DecisionState::Executed) {
            Q_EMIT decisionUpdated(fingerprint, done->state, executed);
            return;
        }
        Q_EMIT decisionUpdated(fingerprint, act::DecisionState::Executed,
                               QStringLiteral("%1; verifying…").arg(executed));
        m_executor->verify(
            id, m_options.verifyTimeoutMs, this, [this, fingerprint, executed](Result<act::Decision> v) {
                if (!v) {
                    Q_EMIT decisionUpdated(
                        fingerprint, act::DecisionState::VerifyFailed,
                        QStringLiteral("%1. Verification failed: %2").arg(executed, v.errorMessage()));
                    return;
                }
                const QString how = v->state == act::DecisionState::Verified
                                        ? QStringLiteral("Verified")
                                        : QStringLiteral("Verification failed");
                Q_EMIT decisionUpdated(fingerprint, v->state,
                                       QStringLiteral("%1. %2: %3").arg(executed, how, outcomeMessage(*v)));
            });
    });
}

void ClusterSession::reject(const QString &fingerprint, const QString &reason)
{
    if (!m_executor || !m_decisionIds.contains(fingerprint)) {
        // Nothing was proposed (no action): the rejection is the person's note alone.
        Q_EMIT decisionUpdated(fingerprint, act::DecisionState::Rejected,
                               QStringLiteral("Rejected: %1").arg(reason));
        return;
    }
    Result<act::Decision> r = m_executor->reject(m_decisionIds.value(fingerprint), approver(), reason);
    Q_EMIT decisionUpdated(
        fingerprint, act::DecisionState::Rejected,
        r ? QStringLiteral("Rejected: %1").arg(reason)
          : QStringLiteral("Rejected: %1 (not recorded: %2)").arg(reason, r.errorMessage()));
}

void ClusterSession::undo(const QString &fingerprint)
{
    const QString id = decisionFor(fingerprint, QStringLiteral("undo"));
    if (id.isEmpty())
        return;
    m_executor->undo(id, approver(), this, [this, fingerprint](Result<act::Decision> d) {
        if (!d) {
            Q_EMIT decisionUpdated(fingerprint, act::DecisionState::Failed,
                                   QStringLiteral("Undo failed: %1").arg(d.errorMessage()));
            return;
        }
        Q_EMIT decisionUpdated(fingerprint, d->state, QStringLiteral("Undone: %1").arg(outcomeMessage(*d)));
    });
}

void ClusterSession::startInformers()
{
    auto make = [this](kube::ResourceType type, const QString &fieldSelector, bool namespaced) {
        kube::InformerOptions o;
        o.type = std::move(type);
        o.namespaceName = namespaced ? m_options.namespaceName : QString();
        o.fieldSelector = fieldSelector;
        o.batchIntervalMs = m_options.batchIntervalMs;
        return new kube::Informer(m_client.get(), std::move(o), this);
    };
    m_pods = make(kube::ResourceType::pods(), {}, true);
    m_events = make(kube::ResourceType::events(), QStringLiteral("type=Warning"), true);
    m_nodes = make(kube::ResourceType::nodes(), {}, false);
    connect(m_pods, &kube::Informer::deltas, this, &ClusterSession::onPodDeltas);
    connect(m_events, &kube::Informer::deltas, this, &ClusterSession::onEventDeltas);
    connect(m_nodes, &kube::Informer::deltas, this, &ClusterSession::onNodeDeltas);
    connect(m_pods, &kube::Informer::healthChanged, this,
            [this](const kube::InformerHealth &h) { onHealth(h, QStringLiteral("pods")); });
    connect(m_events, &kube::Informer::healthChanged, this,
            [this](const kube::InformerHealth &h) { onHealth(h, QStringLiteral("events")); });
    connect(m_nodes, &kube::Informer::healthChanged, this,
            [this](const kube::InformerHealth &h) { onHealth(h, QStringLiteral("nodes")); });

    SessionHealth connecting;
    Q_EMIT healthChanged(connecting);
    m_pods->start();
    m_events->start();
    m_nodes->start();

    kube::ListOptions lo;
    m_client->list(kube::ResourcePath{kube::ResourceType::namespaces(), {}, {}, {}}, lo, this,
                   [this](Result<kube::ListResult> r) {
                       QStringList names;
                       if (r) {
                           for (const json &item : r->items)
                               names << QString::fromStdString(
                                   jsonValue(item["metadata"], "name", std::string()));
                       }
                       // No permission to list namespaces: offer the context's own.
                       if (names.isEmpty() && !m_connection.namespaceName.isEmpty())
                           names << m_connection.namespaceName;
                       names.sort();
                       Q_EMIT namespacesListed(names);
                   });
    pollMetrics();
    m_metricsTimer.start();
    detectAgentDecisions();
    kube::Request version;
    version.verb = "GET";
    version.path = QStringLiteral("/version");
    m_client->send(version, this, [this](Result<kube::Response> r) {
        if (!r)
            return;
        const json doc = json::parse(r->body.constBegin(), r->body.constEnd(), nullptr, false);
        if (doc.is_object() && doc.contains("gitVersion") && doc["gitVersion"].is_string())
            Q_EMIT clusterVersionKnown(QString::fromStdString(doc["gitVersion"].get<std::string>()));
    });
}

void ClusterSession::scheduleFlush()
{
    if (!m_flushTimer.isActive())
        m_flushTimer.start();
}

void ClusterSession::flush()
{
    if (!m_pending.podsResynced && m_pending.pods.isEmpty() && m_pending.deletedPodUids.isEmpty() &&
        m_pending.warnings.isEmpty() && m_pending.incidents.isEmpty())
        return;
    SessionBatch out = std::move(m_pending);
    m_pending = SessionBatch();
    // Decision states as they are now: a transition may have happened since the report was queued.
    for (IncidentReport &r : out.incidents)
        refreshDecision(r);
    m_pendingPodIndex.clear();
    m_pendingIncidentIndex.clear();
    Q_EMIT batchReady(out);
}

void ClusterSession::onPodDeltas(const kube::DeltaBatch &batch)
{
    if (batch.resynced) {
        // The informer already reconciled; hand the GUI the whole set once.
        m_pending.podsResynced = true;
        m_pending.pods = viewsOf<kube::PodView>(m_pods->store());
        m_pending.deletedPodUids.clear();
        m_pendingPodIndex.clear();
        for (qsizetype i = 0; i < m_pending.pods.size(); ++i)
            m_pendingPodIndex.insert(m_pending.pods[i].uid, i);
    } else {
        for (const kube::Delta &d : batch.deltas) {
            const auto *pod = std::get_if<kube::PodView>(&d.object);
            if (!pod)
                continue;
            if (d.type == kube::Delta::Type::Deleted) {
                if (const auto it = m_pendingPodIndex.constFind(pod->uid); it != m_pendingPodIndex.cend()) {
                    m_pending.pods.removeAt(*it);
                    m_pendingPodIndex.clear();
                    for (qsizetype i = 0; i < m_pending.pods.size(); ++i)
                        m_pendingPodIndex.insert(m_pending.pods[i].uid, i);
                }
                if (!m_pending.podsResynced)
                    m_pending.deletedPodUids << pod->uid;
            } else if (const auto it = m_pendingPodIndex.constFind(pod->uid);
                       it != m_pendingPodIndex.cend()) {
                m_pending.pods[*it] = *pod;
            } else {
                m_pendingPodIndex.insert(pod->uid, m_pending.pods.size());
                m_pending.pods << *pod;
            }
        }
    }
    QList<kube::PodView> seen;
    for (const kube::Delta &d : batch.deltas) {
        if (const auto *pod = std::get_if<kube::PodView>(&d.object);
            pod && d.type != kube::Delta::Type::Deleted)
            seen << *pod;
    }
    observe(seen, {}, {});
    scheduleFlush();
}

void ClusterSession::onEventDeltas(const kube::DeltaBatch &batch)
{
    QList<kube::EventView> seen;
    for (const kube::Delta &d : batch.deltas) {
        const auto *event = std::get_if<kube::EventView>(&d.object);
        if (!event || d.type == kube::Delta::Type::Deleted || event->type != u"Warning")
            continue;
        m_pending.warnings << *event;
        seen << *event;
    }
    if (m_pending.warnings.size() > m_options.maxWarnings)
        m_pending.warnings = m_pending.warnings.mid(m_pending.warnings.size() - m_options.maxWarnings);
    observe({}, {}, seen);
    scheduleFlush();
}

void ClusterSession::onNodeDeltas(const kube::DeltaBatch &batch)
{
    QList<kube::NodeView> seen;
    for (const kube::Delta &d : batch.deltas) {
        if (const auto *node = std::get_if<kube::NodeView>(&d.object);
            node && d.type != kube::Delta::Type::Deleted)
            seen << *node;
    }
    observe({}, seen, {});
    scheduleFlush();
}

void ClusterSession::onHealth(const kube::InformerHealth &health, const QString &resource)
{
    m_health.insert(resource, health);
    // The pods informer speaks for the connection; another informer only when it is in trouble.
    SessionHealth summary =
        SessionHealth::fromInformer(m_health.value(QStringLiteral("pods")), QStringLiteral("pods"));
    if (summary.kind == SessionHealth::Kind::Connected) {
        for (auto it = m_health.cbegin(); it != m_health.cend(); ++it) {
            const SessionHealth other = SessionHealth::fromInformer(*it, it.key());
            if (other.kind == SessionHealth::Kind::CredentialsExpired ||
                other.kind == SessionHealth::Kind::Forbidden) {
                summary = other;
                break;
            }
        }
    }
    summary.objects = m_pods ? int(m_pods->store().size()) : 0;
    Q_EMIT healthChanged(summary);
    m_lastHealth = summary;
}

PodUsageMap ClusterSession::parsePodMetrics(const json &list)
{
    PodUsageMap out;
    if (!list.is_object() || !list.contains("items") || !list["items"].is_array())
        return out;
    for (const json &item : list["items"]) {
        if (!item.is_object() || !item.contains("metadata") || !item["metadata"].is_object())
            continue;
        const json &meta = item["metadata"];
        const QString key = QString::fromStdString(jsonValue(meta, "namespace", std::string())) + u'/' +
                            QString::fromStdString(jsonValue(meta, "name", std::string()));
        PodUsageSample s;
        if (item.contains("containers") && item["containers"].is_array()) {
            for (const json &c : item["containers"]) {
                if (!c.is_object() || !c.contains("usage") || !c["usage"].is_object())
                    continue;
                const int64_t cpu =
                    kube::cpuMilli(QString::fromStdString(jsonValue(c["usage"], "cpu", std::string())));
                const int64_t mem = kube::quantityBytes(
                    QString::fromStdString(jsonValue(c["usage"], "memory", std::string())));
                if (cpu >= 0)
                    s.cpuMilli = std::max<int64_t>(s.cpuMilli, 0) + cpu;
                if (mem >= 0)
                    s.memoryBytes = std::max<int64_t>(s.memoryBytes, 0) + mem;
            }
        }
        out.insert(key, s);
    }
    return out;
}

void ClusterSession::pollMetrics()
{
    if (!m_client)
        return;
    kube::ResourceType metrics{QStringLiteral("metrics.k8s.io"), QStringLiteral("v1beta1"),
                               QStringLiteral("pods"), true};
    kube::ResourcePath path{metrics, m_options.namespaceName, {}, {}};
    m_client->get(path, this, [this](Result<json> r) {
        // No metrics-server is normal: the columns stay empty.
        if (r)
            Q_EMIT usageUpdated(parsePodMetrics(*r));
    });
}

QString ClusterSession::toYaml(const json &object)
{
    try {
        YAML::Emitter e;
        e.SetIndent(2);
        e.SetSeqFormat(YAML::Block);
        emitJson(e, object);
        return QString::fromUtf8(e.c_str());
    } catch (const std::exception &ex) {
        return QStringLiteral("# could not render YAML: %1").arg(QString::fromUtf8(ex.what()));
    }
}

void ClusterSession::requestPodDetails(const QString &namespaceName, const QString &name, bool previous)
{
    if (!m_client)
        return;
    // Three independent requests; the dialog gets one answer when all have returned.
    auto details = std::make_shared<PodDetails>();
    details->namespaceName = namespaceName;
    details->name = name;
    details->previous = previous;
    if (m_events) {
        for (const kube::EventView &e : viewsOf<kube::EventView>(m_events->store())) {
            if (e.involved.namespaceName == namespaceName && e.involved.name == name)
                details->events << e;
        }
    }
    std::sort(details->events.begin(), details->events.end(),
              [](const kube::EventView &a, const kube::EventView &b) { return a.lastSeen > b.lastSeen; });
    auto remaining = std::make_shared<int>(2);
    auto done = [this, details, remaining] {
        if (--*remaining == 0)
            Q_EMIT podDetailsReady(*details);
    };
    m_client->get(kube::ResourcePath{kube::ResourceType::pods(), namespaceName, name, {}}, this,
                  [details, done](Result<json> r) {
                      if (r) {
                          json obj = *r;
                          if (obj.contains("metadata") && obj["metadata"].is_object())
                              obj["metadata"].erase("managedFields");
                          details->yaml = toYaml(obj);
                      } else {
                          details->yamlError = r.errorMessage();
                      }
                      done();
                  });
    kube::LogOptions lo;
    lo.previous = previous;
    lo.tailLines = 500;
    lo.limitBytes = 512 * 1024;
    m_client->logs(namespaceName, name, lo, this, [details, done](Result<QByteArray> r) {
        if (r)
            details->log = QString::fromUtf8(*r);
        else
            details->logError = r.errorMessage();
        done();
    });
}

void ClusterSession::observe(const QList<kube::PodView> &pods, const QList<kube::NodeView> &nodes,
                             const QList<kube::EventView> &events)
{
    if (!m_diagnoser || (pods.isEmpty() && nodes.isEmpty() && events.isEmpty()))
        return;
    const QDateTime now = QDateTime::currentDateTimeUtc();
    // observe() starts diagnosing what it opens; the reports say so until the answer arrives.
    const QList<Incident> opened = m_diagnoser->observe(pods, nodes, events, now);
    QSet<QString> fresh;
    for (const Incident &incident : opened) {
        if (m_audit)
            (void)m_audit->append(observedEvent(incident, audit::osUserActor()));
        IncidentReport report;
        report.incident = incident;
        report.diagnosing = true;
        report.diagnosingSince = now;
        m_reports.insert(incident.fingerprint, report);
        fresh.insert(incident.fingerprint);
        queueReport(report);
    }
    // Known incidents that grew (count, pods, last seen) are shown as they stand.
    for (const Incident &incident : m_diagnoser->openIncidents(now)) {
        if (fresh.contains(incident.fingerprint))
            continue;
        const auto it = m_reports.find(incident.fingerprint);
        if (it == m_reports.end())
            continue;
        if (it->incident.count == incident.count && it->incident.pods == incident.pods &&
            it->incident.lastSeen == incident.lastSeen)
            continue;
        it->incident = incident;
        queueReport(*it);
    }
}

void ClusterSession::rescan()
{
    if (!m_pods || !m_nodes)
        return;
    observe(viewsOf<kube::PodView>(m_pods->store()), viewsOf<kube::NodeView>(m_nodes->store()), {});
    scheduleFlush();
}

void ClusterSession::queueReport(const IncidentReport &report)
{
    const QString &fp = report.incident.fingerprint;
    if (const auto it = m_pendingIncidentIndex.constFind(fp); it != m_pendingIncidentIndex.cend()) {
        m_pending.incidents[*it] = report;
    } else {
        m_pendingIncidentIndex.insert(fp, m_pending.incidents.size());
        m_pending.incidents << report;
    }
}

void ClusterSession::onModelRequest(const QString &fingerprint, const QString &model)
{
    if (m_cancelPending.remove(fingerprint)) {
        m_router->cancel(fingerprint);
        return;
    }
    const auto it = m_reports.find(fingerprint);
    if (it == m_reports.end() || !it->diagnosing)
        return;
    it->diagnosingWith = model;
    queueReport(*it);
    scheduleFlush();
}

void ClusterSession::onDiagnosed(const Incident &incident, const gather::Evidence &evidence,
                                 const Diagnosis &diagnosis)
{
    m_cancelPending.remove(incident.fingerprint);
    IncidentReport &report = m_reports[incident.fingerprint];
    if (report.incident.fingerprint.isEmpty())
        report.incident = incident;
    report.evidence = evidence;
    report.diagnosing = false;
    report.diagnosingWith.clear();
    report.diagnosed = true;
    report.diagnosis = diagnosis;
    report.diagnosisError.clear();
    if (m_audit)
        (void)m_audit->append(
            diagnosedEvent(incident, evidence, diagnosis, m_router->prompts(), audit::osUserActor()));

    guard::Proposal proposal;
    proposal.diagnosis = diagnosis;
    proposal.target = incidentTarget(incident, evidence);
    guard::GuardContext ctx;
    ctx.policy = m_options.policy; // as written: read-only is the executor's refusal, not a verdict
    ctx.now = QDateTime::currentDateTimeUtc();
    report.verdict = guard::evaluate(proposal, ctx);
    report.judged = true;
    report.targetKey = guard::targetKey(diagnosis.action, proposal.target);
    report.target = proposal.target;
    proposeFor(report);
    queueReport(report);
    scheduleFlush();
}

void ClusterSession::onDiagnosisFailed(const Incident &incident, const QString &error)
{
    m_cancelPending.remove(incident.fingerprint);
    IncidentReport &report = m_reports[incident.fingerprint];
    if (report.incident.fingerprint.isEmpty())
        report.incident = incident;
    report.diagnosing = false;
    report.diagnosingWith.clear();
    // An earlier diagnosis stays shown; the error says why the new one is missing.
    report.diagnosisError = error;
    queueReport(report);
    scheduleFlush();
}

void ClusterSession::rediagnose(const QString &fingerprint)
{
    const auto it = m_reports.find(fingerprint);
    if (!m_diagnoser || it == m_reports.end() || it->diagnosing)
        return;
    it->diagnosing = true;
    it->diagnosingSince = QDateTime::currentDateTimeUtc();
    it->diagnosingWith.clear();
    it->strongRequested = true;
    it->diagnosisError.clear();
    queueReport(*it);
    scheduleFlush();
    m_diagnoser->diagnose(it->incident, reason::RouteMode::Strong);
}

void ClusterSession::cancelDiagnosis(const QString &fingerprint)
{
    const auto it = m_reports.constFind(fingerprint);
    if (!m_router || it == m_reports.cend() || !it->diagnosing)
        return;
    // Still gathering: the model request is cancelled the moment it starts.
    if (!m_router->cancel(fingerprint))
        m_cancelPending.insert(fingerprint);
}

void ClusterSession::refreshDecision(IncidentReport &report) const
{
    report.undoAvailable = false;
    if (report.decisionId.isEmpty() || !m_decisions)
        return;
    Result<act::Decision> d = m_decisions->load(report.decisionId);
    if (!d)
        return;
    using S = act::DecisionState;
    report.decisionState = d->state;
    report.decisionOutcome =
        d->state == S::Rejected ? QStringLiteral("Rejected: %1").arg(d->rejectReason) : outcomeMessage(*d);
    const bool ran = d->state == S::Executed || d->state == S::Verified || d->state == S::VerifyFailed;
    report.undoAvailable = ran && (d->diagnosis.action == ActionKind::ScaleDeployment ||
                                   d->diagnosis.action == ActionKind::CordonNode);
}

namespace {

QString jsonString(const json &object, const char *key)
{
    if (!object.is_object())
        return {};
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? QString::fromStdString(it->get<std::string>()) : QString();
}

const char *kApprovedBy = "vigil.dev/approved-by";
const char *kRejectedBy = "vigil.dev/rejected-by";
const char *kRejectReason = "vigil.dev/reject-reason";

// The field manager that set spec.rejected (kubectl-patch, ...), as the agent names it.
QString rejectedByManager(const json &meta)
{
    const auto fields = meta.find("managedFields");
    if (fields == meta.end() || !fields->is_array())
        return {};
    for (const json &entry : *fields) {
        if (!entry.is_object())
            continue;
        const json f = entry.value("fieldsV1", json::object());
        const auto spec = f.is_object() ? f.find("f:spec") : f.end();
        if (spec != f.end() && spec->is_object() && spec->contains("f:rejected"))
            return jsonString(entry, "manager");
    }
    return {};
}

} // namespace

bool AgentDecisionInfo::awaitingDecision() const
{
    return !approved && !executed && !rejected &&
           (phase.isEmpty() || phase == u"proposed" || phase == u"previewed");
}

Result<AgentDecisionInfo> AgentDecisionInfo::fromJson(const json &object)
{
    if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object())
        return Error(QStringLiteral("AgentDecision: not an object with metadata"));
    const json &meta = object["metadata"];
    AgentDecisionInfo d;
    d.uid = jsonString(meta, "uid");
    d.name = jsonString(meta, "name");
    d.namespaceName = jsonString(meta, "namespace");
    if (d.uid.isEmpty() || d.name.isEmpty())
        return Error(QStringLiteral("AgentDecision %1: metadata.uid or metadata.name missing").arg(d.name));
    d.resourceVersion = jsonString(meta, "resourceVersion");
    d.created = kube::parseKubeTime(jsonString(meta, "creationTimestamp"));
    const json labels = meta.value("labels", json::object());
    d.decisionId = jsonString(labels, "vigil.dev/decision");
    const json annotations = meta.value("annotations", json::object());
    d.approvedBy = jsonString(annotations, kApprovedBy);
    const json spec = object.value("spec", json::object());
    if (!spec.is_object())
        return Error(
            QStringLiteral("AgentDecision %1/%2: spec is not an object").arg(d.namespaceName, d.name));
    // Read as the agent's ledger reads it (agent::LedgerEntry::fromObject), so both agree.
    d.rejectedBy = jsonString(annotations, kRejectedBy).trimmed();
    d.rejected = spec.value("rejected", json(false)) == json(true) || !d.rejectedBy.isEmpty();
    if (d.rejected && d.rejectedBy.isEmpty()) {
        const QString manager = rejectedByManager(meta);
        d.rejectedBy =
            QStringLiteral("field-manager:") + (manager.isEmpty() ? QStringLiteral("unknown") : manager);
    }
    d.rejectReason = jsonString(spec, "rejectReason").trimmed();
    if (d.rejectReason.isEmpty())
        d.rejectReason = jsonString(annotations, kRejectReason).trimmed();
    d.action = jsonString(spec, "action");
    d.target = jsonString(spec, "target");
    d.diagnosis = jsonString(spec, "diagnosis");
    d.reasoning = jsonString(spec, "reasoning");
    d.provider = jsonString(spec, "provider");
    d.model = jsonString(spec, "model");
    if (const auto c = spec.find("confidence"); c != spec.end() && c->is_number())
        d.confidence = c->get<double>();
    d.approved = spec.value("approved", json(false)) == json(true);
    d.executed = spec.value("executed", json(false)) == json(true);
    const json status = object.value("status", json::object());
    d.phase = jsonString(status, "phase");
    const json conditions = status.is_object() ? status.value("conditions", json::array()) : json::array();
    if (conditions.is_array()) {
        for (const json &c : conditions) {
            if (!c.is_object())
                continue;
            d.conditions << Condition{jsonString(c, "type"), jsonString(c, "status"), jsonString(c, "reason"),
                                      jsonString(c, "message"),
                                      kube::parseKubeTime(jsonString(c, "lastTransitionTime"))};
        }
    }
    return d;
}

void ClusterSession::detectAgentDecisions()
{
    if (!m_client || m_agentDecisions)
        return;
    kube::ListOptions options;
    options.limit = 1;
    const kube::ResourceType type = act::AgentDecisionMirror::resourceType();
    m_client->list(
        kube::ResourcePath{type, m_options.namespaceName, {}, {}}, options, this,
        [this, type](Result<kube::ListResult> r) {
            if (!r) {
                const int code = r.error().code;
                Q_EMIT agentDecisionsAvailable(
                    false, code == 404 ? QStringLiteral("The AgentDecision CRD (agentdecisions.ai.vigil.dev) "
                                                        "is not installed in this cluster. Install "
                                                        "resources/crd/agentdecision.yaml to review the "
                                                        "in-cluster agent's decisions here.")
                           : code == 403
                               ? QStringLiteral("RBAC missing (403): your user may not list "
                                                "agentdecisions.ai.vigil.dev here.")
                               : QStringLiteral("AgentDecisions cannot be listed: %1").arg(r.errorMessage()));
                // The CRD may be installed (or access granted) later: look again.
                QTimer::singleShot(30000, this, &ClusterSession::detectAgentDecisions);
                return;
            }
            kube::InformerOptions o;
            o.type = type;
            o.namespaceName = m_options.namespaceName;
            o.batchIntervalMs = m_options.batchIntervalMs;
            // Keep the whole object (conditions, long diagnoses), not only its status.
            o.projector = [](const json &object) -> Result<kube::KubeObject> {
                Result<kube::GenericView> g = kube::projectGeneric(object, 1024 * 1024);
                if (!g)
                    return g.error();
                return kube::KubeObject(std::move(*g));
            };
            m_agentDecisions = new kube::Informer(m_client.get(), std::move(o), this);
            connect(m_agentDecisions, &kube::Informer::deltas, this, &ClusterSession::onAgentDecisionDeltas);
            m_agentDecisions->start();
            Q_EMIT agentDecisionsAvailable(true, QString());
        });
}

void ClusterSession::onAgentDecisionDeltas(const kube::DeltaBatch &batch)
{
    AgentDecisionBatch out;
    out.resynced = batch.resynced;
    auto add = [&out](const kube::GenericView &g) {
        const json object = json::parse(g.json.constBegin(), g.json.constEnd(), nullptr, false);
        if (Result<AgentDecisionInfo> info = AgentDecisionInfo::fromJson(object))
            out.upserted << *info;
    };
    if (batch.resynced) {
        for (const kube::KubeObject &o : m_agentDecisions->store().objects()) {
            if (const auto *g = std::get_if<kube::GenericView>(&o))
                add(*g);
        }
    } else {
        for (const kube::Delta &d : batch.deltas) {
            const auto *g = std::get_if<kube::GenericView>(&d.object);
            if (!g)
                continue;
            if (d.type == kube::Delta::Type::Deleted)
                out.deletedUids << g->uid;
            else
                add(*g);
        }
    }
    Q_EMIT agentDecisionsChanged(out);
}

void ClusterSession::patchAgentDecision(const QString &namespaceName, const QString &name, const json &patch,
                                        const QString &verb)
{
    if (!m_client) {
        Q_EMIT agentDecisionActed(namespaceName, name, false, QStringLiteral("Not connected."));
        return;
    }
    kube::WriteOptions options;
    options.fieldManager = QStringLiteral("vigil-desktop");
    m_client->patch(kube::ResourcePath{act::AgentDecisionMirror::resourceType(), namespaceName, name, {}},
                    kube::PatchType::Merge, QByteArray::fromStdString(patch.dump()), options, this,
                    [this, namespaceName, name, verb](Result<json> r) {
                        Q_EMIT agentDecisionActed(
                            namespaceName, name, r.ok(),
                            r ? QStringLiteral("%1 %2/%3.").arg(verb, namespaceName, name)
                              : QStringLiteral("Could not record that %1/%2 is %3: %4")
                                    .arg(namespaceName, name, verb.toLower(), r.errorMessage()));
                    });
}

void ClusterSession::approveAgentDecision(const QString &namespaceName, const QString &name)
{
    const std::string who = approver().actor().toStdString() + " via desktop";
    patchAgentDecision(
        namespaceName, name,
        {{"metadata", {{"annotations", {{kApprovedBy, who}}}}}, {"spec", {{"approved", true}}}},
        QStringLiteral("Approved"));
}

void ClusterSession::rejectAgentDecision(const QString &namespaceName, const QString &name,
                                         const QString &reason)
{
    // spec.rejected is what the agent and kubectl read; the annotation says who, as a field manager cannot.
    const std::string who = approver().actor().toStdString() + " via desktop";
    patchAgentDecision(
        namespaceName, name,
        {{"metadata", {{"annotations", {{kRejectedBy, who}}}}},
         {"spec",
          {{"approved", false}, {"rejected", true}, {"rejectReason", reason.left(1024).toStdString()}}}},
        QStringLiteral("Rejected"));
}

} // namespace vigil::pipeline
