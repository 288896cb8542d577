// One `vigilctl agent` in auto-within-policy mode against the real test
// cluster: its crash-loop alert runs at once, and the alert's webhook (an
// in-process server) holds the action open while the test sends SIGTERM.
// With enough grace the action finishes and is recorded before the agent
// releases the lease and exits 0; with too little, the agent records the
// action as interrupted, exits 0, and the next leader reconciles it against
// the cluster instead of running it again. Also checks /healthz, /readyz and
// /metrics of a leader that acted.

#include "agentprocess.h"

#include "core/act/decisionstore.h"
#include "httptestserver.h"

#include <QElapsedTimer>
#include <QPointer>
#include <QTemporaryDir>

using namespace vigil;
using namespace vigil::test;
using json = nlohmann::json;

namespace {

} // namespace

class TestAgentShutdownCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void sigtermMidAction_data();
    void sigtermMidAction();
    void cleanupTestCase();

private:
    AgentClusterFixture m_cluster;
    QTemporaryDir m_dir;
    QString m_policy;
    std::unique_ptr<HttpTestServer> m_webhook;
    int m_webhookDelayMs = 0; ///< -1: never answers
    QList<QPointer<HttpExchange>> m_calls;
};

void TestAgentShutdownCluster::initTestCase()
{
    Result<void> ready = m_cluster.setUp("vigil-agent-stop-", {"crashloop"});
    QVERIFY2(ready, qPrintable(ready.errorMessage()));
    QVERIFY(m_dir.isValid());
    QFile policy(m_dir.filePath("policy.yaml"));
    QVERIFY(policy.open(QIODevice::WriteOnly));
    // Only the alert may run: its webhook is what keeps the action in flight.
    policy.write(alertOnlyPolicy());
    m_policy = policy.fileName();
    m_webhook = std::make_unique<HttpTestServer>([this](HttpExchange *ex) {
        m_calls << ex;
        if (m_webhookDelayMs >= 0)
            ex->later(m_webhookDelayMs, [ex] { ex->respondJson(200, "{}"); });
    });
    QVERIFY(m_webhook->listen());
}

void TestAgentShutdownCluster::sigtermMidAction_data()
{
    QTest::addColumn<QString>("grace");
    QTest::addColumn<int>("webhookDelayMs");
    QTest::addColumn<bool>("finishes");
    QTest::newRow("grace covers the action: it finishes and is recorded, then the lease is released")
        << "15" << 2500 << true;
    QTest::newRow("grace too short: recorded as interrupted, and the next leader reconciles it")
        << "1" << -1 << false;
}

