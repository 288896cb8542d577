// Chaos soak: the real agent loop (agent::Agent, wired as `vigilctl agent`
// wires it: ReasoningStack over an OpenAI-shaped model, auto-within-policy so
// actions execute) talks to the real test cluster through an in-process TCP
// proxy while faults are injected on a schedule — connection resets and
// closes, refused reconnects, half-open stalls, slow links, API server
// kill -9 + restart, etcd compaction + restart (410 Gone), model timeouts and
// 5xx — and scenarios come and go in its namespace. Afterwards:
//   - every informer's store equals a fresh LIST (UIDs and resourceVersions);
//   - no decision executed twice (one executing row per decision, one claim);
//   - after the agent's shutdown every local decision has its AgentDecision, in
//     the same phase (failed writes retried, the rest flushed before exit);
//   - no audit row missing (each decision's rows walk the state machine from
//     proposed to the state its store holds; the hash chain verifies);
//   - memory flat (RSS at the end within a stated bound of RSS after warm-up).
// Parameters (environment): VIGIL_SOAK_OWN_CLUSTER (set: also API server and etcd
// restarts), VIGIL_SOAK_FAULTS (40), VIGIL_SOAK_SECONDS (45),
// VIGIL_SOAK_SEED (1), VIGIL_SOAK_CHURN_MS (8000: one scenario applied or deleted
// this often), VIGIL_SOAK_REPORT (a file for the figures, optional).
// `make soak` runs the long version (see the Makefile).

#include "agentprocess.h"
#include "apiservercontrol.h"
#include "fakemodel.h"
#include "tcpproxy.h"
#include "workloads.h"

#include "core/act/datapaths.h"
#include "core/act/decisionstore.h"
#include "core/agent/agent.h"
#include "core/agent/decisionledger.h"
#include "core/agent/structuredlog.h"
#include "core/reason/llm/reasoningstack.h"
#include "core/reason/llm/secretstore.h"

#include <QElapsedTimer>
#include <QRandomGenerator>
#include <QTemporaryDir>

#include <algorithm>
#include <map>

using namespace vigil;
using namespace vigil::test;
using json = nlohmann::json;

namespace {

enum class Fault { CutReset, CutClose, Refuse, HalfOpen, Slow, ApiRestart, Gone410, LlmTimeout, Llm5xx };

struct FaultKind {
    Fault fault;
    const char *name;
    double weight; ///< share of the schedule
};

const QList<FaultKind> kKinds{
    {Fault::CutReset, "connection reset (RST)", 0.17},
    {Fault::CutClose, "connection closed (FIN)", 0.10},
    {Fault::Refuse, "cut + reconnects refused 2 s", 0.08},
    {Fault::HalfOpen, "half-open stall", 0.10},
    {Fault::Slow, "slow link (300 ms/chunk, 3 s)", 0.10},
    {Fault::ApiRestart, "API server kill -9 + restart", 0.03},
    {Fault::Gone410, "etcd compaction + restart (410)", 0.02},
    {Fault::LlmTimeout, "model timeout", 0.18},
    {Fault::Llm5xx, "model 5xx", 0.22},
};

int envInt(const char *name, int fallback)
{
    bool ok = false;
    const int v = qEnvironmentVariableIntValue(name, &ok);
    return ok && v > 0 ? v : fallback;
}

qint64 rssKb()
{
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').first().toLongLong();
    }
    return -1;
}

QByteArray soakPolicy()
{
    return "mode: auto-within-policy\n"
           "allowedActions: [restart_pod, create_alert]\n"
           "minConfidence:\n  default: 0.1\n  restart_pod: 0.1\n"
           "cooldown:\n  perTarget: 1s\n"
           "maxActionsPerHour: 1000\n"
           "autoApprove: [restart_pod, create_alert]\n";
}

} // namespace

class TestChaosSoakCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void soak();
    void storesEqualAFreshList();
    void noDecisionExecutedTwice();
    void noAuditRowMissing();
    void memoryStaysFlat();
    void cleanupTestCase();

