#include "core/agent/agent.h"

#include "core/util/jsondepth.h"

#include "core/act/agentdecisionmirror.h"
#include "core/act/datapaths.h"
#include "core/act/decision.h"
#include "core/act/decisionstore.h"
#include "core/act/executor.h"
#include "core/agent/decisionledger.h"
#include "core/agent/structuredlog.h"
#include "core/audit/auditlog.h"
#include "core/audit/retention.h"
#include "core/gather/fetcher.h"
#include "core/guard/guardrails.h"
#include "core/pipeline/incidentaudit.h"
#include "core/pipeline/incidenttarget.h"
#include "core/reason/router.h"

#include <QDateTime>

#include <algorithm>
#include <deque>

namespace vigil::agent {

using json = nlohmann::json;

namespace {

constexpr int kLastWritesMs = 5000; // for the AgentDecision writes after the last action
constexpr int kRetryFirstMs = 1000; // a failed AgentDecision write is tried again after this, doubling
constexpr int kRetryMaxMs = 30000;
constexpr int kDrainRetryMs = 250; // after SIGTERM, failed writes are retried this often until the deadline

std::string s(const QString &text)
{
    return text.toStdString();
}

template<typename View>
QList<View> changed(const kube::DeltaBatch &batch)
{
    QList<View> out;
    for (const kube::Delta &d : batch.deltas) {
        if (d.type == kube::Delta::Type::Deleted)
            continue;
        if (const auto *v = std::get_if<View>(&d.object))
            out.append(*v);
    }
    return out;
}

template<typename View>
QList<View> all(const kube::Informer *informer)
{
    QList<View> out;
    if (!informer)
        return out;
    for (const kube::KubeObject &o : informer->store().objects()) {
        if (const auto *v = std::get_if<View>(&o))
            out.append(*v);
    }
    return out;
}

// Progress order, to move a local copy only forward to what the ledger says.
int rank(act::DecisionState state)
{
    switch (state) {
    case act::DecisionState::Proposed:
        return 0;
    case act::DecisionState::Previewed:
        return 1;
    case act::DecisionState::Approved:
        return 2;
    case act::DecisionState::Rejected:
    case act::DecisionState::Executing:
        return 3;
    case act::DecisionState::Executed:
        return 4;
    case act::DecisionState::Verified:
    case act::DecisionState::VerifyFailed:
    case act::DecisionState::Failed:
        return 5;
    case act::DecisionState::Undone:
        return 6;
    }
    return 0;
}

// The shortest chain of allowed transitions from -> to (excluding from), empty when none.
QList<act::DecisionState> pathBetween(act::DecisionState from, act::DecisionState to)
{
    constexpr int kStates = static_cast<int>(act::DecisionState::Undone) + 1;
    QList<int> previous(kStates, -1);
    std::deque<int> queue{static_cast<int>(from)};
    previous[static_cast<int>(from)] = static_cast<int>(from);
    while (!queue.empty()) {
        const int at = queue.front();
        queue.pop_front();
        if (at == static_cast<int>(to))
            break;
        for (int next = 0; next < kStates; ++next) {
            if (previous[next] < 0 && act::canTransition(static_cast<act::DecisionState>(at),
                                                         static_cast<act::DecisionState>(next))) {
                previous[next] = at;
                queue.push_back(next);
            }
        }
    }
    QList<act::DecisionState> path;
    if (previous[static_cast<int>(to)] < 0 || from == to)
        return path;
    for (int at = static_cast<int>(to); at != static_cast<int>(from); at = previous[at])
        path.prepend(static_cast<act::DecisionState>(at));
    return path;
}

QString outcomeLabel(const act::Decision &d)
{
    switch (d.state) {
    case act::DecisionState::Executed:
        return QStringLiteral("executed");
    case act::DecisionState::Verified:
        return QStringLiteral("verified");
    case act::DecisionState::VerifyFailed:
        return QStringLiteral("verify-failed");
    case act::DecisionState::Failed:
        return d.outcome.is_object() && jsonValue(d.outcome, "status", std::string()) == "blocked"
                   ? QStringLiteral("blocked")
                   : QStringLiteral("failed");
    default:
        return act::stateName(d.state);
    }
}

QString outcomeMessage(const act::Decision &d)
{
    if (d.outcome.is_object() && d.outcome.contains("message") && d.outcome["message"].is_string())
        return QString::fromStdString(d.outcome["message"].get<std::string>());
    return QString();
}

// An audit row about one decision: its id, namespace, target and action.
audit::AuditEvent decisionEvent(const act::Decision &d, const QString &kind, const QString &actor,
                                const QString &outcome, json payload)
{
    audit::AuditEvent e;
    e.decisionId = d.id;
    e.kind = kind;
    e.actor = actor;
    e.namespaceName = d.target.namespaceName;
    e.target = d.targetKey();
    e.action = actionName(d.diagnosis.action);
    e.outcome = outcome;
    e.payload = std::move(payload);
    return e;
}

// Whether the local decision and its AgentDecision agree: phase and the annotation's state.
bool inStep(const LedgerEntry &entry, const act::Decision &local)
{
    return entry.phase == act::stateName(local.state) && entry.decision &&
           entry.decision->state == local.state;
}

json decisionFields(const act::Decision &d)
{
    return {{"decision", s(d.id)},
            {"incident", s(d.incidentFingerprint)},
            {"action", s(actionName(d.diagnosis.action))},
            {"target", s(d.targetKey())},
            {"state", s(act::stateName(d.state))}};
}

} // namespace

Agent::Agent(kube::Connection connection, AgentOptions options, reason::Router *router, StructuredLog *log,
             QObject *parent)
    : QObject(parent)
    , m_connection(std::move(connection))
    , m_options(std::move(options))
    , m_router(router)
    , m_log(log)
{
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &Agent::retryUnsynced);
    m_graceTimer.setSingleShot(true);
    connect(&m_graceTimer, &QTimer::timeout, this, [this] {
        m_log->warn(QStringLiteral("shutdown grace period over with actions still running"),
                    {{"graceMs", m_options.shutdownGraceMs},
                     {"inFlight", m_inFlight.size()},
                     {"verifying", m_verifying.size()}});
        interruptInFlight();
    });
}

Agent::~Agent() = default;

