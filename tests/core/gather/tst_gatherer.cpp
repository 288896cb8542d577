#include "core/gather/gatherer.h"

#include "core/gather/fetcher.h"
#include "core/kube/restclient.h"

#include "httptestserver.h"

#include <QTest>

using namespace vigil;
using namespace vigil::gather;

namespace {

const QDateTime kNow = QDateTime(QDate(2026, 1, 10), QTime(12, 0), Qt::UTC);
const QString kErrorLine =
    QStringLiteral("2026-01-10T11:59:00Z ERROR pq: connection refused to orders-db:5432 (the root cause)");
const QString kLastLine =
    QStringLiteral("2026-01-10T11:59:59Z INFO shutting down after signal, the very last line");

QString noisyLog(int lines, int width, bool withError)
{
    QString log;
    for (int i = 0; i < lines; ++i) {
        if (withError && i == lines - 30)
            log += kErrorLine + u'\n';
        log += QStringLiteral("2026-01-10T11:%1Z INFO handled request %2 ")
                   .arg(i % 60, 2, 10, QChar(u'0'))
                   .arg(i)
                   .leftJustified(width, u'.') +
               u'\n';
    }
    return log + kLastLine + u'\n';
}

GatherInput bigInput()
{
    GatherInput in;
    in.now = kNow;
    in.subject.reason = QStringLiteral("CrashLoopBackOff");
    in.subject.namespaceName = QStringLiteral("shop");
    in.subject.workloadKind = QStringLiteral("Deployment");
    in.subject.workloadName = QStringLiteral("web");
    in.subject.container = QStringLiteral("app");
    in.subject.image = QStringLiteral("registry.example/web:1.4");
    in.subject.podName = QStringLiteral("web-7d4b9c8f6-pod00");
    in.subject.count = 30;
    in.subject.firstSeen = kNow.addSecs(-300);
    in.subject.lastSeen = kNow;
    for (int i = 0; i < 30; ++i) {
        kube::PodView p;
        p.namespaceName = QStringLiteral("shop");
        p.name = QStringLiteral("web-7d4b9c8f6-pod%1").arg(i, 2, 10, QChar(u'0'));
        p.nodeName = QStringLiteral("worker-1");
        p.phase = QStringLiteral("Running");
        p.owner =
            kube::OwnerRef{QStringLiteral("ReplicaSet"), QStringLiteral("web-7d4b9c8f6"), QString(), true};
        kube::ContainerStatusView c;
        c.name = QStringLiteral("app");
        c.image = in.subject.image;
        c.state = QStringLiteral("waiting");
        c.reason = QStringLiteral("CrashLoopBackOff");
        c.restartCount = 7;
        c.lastTerminatedReason = QStringLiteral("Error");
        c.lastExitCode = 1;
        c.memoryLimitBytes = 256 * 1024 * 1024;
        p.containers << c;
        in.pods << p;
        in.subject.pods << p.name;
    }
    kube::NodeView node;
    node.name = QStringLiteral("worker-1");
    node.conditions << kube::NodeCondition{QStringLiteral("Ready"), QStringLiteral("True"), {}, {}, {}};
    node.allocatableCpuMilli = 4000;
    in.nodes << node;
    kube::WorkloadView rs;
    rs.kind = QStringLiteral("ReplicaSet");
    rs.namespaceName = QStringLiteral("shop");
    rs.name = QStringLiteral("web-7d4b9c8f6");
    rs.owner = kube::OwnerRef{QStringLiteral("Deployment"), QStringLiteral("web"), QString(), true};
    rs.revision = QStringLiteral("4");
    rs.created = kNow.addSecs(-900);
    kube::WorkloadView dep;
    dep.kind = QStringLiteral("Deployment");
    dep.namespaceName = QStringLiteral("shop");
    dep.name = QStringLiteral("web");
    dep.revision = QStringLiteral("4");
    dep.replicas = 30;
    in.workloads << dep << rs;
    for (int i = 0; i < 100; ++i) {
        kube::EventView e;
        e.name = QStringLiteral("ev%1").arg(i, 3, 10, QChar(u'0'));
        e.type = QStringLiteral("Warning");
        e.reason = QStringLiteral("BackOff");
        e.message = QStringLiteral("Back-off restarting failed container app in pod %1 ")
                        .arg(i)
                        .leftJustified(180, u'.');
        e.involved = kube::ObjectRef{QStringLiteral("Pod"),
                                     QStringLiteral("v1"),
                                     QStringLiteral("shop"),
                                     in.subject.pods.at(i % 30),
                                     {}};
        e.lastSeen = kNow.addSecs(-i * 10);
        in.events << e;
    }
    in.previousLog = noisyLog(500, 200, true);
    in.currentLog = noisyLog(400, 180, false);
    return in;
}

} // namespace

