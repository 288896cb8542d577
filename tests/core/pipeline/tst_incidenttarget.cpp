// pipeline::incidentTarget: the object an incident's proposals may act on comes from what the
// pipeline observed (the incident and its gathered evidence), the same for the desktop session,
// the agent and the red-team rig.

#include "core/pipeline/incidenttarget.h"

#include <QTest>

using namespace vigil;

class TestIncidentTarget final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void target_data();
    void target();
};

void TestIncidentTarget::target_data()
{
    QTest::addColumn<QString>("kind");     // the latest observation's object kind
    QTest::addColumn<bool>("withPod");     // evidence carries the pod
    QTest::addColumn<bool>("withNode");    // evidence carries the node
    QTest::addColumn<QString>("expected"); // ns|pod|ownerKind/ownerName|node|podLabels|nodeLabels

    QTest::newRow("pod incident with its pod and node gathered")
        << "Pod" << true << true << "shop|web-1|Deployment/web|node-a|app=web|zone=a";
    QTest::newRow("pod incident before the pod was fetched keeps the pod, no labels")
        << "Pod" << false << false << "shop|web-1|Deployment/web|||";
    QTest::newRow("node incident acts on the node only") << "Node" << false << true << "||/|node-a||zone=a";
}

void TestIncidentTarget::target()
{
    QFETCH(QString, kind);
    QFETCH(bool, withPod);
    QFETCH(bool, withNode);
    QFETCH(QString, expected);

    pipeline::Incident incident;
    incident.latest.object.kind = kind;
    if (kind == "Pod") {
        incident.namespaceName = "shop";
        incident.workload = {"Deployment", "web"};
        incident.latest.object.namespaceName = "shop";
        incident.latest.object.name = "web-1";
    } else {
        incident.latest.object.name = "node-a";
    }
    gather::Evidence evidence;
    if (withPod) {
        kube::PodView pod;
        pod.namespaceName = "shop";
        pod.name = "web-1";
        pod.nodeName = "node-a";
        pod.labels = {{"app", "web"}};
        evidence.pod = pod;
    }
    if (withNode) {
        kube::NodeView node;
        node.name = "node-a";
        node.labels = {{"zone", "a"}};
        evidence.node = node;
    }
    const guard::IncidentTarget t = pipeline::incidentTarget(incident, evidence);
    auto labels = [](const QMap<QString, QString> &m) {
        QStringList out;
        for (auto it = m.begin(); it != m.end(); ++it)
            out << it.key() + '=' + it.value();
        return out.join(',');
    };
    const QString got = QStringList{t.namespaceName, t.podName,           t.ownerKind + '/' + t.ownerName,
                                    t.nodeName,      labels(t.podLabels), labels(t.nodeLabels)}
                            .join('|');
    QCOMPARE(got, expected);
    // Never anything a model could name: owner labels are not filled from evidence here.
    QVERIFY(t.ownerLabels.isEmpty());
}

QTEST_GUILESS_MAIN(TestIncidentTarget)
#include "tst_incidenttarget.moc"
