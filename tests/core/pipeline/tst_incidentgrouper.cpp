#include "core/pipeline/incidentgrouper.h"

#include <QTest>

using namespace vigil;
using namespace vigil::pipeline;

namespace {

const QDateTime kT0 = QDateTime(QDate(2026, 1, 10), QTime(12, 0), Qt::UTC);

Observation crash(const QString &podName, const QDateTime &at,
                  const QString &rs = QStringLiteral("web-7d4b9c8f6"),
                  const QString &reason = QStringLiteral("CrashLoopBackOff"))
{
    Observation o;
    o.reason = reason;
    o.object = kube::ObjectRef{QStringLiteral("Pod"), QStringLiteral("v1"), QStringLiteral("shop"), podName,
                               podName + QStringLiteral("-uid")};
    o.owner = kube::OwnerRef{QStringLiteral("ReplicaSet"), rs, QStringLiteral("rs-uid"), true};
    o.podTemplateHash = rs.section(u'-', -1);
    o.container = QStringLiteral("app");
    o.image = QStringLiteral("registry.example/web:1.4");
    o.message = QStringLiteral("back-off 5m0s restarting failed container=app pod=") + podName +
                QStringLiteral("_shop(0f8e2c1a-9d3b-4e5f-8a7b-6c5d4e3f2a1b)");
    o.time = at;
    o.occurrence = QStringLiteral("app:CrashLoopBackOff:3");
    return o;
}

QString podName(int i)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    QString suffix;
    int n = i + 1000;
    for (int k = 0; k < 5; ++k) {
        suffix += QLatin1Char(alphabet[n % 27]);
        n /= 27;
    }
    return QStringLiteral("web-7d4b9c8f6-") + suffix;
}

} // namespace

class TestIncidentGrouper final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void thirtyReplicasAreOneIncident();
    void separateIncidents_data();
    void separateIncidents();
    void sameFailureOneIncident_data();
    void sameFailureOneIncident();
    void windowExpiry();
    void duplicateOccurrenceDoesNotInflate();
    void resolverOverridesWorkload();
    void workloadOf_data();
    void workloadOf();
    void normalization_data();
    void normalization();
    void subjectForTheGatherer();
};

void TestIncidentGrouper::thirtyReplicasAreOneIncident()
{
    IncidentGrouper grouper;
    QSet<QString> names;
    for (int i = 0; i < 30; ++i) {
        names.insert(podName(i));
        const auto r = grouper.add(crash(podName(i), kT0.addSecs(i)));
        QCOMPARE(r.opened, i == 0);
    }
    QCOMPARE(grouper.size(), 1);
    const auto open = grouper.openIncidents(kT0.addSecs(40));
    QCOMPARE(open.size(), 1);
    const Incident &inc = open.first();
    QCOMPARE(inc.count, 30);
    QCOMPARE(inc.pods.size(), 30);
    QCOMPARE(inc.pods, names);
    QCOMPARE(inc.workload.kind, QStringLiteral("Deployment"));
    QCOMPARE(inc.workload.name, QStringLiteral("web"));
    QCOMPARE(inc.namespaceName, QStringLiteral("shop"));
    QCOMPARE(inc.reason, QStringLiteral("CrashLoopBackOff"));
    QCOMPARE(inc.firstSeen, kT0);
    QCOMPARE(inc.lastSeen, kT0.addSecs(29));
    QCOMPARE(inc.latest.object.name, podName(29));
    QCOMPARE(inc.fingerprint.size(), 16);
}

void TestIncidentGrouper::separateIncidents_data()
{
    QTest::addColumn<QString>("field");
    QTest::newRow("different reason") << QStringLiteral("reason");
    QTest::newRow("different workload") << QStringLiteral("workload");
    QTest::newRow("different namespace") << QStringLiteral("namespace");
    QTest::newRow("different container") << QStringLiteral("container");
    QTest::newRow("different image") << QStringLiteral("image");
    QTest::newRow("different message") << QStringLiteral("message");
}