class TestGatherer final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void budgetHolds_data();
    void budgetHolds();
    void deterministic();
    void smallInputIsComplete();
    void redactsEverything();
    void relevantEventsOnly();
    void hugeFixedSectionsStillFit();
    void nodeUsageIsData_data();
    void nodeUsageIsData();
    void projectNodeMetrics_data();
    void projectNodeMetrics();
    void fetcherRefusesDeepBodies_data();
    void fetcherRefusesDeepBodies();
};

void TestGatherer::budgetHolds_data()
{
    QTest::addColumn<int>("budget");
    QTest::newRow("default 3000") << 3000;
    QTest::newRow("1500") << 1500;
    QTest::newRow("800") << 800;
}

void TestGatherer::budgetHolds()
{
    QFETCH(int, budget);
    GatherOptions opt;
    opt.tokenBudget = budget;
    Redactor redactor;
    const Evidence ev = Gatherer(opt).gather(bigInput(), redactor);
    QVERIFY2(ev.estimatedTokens <= budget, qPrintable(QString::number(ev.estimatedTokens)));
    if (qEnvironmentVariableIsSet("VIGIL_DUMP_EVIDENCE"))
        qInfo().noquote() << ev.text;
    QCOMPARE(ev.estimatedTokens, estimateTokens(ev.text));
    QVERIFY(ev.text.size() <= budget * 4);
    QVERIFY2(ev.text.contains(kErrorLine), qPrintable(ev.text));
    QVERIFY(ev.text.contains(kLastLine));
    QVERIFY(ev.text.contains(QStringLiteral("## Incident")));
    QVERIFY(ev.text.contains(QStringLiteral("reason: CrashLoopBackOff")));
    QVERIFY(ev.text.contains(QStringLiteral("log lines]")));
    QVERIFY(!ev.cut.isEmpty());
    QVERIFY(ev.cut.first().endsWith(QStringLiteral("log lines")));
    QVERIFY(ev.text.contains(QStringLiteral("[cut ") + ev.cut.join(QStringLiteral(", ")) + u']'));
    // The structured logs keep the last 50 lines plus older error lines.
    QCOMPARE(ev.previousLog.last(), kLastLine);
    QVERIFY(ev.previousLog.size() <= 50 + 20);
    QVERIFY(ev.errorLines().contains(kErrorLine));
}

void TestGatherer::deterministic()
{
    Redactor a;
    Redactor b;
    const GatherInput in = bigInput();
    const Evidence first = Gatherer().gather(in, a);
    const Evidence second = Gatherer().gather(in, b);
    QCOMPARE(first.text, second.text);
    QCOMPARE(first.cut, second.cut);
}

