// Two `vigilctl agent` processes against the real test cluster, with a
// crash-looping Deployment in a fresh namespace and short lease timings:
// exactly one leads; only the leader proposes; a merge patch of spec.approved
// on the AgentDecision (what kubectl patch sends) gets the action executed
// exactly once, by the leader; when the leader is killed with SIGKILL the
// standby takes the lease within about a lease duration, adopts the ledger
// and neither proposes the incident again nor runs the action a second time;
// SIGTERM stops a replica gracefully and hands the lease back.

#include "agentprocess.h"

#include <QElapsedTimer>
#include <QTemporaryDir>

using namespace vigil;
using namespace vigil::test;
using json = nlohmann::json;

namespace {

constexpr int kLeaseMs = 4000; // short, with room for a loaded machine: renew deadline 3 s, retry 0.5 s

} // namespace

class TestAgentCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void electsExactlyOneLeader();
    void approvalThroughTheCrdExecutesOnce();
    void failoverWhenTheLeaderIsKilled();
    void sigtermReleasesTheLease();
    void cleanupTestCase();

private:
    QList<json> decisionsOfThisAgent();

    AgentClusterFixture m_cluster;
    QString m_lease;
    QTemporaryDir m_dir;
    std::unique_ptr<AgentProcess> m_a;
    std::unique_ptr<AgentProcess> m_b;
    AgentProcess *m_leader = nullptr;
    AgentProcess *m_standby = nullptr;
    QString m_decision;
    QString m_incident;
};

void TestAgentCluster::initTestCase()
{
    Result<void> ready = m_cluster.setUp("vigil-agent-", {"crashloop"});
    QVERIFY2(ready, qPrintable(ready.errorMessage()));

    QVERIFY(m_dir.isValid());
    QFile policy(m_dir.filePath("policy.yaml"));
    QVERIFY(policy.open(QIODevice::WriteOnly));
    policy.write(permissivePolicy());
    policy.close();
    m_lease = ClusterApi::uniqueName("vigil-agent-");
    QStringList args;
    args << "--kubeconfig" << m_cluster.kubeconfig << "-n" << m_cluster.ns << "--mode"
         << "approve";
    args << "--policy" << policy.fileName() << "--lease-name" << m_lease << "--verify-timeout"
         << "20";
    args << "--lease-duration"
         << "4"
         << "--renew-deadline"
         << "3"
         << "--retry-period"
         << "0.5";
    m_a = std::make_unique<AgentProcess>("agent-a", m_dir.filePath("a"));
    m_b = std::make_unique<AgentProcess>("agent-b", m_dir.filePath("b"));
    m_a->start(args);
    m_b->start(args);
    QVERIFY2(m_a->waitUntilServing(), qPrintable(m_a->logText()));
    QVERIFY2(m_b->waitUntilServing(), qPrintable(m_b->logText()));
}

QList<json> TestAgentCluster::decisionsOfThisAgent()
{
    return m_cluster.agentDecisionsOf(m_lease);
}

void TestAgentCluster::electsExactlyOneLeader()
{
    QVERIFY2(ClusterApi::waitFor([&] { return m_a->isLeader() != m_b->isLeader(); }, 20000),
             qPrintable(m_a->logText() + m_b->logText()));
    m_leader = m_a->isLeader() ? m_a.get() : m_b.get();
    m_standby = m_leader == m_a.get() ? m_b.get() : m_a.get();
    Result<json> lease = m_cluster.api.get({leases(), m_cluster.ns, m_lease, {}});
    QVERIFY2(lease, qPrintable(lease.errorMessage()));
    QCOMPARE(str(*lease, {"spec", "holderIdentity"}), m_leader->identity());
    QCOMPARE((*lease)["spec"].value("leaseDurationSeconds", 0), kLeaseMs / 1000);

    // Both are ready (their informers synced): a standby could take over at once.
    QVERIFY(ClusterApi::waitFor(
        [&] { return m_leader->get("/readyz").status == 200 && m_standby->get("/readyz").status == 200; },
        20000));
    QCOMPARE(m_leader->get("/readyz").body, QByteArray("ready: leader\n"));
    QCOMPARE(m_standby->get("/readyz").body, QByteArray("ready: standby\n"));
    const HttpAnswer health = m_standby->get("/healthz");
    QCOMPARE(health.status, 200);
    QCOMPARE(health.body, QByteArray("ok\n"));
    QCOMPARE(m_leader->metric("vigil_agent_ready"), 1.0);
    QCOMPARE(m_standby->metric("vigil_agent_is_leader"), 0.0);
    QCOMPARE(m_leader->metric("vigil_agent_leader_transitions_total"), 1.0);

    // Renewals keep it the leader, and the standby stays standby.
    QTest::qWait(2 * kLeaseMs / 3);
    QVERIFY(m_leader->isLeader());
    QVERIFY(!m_standby->isLeader());
    QVERIFY2(!m_standby->logged("lease holder observed").isEmpty(), qPrintable(m_standby->logText()));
    // stderr carries nothing but JSON log objects.
    QVERIFY2(m_leader->foreignLines().isEmpty(), qPrintable(m_leader->foreignLines().join('\n')));
    QVERIFY2(m_standby->foreignLines().isEmpty(), qPrintable(m_standby->foreignLines().join('\n')));
}

