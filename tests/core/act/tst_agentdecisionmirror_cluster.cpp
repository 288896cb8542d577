// AgentDecisionMirror against the real test cluster: the CRD is applied, one
// decision is mirrored, and a merge patch setting spec.approved: true (as
// kubectl patch would) approves it through the Executor.

#include "core/act/agentdecisionmirror.h"

#include "clusterfixture.h"
#include "core/act/actions.h"
#include "core/act/decisionstore.h"
#include "core/act/executor.h"
#include "core/audit/auditlog.h"

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace vigil;
using namespace vigil::act;
using json = nlohmann::json;
using vigil::test::ClusterApi;

class TestAgentDecisionMirrorCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void mirrorsAndApprovesThroughTheCluster_data();
    void mirrorsAndApprovesThroughTheCluster();
    void startedMirrorFollowsTheExecutor();

private:
    ClusterApi m_api;
    QString m_ns;
};

void TestAgentDecisionMirrorCluster::initTestCase()
{
    Result<void> c = m_api.connect();
    QVERIFY2(c, qPrintable(c.errorMessage()));
    m_ns = ClusterApi::uniqueName("vigil-adec-");
    Result<json> ns = m_api.createNamespace(m_ns);
    QVERIFY2(ns, qPrintable(ns.errorMessage()));

    Result<void> crd = m_api.installAgentDecisionCrd();
    QVERIFY2(crd, qPrintable(crd.errorMessage()));
}

void TestAgentDecisionMirrorCluster::cleanupTestCase()
{
    if (m_api.client && !m_ns.isEmpty())
        (void)m_api.remove({kube::ResourceType::namespaces(), {}, m_ns, {}});
}

void TestAgentDecisionMirrorCluster::mirrorsAndApprovesThroughTheCluster_data()
{
    QTest::addColumn<bool>("blocked");
    QTest::newRow("needs approval: the patch approves it via AgentDecision") << false;
    QTest::newRow("blocked by the guardrails: the patch is refused, the decision stays proposed") << true;
}

void TestAgentDecisionMirrorCluster::mirrorsAndApprovesThroughTheCluster()
{
    QFETCH(bool, blocked);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    std::unique_ptr<DecisionStore> store =
        std::move(DecisionStore::open(dir.filePath("decisions.db")).value());
    std::unique_ptr<audit::AuditLog> log = std::move(audit::AuditLog::open(dir.filePath("audit.db")).value());
    ActionRunner runner(m_api.client.get(), AlertConfig{});
    guard::Policy policy = test::testPolicy();
    Executor executor(store.get(), log.get(), &runner, policy);
    AgentDecisionMirror mirror(m_api.client.get(), &executor);

    Result<bool> installed = cli::await<bool>([&](QObject *ctx, auto cb) { mirror.detect(ctx, cb); });
    QVERIFY2(installed, qPrintable(installed.errorMessage()));
    QVERIFY(*installed);

    guard::IncidentTarget t;
    t.namespaceName = m_ns;
    t.podName = "web-1";
    t.ownerKind = "Deployment";
    t.ownerName = "web";
    if (blocked)
        t.podLabels = {{"vigil.dev/protected", "true"}};
    const Decision d = test::judgedDecision(ActionKind::RestartPod,
                                            {{"namespace", m_ns.toStdString()}, {"pod", "web-1"}}, t, policy);
    QCOMPARE(d.verdict.decision, blocked ? guard::Verdict::Blocked : guard::Verdict::NeedsApproval);
    QVERIFY(executor.propose(d));
    Result<void> mirrored = cli::await<void>([&](QObject *ctx, auto cb) { mirror.mirror(d, ctx, cb); });
    QVERIFY2(mirrored, qPrintable(mirrored.errorMessage()));

    const kube::ResourcePath path{
        AgentDecisionMirror::resourceType(), m_ns, AgentDecisionMirror::objectName(d.id), {}};
    Result<json> obj = m_api.get(path);
    QVERIFY2(obj, qPrintable(obj.errorMessage()));
    QCOMPARE((*obj)["spec"].value("action", std::string()), "restart_pod");
    QCOMPARE((*obj)["spec"].value("approved", true), false);
    QCOMPARE((*obj)["status"].value("phase", std::string()), "proposed");

    QSignalSpy approvedSpy(&mirror, &AgentDecisionMirror::approved);
    QSignalSpy failedSpy(&mirror, &AgentDecisionMirror::failed);
    mirror.watch(m_ns);
    Result<json> patched = m_api.patch(path, {{"spec", {{"approved", true}}}});
    QVERIFY2(patched, qPrintable(patched.errorMessage()));

    if (blocked) {
        // The namespace also holds the other row's object (not in this store): pick this decision's failure.
        QString failure;
        QVERIFY(ClusterApi::waitFor(
            [&] {
                for (const QList<QVariant> &args : failedSpy) {
                    if (args.first().toString().contains(d.id))
                        failure = args.first().toString();
                }
                return !failure.isEmpty();
            },
            15000));
        QVERIFY2(failure.contains("guardrails blocked"), qPrintable(failure));
        QCOMPARE(approvedSpy.count(), 0);
        QCOMPARE(store->load(d.id)->state, DecisionState::Proposed);
        mirror.stop();
        return;
    }
    QVERIFY(ClusterApi::waitFor([&] { return approvedSpy.count() > 0; }, 15000));
    QCOMPARE(approvedSpy.first().first().toString(), d.id);
    const Decision after = store->load(d.id).value();
    QCOMPARE(after.state, DecisionState::Approved);
    QCOMPARE(after.approver.via, QString("AgentDecision"));
    QVERIFY2(!after.approver.kubeUser.isEmpty(), qPrintable(after.approver.kubeUser));
    // The mirror writes the new phase and leaves the person's spec.approved alone.
    QVERIFY(ClusterApi::waitFor(
        [&] {
            Result<json> o = m_api.get(path);
            return o && (*o)["status"].value("phase", std::string()) == "approved" &&
                   (*o)["spec"].value("approved", false);
        },
        15000));
    mirror.stop();
    QCOMPARE(failedSpy.count(), 0);
}

