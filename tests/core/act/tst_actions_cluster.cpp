// Every catalog action through the Executor against the real test cluster:
// preview, approve, execute, verify and undo, with the audit chain checked at the end.

#include "clusterfixture.h"
#include "core/act/actions.h"
#include "core/act/decisionstore.h"
#include "core/act/executor.h"
#include "core/audit/auditlog.h"

#include <QTemporaryDir>
#include <QTest>

using namespace vigil;
using namespace vigil::act;
using json = nlohmann::json;
using vigil::test::ClusterApi;

namespace {

const Approver kTester{"tester", "system:admin", "test"};

std::string str(const QString &s)
{
    return s.toStdString();
}

} // namespace

class TestActionsCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void restartPodEvictsAndAReplacementBecomesReady();
    void restartPodBlockedByBudgetNamesIt();
    void scaleVerifiesAndUndoRestores();
    void scaleOutOfBoundsRefusedBeforeAnyApiCall_data();
    void scaleOutOfBoundsRefusedBeforeAnyApiCall();
    void cordonNodeVerifiesAndUndoUncordons();
    void createAlertRecordsWarningEventOnThePod();
    void auditChainVerifiesWithExecutedAndVerifiedRows();

private:
    Result<Decision> previewed(const Decision &d);
    Result<Decision> execute(const QString &id);
    Result<Decision> verify(const QString &id, int timeoutMs);
    Result<Decision> undo(const QString &id);
    guard::IncidentTarget podTarget(const QString &deployment, const QString &pod);

    ClusterApi m_api;
    QString m_ns;
    QString m_node;
    QTemporaryDir m_dir;
    std::unique_ptr<ActionRunner> m_runner;
    std::unique_ptr<DecisionStore> m_store;
    std::unique_ptr<audit::AuditLog> m_audit;
    std::unique_ptr<Executor> m_executor;
};

void TestActionsCluster::initTestCase()
{
    Result<void> c = m_api.connect();
    QVERIFY2(c, qPrintable(c.errorMessage()));
    m_ns = ClusterApi::uniqueName("vigil-act-");
    m_node = ClusterApi::uniqueName("vigil-act-node-");
    Result<json> ns = m_api.createNamespace(m_ns);
    QVERIFY2(ns, qPrintable(ns.errorMessage()));

    QVERIFY(m_dir.isValid());
    m_runner = std::make_unique<ActionRunner>(m_api.client.get(), AlertConfig{});
    m_runner->setPollIntervalMs(250);
    Result<std::unique_ptr<DecisionStore>> store = DecisionStore::open(m_dir.filePath("decisions.db"));
    QVERIFY2(store, qPrintable(store.errorMessage()));
    m_store = std::move(*store);
    Result<std::unique_ptr<audit::AuditLog>> log = audit::AuditLog::open(m_dir.filePath("audit.db"));
    QVERIFY2(log, qPrintable(log.errorMessage()));
    m_audit = std::move(*log);
    m_executor = std::make_unique<Executor>(m_store.get(), m_audit.get(), m_runner.get(), test::testPolicy());

    for (const char *name : {"web", "guarded", "scaled"}) {
        Result<json> d = m_api.createDeployment(m_ns, name, 2);
        QVERIFY2(d, qPrintable(d.errorMessage()));
    }
    const json pdb = {{"apiVersion", "policy/v1"},
                      {"kind", "PodDisruptionBudget"},
                      {"metadata", {{"name", "guarded-pdb"}, {"namespace", str(m_ns)}}},
                      {"spec", {{"minAvailable", 2}, {"selector", {{"matchLabels", {{"app", "guarded"}}}}}}}};
    Result<json> b = m_api.create({test::budgetsType(), m_ns, {}, {}}, pdb);
    QVERIFY2(b, qPrintable(b.errorMessage()));
    for (const char *name : {"web", "guarded", "scaled"})
        QVERIFY2(ClusterApi::waitFor([&] { return m_api.readyReplicas(m_ns, name) == 2; }, 60000), name);
}

void TestActionsCluster::cleanupTestCase()
{
    if (!m_api.client)
        return;
    if (!m_ns.isEmpty())
        (void)m_api.remove({kube::ResourceType::namespaces(), {}, m_ns, {}});
    if (!m_node.isEmpty())
        (void)m_api.remove({kube::ResourceType::nodes(), {}, m_node, {}});
}

Result<Decision> TestActionsCluster::previewed(const Decision &d)
{
    Result<Decision> proposed = m_executor->propose(d);
    if (!proposed)
        return proposed;
    return cli::await<Decision>([&](QObject *ctx, auto cb) { m_executor->preview(d.id, ctx, cb); });
}