void TestGatherer::smallInputIsComplete()
{
    GatherInput in = bigInput();
    in.pods = in.pods.mid(0, 1);
    in.subject.pods = in.subject.pods.mid(0, 1);
    in.subject.count = 1;
    in.events = in.events.mid(0, 2);
    in.previousLog = QStringLiteral("panic: nil map\nexit\n");
    in.currentLog = QString();
    in.usage << ContainerUsage{QStringLiteral("app"), 120, 200 * 1024 * 1024};
    Redactor redactor;
    const Evidence ev = Gatherer().gather(in, redactor);
    QVERIFY(ev.cut.isEmpty());
    QVERIFY(!ev.text.contains(QStringLiteral("[cut")));
    QVERIFY(ev.text.contains(QStringLiteral("## Pod shop/web-7d4b9c8f6-pod00")));
    QVERIFY(ev.text.contains(QStringLiteral("## Node worker-1")));
    QVERIFY(ev.text.contains(QStringLiteral("## Owners")));
    QVERIFY(ev.text.contains(QStringLiteral("last rollout: revision 4 at 2026-01-10T11:45:00Z")));
    QVERIFY(ev.text.contains(QStringLiteral("usage app: cpu 120m, memory 200Mi")));
    QVERIFY(ev.text.contains(QStringLiteral("memory request - limit 256Mi")));
    QVERIFY(ev.text.contains(QStringLiteral("panic: nil map")));
    QVERIFY(!ev.text.contains(QStringLiteral("## Current logs")));
    QCOMPARE(ev.owners.size(), 2);
    QCOMPARE(ev.owners.at(0).kind, QStringLiteral("ReplicaSet"));
    QCOMPARE(ev.owners.at(1).kind, QStringLiteral("Deployment"));
    QCOMPARE(ev.rolloutRevision, QStringLiteral("4"));
    QCOMPARE(ev.rolloutTime, kNow.addSecs(-900));
    QVERIFY(ev.node.has_value());
    QCOMPARE(ev.events.size(), 1); // the second event is about a pod outside this incident
    QCOMPARE(ev.previousLog, (QStringList{QStringLiteral("panic: nil map"), QStringLiteral("exit")}));
}

void TestGatherer::redactsEverything()
{
    GatherInput in = bigInput();
    in.previousLog += QStringLiteral("connecting postgres://app:Sup3rS3cret@db:5432/x\n");
    in.currentLog =
        QStringLiteral("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END PRIVATE KEY-----\n");
    in.events.first().message =
        QStringLiteral("pull failed with token ghp_1234567890abcdefghijABCDEFGHIJ123456");
    in.pods.first().containers.first().message = QStringLiteral("AKIAIOSFODNN7EXAMPLE rejected");
    in.env << EnvVar{QStringLiteral("app"), QStringLiteral("DB_PASSWORD"), QStringLiteral("plainpw")};
    Redactor redactor;
    const Evidence ev = Gatherer().gather(in, redactor);
    for (const char *secret : {"Sup3rS3cret", "MIIEvQIBADANBgkqhkiG9w0B", "ghp_1234567890abcdefghij",
                               "AKIAIOSFODNN7EXAMPLE", "plainpw"})
        QVERIFY2(!ev.text.contains(QLatin1String(secret)), secret);
    QVERIFY(ev.text.contains(QStringLiteral("env app DB_PASSWORD=«REDACTED:env:1»")));
    QCOMPARE(ev.redactions.counts.value(QStringLiteral("env")), 1);
    QCOMPARE(ev.redactions.counts.value(QStringLiteral("url_password")), 1);
    QCOMPARE(ev.redactions.counts.value(QStringLiteral("pem")), 1);
    QVERIFY(!ev.events.first().message.contains(QStringLiteral("ghp_")));
}

