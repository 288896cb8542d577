// The desktop's Agent decisions tab against the real cluster: the
// AgentDecision CRD installed (as tst_agentdecisionmirror_cluster does), two
// decisions mirrored into a fresh namespace by a real Executor and
// AgentDecisionMirror standing in for the in-cluster agent, one with a status
// condition. The view lists both with what the agent did; Approve sets
// spec.approved and records who, and the agent's mirror turns that into
// Executor::approve; Reject sets spec.rejected and spec.rejectReason (as the
// agent reads them), records who, and approves nothing. The tab says that the
// desktop's own decisions are mirrored.

#include "clusterapi.h"
#include "core/act/actions.h"
#include "core/act/agentdecisionmirror.h"
#include "core/act/decisionstore.h"
#include "core/act/executor.h"
#include "core/audit/auditlog.h"
#include "ui/agentdecisionmodel.h"
#include "ui/agentdecisionview.h"
#include "ui/mainwindow.h"

#include <QApplication>
#include <QFile>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>

using namespace vigil;
using json = nlohmann::json;
using vigil::test::ClusterApi;

namespace {

QString clusterKubeconfig()
{
    QFile f(qEnvironmentVariable("VIGIL_TEST_CLUSTER_FILE"));
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll().trimmed()) : QString();
}

act::Decision proposal(const QString &ns, const QString &pod, const guard::Policy &policy)
{
    guard::IncidentTarget t;
    t.namespaceName = ns;
    t.podName = pod;
    t.ownerKind = "Deployment";
    t.ownerName = "web";
    Diagnosis g;
    g.diagnosis = "crash loop in " + pod;
    g.confidence = 0.9;
    g.action = ActionKind::RestartPod;
    g.parameters = {{"namespace", ns.toStdString()}, {"pod", pod.toStdString()}};
    const guard::Verdict v =
        guard::evaluate(guard::Proposal{g, QString(), t}, {policy, QDateTime::currentDateTimeUtc(), {}});
    return act::newDecision("fp-" + pod, t, g, v);
}

} // namespace

class TestAgentDecisionsCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void listApproveReject();

private:
    ClusterApi m_api;
    QString m_ns;
    QTemporaryDir m_dir;
};

void TestAgentDecisionsCluster::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QApplication::setOrganizationName("VigilTest");
    QApplication::setApplicationName("tst_agentdecisions_cluster");
    QSettings().clear();
    Result<void> c = m_api.connect();
    QVERIFY2(c, qPrintable(c.errorMessage()));
    m_ns = ClusterApi::uniqueName("vigil-desk-adec-");
    Result<json> ns = m_api.createNamespace(m_ns);
    QVERIFY2(ns, qPrintable(ns.errorMessage()));

    Result<void> crd = m_api.installAgentDecisionCrd();
    QVERIFY2(crd, qPrintable(crd.errorMessage()));
}

void TestAgentDecisionsCluster::cleanupTestCase()
{
    if (m_api.client && !m_ns.isEmpty())
        (void)m_api.remove({kube::ResourceType::namespaces(), {}, m_ns, {}});
}