Result<Decision> TestActionsCluster::execute(const QString &id)
{
    if (Result<Decision> a = m_executor->approve(id, kTester); !a)
        return a;
    return cli::await<Decision>([&](QObject *ctx, auto cb) { m_executor->execute(id, ctx, cb); });
}

Result<Decision> TestActionsCluster::verify(const QString &id, int timeoutMs)
{
    return cli::await<Decision>([&](QObject *ctx, auto cb) { m_executor->verify(id, timeoutMs, ctx, cb); });
}

Result<Decision> TestActionsCluster::undo(const QString &id)
{
    return cli::await<Decision>([&](QObject *ctx, auto cb) { m_executor->undo(id, kTester, ctx, cb); });
}

guard::IncidentTarget TestActionsCluster::podTarget(const QString &deployment, const QString &pod)
{
    guard::IncidentTarget t;
    t.namespaceName = m_ns;
    t.podName = pod;
    t.ownerKind = "Deployment";
    t.ownerName = deployment;
    t.podLabels = {{"app", deployment}};
    t.ownerLabels = {{"app", deployment}};
    return t;
}

void TestActionsCluster::restartPodEvictsAndAReplacementBecomesReady()
{
    const QMap<QString, QString> before = m_api.livePods(m_ns, "web");
    QCOMPARE(before.size(), 2);
    const QString pod = before.firstKey();
    const Decision d =
        test::judgedDecision(ActionKind::RestartPod, {{"namespace", str(m_ns)}, {"pod", str(pod)}},
                             podTarget("web", pod), m_executor->policy());
    QCOMPARE(d.verdict.decision, guard::Verdict::NeedsApproval);

    Result<Decision> p = previewed(d);
    QVERIFY2(p, qPrintable(p.errorMessage()));
    QCOMPARE(p->state, DecisionState::Previewed);
    QVERIFY2(p->preview.contains(pod) && p->preview.contains("would evict"), qPrintable(p->preview));
    QCOMPARE(m_api.livePods(m_ns, "web").value(pod), before.value(pod)); // the dry run changed nothing

    Result<Decision> e = execute(d.id);
    QVERIFY2(e, qPrintable(e.errorMessage()));
    QCOMPARE(e->state, DecisionState::Executed);
    QCOMPARE(e->outcome.value("status", std::string()), "done");

    Result<Decision> v = verify(d.id, 60000);
    QVERIFY2(v, qPrintable(v.errorMessage()));
    QVERIFY2(v->state == DecisionState::Verified, v->outcome.dump().c_str());
    const QString replacement =
        QString::fromStdString(v->outcome["response"].value("replacement", std::string()));
    QVERIFY(!replacement.isEmpty());
    QVERIFY(!before.contains(replacement));
    QVERIFY(ClusterApi::waitFor([&] { return !m_api.livePods(m_ns, "web").contains(pod); }, 30000));
}

void TestActionsCluster::restartPodBlockedByBudgetNamesIt()
{
    // The disruption controller must have counted the pods, or the budget is not enforced yet.
    QVERIFY(ClusterApi::waitFor(
        [&] {
            Result<json> b = m_api.get({test::budgetsType(), m_ns, "guarded-pdb", {}});
            return b && b->value("status", json::object()).value("currentHealthy", 0) == 2 &&
                   b->value("status", json::object()).value("desiredHealthy", 0) == 2;
        },
        60000));
    const QMap<QString, QString> before = m_api.livePods(m_ns, "guarded");
    QCOMPARE(before.size(), 2);
    const QString pod = before.firstKey();
    const Decision d =
        test::judgedDecision(ActionKind::RestartPod, {{"namespace", str(m_ns)}, {"pod", str(pod)}},
                             podTarget("guarded", pod), m_executor->policy());

    Result<Decision> p = previewed(d);
    QVERIFY2(p, qPrintable(p.errorMessage()));
    QVERIFY2(p->preview.contains("guarded-pdb"), qPrintable(p->preview));

    Result<Decision> e = execute(d.id);
    QVERIFY2(e, qPrintable(e.errorMessage()));
    QCOMPARE(e->state, DecisionState::Failed);
    QCOMPARE(e->outcome.value("status", std::string()), "blocked");
    const QString message = QString::fromStdString(e->outcome.value("message", std::string()));
    QVERIFY2(message.contains("PodDisruptionBudget guarded-pdb") && message.contains(pod),
             qPrintable(message));

    QTest::qWait(1000);
    QCOMPARE(m_api.livePods(m_ns, "guarded"), before);
}

