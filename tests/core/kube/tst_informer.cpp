#include "core/kube/informer.h"

#include "httptestserver.h"

#include <QElapsedTimer>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <memory>

using namespace vigil;
using namespace vigil::kube;
using vigil::test::HttpExchange;
using vigil::test::HttpRequest;
using vigil::test::HttpTestServer;

namespace {

QByteArray pod(const char *uid, int rv)
{
    return QByteArray("{\"metadata\":{\"uid\":\"") + uid + "\",\"name\":\"pod-" + uid +
           "\",\"namespace\":\"shop\",\"resourceVersion\":\"" + QByteArray::number(rv) +
           "\"},\"status\":{\"phase\":\"Running\"}}";
}

QByteArray podList(int rv, const QList<QByteArray> &items)
{
    return "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"" + QByteArray::number(rv) +
           "\"},\"items\":[" + items.join(',') + "]}";
}

QByteArray watchLine(const char *type, const QByteArray &object)
{
    return QByteArray("{\"type\":\"") + type + "\",\"object\":" + object + "}\n";
}

QByteArray expiredEvent()
{
    return watchLine(
        "ERROR", QByteArray(R"x({"kind":"Status","status":"Failure","message":"too old resource version",)x"
                            R"x("reason":"Expired","code":410})x"));
}

// Serves scripted list and watch responses in order; once a script runs out it stalls.
struct FakeApi {
    QList<std::function<void(HttpExchange *)>> lists;
    QList<std::function<void(HttpExchange *)>> watches;
    QList<qint64> watchTimes;
    QElapsedTimer clock;
    HttpTestServer server;

    FakeApi()
    {
        clock.start();
        server.setHandler([this](HttpExchange *ex) {
            const bool isWatch = ex->request().queryValue(QStringLiteral("watch")) == QLatin1String("true");
            auto &script = isWatch ? watches : lists;
            if (isWatch)
                watchTimes.append(clock.elapsed());
            if (!script.isEmpty())
                script.takeFirst()(ex);
        });
    }
    QList<HttpRequest> requests(bool watch) const
    {
        QList<HttpRequest> out;
        for (const HttpRequest &r : server.requests()) {
            if ((r.queryValue(QStringLiteral("watch")) == QLatin1String("true")) == watch)
                out.append(r);
        }
        return out;
    }
};

std::function<void(HttpExchange *)> respondList(QByteArray body)
{
    return [body](HttpExchange *ex) { ex->respondJson(200, body); };
}

std::function<void(HttpExchange *)> stream(QList<QPair<int, QByteArray>> pieces, HttpExchange::Ending ending)
{
    return [pieces, ending](HttpExchange *ex) { ex->streamChunks(200, {}, pieces, ending); };
}

Connection connectionTo(const QUrl &url)
{
    Connection c;
    c.server = url;
    return c;
}

InformerOptions fastOptions()
{
    InformerOptions o;
    o.type = ResourceType::pods();
    o.namespaceName = QStringLiteral("shop");
    o.batchIntervalMs = 50;
    o.backoffInitialMs = 100;
    o.backoffMaxMs = 1000;
    o.random = [] { return 0.0; };
    o.streamingList = false; // these scripts serve LIST + WATCH; streaming lists have their own tests
    return o;
}

QStringList uids(const ObjectStore &store)
{
    QStringList out;
    for (const KubeObject &o : store.objects())
        out.append(objectUid(o) + QLatin1Char('@') + objectResourceVersion(o));
    out.sort();
    return out;
}

QString describe(const QList<Delta> &deltas)
{
    QStringList out;
    for (const Delta &d : deltas) {
        const char *t = d.type == Delta::Type::Added ? "+" : d.type == Delta::Type::Modified ? "~" : "-";
        out.append(QLatin1String(t) + objectUid(d.object) + QLatin1Char('@') +
                   objectResourceVersion(d.object));
    }
    return out.join(QLatin1Char(' '));
}

QByteArray bookmark(int rv, bool initialEventsEnd)
{
    const QByteArray notes = initialEventsEnd
                                 ? QByteArray(R"(,"annotations":{"k8s.io/initial-events-end":"true"})")
                                 : QByteArray();
    return watchLine("BOOKMARK", R"({"kind":"Pod","metadata":{"resourceVersion":")" + QByteArray::number(rv) +
                                     "\"" + notes + "}}");
}