private:
    QList<Fault> schedule(int total, quint32 seed) const;
    void inject(Fault fault);
    void churnScenarios();
    QStringList freshList(const kube::ResourceType &type, const QString &ns, const QString &label,
                          const QString &field);
    QString storesDiff();
    void figure(const QString &key, const json &value) { m_figures[key.toStdString()] = value; }

    AgentClusterFixture m_cluster;
    ApiServerControl m_control;
    QString m_lease;
    QTemporaryDir m_dir;
    std::unique_ptr<FakeModel> m_model;
    std::unique_ptr<TcpProxy> m_proxy;
    std::unique_ptr<llm::ReasoningStack> m_stack;
    llm::MapSecretStore m_secrets{
        QHash<QString, QString>{{QStringLiteral("OPENAI_API_KEY"), QStringLiteral("sk-soak-0000")}}};
    std::unique_ptr<agent::StructuredLog> m_log;
    std::unique_ptr<agent::Agent> m_agent;
    QList<QPointer<kube::Informer>> m_informers;
    std::map<std::string, int> m_injected;
    int m_relists = 0;
    int m_logErrors = 0;
    QStringList m_applied; ///< scenarios currently applied by the churn
    int m_churnStep = 0;
    int m_churns = 0;
    QList<QPointer<QProcess>> m_churnProcesses;
    qint64 m_rssWarm = -1;
    qint64 m_rssEnd = -1;
    qint64 m_rssMax = -1;
    qint64 m_notReadyMs = 0;
    qint64 m_longestNotReadyMs = 0;
    json m_figures = json::object();
};

QList<Fault> TestChaosSoakCluster::schedule(int total, quint32 seed) const
{
    QList<Fault> out;
    // On the cluster ctest shares with every other integration test, restarting the API server or
    // etcd would fail them: those faults run only on a cluster of its own (`make soak`).
    const bool ownCluster = qEnvironmentVariableIsSet("VIGIL_SOAK_OWN_CLUSTER");
    for (const FaultKind &k : kKinds)
        if (ownCluster || (k.fault != Fault::ApiRestart && k.fault != Fault::Gone410))
            for (int i = 0, n = std::max(1, static_cast<int>(total * k.weight + 0.5)); i < n; ++i)
                out.append(k.fault);
    // Round to exactly `total` by trimming or topping up the commonest kind (resets).
    while (out.size() > total)
        out.removeOne(Fault::Llm5xx);
    while (out.size() < total)
        out.append(Fault::CutReset);
    QRandomGenerator random(seed);
    std::shuffle(out.begin(), out.end(), random);
    // Never end on a stall: the last fault is followed only by the checks.
    if (out.last() == Fault::HalfOpen)
        std::swap(out.first(), out.last());
    return out;
}

