#include "core/kube/restclient.h"

#include "clusterapi.h"
#include "httptestserver.h"
#include "tcpproxy.h"
#include "testcluster.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QFile>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRandomGenerator>
#include <QScopeGuard>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

using namespace vigil;
using namespace vigil::kube;

// Against the real API server: more long-lived streams than HTTP/1.1's six
// connections per host, plus ordinary calls, must all make progress. With
// HTTP/2 they share one TLS connection; without it the seventh would queue.
class TestRestClientCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void manyWatchesAndCallsShareTheConnection();
    void watchesLogsAndAnotherHostNeverStarve();
};

void TestRestClientCluster::manyWatchesAndCallsShareTheConnection()
{
    Result<Connection> conn = test::testClusterConnection();
    QVERIFY2(conn.ok(), qPrintable(conn.errorMessage()));
    RestClient client(*conn);
    const ResourceType configMaps{QString(), QStringLiteral("v1"), QStringLiteral("configmaps"), true};
    const ResourcePath inDefault{configMaps, QStringLiteral("default"), QString(), QString()};

    std::optional<Result<ListResult>> listed;
    client.list(inDefault, {}, this, [&](Result<ListResult> r) { listed = std::move(r); });
    QTRY_VERIFY_WITH_TIMEOUT(listed.has_value(), 30000);
    QVERIFY2(listed->ok(), qPrintable(listed->errorMessage()));

    constexpr int streams = 8;
    const QString name = QStringLiteral("vigil-h2-%1").arg(QRandomGenerator::global()->generate(), 0, 16);
    std::vector<bool> seen(streams, false);
    std::vector<StreamHandle> handles;
    int closedEarly = 0;
    for (int i = 0; i < streams; ++i) {
        WatchOptions w;
        w.resourceVersion = (*listed)->resourceVersion;
        w.timeoutSeconds = 120;
        handles.push_back(client.watch(
            inDefault, w, this,
            [&, i](const QList<WatchEvent> &events) {
                for (const WatchEvent &e : events) {
                    if (e.object.is_object() &&
                        e.object.value("metadata", nlohmann::json::object()).value("name", std::string()) ==
                            name.toStdString())
                        seen[i] = true;
                }
            },
            [&](Result<void>) { ++closedEarly; }));
    }
    QTest::qWait(500);

    // An ordinary call still gets through while all streams are open.
    std::optional<Result<Response>> version;
    Request r;
    r.path = QStringLiteral("/version");
    client.send(r, this, [&](Result<Response> res) { version = std::move(res); });
    QTRY_VERIFY_WITH_TIMEOUT(version.has_value(), 10000);
    QVERIFY2(version->ok(), qPrintable(version->errorMessage()));

    // Every stream makes progress: each one sees the object we create.
    std::optional<Result<nlohmann::json>> created;
    const nlohmann::json cm = {{"apiVersion", "v1"},
                               {"kind", "ConfigMap"},
                               {"metadata", {{"name", name.toStdString()}}},
                               {"data", {{"k", "v"}}}};
    client.create(inDefault, cm, {}, this, [&](Result<nlohmann::json> res) { created = std::move(res); });
    QTRY_VERIFY_WITH_TIMEOUT(created.has_value(), 10000);
    QVERIFY2(created->ok(), qPrintable(created->errorMessage()));
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(seen.cbegin(), seen.cend(), [](bool b) { return b; }), 15000);
    QCOMPARE(closedEarly, 0);
    for (StreamHandle &h : handles)
        QVERIFY(h.active());

    std::optional<Result<nlohmann::json>> removed;
    client.remove(ResourcePath{configMaps, QStringLiteral("default"), name, QString()}, {}, this,
                  [&](Result<nlohmann::json> res) { removed = std::move(res); });
    QTRY_VERIFY_WITH_TIMEOUT(removed.has_value(), 10000);
    QVERIFY2(removed->ok(), qPrintable(removed->errorMessage()));
}