InformerOptions streamingOptions()
{
    InformerOptions o = fastOptions();
    o.streamingList = true;
    return o;
}

bool isStreamingList(const HttpRequest &r)
{
    return r.queryValue(QStringLiteral("sendInitialEvents")) == QLatin1String("true");
}

} // namespace

class TestInformer final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void listThenWatchWithBatchedDeltas();
    void expiredRelistsAndReconciles_data();
    void expiredRelistsAndReconciles();
    void truncatedStreamBacksOffAndResumes();
    void immediateCloseCountsAsFailure();
    void idleWatchdogReconnects();
    void bookmarksAdvanceResourceVersion();
    void coalescesWithinABatch();
    void streamingListAppliesStateAtItsEndBookmark();
    void streamingListFallsBackToList_data();
    void streamingListFallsBackToList();
    void streamingListRetriesAfterTransientFailure();
    void streamingListIsPinnedToHttp1();
    void streamingListHoldsTheServerBack_data();
    void streamingListHoldsTheServerBack();
    void abandonedFirstSyncLeavesNoTrace_data();
    void abandonedFirstSyncLeavesNoTrace();
    void backoffDelay_data();
    void backoffDelay();
};

void TestInformer::listThenWatchWithBatchedDeltas()
{
    FakeApi api;
    api.lists = {respondList(podList(10, {pod("a", 5), pod("b", 6)}))};
    api.watches = {stream({{50, watchLine("ADDED", pod("c", 11)) + watchLine("MODIFIED", pod("a", 12)) +
                                    watchLine("DELETED", pod("b", 13))}},
                          HttpExchange::Ending::Stall)};
    QVERIFY(api.server.listen());
    RestClient client(connectionTo(api.server.url()));
    Informer informer(&client, fastOptions());
    QSignalSpy spy(&informer, &Informer::deltas);
    informer.start();
    QTRY_COMPARE(spy.size(), 2);
    const auto first = spy.at(0).at(0).value<DeltaBatch>();
    QVERIFY(first.resynced);
    QCOMPARE(first.deltas.size(), 2);
    const auto second = spy.at(1).at(0).value<DeltaBatch>();
    QVERIFY(!second.resynced);
    QCOMPARE(describe(second.deltas), QStringLiteral("+c@11 ~a@12 -b@13"));
    QCOMPARE(uids(informer.store()), (QStringList{QStringLiteral("a@12"), QStringLiteral("c@11")}));
    QCOMPARE(informer.resourceVersion(), QStringLiteral("13"));
    QVERIFY(informer.health().synced);
    QCOMPARE(informer.health().state, InformerHealth::State::Watching);

    const HttpRequest list = api.requests(false).at(0);
    QCOMPARE(list.path, QStringLiteral("/api/v1/namespaces/shop/pods"));
    QCOMPARE(list.queryValue(QStringLiteral("limit")), QStringLiteral("500"));
    const HttpRequest watch = api.requests(true).at(0);
    QCOMPARE(watch.queryValue(QStringLiteral("resourceVersion")), QStringLiteral("10"));
    QCOMPARE(watch.queryValue(QStringLiteral("allowWatchBookmarks")), QStringLiteral("true"));
    const int timeout = watch.queryValue(QStringLiteral("timeoutSeconds")).toInt();
    QVERIFY2(timeout >= 300 && timeout <= 600, qPrintable(QString::number(timeout)));
}

void TestInformer::expiredRelistsAndReconciles_data()
{
    QTest::addColumn<bool>("httpStatus");
    QTest::newRow("ERROR 410 event mid-stream") << false;
    QTest::newRow("410 status when the watch starts") << true;
}