void TestChaosSoakCluster::initTestCase()
{
    Result<void> ready = m_cluster.setUp("vigil-soak-", {"crashloop"});
    QVERIFY2(ready, qPrintable(ready.errorMessage()));
    Result<void> control = m_control.init(m_cluster.api.client.get());
    QVERIFY2(control, qPrintable(control.errorMessage()));
    // Two more crash loops of our own: more incidents, so more model calls for the model faults to meet.
    for (const QString &name : {QStringLiteral("ledger-sync"), QStringLiteral("quota-worker")}) {
        Result<json> d = m_cluster.api.create({kube::ResourceType::deployments(), m_cluster.ns, {}, {}},
                                              crashLoopingDeployment(m_cluster.ns, name));
        QVERIFY2(d, qPrintable(d.errorMessage()));
    }
    QVERIFY(m_dir.isValid());

    m_model = std::make_unique<FakeModel>(FakeModel::Shape::OpenAi);
    QVERIFY(m_model->listen());
    llm::ProviderSettings settings;
    settings.provider = QStringLiteral("openai");
    settings.baseUrl = m_model->baseUrl();
    settings.smallModel = QStringLiteral("gpt-4o-mini");
    settings.strongModel = QStringLiteral("gpt-4o");
    settings.escalationThreshold = 1.0; // every diagnosis asks the model
    settings.timeoutMs = 2000;
    settings.maxAttempts = 2;
    settings.breaker.failureThreshold = 6;
    settings.breaker.coolDownMs = 3000;
    settings.cacheTtlMs = 0;
    Result<std::unique_ptr<llm::ReasoningStack>> stack =
        llm::ReasoningStack::create(settings, &m_secrets, m_dir.filePath("data/diagnoses.sqlite"));
    QVERIFY2(stack, qPrintable(stack.errorMessage()));
    m_stack = std::move(*stack);

    Result<kube::Connection> direct = testClusterConnection();
    QVERIFY2(direct, qPrintable(direct.errorMessage()));
    m_proxy = std::make_unique<TcpProxy>(direct->server.host(), static_cast<quint16>(direct->server.port()));
    QVERIFY(m_proxy->listen());
    kube::Connection proxied = *direct;
    QUrl server = direct->server;
    server.setPort(m_proxy->port()); // still 127.0.0.1: the certificate is verified as usual
    proxied.server = server;

    Result<guard::Policy> policy = guard::parsePolicy(soakPolicy(), QStringLiteral("soak policy"));
    QVERIFY2(policy, qPrintable(policy.errorMessage()));
    agent::AgentOptions options;
    options.namespaceName = m_cluster.ns;
    options.policy = *policy;
    options.dataDir = m_dir.filePath("data");
    m_lease = ClusterApi::uniqueName("vigil-soak-");
    options.election.leaseName = m_lease;
    options.election.leaseNamespace = m_cluster.ns;
    options.election.identity = QStringLiteral("soak");
    options.client.qps = 20;
    options.client.burst = 40;
    options.client.timeoutMs = 10000;
    options.verifyTimeoutMs = 20000;
    // Incidents reopen after 8 quiet seconds and may be decided again after 20 s: many diagnoses and
    // decisions.
    options.diagnoser.grouper.window = std::chrono::seconds(8);
    options.repeatWindowMs = 20000;
    m_log = std::make_unique<agent::StructuredLog>([this](const QByteArray &line) {
        if (line.contains("\"level\":\"error\""))
            ++m_logErrors;
    });
    m_agent = std::make_unique<agent::Agent>(proxied, options, m_stack->router(), m_log.get());
    Result<void> opened = m_agent->open();
    QVERIFY2(opened, qPrintable(opened.errorMessage()));
    m_agent->start();
    QVERIFY2(QTest::qWaitFor([&] { return m_agent->ready() && m_agent->isLeader(); }, 30000),
             qPrintable(m_agent->notReadyReason()));
    for (kube::Informer *i : m_agent->findChildren<kube::Informer *>()) {
        m_informers << i;
        connect(i, &kube::Informer::deltas, this,
                [this](const kube::DeltaBatch &b) { m_relists += b.resynced; });
    }
    // pods, Warning events, this agent's AgentDecisions, and nodes when the agent may read them.
    QVERIFY2(m_informers.size() == 3 || m_informers.size() == 4,
             qPrintable(QString::number(m_informers.size())));
}

void TestChaosSoakCluster::inject(Fault fault)
{
    switch (fault) {
    case Fault::CutReset:
        m_proxy->cut(TcpProxy::CutMode::Reset);
        break;
    case Fault::CutClose:
        m_proxy->cut(TcpProxy::CutMode::Close);
        break;
    case Fault::Refuse:
        m_proxy->refuseFor(2000);
        m_proxy->cut(TcpProxy::CutMode::Reset);
        break;
    case Fault::HalfOpen:
        m_proxy->stallFor(500);
        break;
    case Fault::Slow:
        m_proxy->setDelayMs(300);
        QTimer::singleShot(3000, m_proxy.get(), [p = m_proxy.get()] { p->setDelayMs(0); });
        break;
    case Fault::ApiRestart: {
        QString error;
        QVERIFY2(m_control.restart(&error), qPrintable(error));
        break;
    }
    case Fault::Gone410: {
        // Keep the agent away while etcd forgets, so every resourceVersion it holds is compacted.
        m_proxy->refuseFor(120000);
        m_proxy->cut(TcpProxy::CutMode::Reset);
        const auto revision = m_control.etcdRevision();
        QVERIFY(revision.has_value());
        QVERIFY2(m_control.compactEtcd(*revision), "etcd refused the compaction");
        QString error;
        const bool restarted = m_control.restart(&error);
        m_proxy->refuseFor(0);
        QVERIFY2(restarted, qPrintable(error));
        break;
    }
    case Fault::LlmTimeout:
        m_model->inject(FakeModel::Fault::Timeout);
        break;
    case Fault::Llm5xx:
        m_model->inject(FakeModel::Fault::ServerError);
        break;
    }
}

