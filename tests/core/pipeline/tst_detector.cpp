#include "core/pipeline/detector.h"

#include <QFile>
#include <QTest>

using namespace vigil;
using namespace vigil::pipeline;

namespace {

const QDateTime kNow = QDateTime(QDate(2026, 1, 10), QTime(12, 0), Qt::UTC);

kube::ContainerStatusView container(const QString &state, const QString &reason, int restarts = 0)
{
    kube::ContainerStatusView c;
    c.name = QStringLiteral("app");
    c.image = QStringLiteral("registry.example/app:1.2");
    c.state = state;
    c.reason = reason;
    c.restartCount = restarts;
    c.ready = state == QLatin1String("running");
    return c;
}

kube::PodView pod(QList<kube::ContainerStatusView> containers,
                  const QString &phase = QStringLiteral("Running"), int ageSeconds = 600)
{
    kube::PodView p;
    p.uid = QStringLiteral("uid-1");
    p.namespaceName = QStringLiteral("shop");
    p.name = QStringLiteral("web-7d4b9c8f6-x2k9p");
    p.phase = phase;
    p.created = kNow.addSecs(-ageSeconds);
    p.owner = kube::OwnerRef{QStringLiteral("ReplicaSet"), QStringLiteral("web-7d4b9c8f6"),
                             QStringLiteral("rs-uid"), true};
    p.labels.insert(QStringLiteral("pod-template-hash"), QStringLiteral("7d4b9c8f6"));
    p.containers = std::move(containers);
    p.ready = true;
    for (const auto &c : p.containers)
        p.ready = p.ready && c.ready;
    return p;
}

QStringList reasons(const QList<Observation> &obs)
{
    QStringList out;
    for (const Observation &o : obs)
        out << o.reason;
    return out;
}

} // namespace

class TestDetector final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void detectPod_data();
    void detectPod();
    void detectNode_data();
    void detectNode();
    void detectEvent_data();
    void detectEvent();
    void observationCarriesIdentity();
    void injectedClockDecidesGrace();
    void docListsEveryReason();
};