void TestInformer::expiredRelistsAndReconciles()
{
    QFETCH(bool, httpStatus);
    FakeApi api;
    api.lists = {respondList(podList(10, {pod("a", 5), pod("b", 6)})),
                 respondList(podList(20, {pod("a", 15), pod("c", 18)}))};
    if (httpStatus)
        api.watches = {[](HttpExchange *ex) {
            ex->respondJson(410, R"({"kind":"Status","reason":"Expired","message":"too old","code":410})");
        }};
    else
        api.watches = {stream({{20, watchLine("MODIFIED", pod("a", 11))}, {20, expiredEvent()}},
                              HttpExchange::Ending::Stall)};
    QVERIFY(api.server.listen());
    RestClient client(connectionTo(api.server.url()));
    Informer informer(&client, fastOptions());
    QList<Delta> all;
    connect(&informer, &Informer::deltas, this, [&](const DeltaBatch &b) { all += b.deltas; });
    informer.start();
    QTRY_COMPARE(api.requests(true).size(), 2);
    QCOMPARE(api.requests(false).size(), 2);
    QVERIFY(api.requests(false).at(1).queryValue(QStringLiteral("resourceVersion")).isEmpty());
    QCOMPARE(api.requests(true).at(1).queryValue(QStringLiteral("resourceVersion")), QStringLiteral("20"));
    QCOMPARE(uids(informer.store()), (QStringList{QStringLiteral("a@15"), QStringLiteral("c@18")}));
    QTRY_VERIFY(describe(all).contains(QLatin1String("-b@6")));
    QVERIFY(describe(all).contains(QLatin1String("+c@18")));
    QVERIFY2(describe(all).contains(QLatin1String("~a@15")), qPrintable(describe(all)));
}

void TestInformer::truncatedStreamBacksOffAndResumes()
{
    FakeApi api;
    api.lists = {respondList(podList(10, {pod("a", 5)}))};
    api.watches = {
        stream({{10, watchLine("ADDED", pod("c", 11))}, {10, watchLine("MODIFIED", pod("a", 12)).left(25)}},
               HttpExchange::Ending::Close)};
    QVERIFY(api.server.listen());
    RestClient client(connectionTo(api.server.url()));
    Informer informer(&client, fastOptions());
    QList<InformerHealth> states;
    connect(&informer, &Informer::healthChanged, this, [&](const InformerHealth &h) { states.append(h); });
    informer.start();
    QTRY_COMPARE(api.requests(true).size(), 2);
    QCOMPARE(api.requests(true).at(1).queryValue(QStringLiteral("resourceVersion")), QStringLiteral("11"));
    QCOMPARE(api.requests(false).size(), 1); // resumed, not relisted
    const auto backingOff = std::find_if(states.cbegin(), states.cend(), [](const InformerHealth &h) {
        return h.state == InformerHealth::State::BackingOff;
    });
    QVERIFY(backingOff != states.cend());
    QCOMPARE(backingOff->failures, 1);
    QVERIFY(backingOff->nextRetry.isValid());
    QVERIFY(!backingOff->lastError.isEmpty());
    QCOMPARE(uids(informer.store()), (QStringList{QStringLiteral("a@5"), QStringLiteral("c@11")}));
}

void TestInformer::immediateCloseCountsAsFailure()
{
    FakeApi api;
    api.lists = {respondList(podList(10, {}))};
    for (int i = 0; i < 3; ++i)
        api.watches.append(stream({}, HttpExchange::Ending::End));
    QVERIFY(api.server.listen());
    RestClient client(connectionTo(api.server.url()));
    Informer informer(&client, fastOptions());
    informer.start();
    QTRY_COMPARE_WITH_TIMEOUT(api.watchTimes.size(), 4, 5000);
    QCOMPARE(informer.health().failures, 3);
    // Backoff doubles from 100 ms (random() = 0: no jitter).
    const qint64 gap1 = api.watchTimes[1] - api.watchTimes[0];
    const qint64 gap2 = api.watchTimes[2] - api.watchTimes[1];
    const qint64 gap3 = api.watchTimes[3] - api.watchTimes[2];
    QVERIFY2(gap1 >= 90 && gap2 >= 180 && gap3 >= 360, // coarse timers may fire 5% early
             qPrintable(QStringLiteral("%1 %2 %3").arg(gap1).arg(gap2).arg(gap3)));
}