Result<void> Agent::open()
{
    const QString dir = act::dataDirectory(m_options.dataDir);
    Result<std::unique_ptr<act::DecisionStore>> store = act::DecisionStore::open(act::decisionsPath(dir));
    if (!store)
        return store.error();
    Result<std::unique_ptr<audit::AuditLog>> log = audit::AuditLog::open(act::auditPath(dir));
    if (!log)
        return log.error();
    m_store = std::move(*store);
    m_audit = std::move(*log);
    // The policy's audit.retentionDays, now and daily; a failed pass is logged, never fatal.
    auto *retention = new audit::RetentionSchedule(m_audit.get(), m_options.policy.auditRetentionDays,
                                                   QStringLiteral("agent"), this);
    connect(retention, &audit::RetentionSchedule::applied, this, [this](qint64 dropped) {
        m_log->info(QStringLiteral("audit retention dropped old rows"), {{"rows", dropped}});
    });
    connect(retention, &audit::RetentionSchedule::failed, this, [this](const QString &why) {
        m_log->warn(QStringLiteral("audit retention not applied"), {{"error", why.toStdString()}});
    });
    (void)retention->start(); // failed() reports it

    m_client = new kube::RestClient(m_connection, m_options.client, this);
    // Renewals must never wait behind other requests in a client-side rate limiter.
    kube::RestClientOptions election;
    election.qps = 0;
    election.maxRetries = 0;
    election.timeoutMs = m_options.election.renewDeadlineMs;
    m_electionClient = new kube::RestClient(m_connection, election, this);
    m_runner = new act::ActionRunner(m_client, m_options.alerts, this);
    m_executor = new act::Executor(m_store.get(), m_audit.get(), m_runner, m_options.policy, this);
    m_ledger = new DecisionLedger(m_client, m_executor, m_options.election.leaseName,
                                  m_options.election.identity, m_options.namespaceName, this);
    m_elector = new LeaderElector(m_electionClient, m_options.election, this);
    m_fetcher = new gather::GatherFetcher(m_client, gather::FetchOptions{}, this);

    connect(m_elector, &LeaderElector::startedLeading, this, &Agent::onStartedLeading);
    connect(m_elector, &LeaderElector::stoppedLeading, this, &Agent::onStoppedLeading);
    connect(m_elector, &LeaderElector::leaderObserved, this, [this](const QString &holder) {
        m_log->info(QStringLiteral("lease holder observed"),
                    {{"holder", s(holder)},
                     {"lease", s(m_options.election.leaseNamespace + u'/' + m_options.election.leaseName)}});
    });
    connect(m_elector, &LeaderElector::attemptFailed, this, [this](const QString &message) {
        m_log->debug(QStringLiteral("lease attempt failed"), {{"error", s(message)}});
    });
    return {};
}

void Agent::start()
{
    m_log->info(QStringLiteral("agent starting"),
                {{"identity", s(identity())},
                 {"server", s(m_connection.server.toString())},
                 {"namespace", m_options.namespaceName.isEmpty() ? "*" : s(m_options.namespaceName)},
                 {"mode", s(guard::policyModeName(m_options.policy.mode))},
                 {"lease", s(m_options.election.leaseNamespace + u'/' + m_options.election.leaseName)},
                 {"dataDir", s(act::dataDirectory(m_options.dataDir))}});
    act::Executor::fetchKubeUser(m_client, this, [this](Result<QString> user) {
        if (user)
            m_kubeUser = *user;
    });
    m_ledger->detect(this, [this](Result<bool> installed) {
        if (installed && !*installed) {
            m_log->error(QStringLiteral("the AgentDecision CRD is not installed; apply "
                                        "resources/crd/agentdecision.yaml (or packaging/kubernetes/)"));
            m_finished = true;
            Q_EMIT finished(1);
            return;
        }
        if (!installed)
            m_log->warn(QStringLiteral("cannot check for the AgentDecision CRD; starting anyway"),
                        {{"error", s(installed.errorMessage())}});
        if (m_options.namespaceName.isEmpty()) {
            startInformers(true);
            m_elector->start();
            return;
        }
        checkNodeAccess([this](bool allowed, const QString &why) {
            if (allowed)
                m_log->info(QStringLiteral("node incidents: only nodes that run pods of this namespace; "
                                           "recorded here, never cordoned (a namespaced agent leaves "
                                           "shared nodes to a person)"),
                            {{"namespace", s(m_options.namespaceName)}});
            else
                m_log->warn(QStringLiteral("node incidents are out of scope for this agent: it cannot "
                                           "list and watch nodes"),
                            {{"namespace", s(m_options.namespaceName)}, {"why", s(why)}});
            startInformers(allowed);
            m_elector->start();
        });
    });
}

void Agent::checkNodeAccess(std::function<void(bool allowed, const QString &why)> callback)
{
    auto left = std::make_shared<int>(2);
    auto denied = std::make_shared<QStringList>();
    for (const char *verb : {"list", "watch"}) {
        const json review = {{"apiVersion", "authorization.k8s.io/v1"},
                             {"kind", "SelfSubjectAccessReview"},
                             {"spec", {{"resourceAttributes", {{"resource", "nodes"}, {"verb", verb}}}}}};
        kube::Request request;
        request.verb = "POST";
        request.path = QStringLiteral("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews");
        request.contentType = "application/json";
        request.body = QByteArray::fromStdString(review.dump());
        m_client->send(request, this, [verb, left, denied, callback](Result<kube::Response> r) {
            const QString what = QLatin1String(verb) + QStringLiteral(" nodes");
            if (!r) {
                denied->append(what + QStringLiteral(" (cannot ask: ") + r.errorMessage() + u')');
            } else {
                const json doc = json::parse(r->body.constBegin(), r->body.constEnd(), nullptr, false);
                const bool allowed = doc.is_object() && doc.contains("status") && doc["status"].is_object() &&
                                     jsonValue(doc["status"], "allowed", false) == true;
                if (!allowed)
                    denied->append(what + QStringLiteral(" denied by RBAC"));
            }
            if (--*left == 0)
                callback(denied->isEmpty(), denied->join(QStringLiteral(", ")));
        });
    }
}

QList<kube::NodeView> Agent::nodesInScope(const QList<kube::NodeView> &nodes) const
{
    if (m_options.namespaceName.isEmpty() || nodes.isEmpty())
        return nodes;
    QSet<QString> used;
    for (const kube::PodView &p : all<kube::PodView>(m_pods)) {
        if (!p.nodeName.isEmpty())
            used.insert(p.nodeName);
    }
    QList<kube::NodeView> out;
    for (const kube::NodeView &n : nodes) {
        if (used.contains(n.name))
            out.append(n);
    }
    return out;
}