void TestChaosSoakCluster::churnScenarios()
{
    // crashloop stays; the others come and go, one step at a time.
    static const QStringList kChurn{"oomkilled", "imagepull", "readiness", "pending"};
    const QString scenario = kChurn.at(m_churnStep++ % kChurn.size());
    const bool remove = m_applied.contains(scenario);
    auto *p = new QProcess(this);
    m_churnProcesses << p;
    QStringList args{"--kubeconfig", m_cluster.kubeconfig, "--namespace", m_cluster.ns, "--only", scenario};
    if (remove)
        args << "--delete";
    connect(p, &QProcess::finished, p, [this, p, scenario, remove](int code) {
        if (code == 0) {
            ++m_churns;
            if (remove)
                m_applied.removeAll(scenario);
            else
                m_applied << scenario;
        }
        p->deleteLater();
    });
    p->start(sourceDir() + "/tests/scenarios/apply", args);
}

void TestChaosSoakCluster::soak()
{
    const int total = envInt("VIGIL_SOAK_FAULTS", 40);
    const int seconds = envInt("VIGIL_SOAK_SECONDS", 45);
    const QList<Fault> faults = schedule(total, static_cast<quint32>(envInt("VIGIL_SOAK_SEED", 1)));
    const qint64 interval = qint64(seconds) * 1000 / total;
    QTimer churn;
    connect(&churn, &QTimer::timeout, this, [this] { churnScenarios(); });
    churn.start(envInt("VIGIL_SOAK_CHURN_MS", 8000));
    QElapsedTimer clock;
    clock.start();
    qint64 notReadySince = -1;
    auto sample = [&] {
        const qint64 now = clock.elapsed();
        if (!m_agent->ready() || !m_agent->isLeader()) {
            if (notReadySince < 0)
                notReadySince = now;
        } else if (notReadySince >= 0) {
            m_notReadyMs += now - notReadySince;
            m_longestNotReadyMs = std::max(m_longestNotReadyMs, now - notReadySince);
            notReadySince = -1;
        }
        m_rssMax = std::max(m_rssMax, rssKb());
    };
    for (int i = 0; i < faults.size(); ++i) {
        while (clock.elapsed() < i * interval) {
            QTest::qWait(100);
            sample();
        }
        if (i == faults.size() / 4) // warm-up: every path has run once
            m_rssWarm = rssKb();
        inject(faults[i]);
        for (const FaultKind &k : kKinds)
            if (k.fault == faults[i] && k.fault != Fault::LlmTimeout && k.fault != Fault::Llm5xx)
                ++m_injected[k.name];
        sample();
    }
    churn.stop();
    // Let the last faults play out: the agent is leading and ready again.
    QVERIFY2(QTest::qWaitFor(
                 [&] {
                     sample();
                     return m_agent->ready() && m_agent->isLeader();
                 },
                 90000),
             qPrintable(m_agent->notReadyReason()));
    sample();
    m_rssEnd = rssKb();
    const qint64 elapsed = clock.elapsed();
    qInfo("soak: %d faults scheduled in %lld s, %d scenario changes, %d relists, model %d requests (%d "
          "timeouts, %d 5xx)",
          int(faults.size()), elapsed / 1000, m_churns, m_relists, m_model->requests(),
          m_model->served(FakeModel::Fault::Timeout), m_model->served(FakeModel::Fault::ServerError));
    // A model fault counts once a request met it; armed ones no request reached are reported apart.
    m_injected["model timeout"] = m_model->served(FakeModel::Fault::Timeout);
    m_injected["model 5xx"] = m_model->served(FakeModel::Fault::ServerError);
    json byKind = json::object();
    int injected = 0;
    for (const auto &[name, n] : m_injected) {
        byKind[name] = n;
        injected += n;
    }
    figure("faultsScheduled", int(faults.size()));
    figure("faults", injected);
    figure("faultsByKind", byKind);
    figure("seconds", elapsed / 1000);
    figure("scenarioChanges", m_churns);
    figure("relists", m_relists);
    figure("modelRequests", m_model->requests());
    figure("modelTimeoutsServed", m_model->served(FakeModel::Fault::Timeout));
    figure("model5xxServed", m_model->served(FakeModel::Fault::ServerError));
    figure("modelFaultsNeverReached", m_model->pendingFaults());
    figure("proxyConnections", m_proxy->acceptedTotal());
    figure("notReadyMsTotal", m_notReadyMs);
    figure("longestNotReadyMs", m_longestNotReadyMs);
    figure("logErrors", m_logErrors);
    QVERIFY2(m_churns > 0, "no scenario change happened");
    QVERIFY2(m_model->served(FakeModel::Fault::Timeout) > 0, "no model timeout reached a request");
    QVERIFY2(m_model->served(FakeModel::Fault::ServerError) > 0, "no model 5xx reached a request");
}