void TestAgentCluster::approvalThroughTheCrdExecutesOnce()
{
    QVERIFY(m_leader);
    // The crash loop becomes an incident, a decision and an AgentDecision, written by the leader alone.
    json object;
    QVERIFY2(ClusterApi::waitFor(
                 [&] {
                     for (const json &o : decisionsOfThisAgent()) {
                         if (str(o, {"status", "phase"}) == "proposed") {
                             object = o;
                             return true;
                         }
                     }
                     return false;
                 },
                 45000),
             qPrintable(m_leader->logText()));
    m_decision = str(object, {"metadata", "labels", "vigil.dev/decision"});
    m_incident = str(object, {"metadata", "labels", "vigil.dev/incident"});
    QVERIFY(!m_decision.isEmpty());
    QVERIFY(!m_incident.isEmpty());
    QCOMPARE(object["spec"].value("approved", true), false);
    const QString action = str(object, {"spec", "action"});
    QVERIFY2(action == "create_alert" || action == "restart_pod", qPrintable(action));
    QVERIFY(!m_leader->audit(m_decision, "proposed").isEmpty());
    QVERIFY(m_standby->audit(m_decision).isEmpty());
    QCOMPARE(m_leader->audit(m_decision, "executing").size(), 0); // approve mode: it waits

    // What `kubectl patch agentdecision ... --type merge -p '{"spec":{"approved":true}}'` sends.
    const kube::ResourcePath path{agentDecisions(), m_cluster.ns, "vigil-" + m_decision, {}};
    Result<json> patched = m_cluster.api.patch(path, {{"spec", {{"approved", true}}}});
    QVERIFY2(patched, qPrintable(patched.errorMessage()));
    json done;
    QVERIFY2(ClusterApi::waitFor(
                 [&] {
                     Result<json> o = m_cluster.api.get(path);
                     if (!o)
                         return false;
                     done = *o;
                     const QString phase = str(*o, {"status", "phase"});
                     return phase == "verified" || phase == "verify-failed";
                 },
                 30000),
             qPrintable(m_leader->logText()));
    QCOMPARE(str(done, {"metadata", "annotations", "vigil.dev/claimed-by"}), m_leader->identity());
    QVERIFY(done["spec"].value("executed", false));

    // Executed once, by the leader: one executing row and one executed row in all the audit logs.
    QTest::qWait(1500); // the agent's own writes re-deliver the object; none may start it again
    QCOMPARE(m_leader->audit(m_decision, "executing").size(), 1);
    QCOMPARE(m_leader->audit(m_decision, "executed").size(), 1);
    QCOMPARE(m_standby->audit(m_decision, "executing").size(), 0);
    const QList<audit::AuditEvent> approved = m_leader->audit(m_decision, "approved");
    QCOMPARE(approved.size(), 1);
    QVERIFY2(approved.first().actor.contains("field-manager:"), qPrintable(approved.first().actor));

    // And once in the cluster.
    const json stored = json::parse(
        str(done, {"metadata", "annotations", "vigil.dev/decision"}).toStdString(), nullptr, false);
    QVERIFY(stored.is_object());
    if (action == "create_alert") {
        Result<QList<json>> events =
            m_cluster.api.list({kube::ResourceType::events(), m_cluster.ns, {}, {}}, {}, "reason=VigilAlert");
        QVERIFY2(events, qPrintable(events.errorMessage()));
        int forThis = 0;
        for (const json &e : *events) {
            if (str(e, {"metadata", "name"}) == "vigil-alert-" + m_decision) {
                ++forThis;
                QCOMPARE(e.value("count", 0), 1);
            }
        }
        QCOMPARE(forThis, 1);
    } else {
        const QString pod = QString::fromStdString(object["spec"]["parameters"].value("pod", std::string()));
        const QString uid = str(stored, {"facts", "podUid"});
        QVERIFY(!uid.isEmpty());
        Result<json> now = m_cluster.api.get({kube::ResourceType::pods(), m_cluster.ns, pod, {}});
        QVERIFY(!now || str(*now, {"metadata", "uid"}) != uid ||
                !str(*now, {"metadata", "deletionTimestamp"}).isEmpty());
    }
    QVERIFY(m_leader->metric("vigil_agent_actions_total{outcome=\"executed\"}") >= 1);
    QVERIFY(m_leader->metric("vigil_agent_decisions_total{verdict=\"needs-approval\"}") >= 1);
    QVERIFY(m_leader->metric("vigil_agent_incidents_total") >= 1);
    QCOMPARE(m_standby->metric("vigil_agent_incidents_total"), 0.0);
}

