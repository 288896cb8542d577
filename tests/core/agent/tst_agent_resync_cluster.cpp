// One `vigilctl agent` (auto-within-policy, create_alert only, so its
// decisions are proposed, executed and verified at once) against the real
// test cluster. Its AgentDecisions must follow its local decision record:
// - after SIGTERM every local decision has its AgentDecision, in the same
//   phase (the pending writes are flushed before the lease is released);
// - AgentDecisions deleted while the agent is stopped are written again when
//   it starts and takes the lease, each in its local phase, and nothing is
//   executed again;
// - one deleted while the leader runs comes back within the resync interval;
// - a leader whose writes are refused (RBAC: no create/patch on
//   agentdecisions) while it decides writes every decision once the verbs are
//   granted, without a restart.

#include "agentprocess.h"

#include "core/act/decisionstore.h"
#include "httptestserver.h"
#include "testcluster.h"

#include <QTemporaryDir>

using namespace vigil;
using namespace vigil::test;
using json = nlohmann::json;

class TestAgentResyncCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void shutdownLeavesEveryAgentDecisionInStep();
    void restartRestoresDeletedAgentDecisions();
    void runningLeaderRestoresADeletedOne();
    void refusedWritesAreWrittenOnceAllowed();
    void cleanupTestCase();

private:
    /// decision id -> state name, from the stopped agent's decisions.db.
    QHash<QString, QString> localPhases();
    /// Each local decision whose AgentDecision is missing or in another phase, as "id (cluster X, local Y)".
    QStringList outOfStep(const QHash<QString, QString> &local, const QString &lease);
    /// A kubeconfig for a service account of the test namespace bound to role, written into the temp dir.
    Result<QString> serviceAccountKubeconfig(const QString &role);
    void deleteAgentDecision(const QString &id);

    AgentClusterFixture m_cluster;
    QTemporaryDir m_dir;
    QString m_lease;
    QStringList m_args;
    std::unique_ptr<HttpTestServer> m_webhook;
    std::unique_ptr<AgentProcess> m_agent;
};

void TestAgentResyncCluster::initTestCase()
{
    Result<void> ready = m_cluster.setUp("vigil-resync-", {"crashloop"});
    QVERIFY2(ready, qPrintable(ready.errorMessage()));
    QVERIFY(m_dir.isValid());
    QFile policy(m_dir.filePath("policy.yaml"));
    QVERIFY(policy.open(QIODevice::WriteOnly));
    policy.write(alertOnlyPolicy());
    policy.close();
    m_webhook = std::make_unique<HttpTestServer>([](HttpExchange *ex) { ex->respondJson(200, "{}"); });
    QVERIFY(m_webhook->listen());
    m_lease = ClusterApi::uniqueName("vigil-resync-");
    m_args << "--kubeconfig" << m_cluster.kubeconfig << "-n" << m_cluster.ns << "--policy"
           << policy.fileName() << "--lease-name" << m_lease << "--lease-duration"
           << "3"
           << "--renew-deadline"
           << "2"
           << "--retry-period"
           << "0.4"
           << "--verify-timeout"
           << "10"
           << "--resync-interval"
           << "2"
           << "--alert-webhook" << m_webhook->url().toString() + "/hook";
    m_agent = std::make_unique<AgentProcess>("resync", m_dir.filePath("data"));
}

QHash<QString, QString> TestAgentResyncCluster::localPhases()
{
    QHash<QString, QString> out;
    auto store = act::DecisionStore::open(m_agent->dataDir() + "/decisions.db");
    if (!store)
        return out;
    Result<QList<act::Decision>> decisions = (*store)->list();
    if (!decisions)
        return out;
    for (const act::Decision &d : *decisions)
        out.insert(d.id, act::stateName(d.state));
    return out;
}

QStringList TestAgentResyncCluster::outOfStep(const QHash<QString, QString> &local, const QString &lease)
{
    QHash<QString, QString> cluster;
    for (const json &o : m_cluster.agentDecisionsOf(lease))
        cluster.insert(str(o, {"metadata", "labels", "vigil.dev/decision"}), str(o, {"status", "phase"}));
    QStringList out;
    for (auto it = local.cbegin(); it != local.cend(); ++it) {
        if (cluster.value(it.key()) != it.value())
            out << QStringLiteral("%1 (cluster %2, local %3)")
                       .arg(it.key(), cluster.value(it.key(), "missing"), it.value());
    }
    return out;
}