QStringList TestChaosSoakCluster::freshList(const kube::ResourceType &type, const QString &ns,
                                            const QString &label, const QString &field)
{
    Result<QList<json>> items = m_cluster.api.list({type, ns, {}, {}}, label, field);
    if (!items)
        return {QStringLiteral("list failed: ") + items.errorMessage()};
    QStringList out;
    for (const json &o : *items)
        out << str(o, {"metadata", "uid"}) + u'@' + str(o, {"metadata", "resourceVersion"});
    out.sort();
    return out;
}

QString TestChaosSoakCluster::storesDiff()
{
    const QStringList pods = freshList(kube::ResourceType::pods(), m_cluster.ns, {}, {});
    const QStringList events = freshList(kube::ResourceType::events(), m_cluster.ns, {}, "type=Warning");
    const QStringList ledger =
        freshList(agentDecisions(), m_cluster.ns, "vigil.dev/agent=" + agent::labelValue(m_lease), {});
    const QStringList nodes = freshList(kube::ResourceType::nodes(), {}, {}, {});
    QString diff;
    for (const QPointer<kube::Informer> &i : m_informers) {
        if (!i)
            return "an informer is gone";
        QStringList stored;
        QString name = qobject_cast<agent::DecisionLedger *>(i->parent()) ? "agentdecisions" : "empty";
        for (const kube::KubeObject &o : i->store().objects()) {
            stored << kube::objectUid(o) + u'@' + kube::objectResourceVersion(o);
            if (std::holds_alternative<kube::PodView>(o))
                name = "pods";
            else if (std::holds_alternative<kube::EventView>(o))
                name = "events";
            else if (std::holds_alternative<kube::NodeView>(o))
                name = "nodes";
        }
        stored.sort();
        const QStringList &listed = name == u"agentdecisions" ? ledger
                                    : name == u"pods"         ? pods
                                    : name == u"events"       ? events
                                                              : nodes;
        // An empty store is right only when the list it mirrors is empty too (pods or events).
        const bool equal = name == u"empty" ? (pods.isEmpty() || events.isEmpty()) : stored == listed;
        if (!equal || i->health().state != kube::InformerHealth::State::Watching)
            diff += QStringLiteral("%1: store %2 objects, list %3, state %4, last error %5; ")
                        .arg(name)
                        .arg(stored.size())
                        .arg(listed.size())
                        .arg(int(i->health().state))
                        .arg(i->health().lastError);
    }
    return diff;
}

void TestChaosSoakCluster::storesEqualAFreshList()
{
    QElapsedTimer t;
    t.start();
    QString diff = storesDiff();
    // Events and pods keep changing (the crash loop goes on): compare until one snapshot agrees.
    while (!diff.isEmpty() && t.elapsed() < 90000) {
        QTest::qWait(250);
        diff = storesDiff();
    }
    QVERIFY2(diff.isEmpty(), qPrintable(diff));
    figure("convergedAfterMs", t.elapsed());
    qInfo("stores equal a fresh LIST after %lld ms", t.elapsed());
}

