#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QTest>

#include <nlohmann/json.hpp>

using nlohmann::json;

namespace {

// kubectl kustomize separates documents with a "---" line.
QList<QByteArray> splitDocuments(const QByteArray &yaml)
{
    QByteArray text = "\n" + yaml;
    return text.replace("\n---\n", "\x1e").split('\x1e');
}

} // namespace

// packaging/kubernetes against the real cluster: kubectl kustomize renders
// it, the API server accepts every object in a server-side dry run, the
// ClusterRole stays away from what Vigil never touches, and (applied for
// real under unique names) grants exactly what the agent needs.
class TestKubernetesManifests final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void dryRunAccepted();
    void clusterRoleStaysAway();
    void permissions_data();
    void permissions();

private:
    struct Run {
        int code = -1;
        QByteArray out;
        QByteArray err;
    };
    Run kubectl(const QStringList &args, const QByteArray &input = QByteArray());

    QString m_kubectl;
    QString m_kubeconfig;
    QString m_namespace;
    QString m_suffix;
    QByteArray m_rendered; ///< retargeted at m_namespace
    json m_applied;        ///< the dry run's answer: a List
    bool m_rbacApplied = false;
};

TestKubernetesManifests::Run TestKubernetesManifests::kubectl(const QStringList &args,
                                                              const QByteArray &input)
{
    QProcess p;
    QStringList all = args;
    all << QStringLiteral("--kubeconfig") << m_kubeconfig << QStringLiteral("--request-timeout=30s");
    p.start(m_kubectl, all);
    if (!p.waitForStarted(10000))
        return {};
    if (!input.isEmpty())
        p.write(input);
    p.closeWriteChannel();
    if (!p.waitForFinished(60000)) {
        p.kill();
        p.waitForFinished(5000);
        return {};
    }
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

void TestKubernetesManifests::initTestCase()
{
    QFile f(qEnvironmentVariable("VIGIL_TEST_CLUSTER_FILE"));
    QVERIFY2(f.open(QIODevice::ReadOnly),
             "VIGIL_TEST_CLUSTER_FILE must name the file with the kubeconfig path");
    m_kubeconfig = QString::fromUtf8(f.readAll()).trimmed();
    QVERIFY(QFile::exists(m_kubeconfig));
    m_kubectl = qEnvironmentVariable("KUBECTL");
    if (m_kubectl.isEmpty())
        m_kubectl = QDir::homePath() + QStringLiteral("/.cache/vigil/k8s-v1.35.4/bin/kubectl");
    QVERIFY2(QFile::exists(m_kubectl), qPrintable(m_kubectl));
    m_suffix = QString::number(QRandomGenerator::global()->bounded(1000000));
    m_namespace = QStringLiteral("vigil-pkg-") + m_suffix;

    const QString dir = qEnvironmentVariable("VIGIL_SOURCE_DIR") + QStringLiteral("/packaging/kubernetes");
    const Run rendered = kubectl({QStringLiteral("kustomize"), dir});
    QVERIFY2(rendered.code == 0, rendered.err.constData());
    QVERIFY(rendered.out.contains("kind: Deployment"));
    // Server-side dry run cannot create the namespace it then puts objects in,
    // so the test retargets the manifests at a namespace it creates for real.
    m_rendered = rendered.out;
    m_rendered.replace("vigil-system", m_namespace.toUtf8());
    const Run created = kubectl({QStringLiteral("create"), QStringLiteral("namespace"), m_namespace});
    QVERIFY2(created.code == 0, created.err.constData());

    // The AgentDecision CRD, so RBAC on agentdecisions can be checked by name. Shared by every
    // test on this cluster: applied idempotently, never deleted.
    const Run crd = kubectl(
        {QStringLiteral("apply"), QStringLiteral("--server-side"), QStringLiteral("--force-conflicts"),
         QStringLiteral("-f"),
         qEnvironmentVariable("VIGIL_SOURCE_DIR") + QStringLiteral("/resources/crd/agentdecision.yaml")});
    QVERIFY2(crd.code == 0, crd.err.constData());
    const Run established =
        kubectl({QStringLiteral("wait"), QStringLiteral("--for=condition=Established"),
                 QStringLiteral("crd/agentdecisions.ai.vigil.dev"), QStringLiteral("--timeout=30s")});
    QVERIFY2(established.code == 0, established.err.constData());
}

void TestKubernetesManifests::cleanupTestCase()
{
    if (m_rbacApplied)
        kubectl({QStringLiteral("delete"), QStringLiteral("clusterrole,clusterrolebinding"),
                 QStringLiteral("vigil-agent-") + m_suffix, QStringLiteral("--ignore-not-found")});
    if (!m_namespace.isEmpty())
        kubectl({QStringLiteral("delete"), QStringLiteral("namespace"), m_namespace,
                 QStringLiteral("--wait=false"), QStringLiteral("--ignore-not-found")});
}

void TestKubernetesManifests::dryRunAccepted()
{
    const Run applied =
        kubectl({QStringLiteral("apply"), QStringLiteral("--dry-run=server"), QStringLiteral("--server-side"),
                 QStringLiteral("--force-conflicts"), QStringLiteral("-o"), QStringLiteral("json"),
                 QStringLiteral("-f"), QStringLiteral("-")},
                m_rendered);
    QVERIFY2(applied.code == 0, applied.err.constData());
    m_applied = json::parse(applied.out.toStdString(), nullptr, false);
    QVERIFY(m_applied.is_object() && m_applied["items"].is_array());
    QStringList kinds;
    for (const json &item : m_applied["items"])
        kinds << QString::fromStdString(item["kind"].get<std::string>());
    kinds.sort();
    QCOMPARE(kinds, (QStringList{"ClusterRole", "ClusterRoleBinding", "ConfigMap", "CustomResourceDefinition",
                                 "Deployment", "Namespace", "Role", "RoleBinding", "ServiceAccount"}));
    for (const json &item : m_applied["items"]) {
        if (item["kind"] == "Deployment") {
            QCOMPARE(item["spec"]["replicas"].get<int>(), 2);
            const json &pod = item["spec"]["template"]["spec"];
            const json &c = pod["containers"][0];
            QCOMPARE(c["args"][0].get<std::string>(), std::string("agent"));
            QVERIFY(c["args"].dump().find("--policy=/etc/vigil/policy.yaml") != std::string::npos);
            QVERIFY(c["args"].dump().find("--lease-namespace=$(POD_NAMESPACE)") != std::string::npos);
            QCOMPARE(c["livenessProbe"]["httpGet"]["path"].get<std::string>(), std::string("/healthz"));
            QCOMPARE(c["readinessProbe"]["httpGet"]["path"].get<std::string>(), std::string("/readyz"));
            QVERIFY(c["securityContext"]["readOnlyRootFilesystem"] == true);
            QVERIFY(pod["securityContext"]["runAsNonRoot"] == true);
            QVERIFY(c["resources"]["limits"].contains("memory"));
            bool optionalKey = false;
            for (const json &env : c["env"])
                optionalKey = optionalKey || (env["valueFrom"].contains("secretKeyRef") &&
                                              env["valueFrom"]["secretKeyRef"]["optional"] == true);
            QVERIFY(optionalKey);
        }
        if (item["kind"] == "ConfigMap")
            QVERIFY(item["data"]["policy.yaml"].get<std::string>().find("allowedActions") !=
                    std::string::npos);
    }
}

void TestKubernetesManifests::clusterRoleStaysAway()
{
    QVERIFY2(m_applied.is_object(), "dryRunAccepted must run first");
    int roles = 0;
    for (const json &item : m_applied["items"]) {
        if (item["kind"] != "ClusterRole")
            continue;
        ++roles;
        for (const json &rule : item["rules"]) {
            const std::string dump = rule.dump();
            // The one delete: its own AgentDecisions, once finished and past the TTL.
            const bool decisionsOnly = rule["apiGroups"] == json::array({"ai.vigil.dev"}) &&
                                       rule["resources"] == json::array({"agentdecisions"});
            for (const json &verb : rule["verbs"]) {
                QVERIFY2((verb != "delete" || decisionsOnly) && verb != "deletecollection" && verb != "*" &&
                             verb != "escalate" && verb != "bind" && verb != "impersonate",
                         dump.c_str());
            }
            for (const json &group : rule["apiGroups"])
                QVERIFY2(group != "rbac.authorization.k8s.io" && group != "networking.k8s.io" && group != "*",
                         dump.c_str());
            for (const json &resource : rule["resources"]) {
                const std::string r = resource.get<std::string>();
                QVERIFY2(r != "namespaces" && r != "persistentvolumes" && r != "persistentvolumeclaims" &&
                             r != "networkpolicies" && r != "secrets" && r != "*" &&
                             r.find("roles") == std::string::npos &&
                             r.find("rolebindings") == std::string::npos,
                         dump.c_str());
            }
        }
    }
    QCOMPARE(roles, 1);
}

void TestKubernetesManifests::permissions_data()
{
    QTest::addColumn<QStringList>("canI");
    QTest::addColumn<bool>("allowed");
    // What the agent does.
    QTest::newRow("watch pods everywhere") << QStringList{"watch", "pods", "-A"} << true;
    QTest::newRow("read logs") << QStringList{"get", "pods", "--subresource=log", "-n", "default"} << true;
    QTest::newRow("evict a pod") << QStringList{"create", "pods", "--subresource=eviction", "-n", "default"}
                                 << true;
    QTest::newRow("scale a deployment")
        << QStringList{"patch", "deployments.apps", "--subresource=scale", "-n", "default"} << true;
    QTest::newRow("cordon a node") << QStringList{"patch", "nodes"} << true;
    QTest::newRow("write an alert event") << QStringList{"create", "events", "-n", "default"} << true;
    QTest::newRow("list disruption budgets")
        << QStringList{"list", "poddisruptionbudgets.policy", "-n", "default"} << true;
    QTest::newRow("mirror a decision")
        << QStringList{"patch", "agentdecisions.ai.vigil.dev", "-n", "default"} << true;
    QTest::newRow("write a decision's status conditions")
        << QStringList{"patch", "agentdecisions.ai.vigil.dev", "--subresource=status", "-n", "default"}
        << true;
    QTest::newRow("delete an expired decision")
        << QStringList{"delete", "agentdecisions.ai.vigil.dev", "-n", "default"} << true;
    QTest::newRow("read nodes for a namespaced agent's node incidents")
        << QStringList{"watch", "nodes"} << true;
    QTest::newRow("read pod metrics") << QStringList{"list", "pods.metrics.k8s.io", "-A"} << true;
    // What it never does.
    QTest::newRow("delete a pod outright") << QStringList{"delete", "pods", "-n", "default"} << false;
    QTest::newRow("delete a namespace") << QStringList{"delete", "namespaces"} << false;
    QTest::newRow("read a secret") << QStringList{"get", "secrets", "-n", "default"} << false;
    QTest::newRow("touch a persistent volume") << QStringList{"delete", "persistentvolumes"} << false;
    QTest::newRow("edit RBAC") << QStringList{"create", "clusterrolebindings.rbac.authorization.k8s.io"}
                               << false;
    QTest::newRow("edit a network policy")
        << QStringList{"patch", "networkpolicies.networking.k8s.io", "-n", "default"} << false;
    QTest::newRow("update a deployment's spec")
        << QStringList{"update", "deployments.apps", "-n", "default"} << false;
    QTest::newRow("delete a node") << QStringList{"delete", "nodes"} << false;
    QTest::newRow("delete every decision at once")
        << QStringList{"deletecollection", "agentdecisions.ai.vigil.dev", "-n", "default"} << false;
    QTest::newRow("replace a decision (update)")
        << QStringList{"update", "agentdecisions.ai.vigil.dev", "-n", "default"} << false;
}

void TestKubernetesManifests::permissions()
{
    QFETCH(QStringList, canI);
    QFETCH(bool, allowed);
    if (!m_rbacApplied) {
        // The ClusterRole and its binding for real, under names no other test uses.
        QByteArray rbac;
        for (const QByteArray &doc : splitDocuments(m_rendered)) {
            if (doc.contains("kind: ClusterRole\n") || doc.contains("kind: ClusterRoleBinding\n")) {
                QByteArray renamed = doc;
                const QByteArray unique = "name: vigil-agent-" + m_suffix.toUtf8() + '\n';
                renamed.replace("name: vigil-agent\n", unique);
                // The subject stays the real ServiceAccount.
                const QByteArray renamedSubject = QByteArray("- kind: ServiceAccount\n  ") + unique;
                renamed.replace(renamedSubject, QByteArray("- kind: ServiceAccount\n  name: vigil-agent\n"));
                rbac += renamed + "\n---\n";
            }
        }
        const QByteArray uniqueName = QByteArray("vigil-agent-") + m_suffix.toUtf8();
        QVERIFY(rbac.count(uniqueName) >= 3); // role, binding, roleRef
        m_rbacApplied = true;
        const Run applied =
            kubectl({QStringLiteral("apply"), QStringLiteral("-f"), QStringLiteral("-")}, rbac);
        QVERIFY2(applied.code == 0, applied.err.constData());
    }
    QStringList args{QStringLiteral("auth"), QStringLiteral("can-i")};
    args << canI << QStringLiteral("--as=system:serviceaccount:%1:vigil-agent").arg(m_namespace);
    // RBAC is read from an informer cache in the API server: give a fresh binding a moment.
    Run r;
    for (int attempt = 0; attempt < 20; ++attempt) {
        r = kubectl(args);
        if ((r.code == 0) == allowed)
            break;
        QTest::qWait(250);
    }
    QVERIFY2((r.code == 0) == allowed,
             qPrintable(canI.join(u' ') + QStringLiteral(": ") + QString::fromUtf8(r.out + r.err)));
}

QTEST_GUILESS_MAIN(TestKubernetesManifests)
#include "tst_kubernetes_manifests.moc"