void Agent::startInformers(bool watchNodes)
{
    auto make = [this](const kube::ResourceType &type, const QString &ns, const QString &fieldSelector) {
        kube::InformerOptions o;
        o.type = type;
        o.namespaceName = ns;
        o.fieldSelector = fieldSelector;
        return new kube::Informer(m_client, o, this);
    };
    m_pods = make(kube::ResourceType::pods(), m_options.namespaceName, QString());
    m_events = make(kube::ResourceType::events(), m_options.namespaceName, QStringLiteral("type=Warning"));
    if (watchNodes)
        m_nodes = make(kube::ResourceType::nodes(), QString(), QString());
    struct Watched {
        kube::Informer *informer;
        QString resource;
    };
    QList<Watched> watched{{m_pods, QStringLiteral("pods")},
                           {m_events, QStringLiteral("events")},
                           {m_ledger->informer(), QStringLiteral("agentdecisions")}};
    if (m_nodes)
        watched.append({m_nodes, QStringLiteral("nodes")});
    for (const Watched &w : watched) {
        m_health.insert(w.resource, w.informer->health());
        const QString resource = w.resource;
        connect(w.informer, &kube::Informer::healthChanged, this,
                [this, resource](const kube::InformerHealth &h) { onInformerHealth(h, resource); });
    }
    connect(m_pods, &kube::Informer::deltas, this, &Agent::onPodDeltas);
    connect(m_events, &kube::Informer::deltas, this, &Agent::onEventDeltas);
    if (m_nodes)
        connect(m_nodes, &kube::Informer::deltas, this, &Agent::onNodeDeltas);
    connect(m_ledger->informer(), &kube::Informer::deltas, this, &Agent::onLedgerDeltas);
    for (const Watched &w : watched)
        w.informer->start();
}

void Agent::onInformerHealth(const kube::InformerHealth &health, const QString &resource)
{
    const kube::InformerHealth before = m_health.value(resource);
    m_health.insert(resource, health);
    if (health.state == kube::InformerHealth::State::BackingOff &&
        before.state != kube::InformerHealth::State::BackingOff) {
        m_metrics.count(m_metrics.watchReconnects, resource);
        m_log->warn(
            QStringLiteral("watch failed; reconnecting"),
            {{"resource", s(resource)}, {"failures", health.failures}, {"error", s(health.lastError)}});
    }
    if (health.synced && !before.synced) {
        m_log->info(QStringLiteral("informer synced"), {{"resource", s(resource)}});
        if (ready())
            m_log->info(QStringLiteral("ready"));
    }
    if (resource == u"agentdecisions" && health.synced && m_term && !m_adopting && !m_acting)
        adoptLedger();
}

bool Agent::ready() const
{
    return notReadyReason().isEmpty();
}

QString Agent::notReadyReason() const
{
    if (m_draining)
        return QStringLiteral("shutting down");
    if (m_health.isEmpty())
        return QStringLiteral("informers not started");
    QStringList waiting;
    for (auto it = m_health.cbegin(); it != m_health.cend(); ++it) {
        if (!it->synced)
            waiting << it.key();
    }
    waiting.sort();
    return waiting.isEmpty() ? QString()
                             : QStringLiteral("informers not synced: ") + waiting.join(QStringLiteral(", "));
}

bool Agent::isLeader() const
{
    return m_elector && m_elector->isLeader();
}

bool Agent::canAct() const
{
    return m_acting && !m_draining && isLeader();
}

AgentMetrics Agent::metrics() const
{
    AgentMetrics m = m_metrics;
    m.leader = isLeader();
    m.ready = ready();
    if (m_router) {
        const reason::RouterStats &stats = m_router->stats();
        m.llmCalls = stats.llmCalls;
        m.cacheHits = stats.cacheHits;
        m.providerErrors = stats.fallbacks;
    }
    return m;
}

// --- leadership -------------------------------------------------------------

void Agent::onStartedLeading()
{
    m_metrics.leaderTransitions += 1;
    m_log->info(QStringLiteral("started leading"),
                {{"identity", s(identity())},
                 {"lease", s(m_options.election.leaseNamespace + u'/' + m_options.election.leaseName)}});
    if (m_draining)
        return;
    m_term = new QObject(this);
    m_diagnoser = new pipeline::Diagnoser(m_fetcher, m_router, m_options.diagnoser, m_term);
    connect(m_diagnoser, &pipeline::Diagnoser::diagnosed, m_term,
            [this](const pipeline::Incident &i, const gather::Evidence &e, const Diagnosis &d) {
                onDiagnosed(i, e, d);
            });
    connect(m_diagnoser, &pipeline::Diagnoser::failed, m_term,
            [this](const pipeline::Incident &i, const QString &error) {
                m_log->warn(QStringLiteral("incident not diagnosed"),
                            {{"incident", s(i.fingerprint)}, {"error", s(error)}});
            });
    if (m_ledger->informer()->health().synced)
        adoptLedger();
}

void Agent::onStoppedLeading(const QString &reason)
{
    const bool wasActing = m_acting || m_adopting;
    m_acting = false;
    m_adopting = false;
    m_claiming.clear();
    m_diagnoser = nullptr;
    delete m_term.data(); // drops the diagnoser and every callback that would act for this term
    if (m_draining)
        m_log->info(QStringLiteral("stopped leading"), {{"reason", s(reason)}});
    else
        m_log->warn(QStringLiteral("stopped leading: acting stops now"),
                    {{"reason", s(reason)}, {"wasActing", wasActing}, {"inFlight", m_inFlight.size()}});
}

void Agent::adoptLedger()
{
    if (!m_term || m_draining)
        return;
    // An action this replica started in an earlier term is still running: reconcile after it answers.
    if (!m_inFlight.isEmpty()) {
        QTimer::singleShot(500, m_term, [this] { adoptLedger(); });
        return;
    }
    m_adopting = true;
    const QList<LedgerEntry> entries = m_ledger->entries();
    for (const LedgerEntry &e : entries)
        syncFromLedger(e);
    m_executor->reconcile(m_term, [this, count = entries.size()](Result<QList<act::Decision>> settled) {
        if (!settled) {
            m_log->error(QStringLiteral("reconciling interrupted decisions failed"),
                         {{"error", s(settled.errorMessage())}});
        } else {
            for (const act::Decision &d : *settled) {
                m_log->info(QStringLiteral("reconciled a decision left executing"), [&] {
                    json f = decisionFields(d);
                    f["outcome"] = s(outcomeMessage(d));
                    return f;
                }());
                countOutcome(d);
                record(d);
            }
        }
        m_log->info(QStringLiteral("ledger adopted"), {{"agentDecisions", count}});
        beginActing();
    });
}