void TestChaosSoakCluster::noDecisionExecutedTwice()
{
    // Stop the agent first: nothing may move while the records are read.
    bool finished = false;
    const QMetaObject::Connection c =
        connect(m_agent.get(), &agent::Agent::finished, this, [&finished] { finished = true; });
    m_agent->shutdown();
    const bool stopped = QTest::qWaitFor([&] { return finished; }, 40000);
    disconnect(c);
    QVERIFY2(stopped, "the agent did not finish within 40 s of shutdown()");
    // As `vigilctl agent` exits after finished(): nothing it abandoned (a verification past the grace)
    // may move the local record afterwards.
    m_agent.reset();

    auto store = act::DecisionStore::open(act::decisionsPath(m_dir.filePath("data")));
    QVERIFY2(store, qPrintable(store.errorMessage()));
    auto log = audit::AuditLog::open(act::auditPath(m_dir.filePath("data")));
    QVERIFY2(log, qPrintable(log.errorMessage()));
    Result<QList<act::Decision>> decisions = (*store)->list();
    QVERIFY2(decisions, qPrintable(decisions.errorMessage()));
    int executed = 0;
    for (const act::Decision &d : *decisions) {
        audit::AuditFilter f;
        f.decisionId = d.id;
        f.kind = "executing";
        Result<QList<audit::AuditEvent>> rows = (*log)->query(f);
        QVERIFY2(rows, qPrintable(rows.errorMessage()));
        QVERIFY2(
            rows->size() <= 1,
            qPrintable(QStringLiteral("decision %1 started executing %2 times").arg(d.id).arg(rows->size())));
        executed += int(rows->size());
    }
    // The cluster's record agrees: each AgentDecision is one decision, claimed at most once.
    Result<QList<json>> objects = m_cluster.api.list({agentDecisions(), m_cluster.ns, {}, {}},
                                                     "vigil.dev/agent=" + agent::labelValue(m_lease));
    QVERIFY2(objects, qPrintable(objects.errorMessage()));
    QSet<QString> ids;
    for (const json &o : *objects) {
        const QString id = str(o, {"metadata", "labels", "vigil.dev/decision"});
        QVERIFY2(!ids.contains(id), qPrintable("two AgentDecisions for decision " + id));
        ids.insert(id);
        QVERIFY2(!str(o, {"metadata", "annotations", "vigil.dev/claimed-by"}).contains(','), qPrintable(id));
    }
    // The AgentDecisions follow the local record, and the shutdown flushed what faults had held back:
    // every local decision has its AgentDecision, in the same phase.
    int clusterExecuted = 0;
    QStringList behind;
    QHash<QString, QString> phases; // decision id -> the AgentDecision's status.phase
    for (const json &o : *objects) {
        const bool says = o.value("spec", json::object()).value("executed", false);
        clusterExecuted += says ? 1 : 0;
        const QString id = str(o, {"metadata", "labels", "vigil.dev/decision"});
        phases.insert(id, str(o, {"status", "phase"}));
    }
    for (const act::Decision &d : *decisions) {
        const QString phase = phases.value(d.id, QStringLiteral("missing"));
        if (phase != act::stateName(d.state))
            behind << QStringLiteral("%1 (cluster %2, local %3)").arg(d.id, phase, act::stateName(d.state));
    }
    figure("agentDecisionsBehindLocalState", behind.size());
    qInfo("%d decisions, %d executed (%d AgentDecisions say executed), 0 twice", int(decisions->size()),
          executed, clusterExecuted);
    figure("decisions", int(decisions->size()));
    figure("executions", executed);
    figure("agentDecisions", int(objects->size()));
    figure("duplicateExecutions", 0);
    QVERIFY2(executed > 0, "the agent never executed anything: the soak proved nothing about duplicates");
    QVERIFY2(clusterExecuted <= executed, "an AgentDecision says executed without an executing row");
    QVERIFY2(behind.isEmpty(), qPrintable("AgentDecisions behind the local record after the shutdown: " +
                                          behind.join(QStringLiteral(", "))));
}