// start(): real discovery and access reviews (the test cluster's admin may do everything), then every
// state the executor reaches shows up in the cluster without a mirror() call, ending in the latest one.
void TestAgentDecisionMirrorCluster::startedMirrorFollowsTheExecutor()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    std::unique_ptr<DecisionStore> store =
        std::move(DecisionStore::open(dir.filePath("decisions.db")).value());
    std::unique_ptr<audit::AuditLog> log = std::move(audit::AuditLog::open(dir.filePath("audit.db")).value());
    ActionRunner runner(m_api.client.get(), AlertConfig{});
    guard::Policy policy = test::testPolicy();
    Executor executor(store.get(), log.get(), &runner, policy);
    QObject owner;
    Result<AgentDecisionMirror *> started = cli::await<AgentDecisionMirror *>([&](QObject *, auto cb) {
        AgentDecisionMirror::start(m_api.client.get(), &executor, m_ns, &owner, cb);
    });
    QVERIFY2(started, qPrintable(started.errorMessage()));

    guard::IncidentTarget t;
    t.namespaceName = m_ns;
    t.podName = "web-2";
    t.ownerKind = "Deployment";
    t.ownerName = "web";
    const Decision d = test::judgedDecision(ActionKind::RestartPod,
                                            {{"namespace", m_ns.toStdString()}, {"pod", "web-2"}}, t, policy);
    QVERIFY(executor.propose(d));
    QVERIFY(executor.reject(d.id, {"alice", "", "test"}, "not now"));
    const kube::ResourcePath path{
        AgentDecisionMirror::resourceType(), m_ns, AgentDecisionMirror::objectName(d.id), {}};
    QVERIFY(ClusterApi::waitFor(
        [&] {
            Result<json> o = m_api.get(path);
            return o && (*o)["status"].value("phase", std::string()) == "rejected" &&
                   (*o)["spec"].value("action", std::string()) == "restart_pod";
        },
        15000));
}

QTEST_GUILESS_MAIN(TestAgentDecisionMirrorCluster)
#include "tst_agentdecisionmirror_cluster.moc"