void TestInformer::idleWatchdogReconnects()
{
    FakeApi api;
    api.lists = {respondList(podList(10, {pod("a", 5)}))};
    api.watches = {stream({}, HttpExchange::Ending::Stall)};
    QVERIFY(api.server.listen());
    QSignalSpy disconnected(&api.server, &HttpTestServer::clientDisconnected);
    RestClient client(connectionTo(api.server.url()));
    InformerOptions o = fastOptions();
    o.idleTimeoutMs = 300;
    Informer informer(&client, o);
    informer.start();
    QTRY_COMPARE_WITH_TIMEOUT(api.watchTimes.size(), 2, 3000);
    const qint64 gap = api.watchTimes[1] - api.watchTimes[0];
    // Coarse timers may fire up to 5% early, and the server sees the first watch a little late.
    QVERIFY2(gap >= 250, qPrintable(QString::number(gap)));
    QCOMPARE(informer.health().failures, 0);
    QCOMPARE(api.requests(true).at(1).queryValue(QStringLiteral("resourceVersion")), QStringLiteral("10"));
    QTRY_VERIFY(disconnected.size() >= 1); // the silent watch's connection was dropped
}

void TestInformer::bookmarksAdvanceResourceVersion()
{
    FakeApi api;
    api.lists = {respondList(podList(10, {pod("a", 5)}))};
    api.watches = {stream(
        {{10, watchLine("BOOKMARK", QByteArray(R"({"kind":"Pod","metadata":{"resourceVersion":"50"}})"))}},
        HttpExchange::Ending::End)};
    QVERIFY(api.server.listen());
    RestClient client(connectionTo(api.server.url()));
    Informer informer(&client, fastOptions());
    QSignalSpy spy(&informer, &Informer::deltas);
    informer.start();
    QTRY_COMPARE(api.requests(true).size(), 2);
    QCOMPARE(api.requests(true).at(1).queryValue(QStringLiteral("resourceVersion")), QStringLiteral("50"));
    QCOMPARE(informer.health().failures, 0); // a watch that delivered something is not a failure
    QTest::qWait(100);
    QCOMPARE(spy.size(), 1); // only the initial list; bookmarks carry no objects
}

void TestInformer::coalescesWithinABatch()
{
    FakeApi api;
    api.lists = {respondList(podList(10, {pod("a", 5)}))};
    api.watches = {stream({{150, watchLine("ADDED", pod("c", 11))},
                           {5, watchLine("MODIFIED", pod("c", 12))},
                           {5, watchLine("ADDED", pod("d", 13))},
                           {5, watchLine("DELETED", pod("d", 14))},
                           {5, watchLine("MODIFIED", pod("a", 15))},
                           {5, watchLine("MODIFIED", pod("a", 16))}},
                          HttpExchange::Ending::Stall)};
    QVERIFY(api.server.listen());
    RestClient client(connectionTo(api.server.url()));
    InformerOptions o = fastOptions();
    o.batchIntervalMs = 100;
    Informer informer(&client, o);
    QSignalSpy spy(&informer, &Informer::deltas);
    informer.start();
    QTRY_COMPARE(spy.size(), 2);
    QCOMPARE(describe(spy.at(1).at(0).value<DeltaBatch>().deltas), QStringLiteral("+c@12 ~a@16"));
}