void TestGatherer::relevantEventsOnly()
{
    GatherInput in = bigInput();
    in.events.clear();
    auto event = [&](const QString &name, const QString &involved, int ageSeconds) {
        kube::EventView e;
        e.name = name;
        e.reason = name;
        e.involved.name = involved;
        e.lastSeen = kNow.addSecs(-ageSeconds);
        in.events << e;
    };
    event(QStringLiteral("OnPod"), QStringLiteral("web-7d4b9c8f6-pod03"), 10);
    event(QStringLiteral("OnDeployment"), QStringLiteral("web"), 20);
    event(QStringLiteral("OnNode"), QStringLiteral("worker-1"), 5);
    event(QStringLiteral("Unrelated"), QStringLiteral("other-pod"), 5);
    event(QStringLiteral("TooOld"), QStringLiteral("web-7d4b9c8f6-pod03"), 7200);
    Redactor redactor;
    const Evidence ev = Gatherer().gather(in, redactor);
    QStringList reasons;
    for (const auto &e : ev.events)
        reasons << e.reason;
    QCOMPARE(reasons, (QStringList{QStringLiteral("OnNode"), QStringLiteral("OnPod"),
                                   QStringLiteral("OnDeployment")}));
}

void TestGatherer::hugeFixedSectionsStillFit()
{
    GatherInput in = bigInput();
    for (int i = 0; i < 400; ++i)
        in.env << EnvVar{QStringLiteral("app"), QStringLiteral("VAR_%1").arg(i), QString(300, u'v')};
    GatherOptions opt;
    opt.tokenBudget = 500;
    Redactor redactor;
    const Evidence ev = Gatherer(opt).gather(in, redactor);
    QVERIFY(ev.estimatedTokens <= 500);
    QVERIFY(ev.text.contains(QStringLiteral(" chars]")));
    QVERIFY(ev.cut.last().endsWith(QStringLiteral("chars")));
}

void TestGatherer::nodeUsageIsData_data()
{
    QTest::addColumn<QString>("usageNode");
    QTest::addColumn<bool>("kept");
    QTest::addColumn<QString>("line");
    QTest::newRow("the pod's node: kept and rendered with its share")
        << "worker-1" << true
        << "usage: cpu 3400m (85% of allocatable), memory 6144Mi (75% of allocatable), sampled "
           "2026-01-10T11:59:40Z over 20.05s";
    QTest::newRow("another node's sample is not this evidence's") << "worker-2" << false << QString();
}

void TestGatherer::nodeUsageIsData()
{
    QFETCH(QString, usageNode);
    QFETCH(bool, kept);
    QFETCH(QString, line);
    GatherInput in = bigInput();
    in.nodes.first().allocatableMemoryBytes = 8LL * 1024 * 1024 * 1024;
    in.nodeUsage << NodeUsage{usageNode, 3400, 6LL * 1024 * 1024 * 1024, kNow.addSecs(-20), "20.05s"};
    Redactor redactor;
    const Evidence ev = Gatherer().gather(in, redactor);
    QCOMPARE(ev.nodeUsage.has_value(), kept);
    if (kept) {
        QCOMPARE(ev.nodeUsage->cpuMilli, 3400);
        QCOMPARE(ev.nodeUsage->memoryBytes, 6LL * 1024 * 1024 * 1024);
        const qsizetype node = ev.text.indexOf("## Node worker-1");
        QVERIFY(node >= 0);
        // In the node's section, which the budget never cuts.
        QVERIFY2(ev.text.indexOf(line) > node, qPrintable(ev.text.mid(node, 600)));
        QVERIFY(ev.text.indexOf(line) < ev.text.indexOf("## Events"));
    } else {
        QVERIFY(!ev.text.contains("usage: cpu 3400m"));
    }
}

