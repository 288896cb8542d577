#include "core/kube/objects.h"
#include "core/kube/projections.h"

#include <QFile>
#include <QTest>

using namespace vigil::kube;

namespace {

nlohmann::json fixture(const char *name)
{
    const QString path = qEnvironmentVariable("VIGIL_SOURCE_DIR") + QStringLiteral("/tests/core/kube/data/") +
                         QLatin1String(name);
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return nullptr;
    return nlohmann::json::parse(f.readAll().toStdString(), nullptr, false);
}

// "waiting:Reason", "running", "running:ready", "terminated:Reason:exit[:signal]",
// "sidecar:running:started" (restartable init container), "" (no state yet).
ContainerStatusView container(const QString &spec)
{
    ContainerStatusView c;
    QStringList parts = spec.split(QLatin1Char(':'));
    if (parts.value(0) == QLatin1String("sidecar")) {
        c.restartable = true;
        parts.removeFirst();
    }
    c.state = parts.value(0);
    if (c.state == QLatin1String("waiting")) {
        c.reason = parts.value(1);
    } else if (c.state == QLatin1String("running")) {
        c.ready = parts.value(1) == QLatin1String("ready");
        c.started = parts.value(1) == QLatin1String("started") || c.ready;
    } else if (c.state == QLatin1String("terminated")) {
        c.reason = parts.value(1);
        c.exitCode = parts.value(2).toInt();
        c.signal = parts.value(3).toInt();
    }
    return c;
}

// One displayStatus row; list columns are "|"-separated container specs.
void addPodRow(const char *name, const char *phase, const char *podReason, bool deleting, bool ready,
               bool initialized, const char *inits, const char *containers, const char *expected)
{
    auto list = [](const char *s) {
        return QString::fromLatin1(s).split(QLatin1Char('|'), Qt::SkipEmptyParts);
    };
    QTest::newRow(name) << QString::fromLatin1(phase) << QString::fromLatin1(podReason) << deleting << ready
                        << initialized << list(inits) << list(containers) << QString::fromLatin1(expected);
}

} // namespace

class TestObjects final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void displayStatus_data();
    void displayStatus();
    void podProjection();
    void nodeProjection();
    void coreEventProjection();
    void eventsV1Projection();
    void workloadProjection();
    void genericProjectionKeepsSmallObjects();
    void projectionRejectsBadInput_data();
    void projectionRejectsBadInput();
    void quantities_data();
    void quantities();
};