void TestInformer::streamingListAppliesStateAtItsEndBookmark()
{
    FakeApi api;
    // Initial state (with a progress bookmark and a replaced object inside it), its closing bookmark, then a
    // change.
    api.watches = {stream({{10, watchLine("ADDED", pod("a", 5)) + watchLine("ADDED", pod("b", 6))},
                           {10, bookmark(7, false)},
                           {10, watchLine("ADDED", pod("c", 7)) + watchLine("DELETED", pod("b", 8))},
                           {300, bookmark(9, true)}},
                          HttpExchange::Ending::Stall),
                   stream({{300, watchLine("MODIFIED", pod("a", 12))}}, HttpExchange::Ending::Stall)};
    QVERIFY(api.server.listen());
    RestClient client(connectionTo(api.server.url()));
    Informer informer(&client, streamingOptions());
    QSignalSpy spy(&informer, &Informer::deltas);
    informer.start();

    // Inside the initial state nothing is announced: not synced (the store, filling in place, is not
    // usable yet) and no deltas.
    QTRY_COMPARE(api.requests(true).size(), 1);
    QTest::qWait(150);
    QVERIFY(!informer.health().synced);
    QCOMPARE(informer.health().state, InformerHealth::State::Listing);
    QCOMPARE(spy.size(), 0);

    // The bookmark annotated k8s.io/initial-events-end applies the state at once, as a resync.
    QTRY_VERIFY(informer.health().synced);
    QCOMPARE(informer.health().state, InformerHealth::State::Watching);
    QCOMPARE(uids(informer.store()), (QStringList{QStringLiteral("a@5"), QStringLiteral("c@7")}));
    QCOMPARE(informer.resourceVersion(), QStringLiteral("9"));
    QTRY_COMPARE(spy.size(), 1);
    const auto first = spy.at(0).at(0).value<DeltaBatch>();
    QVERIFY(first.resynced);
    QStringList added = describe(first.deltas).split(QLatin1Char(' '));
    added.sort(); // a resync carries the store's objects in no particular order
    QCOMPARE(added, (QStringList{QStringLiteral("+a@5"), QStringLiteral("+c@7")}));

    // Changes after it are ordinary deltas, on an ordinary watch from the closing bookmark (the
    // streaming list's own connection is released).
    QTRY_COMPARE(spy.size(), 2);
    QCOMPARE(describe(spy.at(1).at(0).value<DeltaBatch>().deltas), QStringLiteral("~a@12"));
    QCOMPARE(informer.resourceVersion(), QStringLiteral("12"));
    QCOMPARE(api.requests(true).size(), 2);
    const HttpRequest next = api.requests(true).at(1);
    QVERIFY(!isStreamingList(next));
    QCOMPARE(next.queryValue(QStringLiteral("resourceVersion")), QStringLiteral("9"));
    QVERIFY(next.connectionId != api.requests(true).at(0).connectionId);

    // No LIST, and the first watch asked for a streaming list.
    QCOMPARE(api.requests(false).size(), 0);
    const HttpRequest w = api.requests(true).at(0);
    QCOMPARE(w.path, QStringLiteral("/api/v1/namespaces/shop/pods"));
    QVERIFY(isStreamingList(w));
    QCOMPARE(w.queryValue(QStringLiteral("resourceVersionMatch")), QStringLiteral("NotOlderThan"));
    QVERIFY(w.query.hasQueryItem(QStringLiteral("resourceVersion")));
    QVERIFY(w.queryValue(QStringLiteral("resourceVersion")).isEmpty()); // "": the most recent state
    QCOMPARE(w.queryValue(QStringLiteral("allowWatchBookmarks")), QStringLiteral("true"));
    QVERIFY(informer.streamsLists());
}

void TestInformer::streamingListFallsBackToList_data()
{
    QTest::addColumn<int>("status"); // 0: a 200 stream that ends without the closing bookmark
    QTest::newRow("422 Invalid: the WatchList feature gate is off") << 422;
    QTest::newRow("400 Bad Request: a server that predates sendInitialEvents") << 400;
    QTest::newRow("501 Not Implemented") << 501;
    QTest::newRow("stream ends before k8s.io/initial-events-end") << 0;
}