void TestIncidentGrouper::separateIncidents()
{
    QFETCH(QString, field);
    IncidentGrouper grouper;
    const Observation a = crash(podName(1), kT0);
    Observation b = crash(podName(2), kT0.addSecs(5));
    if (field == QLatin1String("reason"))
        b.reason = QStringLiteral("OOMKilled");
    else if (field == QLatin1String("workload"))
        b.owner.name = QStringLiteral("api-5f6c7d8b9");
    else if (field == QLatin1String("namespace"))
        b.object.namespaceName = QStringLiteral("billing");
    else if (field == QLatin1String("container"))
        b.container = QStringLiteral("sidecar");
    else if (field == QLatin1String("image"))
        b.image = QStringLiteral("registry.example/web:1.5");
    QVERIFY(grouper.add(a).opened);
    if (field == QLatin1String("message")) {
        // Messages tell config errors apart (which key is missing), unlike crash back-off texts.
        Observation c = a;
        c.reason = b.reason = QStringLiteral("CreateContainerConfigError");
        c.message = QStringLiteral("couldn't find key DB_HOST in ConfigMap shop/web");
        b.message = QStringLiteral("configmap \"web-flags\" not found");
        grouper = IncidentGrouper();
        QVERIFY(grouper.add(c).opened);
    }
    QVERIFY(grouper.add(b).opened);
    QCOMPARE(grouper.size(), 2);
    const auto open = grouper.openIncidents(kT0.addSecs(10));
    QCOMPARE(open.size(), 2);
    QCOMPARE(open.at(0).count, 1);
    QCOMPARE(open.at(1).count, 1);
    QVERIFY(open.at(0).fingerprint != open.at(1).fingerprint);
}

void TestIncidentGrouper::sameFailureOneIncident_data()
{
    QTest::addColumn<QString>("firstReason");
    QTest::addColumn<QString>("firstMessage");
    QTest::addColumn<QString>("secondReason");
    QTest::addColumn<QString>("secondMessage");
    QTest::addColumn<QString>("incidentReason");
    QTest::newRow("crash seen between back-offs, then backing off")
        << "NonZeroExit"
        << "exit code 1"
        << "CrashLoopBackOff"
        << "back-off 20s restarting failed container=web pod=web-7d4b9c8f6-aaaaa_shop(x)"
        << "CrashLoopBackOff";
    QTest::newRow("back-off delay grows") << "CrashLoopBackOff"
                                          << "back-off 10s restarting failed container=web"
                                          << "CrashLoopBackOff"
                                          << "back-off 5m0s restarting failed container=web"
                                          << "CrashLoopBackOff";
    QTest::newRow("unschedulable as the cluster changes")
        << "FailedScheduling"
        << "0/3 nodes are available: 3 Insufficient cpu."
        << "FailedScheduling"
        << "0/4 nodes are available: 1 node(s) had untolerated taint {vigil.dev/dedicated: batch}, 3 "
           "Insufficient cpu."
        << "FailedScheduling";
    QTest::newRow("readiness from event and from status")
        << "ReadinessFailing"
        << "Readiness probe failed: HTTP probe failed with statuscode: 503"
        << "ReadinessFailing"
        << "running but not ready for more than 60 s"
        << "ReadinessFailing";
}

void TestIncidentGrouper::sameFailureOneIncident()
{
    QFETCH(QString, firstReason);
    QFETCH(QString, firstMessage);
    QFETCH(QString, secondReason);
    QFETCH(QString, secondMessage);
    QFETCH(QString, incidentReason);
    IncidentGrouper grouper;
    Observation a = crash(podName(1), kT0);
    a.reason = firstReason;
    a.message = firstMessage;
    Observation b = crash(podName(1), kT0.addSecs(15));
    b.reason = secondReason;
    b.message = secondMessage;
    b.occurrence = QStringLiteral("later");
    QVERIFY(grouper.add(a).opened);
    QVERIFY(!grouper.add(b).opened);
    QCOMPARE(grouper.size(), 1);
    QCOMPARE(grouper.openIncidents(kT0.addSecs(20)).first().reason, incidentReason);
}