void TestDetector::detectPod_data()
{
    QTest::addColumn<kube::PodView>("pod");
    QTest::addColumn<QStringList>("expected");

    QTest::newRow("healthy running pod: nothing")
        << pod({container(QStringLiteral("running"), QString())}) << QStringList();
    for (const char *waiting :
         {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
          "CreateContainerError", "InvalidImageName", "RunContainerError"}) {
        QTest::addRow("waiting %s", waiting)
            << pod({container(QStringLiteral("waiting"), QLatin1String(waiting), 3)})
            << QStringList{QLatin1String(waiting)};
    }
    QTest::newRow("waiting ContainerCreating is normal")
        << pod({container(QStringLiteral("waiting"), QStringLiteral("ContainerCreating"))}) << QStringList();

    auto oom = container(QStringLiteral("terminated"), QStringLiteral("OOMKilled"), 1);
    oom.exitCode = 137;
    QTest::newRow("terminated OOMKilled") << pod({oom}) << QStringList{QStringLiteral("OOMKilled")};

    auto backoffAfterOom = container(QStringLiteral("waiting"), QStringLiteral("CrashLoopBackOff"), 4);
    backoffAfterOom.lastTerminatedReason = QStringLiteral("OOMKilled");
    backoffAfterOom.lastExitCode = 137;
    backoffAfterOom.lastTerminatedAt = kNow.addSecs(-30);
    QTest::newRow("back-off after OOM reports the cause OOMKilled")
        << pod({backoffAfterOom}) << QStringList{QStringLiteral("OOMKilled")};

    auto oldOom = container(QStringLiteral("running"), QString(), 1);
    oldOom.lastTerminatedReason = QStringLiteral("OOMKilled");
    oldOom.lastExitCode = 137;
    oldOom.lastTerminatedAt = kNow.addDays(-2);
    QTest::newRow("OOM two days ago is history") << pod({oldOom}) << QStringList();

    auto exited = container(QStringLiteral("terminated"), QStringLiteral("Error"), 2);
    exited.exitCode = 1;
    QTest::newRow("non-zero exit with restarts")
        << pod({exited}) << QStringList{QStringLiteral("NonZeroExit")};

    auto firstExit = container(QStringLiteral("terminated"), QStringLiteral("Error"), 0);
    firstExit.exitCode = 1;
    QTest::newRow("non-zero exit without restarts (job-like) ignored") << pod({firstExit}) << QStringList();

    auto completed = container(QStringLiteral("terminated"), QStringLiteral("Completed"), 2);
    QTest::newRow("exit 0 with restarts ignored") << pod({completed}) << QStringList();

    kube::PodView pending = pod({}, QStringLiteral("Pending"), 120);
    pending.scheduled = false;
    pending.scheduleMessage = QStringLiteral("0/3 nodes are available: 3 Insufficient cpu.");
    QTest::newRow("pending unschedulable past grace")
        << pending << QStringList{QStringLiteral("FailedScheduling")};
    pending.created = kNow.addSecs(-30);
    QTest::newRow("pending unschedulable within grace: nothing") << pending << QStringList();

    auto notReady = container(QStringLiteral("running"), QString());
    notReady.ready = false;
    QTest::newRow("running not ready past grace")
        << pod({notReady}) << QStringList{QStringLiteral("ReadinessFailing")};
    QTest::newRow("running not ready within grace: nothing")
        << pod({notReady}, QStringLiteral("Running"), 20) << QStringList();

    kube::PodView evicted =
        pod({container(QStringLiteral("terminated"), QStringLiteral("Error"), 1)}, QStringLiteral("Failed"));
    evicted.reason = QStringLiteral("Evicted");
    evicted.message = QStringLiteral("The node was low on resource: memory.");
    QTest::newRow("evicted reports only Evicted") << evicted << QStringList{QStringLiteral("Evicted")};

    kube::PodView deleting =
        pod({container(QStringLiteral("waiting"), QStringLiteral("CrashLoopBackOff"), 3)});
    deleting.deletionTimestamp = kNow;
    QTest::newRow("terminating pod ignored") << deleting << QStringList();

    auto init = container(QStringLiteral("waiting"), QStringLiteral("CrashLoopBackOff"), 5);
    init.name = QStringLiteral("migrate");
    kube::PodView withInit = pod({container(QStringLiteral("waiting"), QStringLiteral("PodInitializing"))},
                                 QStringLiteral("Pending"));
    withInit.initContainers = {init};
    QTest::newRow("crashing init container") << withInit << QStringList{QStringLiteral("CrashLoopBackOff")};

    auto second = container(QStringLiteral("waiting"), QStringLiteral("ImagePullBackOff"));
    second.name = QStringLiteral("sidecar");
    QTest::newRow("two broken containers: two observations")
        << pod({container(QStringLiteral("waiting"), QStringLiteral("CrashLoopBackOff"), 2), second})
        << QStringList{QStringLiteral("CrashLoopBackOff"), QStringLiteral("ImagePullBackOff")};
}

void TestDetector::detectPod()
{
    QFETCH(kube::PodView, pod);
    QFETCH(QStringList, expected);
    const Detector detector;
    QCOMPARE(reasons(detector.detectPod(pod, kNow)), expected);
}