void TestInformer::streamingListFallsBackToList()
{
    QFETCH(int, status);
    FakeApi api;
    if (status != 0) {
        api.watches.append([status](HttpExchange *ex) {
            ex->respondJson(
                status,
                R"({"kind":"Status","status":"Failure","reason":"Invalid","message":)"
                R"("sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",)"
                R"("code":)" +
                    QByteArray::number(status) + "}");
        });
    } else {
        api.watches.append(stream({{10, watchLine("ADDED", pod("stale", 3))}}, HttpExchange::Ending::End));
    }
    api.lists = {respondList(podList(20, {pod("a", 15), pod("b", 16)})),
                 respondList(podList(30, {pod("a", 25)}))};
    api.watches.append(stream({{10, watchLine("MODIFIED", pod("b", 21))}, {10, expiredEvent()}},
                              HttpExchange::Ending::Stall));
    api.watches.append(stream({}, HttpExchange::Ending::Stall));
    QVERIFY(api.server.listen());
    RestClient client(connectionTo(api.server.url()));
    Informer informer(&client, streamingOptions());
    QList<Delta> all;
    connect(&informer, &Informer::deltas, this, [&](const DeltaBatch &b) { all += b.deltas; });
    informer.start();

    // Refused once: LIST + WATCH from the list's resourceVersion, and the store is the list's.
    QTRY_VERIFY(api.requests(true).size() >= 2);
    QVERIFY(isStreamingList(api.requests(true).at(0)));
    QCOMPARE(api.requests(false).size() >= 1, true);
    const HttpRequest fallback = api.requests(true).at(1);
    QVERIFY(!isStreamingList(fallback));
    QVERIFY(!fallback.query.hasQueryItem(QStringLiteral("resourceVersionMatch")));
    QCOMPARE(fallback.queryValue(QStringLiteral("resourceVersion")), QStringLiteral("20"));
    QVERIFY(!informer.streamsLists());
    QVERIFY(!informer.health().lastError.isEmpty());

    // Refused for good: the relist after 410 Gone pages through LIST again instead of retrying the stream.
    QTRY_COMPARE(api.requests(true).size(), 3);
    QCOMPARE(api.requests(false).size(), 2);
    QVERIFY(!isStreamingList(api.requests(true).at(2)));
    QCOMPARE(api.requests(true).at(2).queryValue(QStringLiteral("resourceVersion")), QStringLiteral("30"));
    QTRY_COMPARE(uids(informer.store()), (QStringList{QStringLiteral("a@25")}));
    QVERIFY(informer.health().synced);
    QVERIFY2(!describe(all).contains(QLatin1String("stale")), qPrintable(describe(all)));
}

void TestInformer::streamingListRetriesAfterTransientFailure()
{
    FakeApi api;
    api.watches = {[](HttpExchange *ex) {
                       ex->respondJson(500, R"({"kind":"Status","reason":"InternalError","code":500})");
                   },
                   stream({{10, watchLine("ADDED", pod("a", 5))}, {10, bookmark(6, true)}},
                          HttpExchange::Ending::Stall)};
    QVERIFY(api.server.listen());
    RestClient client(connectionTo(api.server.url()));
    Informer informer(&client, streamingOptions());
    informer.start();
    QTRY_VERIFY(informer.health().synced);
    // A 500 is not a refusal: after the back-off the list is streamed again, never paged; then watched.
    QTRY_COMPARE(api.requests(true).size(), 3);
    QVERIFY(isStreamingList(api.requests(true).at(1)));
    QVERIFY(!isStreamingList(api.requests(true).at(2)));
    QCOMPARE(api.requests(true).at(2).queryValue(QStringLiteral("resourceVersion")), QStringLiteral("6"));
    QCOMPARE(api.requests(false).size(), 0);
    QVERIFY(informer.streamsLists());
    QCOMPARE(uids(informer.store()), (QStringList{QStringLiteral("a@5")}));
    QCOMPARE(informer.resourceVersion(), QStringLiteral("6"));
}

// Qt 6.4's HTTP/2 cannot hold a server back (it widens the window for every frame it receives), so the
// streaming list must go over HTTP/1.1 and the watch after it over HTTP/2 again.
void TestInformer::streamingListIsPinnedToHttp1()
{
    // With this set, Qt offers HTTP/2 over cleartext ("Upgrade: h2c") on every request that allows
    // HTTP/2; the test server ignores the offer and answers in HTTP/1.1.
    qputenv("QT_NETWORK_H2C_ALLOWED", "1");
    const auto unset = qScopeGuard([] { qunsetenv("QT_NETWORK_H2C_ALLOWED"); });
    FakeApi api;
    api.watches = {
        stream({{10, watchLine("ADDED", pod("a", 5))}, {10, bookmark(6, true)}}, HttpExchange::Ending::Stall),
        stream({{10, watchLine("MODIFIED", pod("a", 7))}}, HttpExchange::Ending::Stall)};
    QVERIFY(api.server.listen());
    RestClient client(connectionTo(api.server.url()));
    Informer informer(&client, streamingOptions());
    informer.start();
    QTRY_COMPARE(uids(informer.store()), (QStringList{QStringLiteral("a@7")}));
    const QList<HttpRequest> watches = api.requests(true);
    QCOMPARE(watches.size(), 2);
    QVERIFY(isStreamingList(watches.at(0)));
    QCOMPARE(watches.at(0).header("upgrade"), QByteArray()); // HTTP/1.1 only
    QVERIFY(!isStreamingList(watches.at(1)));
    QCOMPARE(watches.at(1).header("upgrade"), QByteArray("h2c")); // HTTP/2 allowed
}