void TestActionsCluster::scaleVerifiesAndUndoRestores()
{
    const Decision d = test::judgedDecision(
        ActionKind::ScaleDeployment, {{"namespace", str(m_ns)}, {"deployment", "scaled"}, {"replicas", 3}},
        podTarget("scaled", m_api.livePods(m_ns, "scaled").firstKey()), m_executor->policy());
    QCOMPARE(d.verdict.decision, guard::Verdict::NeedsApproval);
    Result<Decision> p = previewed(d);
    QVERIFY2(p, qPrintable(p.errorMessage()));
    QVERIFY2(p->preview.contains("from 2 to 3"), qPrintable(p->preview));
    QCOMPARE(
        m_api.get({kube::ResourceType::deployments(), m_ns, "scaled", {}})->at("spec").value("replicas", 0),
        2);

    Result<Decision> e = execute(d.id);
    QVERIFY2(e, qPrintable(e.errorMessage()));
    QCOMPARE(e->state, DecisionState::Executed);

    Result<Decision> v = verify(d.id, 60000);
    QVERIFY2(v, qPrintable(v.errorMessage()));
    QVERIFY2(v->state == DecisionState::Verified, v->outcome.dump().c_str());
    QCOMPARE(v->outcome["response"].value("readyReplicas", 0), 3);
    QCOMPARE(m_api.readyReplicas(m_ns, "scaled"), 3);

    Result<Decision> u = undo(d.id);
    QVERIFY2(u, qPrintable(u.errorMessage()));
    QCOMPARE(u->state, DecisionState::Undone);
    QCOMPARE(
        m_api.get({kube::ResourceType::deployments(), m_ns, "scaled", {}})->at("spec").value("replicas", 0),
        2);
    QVERIFY(ClusterApi::waitFor([&] { return m_api.readyReplicas(m_ns, "scaled") == 2; }, 60000));
}

void TestActionsCluster::scaleOutOfBoundsRefusedBeforeAnyApiCall_data()
{
    QTest::addColumn<int>("replicas");
    QTest::newRow("21 is above maxReplicas 20") << 21;
    QTest::newRow("1 is below minReplicas 2") << 1;
}

void TestActionsCluster::scaleOutOfBoundsRefusedBeforeAnyApiCall()
{
    QFETCH(int, replicas);
    Result<json> before = m_api.get({kube::ResourceType::deployments(), m_ns, "scaled", {}});
    QVERIFY2(before, qPrintable(before.errorMessage()));
    Decision d = test::judgedDecision(
        ActionKind::ScaleDeployment,
        {{"namespace", str(m_ns)}, {"deployment", "scaled"}, {"replicas", replicas}},
        podTarget("scaled", m_api.livePods(m_ns, "scaled").firstKey()), m_executor->policy());
    QCOMPARE(d.verdict.decision, guard::Verdict::Blocked);
    QVERIFY(m_executor->propose(d));
    QVERIFY(!m_executor->approve(d.id, kTester)); // the first gate

    // A stale or forged verdict still meets the executor's own judgement before any call.
    Decision forged =
        test::judgedDecision(ActionKind::ScaleDeployment,
                             {{"namespace", str(m_ns)}, {"deployment", "scaled"}, {"replicas", replicas}},
                             d.target, m_executor->policy());
    forged.verdict.decision = guard::Verdict::NeedsApproval;
    forged.verdict.reasons.clear();
    QVERIFY(m_executor->propose(forged));
    Result<Decision> e = execute(forged.id);
    QVERIFY(!e);
    QVERIFY2(e.errorMessage().contains("before any API call"), qPrintable(e.errorMessage()));
    QCOMPARE(m_store->load(forged.id)->state, DecisionState::Failed);

    Result<json> after = m_api.get({kube::ResourceType::deployments(), m_ns, "scaled", {}});
    QVERIFY2(after, qPrintable(after.errorMessage()));
    QCOMPARE(after->at("metadata").value("generation", 0), before->at("metadata").value("generation", -1));
    QCOMPARE(after->at("metadata").value("resourceVersion", std::string()),
             before->at("metadata").value("resourceVersion", std::string("?")));
}