void Agent::syncFromLedger(const LedgerEntry &entry)
{
    if (!entry.decision)
        return;
    act::Decision remote = *entry.decision;
    // A claim without an outcome: the claimant may have acted. Never run it again; reconcile it.
    if (!entry.claimedBy.isEmpty() && rank(remote.state) < rank(act::DecisionState::Executing) &&
        remote.state != act::DecisionState::Rejected)
        remote.state = act::DecisionState::Executing;
    Result<act::Decision> local = m_store->load(remote.id);
    if (!local) {
        if (Result<void> r = m_store->insert(remote); !r) {
            m_log->error(QStringLiteral("cannot adopt a decision"),
                         {{"decision", s(remote.id)}, {"error", s(r.errorMessage())}});
            return;
        }
        appendAudit(decisionEvent(remote, QStringLiteral("adopted"), QStringLiteral("agent:") + identity(),
                                  act::stateName(remote.state),
                                  {{"decision", remote.toJson()},
                                   {"from", s(entry.namespaceName + u'/' + entry.name)},
                                   {"claimedBy", s(entry.claimedBy)}}));
        m_log->info(QStringLiteral("adopted a decision from the ledger"), [&] {
            json f = decisionFields(remote);
            f["claimedBy"] = s(entry.claimedBy);
            return f;
        }());
        return;
    }
    if (rank(remote.state) <= rank(local->state) || m_inFlight.contains(remote.id))
        return;
    act::DecisionState at = local->state;
    for (act::DecisionState step : pathBetween(at, remote.state)) {
        act::Decision next = remote;
        next.state = step;
        if (Result<void> r = m_store->transition(next, at); !r) {
            m_log->warn(QStringLiteral("cannot bring a local decision up to the ledger"),
                        {{"decision", s(remote.id)}, {"error", s(r.errorMessage())}});
            return;
        }
        // Every state change is audited, also one learnt from the ledger: otherwise the audit walk
        // has a gap (approved, then a row moving from executing).
        appendAudit(decisionEvent(remote, QStringLiteral("synced"), QStringLiteral("agent:") + identity(),
                                  act::stateName(step),
                                  {{"from", s(act::stateName(at))},
                                   {"to", s(act::stateName(step))},
                                   {"ledger", s(entry.namespaceName + u'/' + entry.name)},
                                   {"claimedBy", s(entry.claimedBy)}}));
        at = step;
    }
}

void Agent::beginActing()
{
    if (!m_term || m_draining || !isLeader())
        return;
    m_adopting = false;
    m_acting = true;
    m_log->info(QStringLiteral("acting as leader"),
                {{"mode", s(guard::policyModeName(m_options.policy.mode))}});
    observe(all<kube::PodView>(m_pods), nodesInScope(all<kube::NodeView>(m_nodes)),
            all<kube::EventView>(m_events));
    for (const LedgerEntry &e : m_ledger->entries())
        considerEntry(e);
    resync(QStringLiteral("took the lease"));
    if (m_options.resyncIntervalMs > 0) {
        auto *resyncer = new QTimer(m_term);
        resyncer->setInterval(m_options.resyncIntervalMs);
        connect(resyncer, &QTimer::timeout, this, [this] {
            if (canAct())
                resync(QStringLiteral("periodic"));
        });
        resyncer->start();
    }
    if (m_options.decisionTtlMs > 0) {
        auto *sweeper = new QTimer(m_term);
        sweeper->setInterval(
            static_cast<int>(std::clamp<qint64>(m_options.decisionTtlMs / 4, 1000, 10 * 60 * 1000)));
        connect(sweeper, &QTimer::timeout, this, &Agent::sweepExpired);
        sweeper->start();
        sweepExpired();
    }
}

void Agent::sweepExpired()
{
    if (!canAct())
        return;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    for (const LedgerEntry &e : m_ledger->entries()) {
        if (!expired(e, now, m_options.decisionTtlMs) || m_deleting.contains(e.decisionId) ||
            m_inFlight.contains(e.decisionId) || m_claiming.contains(e.decisionId))
            continue;
        m_deleting.insert(e.decisionId);
        m_ledger->remove(e, m_term, [this, e, now](Result<void> r) {
            m_deleting.remove(e.decisionId);
            if (!r) {
                // 409: it changed since (an approval, a write): the next sweep looks again.
                if (r.error().code != 404)
                    m_log->warn(QStringLiteral("cannot delete an expired AgentDecision"),
                                {{"decision", s(e.decisionId)}, {"error", s(r.errorMessage())}});
                return;
            }
            const qint64 age = now - finishedAtMs(e).value_or(now);
            audit::AuditEvent a;
            a.decisionId = e.decisionId;
            a.kind = QStringLiteral("expired");
            a.actor = QStringLiteral("agent:") + identity();
            a.namespaceName = e.namespaceName;
            a.target = e.decision ? e.decision->targetKey() : QString();
            a.action = e.decision ? actionName(e.decision->diagnosis.action) : QString();
            a.outcome = QStringLiteral("deleted");
            a.payload = {{"agentDecision", s(e.namespaceName + u'/' + e.name)},
                         {"phase", s(e.phase)},
                         {"finishedAgoMs", age},
                         {"ttlMs", m_options.decisionTtlMs}};
            (void)m_audit->append(std::move(a));
            m_log->info(QStringLiteral("deleted an expired AgentDecision"),
                        {{"decision", s(e.decisionId)},
                         {"object", s(e.namespaceName + u'/' + e.name)},
                         {"phase", s(e.phase)},
                         {"finishedAgoMs", age}});
        });
    }
}

// --- watch -> diagnose -> propose -------------------------------------------

void Agent::onPodDeltas(const kube::DeltaBatch &batch)
{
    const QList<kube::PodView> pods = changed<kube::PodView>(batch);
    QList<kube::NodeView> nodes;
    // A namespaced agent sees nodes through its pods: a pod that lands on a bad node brings the node along.
    if (!m_options.namespaceName.isEmpty() && m_nodes) {
        QSet<QString> names;
        for (const kube::PodView &p : pods) {
            if (!p.nodeName.isEmpty())
                names.insert(p.nodeName);
        }
        for (const kube::NodeView &n : all<kube::NodeView>(m_nodes)) {
            if (names.contains(n.name))
                nodes.append(n);
        }
    }
    observe(pods, nodes, {});
}