void TestGatherer::projectNodeMetrics_data()
{
    QTest::addColumn<QByteArray>("doc");
    QTest::addColumn<QString>("error");
    QTest::addColumn<qint64>("cpu");
    QTest::addColumn<qint64>("memory");
    QTest::newRow("metrics-server's NodeMetrics")
        << QByteArray(R"({"kind":"NodeMetrics","apiVersion":"metrics.k8s.io/v1beta1",
            "metadata":{"name":"worker-1","creationTimestamp":"2026-01-10T12:00:00Z"},
            "timestamp":"2026-01-10T11:59:40Z","window":"20.05s",
            "usage":{"cpu":"3400430n","memory":"6291456Ki"}})")
        << QString() << qint64(4) << qint64(6LL * 1024 * 1024 * 1024);
    QTest::newRow("cores and millicores")
        << QByteArray(R"({"metadata":{"name":"n"},"usage":{"cpu":"1500m"}})") << QString() << qint64(1500)
        << qint64(-1);
    QTest::newRow("no usage") << QByteArray(R"({"metadata":{"name":"worker-1"}})")
                              << "NodeMetrics worker-1 has no usage" << qint64(-1) << qint64(-1);
    QTest::newRow("not quantities")
        << QByteArray(R"({"metadata":{"name":"w"},"usage":{"cpu":"lots","memory":"-"}})")
        << "NodeMetrics w: usage.cpu 'lots' and usage.memory '-' are not quantities" << qint64(-1)
        << qint64(-1);
    QTest::newRow("not an object") << QByteArray("[1]") << "NodeMetrics is not a JSON object" << qint64(-1)
                                   << qint64(-1);
}

void TestGatherer::projectNodeMetrics()
{
    QFETCH(QByteArray, doc);
    QFETCH(QString, error);
    QFETCH(qint64, cpu);
    QFETCH(qint64, memory);
    const Result<NodeUsage> u = gather::projectNodeMetrics(nlohmann::json::parse(doc.toStdString()));
    QCOMPARE(u.ok(), error.isEmpty());
    if (!u.ok()) {
        QCOMPARE(u.errorMessage(), error);
        return;
    }
    QCOMPARE(u->cpuMilli, cpu);
    QCOMPARE(u->memoryBytes, memory);
    if (doc.contains("timestamp")) {
        QCOMPARE(u->node, QStringLiteral("worker-1"));
        QCOMPARE(u->timestamp, kNow.addSecs(-20));
        QCOMPARE(u->window, QStringLiteral("20.05s"));
    }
}

namespace {

class NoCredentials final : public kube::CredentialSource {
public:
    Result<kube::Credentials> credentials() override { return kube::Credentials(); }
    void invalidate() override {}
    QString method() const override { return QStringLiteral("none"); }
};

// Pod shop/web-1 on node n1, owned by ReplicaSet web-abc of Deployment web: every part the fetcher reads.
QByteArray healthyBody(const QString &path)
{
    if (path == QLatin1String("/api/v1/namespaces/shop/pods/web-1"))
        return R"({"kind":"Pod","metadata":{"name":"web-1","namespace":"shop","uid":"u1",
            "ownerReferences":[{"kind":"ReplicaSet","name":"web-abc","controller":true}]},
            "spec":{"nodeName":"n1","containers":[{"name":"app","image":"shop/web:1"}]},
            "status":{"phase":"Running","containerStatuses":[{"name":"app","ready":true,"restartCount":0,
            "state":{"running":{"startedAt":"2026-01-10T11:00:00Z"}}}]}})";
    if (path == QLatin1String("/apis/apps/v1/namespaces/shop/replicasets/web-abc"))
        return R"({"kind":"ReplicaSet","metadata":{"name":"web-abc","namespace":"shop","uid":"u2",
            "ownerReferences":[{"kind":"Deployment","name":"web","controller":true}]}})";
    if (path == QLatin1String("/apis/apps/v1/namespaces/shop/deployments/web"))
        return R"({"kind":"Deployment","metadata":{"name":"web","namespace":"shop","uid":"u3"}})";
    if (path == QLatin1String("/api/v1/nodes/n1"))
        return R"({"kind":"Node","metadata":{"name":"n1","uid":"u4"}})";
    if (path == QLatin1String("/apis/metrics.k8s.io/v1beta1/nodes/n1"))
        return R"({"metadata":{"name":"n1"},"usage":{"cpu":"100m","memory":"1Gi"}})";
    if (path == QLatin1String("/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods/web-1"))
        return R"({"containers":[{"name":"app","usage":{"cpu":"5m","memory":"10Mi"}}]})";
    if (path.endsWith(QLatin1String("/log")))
        return "a log line\n";
    return R"({"items":[]})"; // events, replicasets
}

} // namespace