void TestDetector::detectNode_data()
{
    QTest::addColumn<QString>("type");
    QTest::addColumn<QString>("status");
    QTest::addColumn<QStringList>("expected");
    QTest::newRow("ready node") << QStringLiteral("Ready") << QStringLiteral("True") << QStringList();
    QTest::newRow("NotReady False") << QStringLiteral("Ready") << QStringLiteral("False")
                                    << QStringList{QStringLiteral("NodeNotReady")};
    QTest::newRow("NotReady Unknown") << QStringLiteral("Ready") << QStringLiteral("Unknown")
                                      << QStringList{QStringLiteral("NodeNotReady")};
    QTest::newRow("MemoryPressure") << QStringLiteral("MemoryPressure") << QStringLiteral("True")
                                    << QStringList{QStringLiteral("NodeMemoryPressure")};
    QTest::newRow("DiskPressure") << QStringLiteral("DiskPressure") << QStringLiteral("True")
                                  << QStringList{QStringLiteral("NodeDiskPressure")};
    QTest::newRow("PIDPressure") << QStringLiteral("PIDPressure") << QStringLiteral("True")
                                 << QStringList{QStringLiteral("NodePIDPressure")};
    QTest::newRow("no memory pressure")
        << QStringLiteral("MemoryPressure") << QStringLiteral("False") << QStringList();
}

void TestDetector::detectNode()
{
    QFETCH(QString, type);
    QFETCH(QString, status);
    QFETCH(QStringList, expected);
    kube::NodeView node;
    node.name = QStringLiteral("worker-1");
    node.conditions << kube::NodeCondition{
        QStringLiteral("NetworkUnavailable"), QStringLiteral("False"), {}, {}, {}};
    node.conditions << kube::NodeCondition{type, status, QStringLiteral("KubeletSaysSo"),
                                           QStringLiteral("kubelet says so"), kNow};
    const auto obs = Detector().detectNode(node, kNow);
    QCOMPARE(reasons(obs), expected);
    for (const Observation &o : obs) {
        QCOMPARE(o.object.kind, QStringLiteral("Node"));
        QCOMPARE(o.object.name, QStringLiteral("worker-1"));
        QCOMPARE(o.message, QStringLiteral("kubelet says so"));
    }
}

void TestDetector::detectEvent_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("reason");
    QTest::addColumn<QString>("message");
    QTest::addColumn<int>("ageSeconds");
    QTest::addColumn<QStringList>("expected");
    const QString pod = QStringLiteral("Pod");
    QTest::newRow("readiness Unhealthy")
        << pod << QStringLiteral("Unhealthy")
        << QStringLiteral("Readiness probe failed: HTTP probe failed with statuscode: 503") << 5
        << QStringList{QStringLiteral("ReadinessFailing")};
    QTest::newRow("liveness Unhealthy is not readiness")
        << pod << QStringLiteral("Unhealthy") << QStringLiteral("Liveness probe failed: timeout") << 5
        << QStringList();
    QTest::newRow("FailedScheduling past grace")
        << pod << QStringLiteral("FailedScheduling")
        << QStringLiteral("0/3 nodes are available: 3 Insufficient memory.") << 120
        << QStringList{QStringLiteral("FailedScheduling")};
    QTest::newRow("FailedScheduling within grace")
        << pod << QStringLiteral("FailedScheduling") << QStringLiteral("0/3 nodes") << 10 << QStringList();
    QTest::newRow("Evicted event") << pod << QStringLiteral("Evicted") << QStringLiteral("low on memory") << 1
                                   << QStringList{QStringLiteral("Evicted")};
    QTest::newRow("NodeNotReady event") << QStringLiteral("Node") << QStringLiteral("NodeNotReady")
                                        << QStringLiteral("Node worker-1 status is now: NodeNotReady") << 1
                                        << QStringList{QStringLiteral("NodeNotReady")};
    QTest::newRow("Evicted reason on a Node is not a pod eviction")
        << QStringLiteral("Node") << QStringLiteral("Evicted") << QString() << 1 << QStringList();
    QTest::newRow("normal Scheduled event")
        << pod << QStringLiteral("Scheduled") << QStringLiteral("assigned") << 1 << QStringList();
    QTest::newRow("event on a Deployment ignored")
        << QStringLiteral("Deployment") << QStringLiteral("Evicted") << QString() << 1 << QStringList();
}

