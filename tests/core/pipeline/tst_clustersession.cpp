#include "core/pipeline/clustersession.h"

#include <QTest>

#include <nlohmann/json.hpp>

using nlohmann::json;
using vigil::kube::InformerHealth;
using vigil::pipeline::ClusterSession;
using vigil::pipeline::SessionHealth;

class TestClusterSession final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void health_data();
    void health();
    void retryCountdown();
    void podMetrics_data();
    void podMetrics();
    void yaml_data();
    void yaml();
};

void TestClusterSession::health_data()
{
    QTest::addColumn<int>("state");
    QTest::addColumn<bool>("synced");
    QTest::addColumn<QString>("lastError");
    QTest::addColumn<int>("kind");
    QTest::addColumn<QString>("sentence");

    using S = InformerHealth::State;
    using K = SessionHealth::Kind;
    QTest::newRow("listing first time is connecting")
        << int(S::Listing) << false << "" << int(K::Connecting) << "Connecting: listing pods";
    QTest::newRow("watching is connected")
        << int(S::Watching) << true << "" << int(K::Connected) << "Connected: watching 0 pods.";
    QTest::newRow("relisting after a sync stays connected")
        << int(S::Listing) << true << "" << int(K::Connected) << "Connected";
    QTest::newRow("401 is expired credentials")
        << int(S::BackingOff) << true << "GET /api/v1/pods: 401 Unauthorized: Unauthorized"
        << int(K::CredentialsExpired) << "Credentials expired (401)";
    QTest::newRow("403 is missing RBAC")
        << int(S::BackingOff) << false << "GET /api/v1/pods: 403 Forbidden: pods is forbidden"
        << int(K::Forbidden) << "RBAC missing (403): your user may not list and watch pods";
    QTest::newRow("500 backs off") << int(S::BackingOff) << true
                                   << "GET /api/v1/pods: 500 Internal Server Error: boom"
                                   << int(K::Reconnecting) << "Connection lost; retrying in";
    QTest::newRow("a refused connection backs off")
        << int(S::BackingOff) << false << "GET /api/v1/pods: Connection refused" << int(K::Reconnecting)
        << "retrying in";
}

void TestClusterSession::health()
{
    QFETCH(int, state);
    QFETCH(bool, synced);
    QFETCH(QString, lastError);
    QFETCH(int, kind);
    QFETCH(QString, sentence);
    InformerHealth h;
    h.state = InformerHealth::State(state);
    h.synced = synced;
    h.lastError = lastError;
    h.nextRetry = QDateTime::currentDateTimeUtc().addSecs(4);
    const SessionHealth s = SessionHealth::fromInformer(h, "pods");
    QCOMPARE(int(s.kind), kind);
    QVERIFY2(s.sentence(QDateTime::currentDateTimeUtc()).contains(sentence),
             qPrintable(s.sentence(QDateTime::currentDateTimeUtc())));
    QCOMPARE(s.detail, lastError);
}

void TestClusterSession::retryCountdown()
{
    SessionHealth s;
    s.kind = SessionHealth::Kind::Reconnecting;
    const QDateTime now = QDateTime(QDate(2026, 11, 25), QTime(12, 0), Qt::UTC);
    s.nextRetry = now.addMSecs(3200);
    QCOMPARE(s.sentence(now), QString("Connection lost; retrying in 4 s."));
    QCOMPARE(s.sentence(now.addSecs(10)), QString("Connection lost; retrying in 0 s."));
}

void TestClusterSession::podMetrics_data()
{
    QTest::addColumn<QByteArray>("list");
    QTest::addColumn<QString>("key");
    QTest::addColumn<qint64>("cpu");
    QTest::addColumn<qint64>("memory");
    QTest::addColumn<int>("size");

    QTest::newRow("containers are summed")
        << QByteArray(R"({"items":[{"metadata":{"namespace":"demo","name":"web"},"containers":[
              {"name":"a","usage":{"cpu":"250m","memory":"64Mi"}},{"name":"b","usage":{"cpu":"1","memory":"1Gi"}}]}]})")
        << "demo/web" << qint64(1250) << qint64(64 + 1024) * 1024 * 1024 << 1;
    QTest::newRow("nanocores")
        << QByteArray(
               R"({"items":[{"metadata":{"namespace":"n","name":"p"},"containers":[{"usage":{"cpu":"5000000n","memory":"1000Ki"}}]}]})")
        << "n/p" << qint64(5) << qint64(1024000) << 1;
    QTest::newRow("no containers: unknown")
        << QByteArray(R"({"items":[{"metadata":{"namespace":"n","name":"p"}}]})") << "n/p" << qint64(-1)
        << qint64(-1) << 1;
    QTest::newRow("junk is ignored")
        << QByteArray(
               R"({"items":[7,{"metadata":3},{"metadata":{"namespace":"n","name":"p"},"containers":"x"}]})")
        << "n/p" << qint64(-1) << qint64(-1) << 1;
    QTest::newRow("not a list") << QByteArray(R"([1,2])") << "n/p" << qint64(-1) << qint64(-1) << 0;
}

void TestClusterSession::podMetrics()
{
    QFETCH(QByteArray, list);
    QFETCH(QString, key);
    QFETCH(qint64, cpu);
    QFETCH(qint64, memory);
    QFETCH(int, size);
    const vigil::pipeline::PodUsageMap usage =
        ClusterSession::parsePodMetrics(json::parse(list.toStdString()));
    QCOMPARE(int(usage.size()), size);
    QCOMPARE(qint64(usage.value(key).cpuMilli), cpu);
    QCOMPARE(qint64(usage.value(key).memoryBytes), memory);
}

void TestClusterSession::yaml_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("expected");
    QTest::newRow("nested map and list")
        << QByteArray(R"({"a":{"b":[1,"x"]}})") << "a:\n  b:\n    - 1\n    - x";
    QTest::newRow("strings that look like other types are quoted")
        << QByteArray(R"({"s":"True","n":"5","f":"1.5e3","z":"","y":"no","ok":"hello"})")
        << "f: \"1.5e3\"\nn: \"5\"\nok: hello\ns: \"True\"\ny: \"no\"\nz: \"\"";
    QTest::newRow("real scalars stay plain")
        << QByteArray(R"({"b":true,"i":-3,"nil":null})") << "b: true\ni: -3\nnil: ~";
}

void TestClusterSession::yaml()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, expected);
    QCOMPARE(ClusterSession::toYaml(json::parse(json.toStdString())), expected);
}

QTEST_GUILESS_MAIN(TestClusterSession)
#include "tst_clustersession.moc"