void TestObjects::displayStatus_data()
{
    QTest::addColumn<QString>("phase");
    QTest::addColumn<QString>("podReason");
    QTest::addColumn<bool>("deleting");
    QTest::addColumn<bool>("ready");
    QTest::addColumn<bool>("initialized");
    QTest::addColumn<QStringList>("inits");
    QTest::addColumn<QStringList>("containers");
    QTest::addColumn<QString>("expected");

    addPodRow("running and ready", "Running", "", false, true, true, "", "running:ready", "Running");
    addPodRow("pending without statuses shows the phase", "Pending", "", false, false, false, "", "",
              "Pending");
    addPodRow("waiting reason wins", "Running", "", false, false, true, "", "waiting:CrashLoopBackOff",
              "CrashLoopBackOff");
    addPodRow("image pull error", "Pending", "", false, false, true, "", "waiting:ErrImagePull",
              "ErrImagePull");
    addPodRow("container creating", "Pending", "", false, false, true, "", "waiting:ContainerCreating",
              "ContainerCreating");
    addPodRow("terminated reason", "Running", "", false, false, true, "", "terminated:OOMKilled:137",
              "OOMKilled");
    addPodRow("terminated without reason shows exit code", "Failed", "", false, false, true, "",
              "terminated::3", "ExitCode:3");
    addPodRow("terminated by signal", "Failed", "", false, false, true, "", "terminated::0:9", "Signal:9");
    addPodRow("completed job", "Succeeded", "", false, false, true, "", "terminated:Completed:0",
              "Completed");
    addPodRow("completed beside a ready container is Running", "Running", "", false, true, true, "",
              "running:ready|terminated:Completed:0", "Running");
    addPodRow("completed beside a running container, pod not ready, is NotReady", "Running", "", false, false,
              true, "", "running:ready|terminated:Completed:0", "NotReady");
    addPodRow("first container's reason wins (walked from the end)", "Running", "", false, false, true, "",
              "waiting:CrashLoopBackOff|waiting:ImagePullBackOff", "CrashLoopBackOff");
    addPodRow("evicted pod shows status.reason", "Failed", "Evicted", false, false, true, "", "", "Evicted");
    addPodRow("init container running", "Pending", "", false, false, false, "terminated:Completed:0|running",
              "waiting:PodInitializing", "Init:1/2");
    addPodRow("init container crash looping", "Pending", "", false, false, false, "waiting:CrashLoopBackOff",
              "waiting:PodInitializing", "Init:CrashLoopBackOff");
    addPodRow("init container failed with reason", "Pending", "", false, false, false, "terminated:Error:1",
              "", "Init:Error");
    addPodRow("init container failed without reason", "Pending", "", false, false, false, "terminated::2", "",
              "Init:ExitCode:2");
    addPodRow("init container killed by signal", "Pending", "", false, false, false, "terminated::143:15", "",
              "Init:Signal:15");
    addPodRow("init waiting on PodInitializing counts as Init:i/n", "Pending", "", false, false, false,
              "waiting:PodInitializing", "", "Init:0/1");
    addPodRow("started sidecar does not hold initialization", "Running", "", false, true, true,
              "sidecar:running:started", "running:ready", "Running");
    addPodRow("terminating running pod", "Running", "", true, true, true, "", "running:ready", "Terminating");
    addPodRow("terminating finished pod keeps its status", "Succeeded", "", true, false, true, "",
              "terminated:Completed:0", "Completed");
    addPodRow("terminating on a lost node is Unknown", "Running", "NodeLost", true, false, true, "",
              "running:ready", "Unknown");
}

void TestObjects::displayStatus()
{
    QFETCH(QString, phase);
    QFETCH(QString, podReason);
    QFETCH(bool, deleting);
    QFETCH(bool, ready);
    QFETCH(bool, initialized);
    QFETCH(QStringList, inits);
    QFETCH(QStringList, containers);
    QFETCH(QString, expected);
    PodView p;
    p.phase = phase;
    p.reason = podReason;
    p.ready = ready;
    p.initialized = initialized;
    if (deleting)
        p.deletionTimestamp = QDateTime::currentDateTimeUtc();
    for (const QString &c : inits)
        p.initContainers.append(container(c));
    for (const QString &c : containers)
        p.containers.append(container(c));
    QCOMPARE(p.displayStatus(), expected);
}

void TestObjects::podProjection()
{
    const auto pod = projectPod(fixture("pod_crashloop.json"));
    QVERIFY2(pod.ok(), qPrintable(pod.errorMessage()));
    QCOMPARE(pod->uid, QStringLiteral("6f1c2a9e-1b7d-4c3e-9a51-0f2e4d8b7c11"));
    QCOMPARE(pod->namespaceName, QStringLiteral("shop"));
    QCOMPARE(pod->resourceVersion, QStringLiteral("48213"));
    QCOMPARE(pod->nodeName, QStringLiteral("kwok-node-1"));
    QCOMPARE(pod->owner.kind, QStringLiteral("ReplicaSet"));
    QVERIFY(pod->owner.controller);
    QCOMPARE(pod->labels.value(QStringLiteral("app")), QStringLiteral("api"));
    QCOMPARE(pod->created, QDateTime(QDate(2024, 5, 2), QTime(9, 14, 7), Qt::UTC));
    QVERIFY(!pod->ready);
    QVERIFY(pod->initialized);
    QCOMPARE(pod->containers.size(), 2);
    const ContainerStatusView &api = pod->containers[0];
    QCOMPARE(api.state, QStringLiteral("waiting"));
    QCOMPARE(api.reason, QStringLiteral("CrashLoopBackOff"));
    QCOMPARE(api.lastTerminatedReason, QStringLiteral("OOMKilled"));
    QCOMPARE(api.lastExitCode, 137);
    QCOMPARE(api.lastTerminatedAt, QDateTime(QDate(2024, 5, 2), QTime(9, 30, 2, 123), Qt::UTC));
    QCOMPARE(api.cpuRequestMilli, 250);
    QCOMPARE(api.cpuLimitMilli, 1000);
    QCOMPARE(api.memoryRequestBytes, 128LL * 1024 * 1024);
    QCOMPARE(api.memoryLimitBytes, 256LL * 1024 * 1024);
    QCOMPARE(pod->containers[1].cpuRequestMilli, 100);
    QCOMPARE(pod->containers[1].memoryRequestBytes, 64000000);
    QCOMPARE(pod->containers[1].cpuLimitMilli, -1);
    QCOMPARE(pod->initContainers.size(), 1);
    QCOMPARE(pod->restarts(), 8);
    QCOMPARE(pod->readyContainers(), 1);
    QCOMPARE(pod->displayStatus(), QStringLiteral("CrashLoopBackOff"));
}