void Agent::onNodeDeltas(const kube::DeltaBatch &batch)
{
    observe({}, nodesInScope(changed<kube::NodeView>(batch)), {});
}

void Agent::onEventDeltas(const kube::DeltaBatch &batch)
{
    observe({}, {}, changed<kube::EventView>(batch));
}

void Agent::observe(const QList<kube::PodView> &pods, const QList<kube::NodeView> &nodes,
                    const QList<kube::EventView> &events)
{
    if (!canAct() || !m_diagnoser || (pods.isEmpty() && nodes.isEmpty() && events.isEmpty()))
        return;
    const QList<pipeline::Incident> opened =
        m_diagnoser->observe(pods, nodes, events, QDateTime::currentDateTimeUtc());
    for (const pipeline::Incident &i : opened) {
        m_metrics.incidents += 1;
        (void)m_audit->append(pipeline::observedEvent(i, QStringLiteral("agent:") + identity()));
        m_log->info(QStringLiteral("incident opened"),
                    {{"incident", s(i.fingerprint)},
                     {"reason", s(i.reason)},
                     {"namespace", s(i.namespaceName)},
                     {"workload", s(i.workload.kind + u'/' + i.workload.name)},
                     {"count", i.count}});
    }
}

bool Agent::recentlyDecided(const QString &fingerprint) const
{
    Result<QList<act::Decision>> decisions = m_store->list();
    if (!decisions)
        return false;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    for (const act::Decision &d : *decisions) {
        if (d.incidentFingerprint != fingerprint)
            continue;
        if (!act::isTerminal(d.state) || now - d.createdMs < m_options.repeatWindowMs)
            return true;
    }
    return false;
}

void Agent::onDiagnosed(const pipeline::Incident &incident, const gather::Evidence &evidence,
                        const Diagnosis &diagnosis)
{
    if (!canAct())
        return;
    if (diagnosis.source.kind != DiagnosisSource::Cache) {
        m_metrics.promptTokens += diagnosis.promptTokens;
        m_metrics.completionTokens += diagnosis.completionTokens;
        m_metrics.costUsd += diagnosis.costUsd;
    }
    m_log->info(QStringLiteral("diagnosed"), {{"incident", s(incident.fingerprint)},
                                              {"category", s(diagnosis.category)},
                                              {"action", s(actionName(diagnosis.action))},
                                              {"confidence", diagnosis.confidence},
                                              {"source", s(diagnosis.source.describe())},
                                              {"fallback", s(diagnosis.fallbackReason)}});
    const bool nodeIncident = incident.latest.object.kind == u"Node";
    if (!m_options.namespaceName.isEmpty() && incident.namespaceName != m_options.namespaceName &&
        !nodeIncident)
        return;
    (void)m_audit->append(pipeline::diagnosedEvent(incident, evidence, diagnosis, m_router->prompts(),
                                                   QStringLiteral("agent:") + identity()));
    if (diagnosis.action == ActionKind::None)
        return;
    if (recentlyDecided(incident.fingerprint)) {
        m_log->debug(QStringLiteral("incident already has a decision"),
                     {{"incident", s(incident.fingerprint)}});
        return;
    }
    guard::IncidentTarget target = pipeline::incidentTarget(incident, evidence);
    // A namespaced agent records a node's incident in its own namespace (where its RBAC reaches).
    if (nodeIncident && !m_options.namespaceName.isEmpty())
        target.namespaceName = m_options.namespaceName;
    QList<guard::ExecutionRecord> history;
    if (Result<QList<act::Decision>> decisions = m_store->list()) {
        for (const act::Decision &d : *decisions) {
            if (d.facts.is_object() && d.facts.contains("executedAtMs") &&
                d.facts["executedAtMs"].is_number())
                history.append(
                    {QDateTime::fromMSecsSinceEpoch(d.facts["executedAtMs"].get<qint64>(), Qt::UTC),
                     d.diagnosis.action, d.targetKey()});
        }
    }
    guard::Verdict verdict = guard::evaluate(guard::Proposal{diagnosis, QString(), target},
                                             {m_options.policy, QDateTime::currentDateTimeUtc(), history});
    if (diagnosis.action == ActionKind::CordonNode && !m_options.namespaceName.isEmpty()) {
        verdict.decision = guard::Verdict::Blocked;
        verdict.reasons.append(
            {QStringLiteral("scope.node"),
             QStringLiteral("this agent is restricted to namespace %1 and never cordons a node: nodes are "
                            "shared with other namespaces (run a cluster-wide agent, or a person cordons it)")
                 .arg(m_options.namespaceName),
             true});
    }
    m_metrics.count(m_metrics.decisions, guard::decisionName(verdict.decision));
    act::Decision proposal = act::newDecision(incident.fingerprint, target, diagnosis, verdict);
    proposal.observation = pipeline::incidentObservation(incident);
    Result<act::Decision> proposed =
        m_executor->propose(proposal, act::reasoningContext(diagnosis, evidence, m_router->prompts()));
    if (!proposed) {
        m_log->error(QStringLiteral("cannot record a decision"),
                     {{"incident", s(incident.fingerprint)}, {"error", s(proposed.errorMessage())}});
        return;
    }
    json fields = decisionFields(*proposed);
    fields["verdict"] = s(guard::decisionName(verdict.decision));
    fields["reasons"] = s(verdict.codes().join(QStringLiteral(",")));
    m_log->info(QStringLiteral("proposed"), fields);
    if (verdict.decision != guard::Verdict::Allowed) {
        record(*proposed);
        return;
    }
    // Auto-within-policy and the guardrails allow it: the policy is the approver.
    act::Approver policy;
    policy.kubeUser = m_kubeUser; // the agent's own account (a service account in a cluster)
    policy.via = QStringLiteral("policy");
    Result<act::Decision> approved = m_executor->approve(proposed->id, policy);
    if (!approved) {
        m_log->error(QStringLiteral("auto-approval refused"),
                     {{"decision", s(proposed->id)}, {"error", s(approved.errorMessage())}});
        record(*proposed);
        return;
    }
    record(*approved);
    claimAndExecute(approved->id);
}