void TestInformer::streamingListHoldsTheServerBack_data()
{
    QTest::addColumn<qint64>("readBuffer");
    QTest::addColumn<bool>("held");
    QTest::newRow("default 1 MiB read buffer: the server waits for the decoder") << qint64(-1) << true;
    QTest::newRow("no read buffer: the server runs ahead (the measure can tell)") << qint64(0) << false;
}

// A server that sends its whole initial state at once (as the API server does from its watch cache)
// to a decoder that cannot keep up: what the client has taken from the socket and not yet projected
// must stay bounded, not grow to the size of the state.
void TestInformer::streamingListHoldsTheServerBack()
{
    QFETCH(qint64, readBuffer);
    QFETCH(bool, held);
    constexpr qsizetype lineBytes = 1024;
    constexpr int count = 48 * 1024; // 48 MiB of events
    QByteArray state;
    state.reserve(count * lineBytes + 256);
    for (int i = 0; i < count; ++i) {
        QByteArray line = R"({"type":"ADDED","object":{"metadata":{"uid":"u)" + QByteArray::number(i) +
                          R"(","name":"p)" + QByteArray::number(i) +
                          R"(","namespace":"shop","resourceVersion":"5","annotations":{"pad":")";
        const QByteArray tail = R"("}}}})"
                                "\n";
        line += QByteArray(lineBytes - line.size() - tail.size(), 'x') + tail;
        state += line;
    }
    state += bookmark(6, true);

    // The server runs on a thread of its own, so it keeps writing while the decoder works on the test's.
    std::atomic<qint64> flushed{0}; // bytes the server's TCP stack has taken
    QThread serverThread;
    auto *anchor = new QObject; // deleted on the server's thread when it finishes
    anchor->moveToThread(&serverThread);
    connect(&serverThread, &QThread::finished, anchor, &QObject::deleteLater);
    serverThread.start();
    std::unique_ptr<HttpTestServer> server;
    QUrl url;
    QMetaObject::invokeMethod(
        anchor,
        [&] {
            server = std::make_unique<HttpTestServer>([&state, &flushed](HttpExchange *ex) {
                if (!isStreamingList(ex->request()))
                    return; // the watch after it: stall
                ex->beginChunked(200, {{"Content-Type", "application/json"}});
                qint64 written = 0;
                for (qsizetype at = 0; at < state.size(); at += 1024 * 1024) {
                    const QByteArray piece = state.mid(at, 1024 * 1024);
                    ex->sendChunk(piece);
                    written += piece.size();
                }
                auto *sampler = new QTimer(ex);
                QObject::connect(sampler, &QTimer::timeout, ex, [ex, written, &flushed] {
                    flushed = std::max<qint64>(0, written - ex->bytesToWrite());
                });
                sampler->start(1);
            });
            if (server->listen())
                url = server->url();
        },
        Qt::BlockingQueuedConnection);
    const auto cleanup = qScopeGuard([&] {
        QMetaObject::invokeMethod(
            anchor, [&] { server.reset(); }, Qt::BlockingQueuedConnection);
        serverThread.quit();
        serverThread.wait();
    });
    QVERIFY(url.isValid());

    RestClientOptions clientOptions;
    if (readBuffer >= 0)
        clientOptions.streamReadBufferBytes = readBuffer;
    RestClient client(connectionTo(url), clientOptions);
    InformerOptions o = streamingOptions();
    int projected = 0;
    qint64 maxAhead = 0;
    o.projector = [pods = projectorFor(ResourceType::pods()), &projected, &maxAhead,
                   &flushed](const nlohmann::json &object) {
        ++projected;
        maxAhead = std::max(maxAhead, flushed.load() - projected * lineBytes);
        if (projected % 64 == 0)
            QThread::usleep(1000); // a decoder slower than the server
        return pods(object);
    };
    Informer informer(&client, o);
    informer.start();
    QTRY_VERIFY_WITH_TIMEOUT(informer.health().synced, 60000);
    QCOMPARE(informer.store().size(), count);
    // Held back: the read buffer, a slice being decoded and the kernel's socket buffers (~9 MiB seen).
    // Not held: nearly all of the 48 MiB (~46 MiB seen).
    qInfo("ahead of the decoder: at most %lld KiB", static_cast<long long>(maxAhead / 1024));
    if (held)
        QVERIFY2(maxAhead < 24 * 1024 * 1024, qPrintable(QString::number(maxAhead)));
    else
        QVERIFY2(maxAhead > 36 * 1024 * 1024, qPrintable(QString::number(maxAhead)));
}