void TestObjects::nodeProjection()
{
    const auto node = projectNode(fixture("node_notready.json"));
    QVERIFY2(node.ok(), qPrintable(node.errorMessage()));
    QCOMPARE(node->name, QStringLiteral("kwok-node-2"));
    QVERIFY(!node->ready());
    QVERIFY(node->unschedulable);
    QCOMPARE(node->taints, (QStringList{QStringLiteral("node.kubernetes.io/unreachable:NoSchedule"),
                                        QStringLiteral("dedicated=gpu:NoExecute")}));
    QCOMPARE(node->allocatableCpuMilli, 3800);
    QCOMPARE(node->allocatableMemoryBytes, 15LL * 1024 * 1024 * 1024);
    QCOMPARE(node->allocatablePods, 110);
    QCOMPARE(node->kubeletVersion, QStringLiteral("v1.31.0-kwok"));
    QCOMPARE(node->conditions.size(), 2);
    QCOMPARE(node->conditions[1].reason, QStringLiteral("NodeStatusUnknown"));

    NodeView readyNode = *node;
    readyNode.conditions[1].status = QStringLiteral("True");
    QVERIFY(readyNode.ready());
}

void TestObjects::coreEventProjection()
{
    const auto e = projectEvent(fixture("event_core.json"));
    QVERIFY2(e.ok(), qPrintable(e.errorMessage()));
    QCOMPARE(e->type, QStringLiteral("Warning"));
    QCOMPARE(e->reason, QStringLiteral("BackOff"));
    QCOMPARE(e->count, 42);
    QCOMPARE(e->involved.kind, QStringLiteral("Pod"));
    QCOMPARE(e->involved.name, QStringLiteral("api-7d9f8b6c5-x2k4p"));
    QCOMPARE(e->involved.uid, QStringLiteral("6f1c2a9e-1b7d-4c3e-9a51-0f2e4d8b7c11"));
    QCOMPARE(e->source, QStringLiteral("kubelet"));
    QCOMPARE(e->firstSeen, QDateTime(QDate(2024, 5, 2), QTime(9, 15, 0), Qt::UTC));
    QCOMPARE(e->lastSeen, QDateTime(QDate(2024, 5, 2), QTime(9, 30, 5), Qt::UTC));
}

void TestObjects::eventsV1Projection()
{
    const auto e = projectEvent(fixture("event_v1.json"));
    QVERIFY2(e.ok(), qPrintable(e.errorMessage()));
    QCOMPARE(e->reason, QStringLiteral("FailedScheduling"));
    QCOMPARE(e->message, QStringLiteral("0/3 nodes are available: 3 Insufficient memory."));
    QCOMPARE(e->count, 5);
    QCOMPARE(e->involved.name, QStringLiteral("batch-0"));
    QCOMPARE(e->source, QStringLiteral("default-scheduler"));
    QCOMPARE(e->firstSeen, QDateTime(QDate(2024, 5, 2), QTime(9, 16, 0), Qt::UTC));
    QCOMPARE(e->lastSeen, QDateTime(QDate(2024, 5, 2), QTime(9, 40, 0, 500), Qt::UTC));
}

void TestObjects::workloadProjection()
{
    const auto w = projectWorkload(fixture("deployment.json"));
    QVERIFY2(w.ok(), qPrintable(w.errorMessage()));
    QCOMPARE(w->kind, QStringLiteral("Deployment"));
    QCOMPARE(w->replicas, 3);
    QCOMPARE(w->readyReplicas, 2);
    QCOMPARE(w->generation, 4);
    QCOMPARE(w->observedGeneration, 4);
    QCOMPARE(w->revision, QStringLiteral("3"));
}