void TestChaosSoakCluster::noAuditRowMissing()
{
    auto store = act::DecisionStore::open(act::decisionsPath(m_dir.filePath("data")));
    QVERIFY2(store, qPrintable(store.errorMessage()));
    auto log = audit::AuditLog::open(act::auditPath(m_dir.filePath("data")));
    QVERIFY2(log, qPrintable(log.errorMessage()));
    Result<audit::VerifyReport> verified = (*log)->verify();
    QVERIFY2(verified, qPrintable(verified.errorMessage()));
    QVERIFY2(verified->ok, qPrintable(verified->message));
    Result<QList<act::Decision>> decisions = (*store)->list();
    QVERIFY2(decisions, qPrintable(decisions.errorMessage()));
    for (const act::Decision &d : *decisions) {
        audit::AuditFilter f;
        f.decisionId = d.id;
        Result<QList<audit::AuditEvent>> rows = (*log)->query(f);
        QVERIFY2(rows, qPrintable(rows.errorMessage()));
        // proposed first, then one row per transition, each from where the last one left off.
        act::DecisionState at = act::DecisionState::Proposed;
        bool proposed = false;
        for (const audit::AuditEvent &e : *rows) {
            if (e.kind == "proposed") {
                QVERIFY2(!proposed, qPrintable(d.id + ": proposed twice"));
                proposed = true;
                continue;
            }
            if (!e.payload.contains("to"))
                continue; // not a transition (an error note, a preview failure)
            const QString from = QString::fromStdString(e.payload.value("from", std::string()));
            const QString to = QString::fromStdString(e.payload.value("to", std::string()));
            QVERIFY2(from == act::stateName(at),
                     qPrintable(QStringLiteral("%1: row %2 moves from %3 but the last row left it %4")
                                    .arg(d.id)
                                    .arg(e.id)
                                    .arg(from, act::stateName(at))));
            act::DecisionState next;
            QVERIFY2(act::parseStateName(to, &next), qPrintable(d.id + ": unknown state " + to));
            at = next;
        }
        QVERIFY2(proposed, qPrintable(d.id + ": no proposed row"));
        QVERIFY2(at == d.state, qPrintable(QStringLiteral("%1: the store says %2, the audit rows end at %3")
                                               .arg(d.id, act::stateName(d.state), act::stateName(at))));
    }
    figure("auditRows", verified->rowsChecked);
    qInfo("audit chain verifies: %lld rows, every decision's rows end where its store does",
          verified->rowsChecked);
}

void TestChaosSoakCluster::memoryStaysFlat()
{
    // The bound covers allocator noise and the test's own bookkeeping (the model server keeps each request).
    const qint64 boundKb = 24 * 1024;
    figure("rssWarmKb", m_rssWarm);
    figure("rssEndKb", m_rssEnd);
    figure("rssMaxKb", m_rssMax);
    figure("rssBoundKb", boundKb);
    qInfo("RSS after warm-up %lld kB, at the end %lld kB, max %lld kB", m_rssWarm, m_rssEnd, m_rssMax);
    QVERIFY(m_rssWarm > 0 && m_rssEnd > 0);
    QVERIFY2(
        m_rssEnd - m_rssWarm <= boundKb,
        qPrintable(QStringLiteral("RSS grew by %1 kB (bound %2 kB)").arg(m_rssEnd - m_rssWarm).arg(boundKb)));
}

void TestChaosSoakCluster::cleanupTestCase()
{
    m_agent.reset();
    m_stack.reset();
    for (const QPointer<QProcess> &p : m_churnProcesses)
        if (p)
            p->waitForFinished(30000);
    const QString report = qEnvironmentVariable("VIGIL_SOAK_REPORT");
    if (!report.isEmpty()) {
        QFile f(report);
        if (f.open(QIODevice::WriteOnly | QIODevice::Truncate))
            f.write(QByteArray::fromStdString(m_figures.dump(2)) + '\n');
    }
    qInfo("figures: %s", m_figures.dump().c_str());
    m_cluster.tearDown({"crashloop", "oomkilled", "imagepull", "readiness", "pending"});
}

// QTEST_GUILESS_MAIN, except that QtTest's watchdog (5 minutes per test function) must outlast the soak,
// whose length is a parameter; the watchdog reads its timeout before the first test function runs.
int main(int argc, char **argv)
{
    if (!qEnvironmentVariableIsSet("QTEST_FUNCTION_TIMEOUT"))
        qputenv("QTEST_FUNCTION_TIMEOUT",
                QByteArray::number((envInt("VIGIL_SOAK_SECONDS", 45) + 300) * 1000));
    QCoreApplication app(argc, argv);
    TestChaosSoakCluster test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}
#include "tst_chaos_soak_cluster.moc"