void TestInformer::abandonedFirstSyncLeavesNoTrace_data()
{
    QTest::addColumn<bool>("streaming");
    QTest::newRow("paged LIST fails on its second page") << false;
    QTest::newRow("streaming list breaks before its end bookmark") << true;
}

// The first sync fills the store in place; when it is abandoned half-way, what it had put there
// must not survive into the next attempt: the first deltas are exactly the final state, all Added.
void TestInformer::abandonedFirstSyncLeavesNoTrace()
{
    QFETCH(bool, streaming);
    FakeApi api;
    if (streaming) {
        api.watches = {stream({{10, watchLine("ADDED", pod("a", 5)) + watchLine("ADDED", pod("gone", 6))}},
                              HttpExchange::Ending::Close),
                       stream({{10, watchLine("ADDED", pod("a", 7))}, {10, bookmark(8, true)}},
                              HttpExchange::Ending::Stall)};
    } else {
        api.lists = {[](HttpExchange *ex) {
                         ex->respondJson(
                             200, R"({"kind":"PodList","metadata":{"resourceVersion":"6","continue":"c"},)"
                                  R"("items":[)" +
                                      pod("a", 5) + "," + pod("gone", 6) + "]}");
                     },
                     [](HttpExchange *ex) {
                         ex->respondJson(500, R"({"kind":"Status","reason":"InternalError","code":500})");
                     },
                     respondList(podList(8, {pod("a", 7)}))};
        api.watches = {stream({}, HttpExchange::Ending::Stall)};
    }
    QVERIFY(api.server.listen());
    RestClient client(connectionTo(api.server.url()));
    InformerOptions o = streaming ? streamingOptions() : fastOptions();
    Informer informer(&client, o);
    QSignalSpy spy(&informer, &Informer::deltas);
    informer.start();
    QTRY_VERIFY(informer.health().synced);
    QCOMPARE(uids(informer.store()), (QStringList{QStringLiteral("a@7")}));
    QTRY_COMPARE(spy.size(), 1);
    const auto first = spy.at(0).at(0).value<DeltaBatch>();
    QVERIFY(first.resynced);
    QCOMPARE(describe(first.deltas), QStringLiteral("+a@7"));
    QCOMPARE(informer.health().failures, 0);
}

void TestInformer::backoffDelay_data()
{
    QTest::addColumn<int>("failures");
    QTest::addColumn<double>("random");
    QTest::addColumn<int>("expected");
    QTest::newRow("first retry") << 1 << 0.0 << 800;
    QTest::newRow("doubles") << 3 << 0.0 << 3200;
    QTest::newRow("jitter adds up to half") << 2 << 1.0 << 2400;
    QTest::newRow("capped at 30 s") << 10 << 0.0 << 30000;
    QTest::newRow("jitter never exceeds the cap") << 6 << 1.0 << 30000;
}

void TestInformer::backoffDelay()
{
    QFETCH(int, failures);
    QFETCH(double, random);
    QFETCH(int, expected);
    QCOMPARE(Informer::backoffDelayMs(failures, 800, 30000, random), expected);
}

QTEST_GUILESS_MAIN(TestInformer)
#include "tst_informer.moc"