void TestObjects::genericProjectionKeepsSmallObjects()
{
    nlohmann::json cr = {{"apiVersion", "vigil.dev/v1"},
                         {"kind", "AgentDecision"},
                         {"metadata",
                          {{"name", "d1"},
                           {"namespace", "ops"},
                           {"uid", "u1"},
                           {"resourceVersion", "3"},
                           {"managedFields", nlohmann::json::array({{{"manager", "x"}}})}}},
                         {"spec", {{"approved", false}}},
                         {"status", {{"phase", "Proposed"}}}};
    auto small = projectGeneric(cr);
    QVERIFY(small.ok());
    QCOMPARE(small->kind, QStringLiteral("AgentDecision"));
    QVERIFY(!small->truncated);
    const auto back = nlohmann::json::parse(small->json.toStdString());
    QCOMPARE(back["spec"]["approved"].get<bool>(), false);
    QVERIFY(!back["metadata"].contains("managedFields"));

    cr["spec"]["blob"] = std::string(10000, 'x');
    auto big = projectGeneric(cr);
    QVERIFY(big.ok());
    QVERIFY(big->truncated);
    QCOMPARE(QString::fromUtf8(big->json), QStringLiteral("{\"status\":{\"phase\":\"Proposed\"}}"));
}

void TestObjects::projectionRejectsBadInput_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("error");
    QTest::newRow("not an object") << QByteArray("[1,2]") << QStringLiteral("pod: not a JSON object");
    QTest::newRow("missing uid") << QByteArray(R"({"metadata":{"name":"p","namespace":"n"}})")
                                 << QStringLiteral("pod n/p: metadata.uid is missing");
    QTest::newRow("wrong types are ignored, not thrown")
        << QByteArray(R"({"metadata":{"uid":"u","name":5},"status":{"phase":7,"containerStatuses":"x"}})")
        << QString();
    // Found by tests/fuzz/fuzz_watchstream: converting 1e30 to int64 is undefined behaviour (UBSan, asan
    // preset).
    QTest::newRow("counts out of int64 range are ignored")
        << QByteArray(
               R"({"metadata":{"uid":"u","generation":-1e300},"status":{"containerStatuses":[{"restartCount":1e30}]}})")
        << QString();
}

void TestObjects::projectionRejectsBadInput()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, error);
    const auto pod = projectPod(nlohmann::json::parse(json.toStdString()));
    QCOMPARE(pod.errorMessage(), error);
}

void TestObjects::quantities_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<qint64>("milli");
    QTest::addColumn<qint64>("bytes");
    QTest::newRow("millicores") << QStringLiteral("250m") << qint64(250) << qint64(1);
    QTest::newRow("decimal cores") << QStringLiteral("1.5") << qint64(1500) << qint64(2);
    QTest::newRow("binary suffix") << QStringLiteral("1Gi") << qint64(1073741824000) << qint64(1073741824);
    QTest::newRow("decimal suffix") << QStringLiteral("2k") << qint64(2000000) << qint64(2000);
    QTest::newRow("exponent") << QStringLiteral("1e3") << qint64(1000000) << qint64(1000);
    QTest::newRow("garbage") << QStringLiteral("12xyz") << qint64(-1) << qint64(-1);
    // Found by tests/fuzz/fuzz_watchstream: inf and 1e30 converted to int64 are undefined behaviour.
    QTest::newRow("overflows to inf") << QStringLiteral("1e400") << qint64(-1) << qint64(-1);
    QTest::newRow("beyond int64") << QStringLiteral("1e30") << qint64(-1) << qint64(-1);
    QTest::newRow("empty") << QString() << qint64(-1) << qint64(-1);
}

void TestObjects::quantities()
{
    QFETCH(QString, text);
    QFETCH(qint64, milli);
    QFETCH(qint64, bytes);
    QCOMPARE(cpuMilli(text), milli);
    QCOMPARE(quantityBytes(text), bytes);
}

QTEST_GUILESS_MAIN(TestObjects)
#include "tst_objects.moc"