void TestAgentDecisionsCluster::listApproveReject()
{
    // The agent's side: its own store, executor and mirror, watching this namespace for approvals.
    auto store = std::move(act::DecisionStore::open(m_dir.filePath("agent-decisions.db")).value());
    auto log = std::move(audit::AuditLog::open(m_dir.filePath("agent-audit.db")).value());
    act::ActionRunner runner(m_api.client.get(), act::AlertConfig{});
    guard::Policy policy;
    policy.mode = guard::PolicyMode::Approve;
    policy.autoApprove.clear();
    act::Executor executor(store.get(), log.get(), &runner, policy);
    act::AgentDecisionMirror mirror(m_api.client.get(), &executor);
    const act::Decision toApprove = proposal(m_ns, "web-1", policy);
    const act::Decision toReject = proposal(m_ns, "web-2", policy);
    QCOMPARE(toApprove.verdict.decision, guard::Verdict::NeedsApproval);
    for (const act::Decision &d : {toApprove, toReject}) {
        QVERIFY(executor.propose(d));
        Result<void> m = cli::await<void>([&](QObject *ctx, auto cb) { mirror.mirror(d, ctx, cb); });
        QVERIFY2(m, qPrintable(m.errorMessage()));
    }
    // What the agent did so far, as a condition on the first one's status.
    const kube::ResourcePath first{act::AgentDecisionMirror::resourceType(),
                                   m_ns,
                                   act::AgentDecisionMirror::objectName(toApprove.id),
                                   {}};
    const kube::ResourcePath second{act::AgentDecisionMirror::resourceType(),
                                    m_ns,
                                    act::AgentDecisionMirror::objectName(toReject.id),
                                    {}};
    kube::ResourcePath firstStatus = first;
    firstStatus.subresource = "status";
    Result<json> cond = m_api.patch(
        firstStatus,
        {{"status",
          {{"conditions", json::array({{{"type", "Previewed"},
                                        {"status", "True"},
                                        {"reason", "DryRunAccepted"},
                                        {"message", "the server accepted a dry-run eviction of web-1"},
                                        {"lastTransitionTime", "2026-11-25T12:00:00Z"}}})}}}});
    QVERIFY2(cond, qPrintable(cond.errorMessage()));
    QSignalSpy approved(&mirror, &act::AgentDecisionMirror::approved);
    mirror.watch(m_ns);

    // The desktop, on this namespace.
    ui::MainWindowOptions o;
    o.kubeconfig = clusterKubeconfig();
    o.namespaceName = m_ns;
    o.auditPath = m_dir.filePath("audit.sqlite");
    o.dataDir = m_dir.filePath("data");
    o.providerFile = m_dir.filePath("no-providers.yaml");
    o.env = QProcessEnvironment();
    o.env.insert("HOME", m_dir.path());
    ui::MainWindow w(o);
    w.show();
    ui::AgentDecisionView *view = w.agentDecisionView();
    w.tabs()->setCurrentWidget(view);
    QTRY_COMPARE_WITH_TIMEOUT(view->model()->rowCount(), 2, 30000);
    QVERIFY2(view->statusText().startsWith("AgentDecisions in this cluster"), qPrintable(view->statusText()));
    // The CRD is installed and the test user may write it: the desktop's own decisions are mirrored too.
    QTRY_VERIFY_WITH_TIMEOUT(view->mirrorText().contains("are mirrored into the cluster as AgentDecisions"),
                             20000);

    // The first: what the agent proposed and did, then one click approves it.
    const QString firstUid =
        QString::fromStdString(m_api.get(first)->at("metadata").value("uid", std::string()));
    QVERIFY(view->select(firstUid));
    QTRY_VERIFY_WITH_TIMEOUT(view->detailsText().contains("the server accepted a dry-run eviction of web-1"),
                             10000);
    QVERIFY2(view->detailsText().contains("crash loop in web-1"), qPrintable(view->detailsText()));
    auto *approve = view->findChild<QPushButton *>("approveAgentDecision");
    QVERIFY(approve && approve->isEnabled());
    approve->click();

    // The agent's mirror saw spec.approved and approved the decision through its executor, once.
    QTRY_COMPARE_WITH_TIMEOUT(approved.count(), 1, 20000);
    QCOMPARE(approved.first().at(0).toString(), toApprove.id);
    QCOMPARE(approved.first().at(1).toString(), QString("vigil-desktop"));
    QCOMPARE(store->load(toApprove.id)->state, act::DecisionState::Approved);
    Result<json> obj = m_api.get(first);
    QVERIFY(obj);
    QCOMPARE((*obj)["spec"].value("approved", false), true);
    const QString by = QString::fromStdString((*obj)["metadata"]
                                                  .value("annotations", json::object())
                                                  .value("vigil.dev/approved-by", std::string()));
    QVERIFY2(by.endsWith("via desktop") && by.startsWith("os:"), qPrintable(by));
    // The view follows: approved by whom, and the phase the agent wrote.
    const int row = view->model()->rowOfUid(firstUid);
    QTRY_VERIFY_WITH_TIMEOUT(view->model()->decision(view->model()->rowOfUid(firstUid))->phase == "approved",
                             20000);
    QVERIFY2(ui::AgentDecisionModel::reviewText(*view->model()->decision(row)).contains(by),
             qPrintable(ui::AgentDecisionModel::reviewText(*view->model()->decision(row))));
    QVERIFY(!approve->isEnabled());

    // The second: rejected with a reason; nothing approves it.
    const QString secondUid =
        QString::fromStdString(m_api.get(second)->at("metadata").value("uid", std::string()));
    QVERIFY(view->select(secondUid));
    auto *reason = view->findChild<QLineEdit *>("agentRejectReason");
    auto *reject = view->findChild<QPushButton *>("rejectAgentDecision");
    QVERIFY(reason && reject);
    reason->setText("web-2 is being debugged");
    QVERIFY(reject->isEnabled());
    reject->click();
    QTRY_VERIFY_WITH_TIMEOUT(view->model()->decision(view->model()->rowOfUid(secondUid))->rejected, 20000);
    // Written the way the agent and kubectl read a rejection: spec.rejected and spec.rejectReason;
    // the annotation only says who.
    obj = m_api.get(second);
    QVERIFY(obj);
    QCOMPARE((*obj)["spec"].value("rejected", false), true);
    QCOMPARE((*obj)["spec"].value("rejectReason", std::string()), std::string("web-2 is being debugged"));
    QCOMPARE((*obj)["spec"].value("approved", true), false);
    const json annotations = (*obj)["metadata"].value("annotations", json::object());
    QVERIFY(!annotations.contains("vigil.dev/reject-reason"));
    QVERIFY(QString::fromStdString(annotations.value("vigil.dev/rejected-by", std::string()))
                .endsWith("via desktop"));
    const QString review =
        ui::AgentDecisionModel::reviewText(*view->model()->decision(view->model()->rowOfUid(secondUid)));
    QVERIFY2(review.endsWith("via desktop: web-2 is being debugged"), qPrintable(review));
    QVERIFY(!reject->isEnabled());
    QTest::qWait(1000);
    QCOMPARE(approved.count(), 1);
    QCOMPARE(store->load(toReject.id)->state, act::DecisionState::Proposed);
    mirror.stop();
}

QTEST_MAIN(TestAgentDecisionsCluster)
#include "tst_agentdecisions_cluster.moc"