void TestIncidentGrouper::windowExpiry()
{
    IncidentGrouper::Options opt;
    opt.window = std::chrono::seconds(120);
    IncidentGrouper grouper(opt);
    const auto first = grouper.add(crash(podName(1), kT0));
    QVERIFY(grouper.add(crash(podName(2), kT0.addSecs(119))).opened == false);
    QCOMPARE(grouper.openIncidents(kT0.addSecs(200)).size(), 1);
    QCOMPARE(grouper.openIncidents(kT0.addSecs(240)).size(), 0);

    // Past the window since lastSeen: a new incident with the same fingerprint.
    const auto later = grouper.add(crash(podName(3), kT0.addSecs(119 + 121)));
    QVERIFY(later.opened);
    QCOMPARE(later.incident.fingerprint, first.incident.fingerprint);
    QCOMPARE(later.incident.count, 1);
    QCOMPARE(later.incident.firstSeen, kT0.addSecs(240));

    QCOMPARE(grouper.expire(kT0.addSecs(300)), 0);
    QCOMPARE(grouper.expire(kT0.addSecs(361)), 1);
    QCOMPARE(grouper.size(), 0);
}

void TestIncidentGrouper::duplicateOccurrenceDoesNotInflate()
{
    IncidentGrouper grouper;
    QVERIFY(grouper.add(crash(podName(1), kT0)).opened);
    const auto again = grouper.add(crash(podName(1), kT0.addSecs(3)));
    QVERIFY(again.duplicate);
    QCOMPARE(again.incident.count, 1);
    Observation next = crash(podName(1), kT0.addSecs(60));
    next.occurrence = QStringLiteral("app:CrashLoopBackOff:4");
    const auto counted = grouper.add(next);
    QVERIFY(!counted.duplicate);
    QCOMPARE(counted.incident.count, 2);
    QCOMPARE(counted.incident.pods.size(), 1);
}

void TestIncidentGrouper::resolverOverridesWorkload()
{
    IncidentGrouper::Options opt;
    opt.resolver = [](const Observation &) {
        return std::optional<WorkloadKey>(
            WorkloadKey{QStringLiteral("Rollout"), QStringLiteral("web-canary")});
    };
    IncidentGrouper grouper(opt);
    const auto r = grouper.add(crash(podName(1), kT0));
    QCOMPARE(r.incident.workload.kind, QStringLiteral("Rollout"));
    QCOMPARE(r.incident.workload.name, QStringLiteral("web-canary"));
}

void TestIncidentGrouper::workloadOf_data()
{
    QTest::addColumn<QString>("podName");
    QTest::addColumn<QString>("ownerKind");
    QTest::addColumn<QString>("ownerName");
    QTest::addColumn<QString>("hash");
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("name");
    QTest::newRow("replicaset with hash label -> deployment") << "web-7d4b9c8f6-x2k9p"
                                                              << "ReplicaSet"
                                                              << "web-7d4b9c8f6"
                                                              << "7d4b9c8f6"
                                                              << "Deployment"
                                                              << "web";
    QTest::newRow("dashed deployment name keeps its dashes") << "order-api-v2-5c8d9f7b6-q8z2m"
                                                             << "ReplicaSet"
                                                             << "order-api-v2-5c8d9f7b6"
                                                             << "5c8d9f7b6"
                                                             << "Deployment"
                                                             << "order-api-v2";
    QTest::newRow("replicaset without hash label: suffix heuristic") << "web-7d4b9c8f6-x2k9p"
                                                                     << "ReplicaSet"
                                                                     << "web-7d4b9c8f6"
                                                                     << ""
                                                                     << "Deployment"
                                                                     << "web";
    QTest::newRow("statefulset owner kept") << "db-0"
                                            << "StatefulSet"
                                            << "db"
                                            << ""
                                            << "StatefulSet"
                                            << "db";
    QTest::newRow("daemonset owner kept") << "agent-x2k9p"
                                          << "DaemonSet"
                                          << "agent"
                                          << ""
                                          << "DaemonSet"
                                          << "agent";
    QTest::newRow("ownerless generated name (from an event)") << "web-7d4b9c8f6-x2k9p"
                                                              << ""
                                                              << ""
                                                              << ""
                                                              << "Deployment"
                                                              << "web";
    QTest::newRow("bare pod") << "debug-shell"
                              << ""
                              << ""
                              << ""
                              << "Pod"
                              << "debug-shell";
}