// --- approval -> claim -> execute -> verify ----------------------------------

void Agent::onLedgerDeltas(const kube::DeltaBatch &batch)
{
    if (!canAct())
        return;
    for (const kube::GenericView &v : changed<kube::GenericView>(batch)) {
        const json doc = json::parse(v.json.constBegin(), v.json.constEnd(), nullptr, false);
        if (Result<LedgerEntry> e = LedgerEntry::fromObject(doc))
            considerEntry(*e);
    }
}

void Agent::considerEntry(const LedgerEntry &entry)
{
    if (!canAct() || m_inFlight.contains(entry.decisionId) || m_claiming.contains(entry.decisionId))
        return;
    Result<act::Decision> local = m_store->load(entry.decisionId);
    if (!local) {
        syncFromLedger(entry);
        local = m_store->load(entry.decisionId);
        if (!local)
            return;
    }
    if (!entry.claimedBy.isEmpty()) {
        if (entry.claimedBy != identity() && rank(local->state) < rank(act::DecisionState::Executing))
            syncFromLedger(entry); // another replica claimed it: this one never runs it
        if (entry.approved && !entry.hasCondition(QStringLiteral("ApprovalRefused")))
            refuseApproval(entry, *local, QString());
        return;
    }
    // A rejection wins over an approval, whichever came first, as long as nothing ran.
    if (entry.rejected && handleRejection(entry, *local))
        return;
    if (entry.approved &&
        (local->state == act::DecisionState::Proposed || local->state == act::DecisionState::Previewed)) {
        act::Approver approver;
        approver.kubeUser = QStringLiteral("field-manager:") +
                            (entry.approvedBy.isEmpty() ? QStringLiteral("unknown") : entry.approvedBy);
        approver.via = QStringLiteral("AgentDecision");
        Result<act::Decision> approved = m_executor->approve(entry.decisionId, approver);
        if (!approved) {
            refuseApproval(entry, *local, approved.errorMessage());
            return;
        }
        m_log->info(QStringLiteral("approved through the AgentDecision"),
                    {{"decision", s(entry.decisionId)}, {"by", s(entry.approvedBy)}});
        record(*approved);
        claimAndExecute(entry.decisionId);
        return;
    }
    if (local->state == act::DecisionState::Approved) {
        claimAndExecute(entry.decisionId);
        return;
    }
    if (entry.approved)
        refuseApproval(entry, *local, QString());
}

bool Agent::handleRejection(const LedgerEntry &entry, const act::Decision &local)
{
    using S = act::DecisionState;
    const QString why = entry.rejectReason.isEmpty() ? QStringLiteral("no reason given") : entry.rejectReason;
    act::Approver rejecter;
    rejecter.kubeUser = entry.rejectedBy;
    rejecter.via = QStringLiteral("AgentDecision");
    switch (local.state) {
    case S::Rejected:
        if (entry.approved)
            refuseApproval(entry, local, QString());
        return true;
    case S::Proposed:
    case S::Previewed: {
        Result<act::Decision> rejected = m_executor->reject(local.id, rejecter, why);
        if (!rejected) {
            m_log->error(QStringLiteral("cannot record the rejection"),
                         {{"decision", s(local.id)}, {"error", s(rejected.errorMessage())}});
            return true;
        }
        m_log->info(QStringLiteral("rejected through the AgentDecision"),
                    {{"decision", s(local.id)}, {"by", s(entry.rejectedBy)}, {"reason", s(why)}});
        record(*rejected);
        return true;
    }
    case S::Approved: {
        // Approved, never claimed (the claim re-reads the object and refuses a rejected one). The
        // state machine has no Approved -> Rejected: it ends Failed, with the rejection as outcome.
        if (m_claiming.contains(local.id) || m_inFlight.contains(local.id))
            return true; // the claim answers first; the next delta comes back here
        act::Decision rejected = local;
        rejected.state = S::Failed;
        rejected.rejectReason = why;
        rejected.outcome = {{"status", "rejected"},
                            {"message", s(QStringLiteral("rejected by %1 after approval, before it ran: %2")
                                              .arg(entry.rejectedBy, why))}};
        if (Result<void> r = m_store->transition(rejected, S::Approved); !r) {
            m_log->error(QStringLiteral("cannot record the rejection"),
                         {{"decision", s(local.id)}, {"error", s(r.errorMessage())}});
            return true;
        }
        appendAudit(
            decisionEvent(local, QStringLiteral("rejected"), rejecter.actor(), QStringLiteral("rejected"),
                          {{"reason", s(why)}, {"note", "rejected after approval, before it was claimed"}}));
        m_log->info(QStringLiteral("rejected through the AgentDecision after approval"),
                    {{"decision", s(local.id)}, {"by", s(entry.rejectedBy)}, {"reason", s(why)}});
        record(rejected);
        return true;
    }
    case S::Executing:
    case S::Executed:
    case S::Verified:
    case S::VerifyFailed:
    case S::Failed:
    case S::Undone:
        break;
    }
    if (!entry.hasCondition(QStringLiteral("RejectionRefused")) && !m_refused.contains(u'r' + local.id)) {
        m_refused.insert(u'r' + local.id);
        const DecisionCondition c{
            QStringLiteral("RejectionRefused"), QStringLiteral("True"), QStringLiteral("TooLate"),
            QStringLiteral("rejection by %1 came after the decision was %2; nothing was undone")
                .arg(entry.rejectedBy, act::stateName(local.state))};
        m_log->warn(QStringLiteral("rejection through the AgentDecision came too late"),
                    {{"decision", s(local.id)}, {"state", s(act::stateName(local.state))}});
        writeCondition(local, c);
    }
    return true;
}

void Agent::refuseApproval(const LedgerEntry &entry, const act::Decision &local, const QString &error)
{
    // Our own approvals (the executor's Approved state came from this AgentDecision) are no refusal.
    if (error.isEmpty() && local.state != act::DecisionState::Rejected &&
        local.approver.via == u"AgentDecision")
        return;
    if (m_refused.contains(local.id) || entry.hasCondition(QStringLiteral("ApprovalRefused")))
        return;
    m_refused.insert(local.id);
    const DecisionCondition c = approvalRefused(local, error);
    m_log->warn(QStringLiteral("approval through the AgentDecision refused"),
                {{"decision", s(local.id)}, {"reason", s(c.reason)}, {"message", s(c.message)}});
    writeCondition(local, c);
}