// What the test above leaves implicit, measured: HTTP/2 is negotiated (ALPN over TLS), and 8 watches,
// 4 followed logs and ordinary calls all run over ONE TCP connection (counted by a proxy in front of
// the API server) without starving each other, while requests to another local server (as the LLM's
// are) are answered at once. Over HTTP/1.1 the same load would need 12+ connections, and Qt's limit of
// six per host would queue the seventh stream and every call behind it.
void TestRestClientCluster::watchesLogsAndAnotherHostNeverStarve()
{
    vigil::test::ClusterApi api;
    const Result<void> connected = api.connect();
    QVERIFY2(connected.ok(), qPrintable(connected.errorMessage()));
    const Connection direct = api.client->connection();
    const QString ns = vigil::test::ClusterApi::uniqueName(QStringLiteral("vigil-h2-"));
    QVERIFY(api.createNamespace(ns).ok());
    const ResourcePath clusterLogsPath{
        {QStringLiteral("kwok.x-k8s.io"), QStringLiteral("v1alpha1"), QStringLiteral("clusterlogs"), false},
        {},
        ns,
        {}};
    auto cleanup = qScopeGuard([&] {
        (void)api.remove(clusterLogsPath);
        (void)api.remove({ResourceType::namespaces(), {}, ns, {}});
    });

    // kwok serves the containers' logs from this file and follows it as it grows.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString logFile = dir.filePath(QStringLiteral("h2.log"));
    const auto appendLog = [&](const QByteArray &text) {
        QFile f(logFile);
        if (!f.open(QIODevice::Append))
            return false;
        return f.write(QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs).toLatin1() + " stdout F " +
                       text + "\n") > 0;
    };
    QVERIFY(appendLog("started"));
    const nlohmann::json clusterLogs = {
        {"apiVersion", "kwok.x-k8s.io/v1alpha1"},
        {"kind", "ClusterLogs"},
        {"metadata", {{"name", ns.toStdString()}}},
        {"spec",
         {{"selector", {{"matchNamespaces", {ns.toStdString()}}}},
          {"logs", {{{"containers", {"h2log"}}, {"logsFile", logFile.toStdString()}, {"follow", true}}}}}}};
    const Result<nlohmann::json> madeLogs = api.create(
        {{QStringLiteral("kwok.x-k8s.io"), QStringLiteral("v1alpha1"), QStringLiteral("clusterlogs"), false},
         {},
         {},
         {}},
        clusterLogs);
    QVERIFY2(madeLogs.ok(), qPrintable(madeLogs.errorMessage()));

    constexpr int logStreams = 4;
    const ResourcePath podsHere{ResourceType::pods(), ns, {}, {}};
    for (int i = 0; i < logStreams; ++i) {
        const nlohmann::json pod = {
            {"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", "logger-" + std::to_string(i)}}},
            {"spec",
             {{"nodeName", "kwok-node-0"},
              {"containers", {{{"name", "h2log"}, {"image", "registry.invalid/h2log:1"}}}}}}};
        const Result<nlohmann::json> made = api.create(podsHere, pod);
        QVERIFY2(made.ok(), qPrintable(made.errorMessage()));
    }
    QVERIFY2(vigil::test::ClusterApi::waitFor(
                 [&] {
                     const Result<QList<nlohmann::json>> pods = api.list(podsHere);
                     if (!pods || pods->size() != logStreams)
                         return false;
                     return std::all_of(pods->cbegin(), pods->cend(), [](const nlohmann::json &p) {
                         return p.value("status", nlohmann::json::object()).value("phase", std::string()) ==
                                "Running";
                     });
                 },
                 60000),
             "the logger pods did not run within 60 s");

    // Everything below goes through the proxy, which counts the TCP connections.
    vigil::test::TcpProxy proxy(direct.server.host(), static_cast<quint16>(direct.server.port()));
    QVERIFY(proxy.listen());
    Connection proxied = direct;
    QUrl server = direct.server;
    server.setPort(proxy.port());
    proxied.server = server;
    RestClient client(proxied);

    std::optional<Result<Response>> version;
    Request versionRequest;
    versionRequest.path = QStringLiteral("/version");
    client.send(versionRequest, this, [&](Result<Response> r) { version = std::move(r); });
    QTRY_VERIFY_WITH_TIMEOUT(version.has_value(), 15000);
    QVERIFY2(version->ok(), qPrintable(version->errorMessage()));
    QVERIFY2((*version)->http2, "the API server offers h2 by ALPN, but the request went over HTTP/1.1");

    const ResourceType configMaps{QString(), QStringLiteral("v1"), QStringLiteral("configmaps"), true};
    const ResourcePath mapsHere{configMaps, ns, {}, {}};
    constexpr int watches = 8;
    const std::string marker = "cm-" + std::to_string(QRandomGenerator::global()->generate());
    std::vector<bool> watchSaw(watches, false);
    std::vector<QByteArray> logText(logStreams);
    std::vector<StreamHandle> handles;
    QStringList closed;
    for (int i = 0; i < watches; ++i) {
        WatchOptions w;
        w.timeoutSeconds = 300;
        handles.push_back(client.watch(
            mapsHere, w, this,
            [&, i](const QList<WatchEvent> &events) {
                for (const WatchEvent &e : events) {
                    if (e.object.is_object() &&
                        e.object.value("metadata", nlohmann::json::object()).value("name", std::string()) ==
                            marker)
                        watchSaw[i] = true;
                }
            },
            [&, i](Result<void> r) {
                closed.append(QStringLiteral("watch %1: %2").arg(i).arg(r.errorMessage()));
            }));
    }
    for (int i = 0; i < logStreams; ++i) {
        Request follow;
        follow.path =
            ResourcePath{ResourceType::pods(), ns, QStringLiteral("logger-%1").arg(i), QStringLiteral("log")}
                .path();
        follow.query = {{QStringLiteral("follow"), QStringLiteral("true")},
                        {QStringLiteral("container"), QStringLiteral("h2log")}};
        follow.accept = "*/*";
        handles.push_back(client.stream(
            follow, this, [&, i](const QByteArray &data) { logText[i] += data; },
            [&, i](Result<void> r) {
                closed.append(QStringLiteral("log %1: %2").arg(i).arg(r.errorMessage()));
            }));
    }
    // Every log stream is open and has delivered what the file held.
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(logText.cbegin(), logText.cend(),
                                         [](const QByteArray &t) { return t.contains("started"); }),
                             20000);

    // Another host, as the LLM endpoint is: 8 concurrent requests all answered at once.
    vigil::test::HttpTestServer other([](vigil::test::HttpExchange *ex) { ex->respondJson(200, "{}"); });
    QVERIFY(other.listen());
    QNetworkAccessManager otherNam;
    int otherDone = 0;
    QElapsedTimer otherClock;
    otherClock.start();
    for (int i = 0; i < 8; ++i) {
        QNetworkReply *reply =
            otherNam.get(QNetworkRequest(other.url().resolved(QUrl(QStringLiteral("/v1/x")))));
        connect(reply, &QNetworkReply::finished, this, [&, reply] {
            otherDone += reply->error() == QNetworkReply::NoError ? 1 : 0;
            reply->deleteLater();
        });
    }
    QTRY_COMPARE_WITH_TIMEOUT(otherDone, 8, 5000);
    QVERIFY2(otherClock.elapsed() < 2000, qPrintable(QString::number(otherClock.elapsed())));

    // Ordinary calls on the API server still go through, each within a second or two.
    for (int i = 0; i < 5; ++i) {
        std::optional<Result<Response>> again;
        QElapsedTimer t;
        t.start();
        client.send(versionRequest, this, [&](Result<Response> r) { again = std::move(r); });
        QTRY_VERIFY_WITH_TIMEOUT(again.has_value(), 10000);
        QVERIFY2(again->ok(), qPrintable(again->errorMessage()));
        QVERIFY((*again)->http2);
        QVERIFY2(t.elapsed() < 3000, qPrintable(QString::number(t.elapsed())));
    }

    // Every stream makes progress: each watch sees a new ConfigMap, each log follow a new line.
    std::optional<Result<nlohmann::json>> created;
    client.create(mapsHere, {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", marker}}}},
                  {}, this, [&](Result<nlohmann::json> r) { created = std::move(r); });
    QTRY_VERIFY_WITH_TIMEOUT(created.has_value(), 10000);
    QVERIFY2(created->ok(), qPrintable(created->errorMessage()));
    QVERIFY(appendLog("second line"));
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(watchSaw.cbegin(), watchSaw.cend(), [](bool b) { return b; }),
                             15000);
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(logText.cbegin(), logText.cend(),
                                         [](const QByteArray &t) { return t.contains("second line"); }),
                             15000);
    QVERIFY2(closed.isEmpty(), qPrintable(closed.join(QLatin1String("; "))));
    for (const StreamHandle &h : handles)
        QVERIFY(h.active());

    // 12 long-lived streams and every call shared one TCP connection.
    QCOMPARE(proxy.acceptedTotal(), 1);
}

QTEST_GUILESS_MAIN(TestRestClientCluster)
#include "tst_restclient_cluster.moc"