void TestActionsCluster::cordonNodeVerifiesAndUndoUncordons()
{
    const json node = {
        {"apiVersion", "v1"},
        {"kind", "Node"},
        {"metadata",
         {{"name", str(m_node)},
          {"annotations", {{"kwok.x-k8s.io/node", "fake"}}},
          {"labels", {{"type", "kwok"}, {"kubernetes.io/hostname", str(m_node)}}}}},
        // Keeps other tests' pods off this node while it lives.
        {"spec", {{"taints", json::array({{{"key", "vigil.dev/act-test"}, {"effect", "NoSchedule"}}})}}}};
    Result<json> created = m_api.create({kube::ResourceType::nodes(), {}, {}, {}}, node);
    QVERIFY2(created, qPrintable(created.errorMessage()));

    guard::IncidentTarget t;
    t.nodeName = m_node;
    t.nodeLabels = {{"type", "kwok"}};
    const Decision d =
        test::judgedDecision(ActionKind::CordonNode, {{"node", str(m_node)}}, t, m_executor->policy());
    QCOMPARE(d.verdict.decision, guard::Verdict::NeedsApproval);
    Result<Decision> p = previewed(d);
    QVERIFY2(p, qPrintable(p.errorMessage()));
    QVERIFY2(p->preview.contains("would cordon node " + m_node), qPrintable(p->preview));
    QVERIFY(
        !m_api.get({kube::ResourceType::nodes(), {}, m_node, {}})->at("spec").value("unschedulable", false));

    Result<Decision> e = execute(d.id);
    QVERIFY2(e, qPrintable(e.errorMessage()));
    QCOMPARE(e->state, DecisionState::Executed);
    Result<Decision> v = verify(d.id, 20000);
    QVERIFY2(v, qPrintable(v.errorMessage()));
    QCOMPARE(v->state, DecisionState::Verified);
    QVERIFY(
        m_api.get({kube::ResourceType::nodes(), {}, m_node, {}})->at("spec").value("unschedulable", false));

    Result<Decision> u = undo(d.id);
    QVERIFY2(u, qPrintable(u.errorMessage()));
    QCOMPARE(u->state, DecisionState::Undone);
    Result<json> after = m_api.get({kube::ResourceType::nodes(), {}, m_node, {}});
    QVERIFY2(after, qPrintable(after.errorMessage()));
    QVERIFY(!after->at("spec").value("unschedulable", false));

    Result<json> removed = m_api.remove({kube::ResourceType::nodes(), {}, m_node, {}});
    QVERIFY2(removed, qPrintable(removed.errorMessage()));
    m_node.clear();
}

void TestActionsCluster::createAlertRecordsWarningEventOnThePod()
{
    const QString pod = m_api.livePods(m_ns, "guarded").firstKey();
    const Decision d = test::judgedDecision(ActionKind::CreateAlert,
                                            {{"summary", "guarded keeps crashing"}, {"severity", "critical"}},
                                            podTarget("guarded", pod), m_executor->policy());
    QVERIFY(d.verdict.decision != guard::Verdict::Blocked);
    Result<Decision> p = previewed(d);
    QVERIFY2(p, qPrintable(p.errorMessage()));
    QVERIFY2(p->preview.contains("would record Warning Event"), qPrintable(p->preview));

    Result<Decision> e = execute(d.id);
    QVERIFY2(e, qPrintable(e.errorMessage()));
    QCOMPARE(e->state, DecisionState::Executed);
    Result<Decision> v = verify(d.id, 10000);
    QVERIFY2(v, qPrintable(v.errorMessage()));
    QCOMPARE(v->state, DecisionState::Verified);

    Result<QList<json>> events = m_api.list({kube::ResourceType::events(), m_ns, {}, {}}, {},
                                            "involvedObject.name=" + pod + ",reason=VigilAlert");
    QVERIFY2(events, qPrintable(events.errorMessage()));
    QCOMPARE(events->size(), 1); // the preview's dry run recorded nothing
    const json &ev = events->first();
    QCOMPARE(ev.value("type", std::string()), "Warning");
    QCOMPARE(ev.value("message", std::string()), "guarded keeps crashing");
    QCOMPARE(ev["involvedObject"].value("kind", std::string()), "Pod");
}

void TestActionsCluster::auditChainVerifiesWithExecutedAndVerifiedRows()
{
    Result<audit::VerifyReport> report = m_audit->verify();
    QVERIFY2(report, qPrintable(report.errorMessage()));
    QVERIFY2(report->ok, qPrintable(report->message));
    QStringList kinds;
    const Result<QList<audit::AuditEvent>> events = m_audit->query();
    QVERIFY2(events, qPrintable(events.errorMessage()));
    for (const audit::AuditEvent &e : *events)
        kinds << e.kind;
    QCOMPARE(report->rowsChecked, qint64(kinds.size()));
    for (const char *kind :
         {"proposed", "previewed", "approved", "executing", "executed", "verified", "undone", "refused"})
        QVERIFY2(kinds.contains(kind), kind);
    QCOMPARE(kinds.count("verified"), 4);
}

QTEST_GUILESS_MAIN(TestActionsCluster)
#include "tst_actions_cluster.moc"