void Agent::writeCondition(const act::Decision &local, const DecisionCondition &condition)
{
    ++m_pendingWrites;
    m_ledger->setCondition(local, condition, this, [this, id = local.id](Result<void> r) {
        --m_pendingWrites;
        if (!r)
            m_log->warn(QStringLiteral("cannot write the AgentDecision's condition"),
                        {{"decision", s(id)}, {"error", s(r.errorMessage())}});
        maybeFinish();
    });
}

void Agent::claimAndExecute(const QString &id)
{
    if (!canAct() || m_claiming.contains(id) || m_inFlight.contains(id))
        return;
    Result<act::Decision> local = m_store->load(id);
    if (!local || local->state != act::DecisionState::Approved)
        return;
    m_claiming.insert(id);
    // The claim carries the preconditions' facts, so a later leader can reconcile without this replica.
    m_runner->preconditions(
        act::actionRequest(*local), m_term, [this, d = *local](Result<act::ActionOutcome> pre) {
            act::Decision executing = d;
            executing.state = act::DecisionState::Executing;
            if (pre)
                executing.facts = pre->facts;
            executing.facts["executedAtMs"] = QDateTime::currentMSecsSinceEpoch();
            m_ledger->claim(executing, m_term, [this, id = d.id](Result<void> claimed) {
                m_claiming.remove(id);
                if (!claimed) {
                    m_log->warn(QStringLiteral("claim refused; not executing"),
                                {{"decision", s(id)}, {"error", s(claimed.errorMessage())}});
                    // 409: the object moved on, and the informer brings the news. Anything else
                    // (a timeout, a 5xx) brings nothing: try again later.
                    if (claimed.error().code != 409)
                        QTimer::singleShot(m_options.election.retryPeriodMs, m_term,
                                           [this, id] { claimAndExecute(id); });
                    return;
                }
                if (!canAct()) {
                    m_log->warn(
                        QStringLiteral("lost the lease right after claiming; the next leader reconciles"),
                        {{"decision", s(id)}});
                    return;
                }
                Result<act::Decision> d = m_store->load(id);
                if (d)
                    execute(*d);
            });
        });
}

void Agent::execute(const act::Decision &claimed)
{
    const QString id = claimed.id;
    m_inFlight.insert(id, QDateTime::currentMSecsSinceEpoch());
    m_log->info(QStringLiteral("executing"), decisionFields(claimed));
    // Context `this`, not the term: an action that started must be recorded even if the lease is lost
    // meanwhile.
    m_executor->execute(id, this, [this, id](Result<act::Decision> done) {
        if (!m_inFlight.remove(id))
            return; // already recorded as interrupted by the shutdown
        if (!done) {
            m_metrics.count(m_metrics.actions, QStringLiteral("failed"));
            m_log->error(QStringLiteral("execution failed"),
                         {{"decision", s(id)}, {"error", s(done.errorMessage())}});
            if (Result<act::Decision> d = m_store->load(id))
                record(*d);
        } else {
            countOutcome(*done);
            json fields = decisionFields(*done);
            fields["outcome"] = s(outcomeMessage(*done));
            m_log->info(QStringLiteral("executed"), fields);
            record(*done);
            if (done->state == act::DecisionState::Executed && !m_draining)
                verify(id);
        }
        maybeFinish();
    });
}

void Agent::verify(const QString &id)
{
    m_verifying.insert(id);
    m_executor->verify(id, m_options.verifyTimeoutMs, this, [this, id](Result<act::Decision> v) {
        if (!m_verifying.remove(id))
            return; // abandoned by the shutdown
        if (!v) {
            m_log->warn(QStringLiteral("verification failed"),
                        {{"decision", s(id)}, {"error", s(v.errorMessage())}});
        } else {
            countOutcome(*v);
            json fields = decisionFields(*v);
            fields["outcome"] = s(outcomeMessage(*v));
            m_log->info(QStringLiteral("verified"), fields);
            record(*v);
        }
        maybeFinish();
    });
}

void Agent::countOutcome(const act::Decision &d)
{
    m_metrics.count(m_metrics.actions, outcomeLabel(d));
}

void Agent::record(const act::Decision &decision)
{
    if (m_finished) {
        // The lease is released: a restart of this agent resyncs it from the local record.
        m_log->warn(QStringLiteral("AgentDecision not written: the agent already stopped"),
                    decisionFields(decision));
        return;
    }
    ++m_pendingWrites;
    ++m_recording[decision.id];
    m_ledger->record(decision, this, [this, id = decision.id](Result<void> r) {
        --m_pendingWrites;
        if (--m_recording[id] <= 0)
            m_recording.remove(id);
        // Writes of one decision answer in order and each carries the whole state: the last answer counts.
        if (r) {
            m_unsynced.remove(id);
            if (m_unsynced.isEmpty())
                m_retryDelayMs = 0;
        } else {
            m_log->warn(QStringLiteral("cannot write the AgentDecision; will retry"),
                        {{"decision", s(id)}, {"error", s(r.errorMessage())}});
            onRecordFailed(id);
        }
        maybeFinish();
    });
}

void Agent::onRecordFailed(const QString &id)
{
    m_unsynced.insert(id);
    if (m_finished)
        return;
    if (m_draining) {
        // Flushing before exit: try again soon, as long as the bounded wait allows; the pending count
        // holds the exit for the retry.
        if (m_drainRetryQueued || QDateTime::currentMSecsSinceEpoch() + kDrainRetryMs >= m_flushDeadlineMs)
            return;
        m_drainRetryQueued = true;
        ++m_pendingWrites;
        QTimer::singleShot(kDrainRetryMs, this, [this] {
            m_drainRetryQueued = false;
            --m_pendingWrites;
            retryUnsynced();
            maybeFinish();
        });
        return;
    }
    if (!m_retryTimer.isActive()) {
        m_retryDelayMs = m_retryDelayMs == 0 ? kRetryFirstMs : std::min(m_retryDelayMs * 2, kRetryMaxMs);
        m_retryTimer.start(m_retryDelayMs);
    }
}

void Agent::retryUnsynced()
{
    // Only the lease holder writes; a replica that lost it leaves them to its next term's resync.
    if (m_finished || m_unsynced.isEmpty() || !isLeader())
        return;
    const QSet<QString> ids = m_unsynced;
    for (const QString &id : ids) {
        if (m_recording.contains(id))
            continue; // a newer write is on its way; its answer decides
        Result<act::Decision> local = m_store->load(id);
        if (!local) {
            m_unsynced.remove(id);
            continue;
        }
        record(*local);
    }
}