void TestDetector::detectEvent()
{
    QFETCH(QString, kind);
    QFETCH(QString, reason);
    QFETCH(QString, message);
    QFETCH(int, ageSeconds);
    QFETCH(QStringList, expected);
    kube::EventView ev;
    ev.uid = QStringLiteral("ev-1");
    ev.namespaceName = QStringLiteral("shop");
    ev.type = QStringLiteral("Warning");
    ev.reason = reason;
    ev.message = message;
    ev.involved =
        kube::ObjectRef{kind, QStringLiteral("v1"), QString(), QStringLiteral("target"), QStringLiteral("u")};
    ev.firstSeen = kNow.addSecs(-ageSeconds);
    ev.lastSeen = kNow;
    const auto obs = Detector().detectEvent(ev, kNow);
    QCOMPARE(reasons(obs), expected);
    if (!obs.isEmpty()) {
        QCOMPARE(obs.first().message, message);
        QCOMPARE(obs.first().object.name, QStringLiteral("target"));
        if (kind == QLatin1String("Pod"))
            QCOMPARE(obs.first().object.namespaceName, QStringLiteral("shop"));
    }
}

void TestDetector::observationCarriesIdentity()
{
    auto c = container(QStringLiteral("waiting"), QStringLiteral("ImagePullBackOff"), 0);
    c.message = QStringLiteral("Back-off pulling image \"registry.example/app:1.2\"");
    const auto obs = Detector().detectPod(pod({c}), kNow);
    QCOMPARE(obs.size(), 1);
    const Observation &o = obs.first();
    QCOMPARE(o.object.kind, QStringLiteral("Pod"));
    QCOMPARE(o.object.namespaceName, QStringLiteral("shop"));
    QCOMPARE(o.object.name, QStringLiteral("web-7d4b9c8f6-x2k9p"));
    QCOMPARE(o.container, QStringLiteral("app"));
    QCOMPARE(o.image, QStringLiteral("registry.example/app:1.2"));
    QCOMPARE(o.message, c.message);
    QCOMPARE(o.time, kNow);
    QCOMPARE(o.owner.name, QStringLiteral("web-7d4b9c8f6"));
    QCOMPARE(o.podTemplateHash, QStringLiteral("7d4b9c8f6"));
    QVERIFY(!o.occurrence.isEmpty());
}

void TestDetector::injectedClockDecidesGrace()
{
    kube::PodView pending = pod({}, QStringLiteral("Pending"), 0);
    pending.created = kNow;
    pending.scheduled = false;
    QDateTime clock = kNow.addSecs(59);
    Detector detector(Detector::Options{}, [&clock] { return clock; });
    QVERIFY(detector.detectPod(pending).isEmpty());
    clock = kNow.addSecs(61);
    QCOMPARE(reasons(detector.detectPod(pending)), QStringList{QStringLiteral("FailedScheduling")});

    Detector::Options strict;
    strict.pendingGrace = std::chrono::seconds(10);
    clock = kNow.addSecs(11);
    QCOMPARE(reasons(Detector(strict, [&clock] { return clock; }).detectPod(pending)),
             QStringList{QStringLiteral("FailedScheduling")});
}

void TestDetector::docListsEveryReason()
{
    QFile doc(qEnvironmentVariable("VIGIL_SOURCE_DIR") + QStringLiteral("/docs/detector.md"));
    QVERIFY2(doc.open(QIODevice::ReadOnly), qPrintable(doc.fileName()));
    const QString text = QString::fromUtf8(doc.readAll());
    const QString table = reasonTableMarkdown();
    QVERIFY2(text.contains(table),
             qPrintable(QStringLiteral("docs/detector.md must embed reasonTableMarkdown():\n") + table));
    QCOMPARE(incidentReasonNames().size(), incidentReasons().size());
    for (const QString &reason : incidentReasonNames())
        QVERIFY2(text.contains(QStringLiteral("`") + reason + u'`'), qPrintable(reason));
    QCOMPARE(incidentReasonNames().removeDuplicates(), 0);
}

QTEST_GUILESS_MAIN(TestDetector)
#include "tst_detector.moc"