void TestIncidentGrouper::workloadOf()
{
    QFETCH(QString, podName);
    QFETCH(QString, ownerKind);
    QFETCH(QString, ownerName);
    QFETCH(QString, hash);
    QFETCH(QString, kind);
    QFETCH(QString, name);
    Observation o;
    o.object =
        kube::ObjectRef{QStringLiteral("Pod"), QStringLiteral("v1"), QStringLiteral("shop"), podName, {}};
    o.owner = kube::OwnerRef{ownerKind, ownerName, {}, true};
    o.podTemplateHash = hash;
    const WorkloadKey key = IncidentGrouper::workloadOf(o);
    QCOMPARE(key.kind, kind);
    QCOMPARE(key.name, name);
}

void TestIncidentGrouper::normalization_data()
{
    QTest::addColumn<QString>("a");
    QTest::addColumn<QString>("b");
    QTest::newRow("digits") << "exit code 137 after 12s"
                            << "exit code 1 after 3s";
    QTest::newRow("uuid") << "pod uid 0f8e2c1a-9d3b-4e5f-8a7b-6c5d4e3f2a1b gone"
                          << "pod uid 11111111-2222-3333-4444-555555555555 gone";
    QTest::newRow("ipv4 with port") << "dial tcp 10.0.3.7:5432: connect: connection refused"
                                    << "dial tcp 10.0.9.12:5432: connect: connection refused";
    QTest::newRow("ipv6") << "dial tcp [fd00::a:1]:80: refused"
                          << "dial tcp [fd00::b:2]:80: refused";
    QTest::newRow("hex ids") << "container deadbeef12 failed"
                             << "container 0a1b2c3d4e5f failed";
    QTest::newRow("pod name suffix") << "pod web-7d4b9c8f6-x2k9p failed"
                                     << "pod web-7d4b9c8f6-mn4pq failed";
    QTest::newRow("whitespace") << "a   b\tc"
                                << "a b c";
}

void TestIncidentGrouper::normalization()
{
    QFETCH(QString, a);
    QFETCH(QString, b);
    QCOMPARE(IncidentGrouper::normalizeMessage(a), IncidentGrouper::normalizeMessage(b));
    QVERIFY(IncidentGrouper::normalizeMessage(QStringLiteral("connection refused")) !=
            IncidentGrouper::normalizeMessage(QStringLiteral("permission denied")));
    QCOMPARE(IncidentGrouper::normalizeMessage(QStringLiteral("connection-refused-error")),
             QStringLiteral("connection-refused-error"));
}

void TestIncidentGrouper::subjectForTheGatherer()
{
    IncidentGrouper grouper;
    grouper.add(crash(podName(2), kT0));
    const Incident inc = grouper.add(crash(podName(1), kT0.addSecs(9))).incident;
    const gather::IncidentSubject s = toSubject(inc);
    QCOMPARE(s.reason, QStringLiteral("CrashLoopBackOff"));
    QCOMPARE(s.namespaceName, QStringLiteral("shop"));
    QCOMPARE(s.workloadKind, QStringLiteral("Deployment"));
    QCOMPARE(s.workloadName, QStringLiteral("web"));
    QCOMPARE(s.container, QStringLiteral("app"));
    QCOMPARE(s.podName, podName(1));
    QVERIFY(s.nodeName.isEmpty());
    QCOMPARE(s.count, 2);
    QStringList pods{podName(1), podName(2)};
    pods.sort();
    QCOMPARE(s.pods, pods);
    QCOMPARE(s.firstSeen, kT0);
    QCOMPARE(s.lastSeen, kT0.addSecs(9));

    Observation node;
    node.reason = QStringLiteral("NodeNotReady");
    node.object = kube::ObjectRef{
        QStringLiteral("Node"), QStringLiteral("v1"), QString(), QStringLiteral("worker-1"), {}};
    node.time = kT0;
    const gather::IncidentSubject ns = toSubject(grouper.add(node).incident);
    QCOMPARE(ns.nodeName, QStringLiteral("worker-1"));
    QCOMPARE(ns.workloadKind, QStringLiteral("Node"));
    QVERIFY(ns.pods.isEmpty());
}

QTEST_GUILESS_MAIN(TestIncidentGrouper)
#include "tst_incidentgrouper.moc"
