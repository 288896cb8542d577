#include "core/kube/restclient.h"

#include "testcluster.h"

#include <QRandomGenerator>
#include <QTest>

#include <algorithm>
#include <memory>
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

QTEST_GUILESS_MAIN(TestRestClientCluster)
#include "tst_restclient_cluster.moc"