void TestAgentResyncCluster::deleteAgentDecision(const QString &id)
{
    Result<json> removed = m_cluster.api.remove({agentDecisions(), m_cluster.ns, "vigil-" + id, {}});
    QVERIFY2(removed, qPrintable(removed.errorMessage()));
}

void TestAgentResyncCluster::shutdownLeavesEveryAgentDecisionInStep()
{
    m_agent->start(m_args);
    QVERIFY2(m_agent->waitUntilServing(), qPrintable(m_agent->logText()));
    // SIGTERM right after the first action: its outcome (and maybe its verification) is still being
    // written when the stop begins.
    QVERIFY2(ClusterApi::waitFor([&] { return !m_agent->logged("executed").isEmpty(); }, 60000),
             qPrintable(m_agent->logText()));
    QVERIFY2(m_agent->stop(30000), qPrintable(m_agent->logText()));
    QVERIFY2(!m_agent->logged("lease released").isEmpty(), qPrintable(m_agent->logText()));
    QVERIFY2(
        m_agent->logged("stopping with AgentDecision writes not done; the agent's next start resyncs them")
            .isEmpty(),
        qPrintable(m_agent->logText()));

    const QHash<QString, QString> local = localPhases();
    QVERIFY(!local.isEmpty());
    const QStringList behind = outOfStep(local, m_lease);
    QVERIFY2(behind.isEmpty(), qPrintable(behind.join(", ")));
}

void TestAgentResyncCluster::restartRestoresDeletedAgentDecisions()
{
    const QHash<QString, QString> local = localPhases();
    QVERIFY(!local.isEmpty());
    // How often the webhook heard about the decisions made so far (a new incident's alert is no repeat).
    auto hooks = [&] {
        int n = 0;
        for (const HttpRequest &r : m_webhook->requests())
            for (const QString &id : local.keys())
                n += r.body.contains(id.toUtf8());
        return n;
    };
    const int hooksBefore = hooks();
    QVERIFY(hooksBefore >= 1);
    for (const QString &id : local.keys())
        deleteAgentDecision(id);
    QVERIFY(ClusterApi::waitFor([&] { return m_cluster.agentDecisionsOf(m_lease).isEmpty(); }, 20000));
    QCOMPARE(outOfStep(local, m_lease).size(), local.size());

    m_agent = std::make_unique<AgentProcess>("resync", m_dir.filePath("data"));
    m_agent->start(m_args);
    QVERIFY2(m_agent->waitUntilServing(), qPrintable(m_agent->logText()));
    QVERIFY2(ClusterApi::waitFor([&] { return outOfStep(local, m_lease).isEmpty(); }, 30000),
             qPrintable(outOfStep(local, m_lease).join(", ") + "\n" + m_agent->logText()));
    const QList<json> resynced = m_agent->logged("resyncing AgentDecisions from the local record");
    QVERIFY2(!resynced.isEmpty(), qPrintable(m_agent->logText()));
    QCOMPARE(resynced.first()["fields"].value("why", std::string()), std::string("took the lease"));
    QCOMPARE(resynced.first()["fields"].value("missing", 0), int(local.size()));
    // Restored, not redone: no decision started executing again and the webhook heard nothing new.
    for (const json &l : m_agent->logged("executing"))
        QVERIFY2(!local.contains(QString::fromStdString(l["fields"].value("decision", std::string()))),
                 qPrintable(m_agent->logText()));
    for (const QString &id : local.keys())
        QVERIFY2(m_agent->audit(id, "executing").size() <= 1, qPrintable(id));
    QCOMPARE(hooks(), hooksBefore);
    // The restored objects carry the whole decision again (the annotation the ledger reads).
    for (const json &o : m_cluster.agentDecisionsOf(m_lease))
        QVERIFY2(!str(o, {"metadata", "annotations", "vigil.dev/decision"}).isEmpty(),
                 qPrintable(str(o, {"metadata", "name"})));
}

