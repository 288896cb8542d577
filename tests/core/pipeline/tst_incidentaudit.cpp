#include "core/pipeline/incidentaudit.h"

#include <QTest>

using namespace vigil;
using json = nlohmann::json;

namespace {

pipeline::Incident incident(const QString &namespaceName, const QString &kind, const QString &name,
                            const QString &message, int count)
{
    pipeline::Incident i;
    i.fingerprint = "fp-" + name;
    i.reason = kind == "Node" ? "NodeNotReady" : "CrashLoopBackOff";
    i.namespaceName = namespaceName;
    i.workload = {kind, name};
    i.count = count;
    i.latest.reason = i.reason;
    i.latest.object = {kind == "Node" ? "Node" : "Pod", "v1", namespaceName, name + "-1", "uid"};
    i.latest.message = message;
    if (kind != "Node")
        i.pods = {name + "-1", name + "-0"};
    i.firstSeen = QDateTime(QDate(2026, 11, 25), QTime(8, 0), Qt::UTC);
    i.lastSeen = i.firstSeen.addSecs(60);
    return i;
}

} // namespace

class TestIncidentAudit final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void observation_data();
    void observation();
};

void TestIncidentAudit::observation_data()
{
    QTest::addColumn<QString>("namespaceName");
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("message");
    QTest::addColumn<int>("count");
    QTest::addColumn<QString>("expectedStart");
    QTest::addColumn<QString>("secret"); // must appear neither in the line nor in the observed row
    QTest::addColumn<QString>("target");

    QTest::newRow("workload incident: reason, workload, count, message")
        << "shop"
        << "Deployment"
        << "back-off 5m0s restarting failed container=app" << 6
        << "CrashLoopBackOff on Deployment shop/web (6 times): back-off 5m0s restarting failed container=app"
        << QString() << "deployment/shop/web";
    QTest::newRow("node incident has no namespace")
        << ""
        << "Node"
        << "kubelet stopped posting node status" << 1
        << "NodeNotReady on Node web (1 times): kubelet stopped posting node status" << QString()
        << "node/web";
    QTest::newRow("a password in the message is redacted")
        << "shop"
        << "Deployment"
        << "exec failed: postgres://orders:hunter2pw@db:5432/orders refused" << 2
        << "CrashLoopBackOff on Deployment shop/web (2 times): exec failed: postgres://orders:"
        << "hunter2pw"
        << "deployment/shop/web";
    QTest::newRow("a long message is cut short")
        << "shop"
        << "Deployment" << QString(5000, 'a') << 3
        << "CrashLoopBackOff on Deployment shop/web (3 times): aaaa" << QString() << "deployment/shop/web";
}

void TestIncidentAudit::observation()
{
    QFETCH(QString, namespaceName);
    QFETCH(QString, kind);
    QFETCH(QString, message);
    QFETCH(int, count);
    QFETCH(QString, expectedStart);
    QFETCH(QString, secret);
    QFETCH(QString, target);

    const pipeline::Incident i = incident(namespaceName, kind, "web", message, count);
    const QString line = pipeline::incidentObservation(i);
    QVERIFY2(line.startsWith(expectedStart), qPrintable(line));
    QVERIFY2(line.size() <= expectedStart.section(':', 0, 0).size() + 2 + 300, qPrintable(line));
    if (!secret.isEmpty())
        QVERIFY2(!line.contains(secret), qPrintable(line));

    const audit::AuditEvent e = pipeline::observedEvent(i, "os:alice");
    QCOMPARE(e.kind, QString("observed"));
    QCOMPARE(e.target, target);
    QCOMPARE(e.outcome, i.reason);
    QCOMPARE(e.payload.value("count", 0), count);
    QCOMPARE(e.payload.value("incident", std::string()), i.fingerprint.toStdString());
    QCOMPARE(int(e.payload["pods"].size()), int(i.pods.size()));
    if (!secret.isEmpty())
        QVERIFY(!QString::fromStdString(e.payload.dump()).contains(secret));
}

QTEST_GUILESS_MAIN(TestIncidentAudit)
#include "tst_incidentaudit.moc"