void TestAgentShutdownCluster::sigtermMidAction()
{
    QFETCH(QString, grace);
    QFETCH(int, webhookDelayMs);
    QFETCH(bool, finishes);
    m_webhookDelayMs = webhookDelayMs;
    m_calls.clear();
    const QString lease = ClusterApi::uniqueName("vigil-stop-");
    const QString tag = finishes ? "finish" : "interrupt";
    QStringList args;
    args << "--kubeconfig" << m_cluster.kubeconfig << "-n" << m_cluster.ns << "--policy" << m_policy
         << "--lease-name" << lease;
    args << "--lease-duration"
         << "3"
         << "--renew-deadline"
         << "2"
         << "--retry-period"
         << "0.4";
    args << "--shutdown-grace" << grace << "--verify-timeout"
         << "10";
    args << "--alert-webhook" << m_webhook->url().toString() + "/hook";
    AgentProcess agent("stop-" + tag, m_dir.filePath(tag));
    agent.start(args);
    QVERIFY2(agent.waitUntilServing(), qPrintable(agent.logText()));

    // The alert runs as soon as the incident is diagnosed; its webhook call holds it open.
    QVERIFY2(ClusterApi::waitFor([&] { return !m_calls.isEmpty(); }, 60000), qPrintable(agent.logText()));
    const QList<json> executing = agent.logged("executing");
    QVERIFY(!executing.isEmpty());
    const QString id = QString::fromStdString(executing.first()["fields"].value("decision", std::string()));
    QVERIFY(!id.isEmpty());

    if (finishes) {
        // Probes and metrics of a leader in the middle of acting.
        QCOMPARE(agent.get("/healthz").status, 200);
        const HttpAnswer ready = agent.get("/readyz");
        QCOMPARE(ready.status, 200);
        QCOMPARE(ready.body, QByteArray("ready: leader\n"));
        const HttpAnswer metrics = agent.get("/metrics");
        QCOMPARE(metrics.status, 200);
        for (const char *family :
             {"# TYPE vigil_agent_incidents_total counter", "# TYPE vigil_agent_is_leader gauge",
              "# TYPE vigil_agent_llm_tokens_total counter", "# TYPE vigil_agent_llm_cost_usd_total counter",
              "# TYPE vigil_agent_llm_cache_hits_total counter",
              "# TYPE vigil_agent_llm_provider_errors_total counter",
              "# TYPE vigil_agent_watch_reconnects_total counter"})
            QVERIFY2(metrics.body.contains(family), family);
        QCOMPARE(agent.metric("vigil_agent_is_leader"), 1.0);
        QCOMPARE(agent.metric("vigil_agent_ready"), 1.0);
        QVERIFY(agent.metric("vigil_agent_incidents_total") >= 1);
        QVERIFY(agent.metric("vigil_agent_decisions_total{verdict=\"allowed\"}") >= 1);
        QCOMPARE(agent.metric("vigil_agent_llm_calls_total"), 0.0); // rules only
    }

    QElapsedTimer stopping;
    stopping.start();
    agent.process().terminate(); // SIGTERM mid-action
    QVERIFY(agent.process().waitForFinished(30000));
    QCOMPARE(agent.process().exitStatus(), QProcess::NormalExit);
    QCOMPARE(agent.process().exitCode(), 0);
    QVERIFY2(!agent.logged("shutting down").isEmpty(), qPrintable(agent.logText()));
    QVERIFY2(!agent.logged("lease released").isEmpty(), qPrintable(agent.logText()));
    Result<json> held = m_cluster.api.get({leases(), m_cluster.ns, lease, {}});
    QVERIFY(held);
    QCOMPARE(str(*held, {"spec", "holderIdentity"}), QString());

    auto store = act::DecisionStore::open(agent.dataDir() + "/decisions.db");
    QVERIFY2(store, qPrintable(store.errorMessage()));
    const act::Decision d = (*store)->load(id).value();
    const kube::ResourcePath path{agentDecisions(), m_cluster.ns, "vigil-" + id, {}};
    if (finishes) {
        // It waited for the webhook rather than the grace period, and recorded the outcome.
        QVERIFY2(stopping.elapsed() < 12000, qPrintable(QString::number(stopping.elapsed())));
        QVERIFY2(d.state == act::DecisionState::Executed || d.state == act::DecisionState::Verified,
                 qPrintable(act::stateName(d.state)));
        QCOMPARE(agent.audit(id, "executed").size(), 1);
        QCOMPARE(agent.audit(id, "interrupted").size(), 0);
        Result<json> o = m_cluster.api.get(path);
        QVERIFY(o);
        QCOMPARE(str(*o, {"status", "phase"}), act::stateName(d.state));
        return;
    }

    // Interrupted: Executing stays durable, the reason is in the audit log and the ledger.
    QCOMPARE(d.state, act::DecisionState::Executing);
    QCOMPARE(agent.audit(id, "interrupted").size(), 1);
    QCOMPARE(agent.audit(id, "executed").size(), 0);
    Result<json> o = m_cluster.api.get(path);
    QVERIFY(o);
    QCOMPARE(str(*o, {"status", "phase"}), QString("executing"));
    QCOMPARE(str(*o, {"metadata", "annotations", "vigil.dev/claimed-by"}), agent.identity());

    // The next leader (another replica, its own data dir) reconciles it: the Event was created
    // before the webhook hung, so the action happened — and it is not sent again.
    auto hooksFor = [this](const QString &decision) {
        int n = 0;
        for (const HttpRequest &r : m_webhook->requests())
            n += r.body.contains(decision.toUtf8());
        return n;
    };
    QCOMPARE(hooksFor(id), 1);
    AgentProcess next("stop-next", m_dir.filePath("next"));
    next.start(args);
    QVERIFY2(next.waitUntilServing(), qPrintable(next.logText()));
    QVERIFY2(ClusterApi::waitFor(
                 [&] {
                     Result<json> now = m_cluster.api.get(path);
                     return now && str(*now, {"status", "phase"}) == "executed";
                 },
                 20000),
             qPrintable(next.logText()));
    QCOMPARE(next.audit(id, "adopted").size(), 1);
    QCOMPARE(next.audit(id, "reconciled").size(), 1);
    QCOMPARE(next.audit(id, "executing").size(), 0);
    QCOMPARE(hooksFor(id), 1);
    QVERIFY(next.metric("vigil_agent_actions_total{outcome=\"executed\"}") >= 1);
    next.process().terminate();
    QVERIFY(next.process().waitForFinished(20000));
    QCOMPARE(next.process().exitCode(), 0);
}

void TestAgentShutdownCluster::cleanupTestCase()
{
    m_cluster.tearDown();
}

QTEST_GUILESS_MAIN(TestAgentShutdownCluster)
#include "tst_agent_shutdown_cluster.moc"