void TestAgentResyncCluster::runningLeaderRestoresADeletedOne()
{
    QVERIFY(ClusterApi::waitFor([&] { return m_agent->isLeader(); }, 20000));
    const QList<json> objects = m_cluster.agentDecisionsOf(m_lease);
    QVERIFY(!objects.isEmpty());
    const QString id = str(objects.first(), {"metadata", "labels", "vigil.dev/decision"});
    const QString phase = str(objects.first(), {"status", "phase"});
    deleteAgentDecision(id);
    const kube::ResourcePath path{agentDecisions(), m_cluster.ns, "vigil-" + id, {}};
    // --resync-interval 2: back within a few intervals, in the same phase.
    QVERIFY2(ClusterApi::waitFor(
                 [&] {
                     Result<json> o = m_cluster.api.get(path);
                     return o && str(*o, {"status", "phase"}) == phase;
                 },
                 15000),
             qPrintable(m_agent->logText()));
    bool periodic = false;
    for (const json &l : m_agent->logged("resyncing AgentDecisions from the local record"))
        periodic = periodic || l["fields"].value("why", std::string()) == "periodic";
    QVERIFY2(periodic, qPrintable(m_agent->logText()));

    QVERIFY2(m_agent->stop(30000), qPrintable(m_agent->logText()));
    const QStringList behind = outOfStep(localPhases(), m_lease);
    QVERIFY2(behind.isEmpty(), qPrintable(behind.join(", ")));
}