bool Agent::inScope(const act::Decision &decision) const
{
    return m_options.namespaceName.isEmpty() ||
           act::AgentDecisionMirror::objectNamespace(decision) == m_options.namespaceName;
}

int Agent::resync(const QString &why)
{
    if (m_finished || !isLeader() || !m_ledger->informer()->health().synced)
        return 0;
    Result<QList<act::Decision>> decisions = m_store->list();
    if (!decisions) {
        m_log->error(QStringLiteral("cannot read the local decisions to resync the AgentDecisions"),
                     {{"error", s(decisions.errorMessage())}});
        return 0;
    }
    QHash<QString, LedgerEntry> entries;
    for (LedgerEntry &e : m_ledger->entries())
        entries.insert(e.decisionId, std::move(e));
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    int missing = 0;
    int stale = 0;
    for (const act::Decision &d : *decisions) {
        const QString &id = d.id;
        if (m_inFlight.contains(id) || m_claiming.contains(id) || m_recording.contains(id) ||
            m_deleting.contains(id))
            continue; // their own writes are coming
        const auto it = entries.constFind(id);
        if (it == entries.cend()) {
            // Not brought back: one out of this agent's namespace, or one untouched here for the TTL —
            // the sweep (of any leader) may have deleted it after it finished, later than this copy.
            const qint64 touched = std::max(d.updatedMs, d.createdMs);
            if (!inScope(d) || (m_options.decisionTtlMs > 0 && now - touched >= m_options.decisionTtlMs)) {
                m_unsynced.remove(id);
                continue;
            }
            ++missing;
        } else {
            if (!m_unsynced.contains(id) && inStep(*it, d))
                continue;
            // The ledger is ahead (another replica moved it): adopting it is syncFromLedger's business.
            if (it->decision && rank(it->decision->state) > rank(d.state))
                continue;
            ++stale;
        }
        record(d);
    }
    if (missing + stale > 0)
        m_log->info(QStringLiteral("resyncing AgentDecisions from the local record"),
                    {{"why", s(why)}, {"missing", missing}, {"stale", stale}});
    return missing + stale;
}

void Agent::appendAudit(audit::AuditEvent event)
{
    const QString id = event.decisionId;
    const QString kind = event.kind;
    if (Result<qint64> r = m_audit->append(std::move(event)); !r)
        m_log->error(QStringLiteral("cannot write an audit row"),
                     {{"decision", s(id)}, {"kind", s(kind)}, {"error", s(r.errorMessage())}});
}

// --- shutdown ----------------------------------------------------------------

void Agent::shutdown()
{
    if (m_finished)
        return;
    if (m_draining) {
        m_log->warn(QStringLiteral("second stop signal: not waiting for running actions"));
        interruptInFlight();
        return;
    }
    m_draining = true;
    m_log->info(QStringLiteral("shutting down"),
                {{"inFlight", m_inFlight.size()}, {"graceMs", m_options.shutdownGraceMs}});
    m_acting = false;
    m_adopting = false;
    m_claiming.clear();
    m_diagnoser = nullptr;
    delete m_term.data(); // no new work: no diagnoses, no claims
    m_retryTimer.stop();
    if (!m_inFlight.isEmpty() || !m_verifying.isEmpty())
        m_graceTimer.start(m_options.shutdownGraceMs);
    // Never let an unreachable API server hold the exit.
    const int bound = m_options.shutdownGraceMs + kLastWritesMs;
    m_flushDeadlineMs = QDateTime::currentMSecsSinceEpoch() + bound;
    QTimer::singleShot(bound, this, [this] { finishShutdown(); });
    // Flush: what failed before and whatever the AgentDecisions still lack, while the lease is ours.
    resync(QStringLiteral("shutting down"));
    maybeFinish();
}

void Agent::maybeFinish()
{
    if (m_draining && m_inFlight.isEmpty() && m_verifying.isEmpty() && m_pendingWrites == 0)
        finishShutdown();
}

void Agent::interruptInFlight()
{
    if (m_finished)
        return;
    // A verification still running is left: its decision stays executed, as its AgentDecision says.
    m_verifying.clear();
    const QList<QString> ids = m_inFlight.keys();
    m_inFlight.clear();
    for (const QString &id : ids) {
        Result<act::Decision> d = m_store->load(id);
        if (!d)
            continue;
        // Executing is already durable; say why it has no outcome. The next leader reconciles it.
        appendAudit(decisionEvent(
            *d, QStringLiteral("interrupted"), QStringLiteral("agent:") + identity(),
            QStringLiteral("shutdown"),
            {{"decision", d->toJson()},
             {"note", "the agent stopped while the action was running; the next leader reconciles it"}}));
        m_metrics.count(m_metrics.actions, QStringLiteral("interrupted"));
        m_log->warn(QStringLiteral("action interrupted by shutdown"), decisionFields(*d));
        record(*d);
    }
    m_flushDeadlineMs = std::min(m_flushDeadlineMs, QDateTime::currentMSecsSinceEpoch() + kLastWritesMs);
    QTimer::singleShot(kLastWritesMs, this, [this] { finishShutdown(); });
    maybeFinish();
}

void Agent::finishShutdown()
{
    if (m_finished)
        return;
    m_finished = true;
    m_graceTimer.stop();
    m_retryTimer.stop();
    if (!m_unsynced.isEmpty() || m_pendingWrites > 0)
        m_log->warn(QStringLiteral("stopping with AgentDecision writes not done; the agent's next start "
                                   "resyncs them"),
                    {{"failed", m_unsynced.size()}, {"unanswered", m_pendingWrites}});
    for (kube::Informer *i : {m_pods, m_nodes, m_events}) {
        if (i)
            i->stop();
    }
    if (m_ledger)
        m_ledger->informer()->stop();
    if (!m_elector) {
        Q_EMIT finished(0);
        return;
    }
    const bool led = m_elector->isLeader();
    m_elector->release(this, [this, led](Result<void> r) {
        if (!r)
            m_log->warn(QStringLiteral("could not release the lease; a peer takes over when it expires"),
                        {{"error", s(r.errorMessage())}});
        else if (led)
            m_log->info(QStringLiteral("lease released"));
        m_log->info(QStringLiteral("stopped"));
        Q_EMIT finished(0);
    });
}

} // namespace vigil::agent