void TestGatherer::fetcherRefusesDeepBodies_data()
{
    QTest::addColumn<QString>("deepPath");
    QTest::addColumn<QByteArray>("deep");
    QTest::addColumn<QString>("expected"); // the fetch's error when the pod is deep, else one of its notes
    // 100,000 levels parse, but projecting them copies recursively, past the stack.
    const QByteArray arrays = QByteArray(100000, '[') + QByteArray(100000, ']');
    const QByteArray objects = QByteArray("{\"a\":").repeated(100000) + "1" + QByteArray(100000, '}');
    const QString tooDeep = QStringLiteral("the response is nested deeper than 512 levels");
    const QString pod = QStringLiteral("/api/v1/namespaces/shop/pods/web-1");
    QTest::newRow("pod [[[ fails the fetch") << pod << arrays << "pod shop/web-1: " + tooDeep;
    QTest::newRow("pod {\"a\": fails the fetch") << pod << objects << "pod shop/web-1: " + tooDeep;
    QTest::newRow("events [[[ are a note")
        << "/api/v1/namespaces/shop/events" << arrays << "not gathered: events of Pod web-1: " + tooDeep;
    QTest::newRow("owner {\"a\": is a note") << "/apis/apps/v1/namespaces/shop/replicasets/web-abc" << objects
                                             << "not gathered: owner ReplicaSet web-abc: " + tooDeep;
    QTest::newRow("rollout history [[[ is a note") << "/apis/apps/v1/namespaces/shop/replicasets" << arrays
                                                   << "not gathered: rollout history of web: " + tooDeep;
    QTest::newRow("node {\"a\": is a note")
        << "/api/v1/nodes/n1" << objects << "not gathered: node n1: " + tooDeep;
    QTest::newRow("node metrics [[[ are a note")
        << "/apis/metrics.k8s.io/v1beta1/nodes/n1" << arrays << "not gathered: node n1 metrics: " + tooDeep;
    QTest::newRow("pod metrics {\"a\": are a note")
        << "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods/web-1" << objects
        << "not gathered: pod metrics: " + tooDeep;
}

void TestGatherer::fetcherRefusesDeepBodies()
{
    QFETCH(QString, deepPath);
    QFETCH(QByteArray, deep);
    QFETCH(QString, expected);
    test::HttpTestServer server([&](test::HttpExchange *ex) {
        const QString path = ex->request().path;
        ex->respondJson(200, path == deepPath ? deep : healthyBody(path));
    });
    QVERIFY(server.listen());
    kube::Connection connection;
    connection.server = server.url();
    connection.credentials = std::make_shared<NoCredentials>();
    kube::RestClient client(connection);
    GatherFetcher fetcher(&client);
    IncidentSubject subject;
    subject.namespaceName = QStringLiteral("shop");
    subject.podName = QStringLiteral("web-1");
    std::optional<Result<FetchResult>> got;
    fetcher.fetch(subject, this, [&](Result<FetchResult> r) { got = std::move(r); });
    QTRY_VERIFY(got.has_value());
    QVERIFY2(!server.requestsTo(deepPath).isEmpty(), qPrintable(fetcher.requestPaths().join(u' ')));
    if (deepPath == QLatin1String("/api/v1/namespaces/shop/pods/web-1")) {
        QVERIFY(!got->ok());
        QCOMPARE(got->errorMessage(), expected);
        return;
    }
    QVERIFY2(got->ok(), qPrintable(got->errorMessage()));
    QVERIFY2((*got)->notes.contains(expected), qPrintable((*got)->notes.join(u'\n')));
    QCOMPARE((*got)->notes.size(), 1); // the other parts were read
}

QTEST_GUILESS_MAIN(TestGatherer)
#include "tst_gatherer.moc"