Result<QString> TestAgentResyncCluster::serviceAccountKubeconfig(const QString &role)
{
    const kube::ResourceType accounts{"", "v1", "serviceaccounts", true};
    const kube::ResourceType bindings{"rbac.authorization.k8s.io", "v1", "rolebindings", true};
    const QString name = "vigil-resync-agent";
    Result<json> sa = m_cluster.api.create({accounts, m_cluster.ns, {}, {}},
                                           {{"metadata", {{"name", name.toStdString()}}}});
    if (!sa)
        return sa.error();
    const json binding = {
        {"metadata", {{"name", name.toStdString()}}},
        {"roleRef",
         {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", role.toStdString()}}},
        {"subjects",
         {{{"kind", "ServiceAccount"},
           {"name", name.toStdString()},
           {"namespace", m_cluster.ns.toStdString()}}}}};
    if (Result<json> b = m_cluster.api.create({bindings, m_cluster.ns, {}, {}}, binding); !b)
        return b.error();
    Result<json> token = m_cluster.api.create({accounts, m_cluster.ns, name, "token"},
                                              {{"apiVersion", "authentication.k8s.io/v1"},
                                               {"kind", "TokenRequest"},
                                               {"spec", {{"expirationSeconds", 3600}}}});
    if (!token)
        return token.error();
    Result<kube::Connection> admin = testClusterConnection();
    if (!admin)
        return admin.error();
    QByteArray ca;
    for (const QSslCertificate &c : admin->caCertificates)
        ca += c.toPem();
    QFile f(m_dir.filePath("restricted.kubeconfig"));
    if (!f.open(QIODevice::WriteOnly))
        return Error(f.fileName() + ": " + f.errorString());
    f.write("apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: " +
            admin->server.toString().toUtf8() + "\n    certificate-authority-data: " + ca.toBase64() +
            (admin->tlsServerName.isEmpty() ? QByteArray()
                                            : "\n    tls-server-name: " + admin->tlsServerName.toUtf8()) +
            "\nusers:\n- name: agent\n  user:\n    token: " +
            QByteArray::fromStdString(token->value("status", json::object()).value("token", std::string())) +
            "\ncontexts:\n- name: agent\n  context:\n    cluster: test\n    user: agent\n    namespace: " +
            m_cluster.ns.toUtf8() + "\ncurrent-context: agent\n");
    return f.fileName();
}

void TestAgentResyncCluster::refusedWritesAreWrittenOnceAllowed()
{
    // What a namespaced agent needs, except writing AgentDecisions.
    const kube::ResourceType roles{"rbac.authorization.k8s.io", "v1", "roles", true};
    const std::string role = "vigil-resync-agent";
    const json read = {"get", "list", "watch"};
    json rules = json::array({
        {{"apiGroups", {""}}, {"resources", {"pods", "pods/log", "events"}}, {"verbs", read}},
        {{"apiGroups", {""}}, {"resources", {"events"}}, {"verbs", {"create", "patch"}}},
        {{"apiGroups", {"apps"}},
         {"resources", {"deployments", "replicasets", "statefulsets", "daemonsets"}},
         {"verbs", read}},
        {{"apiGroups", {"coordination.k8s.io"}},
         {"resources", {"leases"}},
         {"verbs", {"get", "list", "watch", "create", "update", "patch"}}},
        {{"apiGroups", {"ai.vigil.dev"}}, {"resources", {"agentdecisions"}}, {"verbs", read}},
    });
    Result<json> created = m_cluster.api.create({roles, m_cluster.ns, {}, {}},
                                                {{"metadata", {{"name", role}}}, {"rules", rules}});
    QVERIFY2(created, qPrintable(created.errorMessage()));
    Result<QString> kubeconfig = serviceAccountKubeconfig(QString::fromStdString(role));
    QVERIFY2(kubeconfig, qPrintable(kubeconfig.errorMessage()));

    const QString lease = ClusterApi::uniqueName("vigil-refused-");
    QStringList args = m_args;
    args[args.indexOf("--kubeconfig") + 1] = *kubeconfig;
    args[args.indexOf("--lease-name") + 1] = lease;
    AgentProcess refused("refused", m_dir.filePath("refused"));
    refused.start(args);
    QVERIFY2(refused.waitUntilServing(), qPrintable(refused.logText()));
    // It decides, but every AgentDecision write is forbidden (and retried).
    QVERIFY2(ClusterApi::waitFor(
                 [&] {
                     return !refused.logged("proposed").isEmpty() &&
                            !refused.logged("cannot write the AgentDecision; will retry").isEmpty();
                 },
                 60000),
             qPrintable(refused.logText()));
    QVERIFY(m_cluster.agentDecisionsOf(lease).isEmpty());

    rules.push_back({{"apiGroups", {"ai.vigil.dev"}},
                     {"resources", {"agentdecisions", "agentdecisions/status"}},
                     {"verbs", {"create", "patch", "update"}}});
    Result<json> granted =
        m_cluster.api.patch({roles, m_cluster.ns, QString::fromStdString(role), {}}, {{"rules", rules}});
    QVERIFY2(granted, qPrintable(granted.errorMessage()));
    // Written without a restart, each decision once (the running leader's retry and resync).
    QSet<QString> proposed;
    for (const json &l : refused.logged("proposed"))
        proposed.insert(QString::fromStdString(l["fields"].value("decision", std::string())));
    QVERIFY2(ClusterApi::waitFor(
                 [&] {
                     QSet<QString> written;
                     for (const json &o : m_cluster.agentDecisionsOf(lease))
                         written.insert(str(o, {"metadata", "labels", "vigil.dev/decision"}));
                     return written.contains(proposed);
                 },
                 45000),
             qPrintable(refused.logText()));
    QVERIFY2(refused.stop(30000), qPrintable(refused.logText()));
    QHash<QString, QString> local;
    {
        auto store = act::DecisionStore::open(refused.dataDir() + "/decisions.db");
        QVERIFY2(store, qPrintable(store.errorMessage()));
        Result<QList<act::Decision>> decisions = (*store)->list();
        QVERIFY2(decisions, qPrintable(decisions.errorMessage()));
        for (const act::Decision &d : *decisions)
            local.insert(d.id, act::stateName(d.state));
    }
    QVERIFY(!local.isEmpty());
    const QStringList behind = outOfStep(local, lease);
    QVERIFY2(behind.isEmpty(), qPrintable(behind.join(", ")));
}

void TestAgentResyncCluster::cleanupTestCase()
{
    if (m_agent)
        m_agent->stop();
    m_cluster.tearDown();
}

QTEST_GUILESS_MAIN(TestAgentResyncCluster)
#include "tst_agent_resync_cluster.moc"