void TestAgentCluster::failoverWhenTheLeaderIsKilled()
{
    QVERIFY(!m_decision.isEmpty());
    Result<json> before = m_cluster.api.get({leases(), m_cluster.ns, m_lease, {}});
    QVERIFY(before);
    const int transitions = (*before)["spec"].value("leaseTransitions", -1);
    int decisionsForIncident = 0;
    for (const json &o : decisionsOfThisAgent())
        decisionsForIncident += str(o, {"metadata", "labels", "vigil.dev/incident"}) == m_incident;

    QElapsedTimer sinceKill;
    m_leader->process().kill(); // SIGKILL: no release, the lease must expire
    sinceKill.start();
    QVERIFY(m_leader->process().waitForFinished(5000));
    QVERIFY2(ClusterApi::waitFor([&] { return m_standby->isLeader(); }, kLeaseMs + 5000),
             qPrintable(m_standby->logText()));
    // Not before the lease could have expired, and within about a lease duration plus retries.
    QVERIFY2(sinceKill.elapsed() >= kLeaseMs - 1500, qPrintable(QString::number(sinceKill.elapsed())));
    QVERIFY2(sinceKill.elapsed() <= kLeaseMs + 3000, qPrintable(QString::number(sinceKill.elapsed())));
    Result<json> after = m_cluster.api.get({leases(), m_cluster.ns, m_lease, {}});
    QVERIFY(after);
    QCOMPARE(str(*after, {"spec", "holderIdentity"}), m_standby->identity());
    QCOMPARE((*after)["spec"].value("leaseTransitions", -1), transitions + 1);

    // The new leader adopts the ledger: the executed decision is in its store, not run again,
    // and the incident (still crash-looping) is not proposed a second time.
    QVERIFY2(ClusterApi::waitFor([&] { return !m_standby->logged("acting as leader").isEmpty(); }, 15000),
             qPrintable(m_standby->logText()));
    QCOMPARE(m_standby->audit(m_decision, "adopted").size(), 1);
    QTest::qWait(5000);
    QCOMPARE(m_standby->audit(m_decision, "executing").size(), 0);
    QCOMPARE(m_leader->audit(m_decision, "executing").size(), 1);
    int nowForIncident = 0;
    for (const json &o : decisionsOfThisAgent())
        nowForIncident += str(o, {"metadata", "labels", "vigil.dev/incident"}) == m_incident;
    QCOMPARE(nowForIncident, decisionsForIncident);
    QVERIFY(m_standby->metric("vigil_agent_leader_transitions_total") == 1);
}

void TestAgentCluster::sigtermReleasesTheLease()
{
    AgentProcess *survivor = m_standby;
    QVERIFY(survivor && survivor->isLeader());
    survivor->process().terminate(); // SIGTERM
    QVERIFY(survivor->process().waitForFinished(20000));
    QCOMPARE(survivor->process().exitStatus(), QProcess::NormalExit);
    QCOMPARE(survivor->process().exitCode(), 0);
    QVERIFY2(!survivor->logged("lease released").isEmpty(), qPrintable(survivor->logText()));
    Result<json> lease = m_cluster.api.get({leases(), m_cluster.ns, m_lease, {}});
    QVERIFY(lease);
    QCOMPARE(str(*lease, {"spec", "holderIdentity"}), QString());
    QCOMPARE((*lease)["spec"].value("leaseDurationSeconds", 0), 1);
}

void TestAgentCluster::cleanupTestCase()
{
    for (AgentProcess *p : {m_a.get(), m_b.get()}) {
        if (p)
            p->stop();
    }
    m_cluster.tearDown();
}

QTEST_GUILESS_MAIN(TestAgentCluster)
#include "tst_agent_cluster.moc"
