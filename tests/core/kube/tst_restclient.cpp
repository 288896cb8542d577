#include "core/kube/restclient.h"

#include "httptestserver.h"

#include <QElapsedTimer>
#include <QTest>

using namespace vigil;
using namespace vigil::kube;
using vigil::test::HttpExchange;
using vigil::test::HttpTestServer;

namespace {

// Hands out "old" until invalidated, then "new"; counts invalidations.
class FakeCredentials final : public CredentialSource {
public:
    Result<Credentials> credentials() override
    {
        Credentials c;
        c.bearerToken = m_invalidations == 0 ? QStringLiteral("old") : QStringLiteral("new");
        return c;
    }
    void invalidate() override { ++m_invalidations; }
    QString method() const override { return QStringLiteral("token"); }
    int m_invalidations = 0;
};

Connection connectionTo(const QUrl &url, std::shared_ptr<CredentialSource> creds = {})
{
    Connection c;
    c.server = url;
    c.credentials = creds ? std::move(creds) : std::make_shared<FakeCredentials>();
    return c;
}

const ResourcePath podsIn{ResourceType::pods(), QStringLiteral("shop"), QString(), QString()};
const ResourcePath webPod{ResourceType::pods(), QStringLiteral("shop"), QStringLiteral("web"), QString()};

// 100,000 levels: parses, but copying or dumping it recurses past the stack.
const QByteArray deepArrays = QByteArray(100000, '[') + QByteArray(100000, ']');
const QByteArray deepObjects = QByteArray("{\"a\":").repeated(100000) + "1" + QByteArray(100000, '}');

} // namespace

class TestRestClient final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void resourcePaths_data();
    void resourcePaths();
    void statusDecoding_data();
    void statusDecoding();
    void deepResponsesAreRefused_data();
    void deepResponsesAreRefused();
    void pagingFollowsContinue();
    void listItemByItem_data();
    void listItemByItem();
    void unauthorizedRenewsCredentialsOnce_data();
    void unauthorizedRenewsCredentialsOnce();
    void tooManyRequestsHonoursRetryAfter();
    void evictionRefusalIsAnAnswer();
    void timeout();
    void mutations_data();
    void mutations();
    void closedAfterReadingIsNeverResent_data();
    void closedAfterReadingIsNeverResent();
    void logParameters();
    void callbackSkippedWhenContextDestroyed();
    void tokenBucket_data();
    void tokenBucket();
    void rateLimitDelaysRequests();
    void watchDeliversEventsAndClose();
    void smallStreamReadBufferDeliversEveryEvent_data();
    void smallStreamReadBufferDeliversEveryEvent();
};

void TestRestClient::resourcePaths_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("expected");
    QTest::newRow("core namespaced collection")
        << podsIn.path() << QStringLiteral("/api/v1/namespaces/shop/pods");
    QTest::newRow("all namespaces") << ResourcePath{ResourceType::pods(), {}, {}, {}}.path()
                                    << QStringLiteral("/api/v1/pods");
    QTest::newRow("cluster-scoped ignores namespace")
        << ResourcePath{ResourceType::nodes(), QStringLiteral("x"), QStringLiteral("n1"), {}}.path()
        << QStringLiteral("/api/v1/nodes/n1");
    QTest::newRow("group subresource")
        << ResourcePath{ResourceType::deployments(), QStringLiteral("shop"), QStringLiteral("api"),
                        QStringLiteral("scale")}
               .path()
        << QStringLiteral("/apis/apps/v1/namespaces/shop/deployments/api/scale");
}

void TestRestClient::resourcePaths()
{
    QFETCH(QString, path);
    QFETCH(QString, expected);
    QCOMPARE(path, expected);
}

void TestRestClient::statusDecoding_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("message");
    QTest::newRow("Status 404 names verb, path, code, reason, message")
        << 404
        << QByteArray(
               R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"web\" not found",)"
               R"("reason":"NotFound","details":{"name":"web","kind":"pods"},"code":404})")
        << QStringLiteral("GET /api/v1/namespaces/shop/pods/web: 404 NotFound: pods \"web\" not found");
    QTest::newRow("Status 403")
        << 403
        << QByteArray(
               R"({"kind":"Status","status":"Failure","message":"pods \"web\" is forbidden: User \"x\" )"
               R"(cannot get resource","reason":"Forbidden","code":403})")
        << QStringLiteral(
               "GET /api/v1/namespaces/shop/pods/web: 403 Forbidden: pods \"web\" is forbidden: User "
               "\"x\" cannot get resource");
    QTest::newRow("plain-text 500 keeps the body")
        << 500 << QByteArray("etcdserver: request timed out\n")
        << QStringLiteral(
               "GET /api/v1/namespaces/shop/pods/web: 500 Internal Server Error: etcdserver: request "
               "timed out");
    QTest::newRow("100,000-deep [[[ error body is quoted, not parsed")
        << 500 << deepArrays
        << QStringLiteral("GET /api/v1/namespaces/shop/pods/web: 500 Internal Server Error: ") +
               QString(300, u'[');
    QTest::newRow("100,000-deep {\"a\": error body is quoted, not parsed")
        << 500 << deepObjects
        << QStringLiteral("GET /api/v1/namespaces/shop/pods/web: 500 Internal Server Error: ") +
               QStringLiteral("{\"a\":").repeated(60);
}

void TestRestClient::statusDecoding()
{
    QFETCH(int, status);
    QFETCH(QByteArray, body);
    QFETCH(QString, message);
    HttpTestServer server([&](HttpExchange *ex) { ex->respondJson(status, body); });
    QVERIFY(server.listen());
    RestClient client(connectionTo(server.url()));
    std::optional<Result<nlohmann::json>> got;
    client.get(webPod, this, [&](Result<nlohmann::json> r) { got = std::move(r); });
    QTRY_VERIFY(got.has_value());
    QVERIFY(!got->ok());
    QCOMPARE(got->error().message, message);
    QCOMPARE(got->error().code, status);
}

void TestRestClient::deepResponsesAreRefused_data()
{
    QTest::addColumn<bool>("asList");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("expectedError");
    const QString get = QStringLiteral("GET /api/v1/namespaces/shop/pods/web: 200: the response is nested "
                                       "deeper than 512 levels");
    const QString list = QStringLiteral("GET /api/v1/namespaces/shop/pods: 200: the response is nested "
                                        "deeper than 512 levels");
    QTest::newRow("GET 100,000-deep [[[") << false << deepArrays << get;
    QTest::newRow("GET 100,000-deep {\"a\":") << false << deepObjects << get;
    QTest::newRow("LIST 100,000-deep [[[ in items")
        << true << QByteArray(R"({"kind":"PodList","items":[)") + deepArrays + "]}" << list;
    QTest::newRow("LIST 100,000-deep {\"a\": in an item")
        << true << QByteArray(R"({"kind":"PodList","items":[{"metadata":)") + deepObjects + "}]}" << list;
}

// Callers copy and dump what they get, recursively: a deep body is an error, not a stack overflow.
void TestRestClient::deepResponsesAreRefused()
{
    QFETCH(bool, asList);
    QFETCH(QByteArray, body);
    QFETCH(QString, expectedError);
    HttpTestServer server([&](HttpExchange *ex) { ex->respondJson(200, body); });
    QVERIFY(server.listen());
    RestClient client(connectionTo(server.url()));
    std::optional<Error> error;
    if (asList) {
        client.list(podsIn, ListOptions(), this,
                    [&](Result<ListResult> r) { error = r ? Error(QStringLiteral("no error")) : r.error(); });
    } else {
        client.get(webPod, this, [&](Result<nlohmann::json> r) {
            error = r ? Error(QStringLiteral("no error")) : r.error();
        });
    }
    QTRY_VERIFY(error.has_value());
    QCOMPARE(error->message, expectedError);
    QCOMPARE(error->code, 200);
}

void TestRestClient::pagingFollowsContinue()
{
    const QString token = QStringLiteral("eyJ2IjoibWV0YS+/=");
    HttpTestServer server([&](HttpExchange *ex) {
        if (ex->request().queryValue(QStringLiteral("continue")).isEmpty())
            ex->respondJson(
                200, QByteArray(R"({"kind":"PodList","metadata":{"resourceVersion":"100","continue":")") +
                         token.toUtf8() +
                         R"("},"items":[{"metadata":{"uid":"a"}},{"metadata":{"uid":"b"}}]})");
        else
            ex->respondJson(
                200,
                R"({"kind":"PodList","metadata":{"resourceVersion":"100"},"items":[{"metadata":{"uid":"c"}}]})");
    });
    QVERIFY(server.listen());
    RestClient client(connectionTo(server.url()));
    std::optional<Result<ListResult>> got;
    ListOptions opts;
    opts.labelSelector = QStringLiteral("app=api,tier!=db");
    client.list(podsIn, opts, this, [&](Result<ListResult> r) { got = std::move(r); });
    QTRY_VERIFY(got.has_value());
    QVERIFY2(got->ok(), qPrintable(got->errorMessage()));
    QCOMPARE((*got)->items.size(), size_t(3));
    QCOMPARE((*got)->pages, 2);
    QCOMPARE((*got)->resourceVersion, QStringLiteral("100"));
    QCOMPARE(server.requests().size(), 2);
    QCOMPARE(server.requests()[0].queryValue(QStringLiteral("limit")), QStringLiteral("500"));
    QCOMPARE(server.requests()[0].queryValue(QStringLiteral("labelSelector")),
             QStringLiteral("app=api,tier!=db"));
    QCOMPARE(server.requests()[1].queryValue(QStringLiteral("continue")), token);
    QCOMPARE(server.requests()[1].queryValue(QStringLiteral("labelSelector")),
             QStringLiteral("app=api,tier!=db"));
}

void TestRestClient::listItemByItem_data()
{
    QTest::addColumn<QByteArray>("firstPage");
    QTest::addColumn<QStringList>("expectedUids"); // empty: an error is expected
    QTest::addColumn<QString>("expectedError");
    QTest::newRow("managedFields left out of items")
        << QByteArray(R"({"kind":"PodList","metadata":{"resourceVersion":"7","continue":"next"},"items":[)"
                      R"({"metadata":{"uid":"a","managedFields":[{"manager":"x"}],"labels":{"k":"v"}}}]})")
        << QStringList{"a:k=v", "c:"} << QString();
    QTest::newRow("items across pages, nested objects kept whole")
        << QByteArray(R"({"kind":"PodList","metadata":{"resourceVersion":"7","continue":"next",)"
                      R"("x":{"y":{}}},"items":[{"metadata":{"uid":"a","labels":{"k":"v"}}},)"
                      R"({"metadata":{"uid":"b"},"spec":{"containers":[{"name":"c"}]}}]})")
        << QStringList{"a:k=v", "b:c", "c:"} << QString();
    QTest::newRow("an empty page then a full one")
        << QByteArray(R"({"kind":"PodList","metadata":{"resourceVersion":"7","continue":"next"},"items":[]})")
        << QStringList{"c:"} << QString();
    QTest::newRow("null items is an empty page")
        << QByteArray(
               R"({"kind":"PodList","metadata":{"resourceVersion":"7","continue":"next"},"items":null})")
        << QStringList{"c:"} << QString();
    QTest::newRow("not a list") << QByteArray(R"({"kind":"Pod","metadata":{"uid":"x"}})") << QStringList()
                                << QStringLiteral(
                                       "GET /api/v1/namespaces/shop/pods: the response is not a list");
    QTest::newRow("truncated JSON") << QByteArray(R"({"kind":"PodList","items":[{"metadata":)")
                                    << QStringList()
                                    << QStringLiteral(
                                           "GET /api/v1/namespaces/shop/pods: 200: the response is "
                                           "not valid JSON");
    QTest::newRow("nested too deep") << (QByteArray(R"({"items":[)") + QByteArray(600, '[') +
                                         QByteArray(600, ']') + "]}")
                                     << QStringList()
                                     << QStringLiteral("GET /api/v1/namespaces/shop/pods: the response nests "
                                                       "deeper than 512 levels");
}

// ListOptions::onItem: each item is handed over as soon as it is parsed, the page is never kept.
void TestRestClient::listItemByItem()
{
    QFETCH(QByteArray, firstPage);
    QFETCH(QStringList, expectedUids);
    QFETCH(QString, expectedError);
    HttpTestServer server([&](HttpExchange *ex) {
        if (ex->request().queryValue(QStringLiteral("continue")).isEmpty())
            ex->respondJson(200, firstPage);
        else
            ex->respondJson(
                200,
                R"({"kind":"PodList","metadata":{"resourceVersion":"9"},"items":[{"metadata":{"uid":"c"}}]})");
    });
    QVERIFY(server.listen());
    RestClient client(connectionTo(server.url()));
    QStringList seen;
    ListOptions opts;
    opts.onItem = [&](nlohmann::json &item) {
        const nlohmann::json meta = item.value("metadata", nlohmann::json::object());
        QString extra;
        const nlohmann::json labels = meta.value("labels", nlohmann::json::object());
        for (const auto &[k, v] : labels.items())
            extra += QString::fromStdString(k + "=" + v.get<std::string>());
        if (item.contains("spec"))
            extra += QString::fromStdString(item["spec"]["containers"][0].value("name", std::string()));
        seen.append(QString::fromStdString(meta.value("uid", std::string())) + QLatin1Char(':') + extra);
        if (meta.contains("managedFields"))
            seen.append(QStringLiteral("managedFields kept"));
    };
    opts.dropManagedFields = true;
    opts.onPage = [](const nlohmann::json &) { QFAIL("onItem takes precedence over onPage"); };
    std::optional<Result<ListResult>> got;
    client.list(podsIn, opts, this, [&](Result<ListResult> r) { got = std::move(r); });
    QTRY_VERIFY(got.has_value());
    if (!expectedError.isEmpty()) {
        QVERIFY(!got->ok());
        QVERIFY2(got->errorMessage().startsWith(expectedError), qPrintable(got->errorMessage()));
        return;
    }
    QVERIFY2(got->ok(), qPrintable(got->errorMessage()));
    QCOMPARE(seen, expectedUids);
    QVERIFY((*got)->items.empty());
    QCOMPARE((*got)->pages, 2);
    QCOMPARE((*got)->resourceVersion, QStringLiteral("9"));
    QCOMPARE((*got)->kind, QStringLiteral("PodList"));
}

void TestRestClient::unauthorizedRenewsCredentialsOnce_data()
{
    QTest::addColumn<bool>("newTokenAccepted");
    QTest::newRow("renewed token works") << true;
    QTest::newRow("still 401 after renewal: error, no loop") << false;
}

void TestRestClient::unauthorizedRenewsCredentialsOnce()
{
    QFETCH(bool, newTokenAccepted);
    HttpTestServer server([&](HttpExchange *ex) {
        if (newTokenAccepted && ex->request().header("Authorization") == "Bearer new")
            ex->respondJson(200, R"({"kind":"Pod"})");
        else
            ex->respondJson(
                401, R"({"kind":"Status","reason":"Unauthorized","message":"Unauthorized","code":401})");
    });
    QVERIFY(server.listen());
    auto creds = std::make_shared<FakeCredentials>();
    RestClient client(connectionTo(server.url(), creds));
    std::optional<Result<nlohmann::json>> got;
    client.get(webPod, this, [&](Result<nlohmann::json> r) { got = std::move(r); });
    QTRY_VERIFY(got.has_value());
    QCOMPARE(creds->m_invalidations, 1);
    QCOMPARE(server.requests().size(), 2);
    QCOMPARE(server.requests()[0].header("Authorization"), QByteArray("Bearer old"));
    QCOMPARE(server.requests()[1].header("Authorization"), QByteArray("Bearer new"));
    QCOMPARE(got->ok(), newTokenAccepted);
    if (!newTokenAccepted)
        QCOMPARE(got->error().code, 401);
}

void TestRestClient::tooManyRequestsHonoursRetryAfter()
{
    int calls = 0;
    HttpTestServer server([&](HttpExchange *ex) {
        if (++calls == 1)
            ex->respondJson(429, R"({"kind":"Status","reason":"TooManyRequests","code":429})",
                            {{"Retry-After", "1"}});
        else
            ex->respondJson(200, R"({"kind":"Pod"})");
    });
    QVERIFY(server.listen());
    RestClient client(connectionTo(server.url()));
    std::optional<Result<nlohmann::json>> got;
    QElapsedTimer timer;
    timer.start();
    client.get(webPod, this, [&](Result<nlohmann::json> r) { got = std::move(r); });
    QTRY_VERIFY_WITH_TIMEOUT(got.has_value(), 5000);
    QVERIFY2(got->ok(), qPrintable(got->errorMessage()));
    QCOMPARE(calls, 2);
    QVERIFY2(timer.elapsed() >= 900, qPrintable(QString::number(timer.elapsed())));
}

void TestRestClient::evictionRefusalIsAnAnswer()
{
    int calls = 0;
    HttpTestServer server([&](HttpExchange *ex) {
        ++calls;
        ex->respondJson(429,
                        R"({"kind":"Status","reason":"TooManyRequests","code":429,)"
                        R"("message":"Cannot evict pod as it would violate the pod's disruption budget."})",
                        {{"Retry-After", "5"}});
    });
    QVERIFY(server.listen());
    RestClient client(connectionTo(server.url()));
    std::optional<Result<nlohmann::json>> got;
    client.evict(QStringLiteral("shop"), QStringLiteral("web"), {}, this,
                 [&](Result<nlohmann::json> r) { got = std::move(r); });
    QTRY_VERIFY_WITH_TIMEOUT(got.has_value(), 3000); // not after Retry-After's 5 s
    QVERIFY(!got->ok());
    QCOMPARE(got->error().code, 429);
    QVERIFY(got->error().message.contains(QStringLiteral("disruption budget")));
    QCOMPARE(calls, 1);
}

void TestRestClient::timeout()
{
    HttpTestServer server([](HttpExchange *) { /* stall */ });
    QVERIFY(server.listen());
    RestClient client(connectionTo(server.url()));
    Request r;
    r.path = webPod.path();
    r.timeoutMs = 200;
    std::optional<Result<Response>> got;
    QElapsedTimer timer;
    timer.start();
    client.send(r, this, [&](Result<Response> res) { got = std::move(res); });
    QTRY_VERIFY_WITH_TIMEOUT(got.has_value(), 5000);
    QVERIFY(!got->ok());
    QCOMPARE(got->error().message,
             QStringLiteral("GET /api/v1/namespaces/shop/pods/web: timed out after 0.2 s"));
    QVERIFY(timer.elapsed() < 3000);
}

void TestRestClient::mutations_data()
{
    QTest::addColumn<QString>("op");
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("contentType");
    QTest::addColumn<QString>("query");
    QTest::addColumn<QByteArray>("bodyContains");
    const QString pod = QStringLiteral("/api/v1/namespaces/shop/pods/web");
    QTest::newRow("create dry run") << "create" << QByteArray("POST")
                                    << QStringLiteral("/api/v1/namespaces/shop/pods")
                                    << QByteArray("application/json") << QStringLiteral("dryRun=All")
                                    << QByteArray("\"kind\":\"Pod\"");
    QTest::newRow("update status subresource")
        << "updateStatus" << QByteArray("PUT") << pod + QStringLiteral("/status")
        << QByteArray("application/json") << QString() << QByteArray("\"kind\"");
    QTest::newRow("merge patch") << "merge" << QByteArray("PATCH") << pod
                                 << QByteArray("application/merge-patch+json") << QString()
                                 << QByteArray("{\"metadata\"");
    QTest::newRow("strategic merge patch with dry run")
        << "strategic" << QByteArray("PATCH") << pod << QByteArray("application/strategic-merge-patch+json")
        << QStringLiteral("dryRun=All") << QByteArray("{\"metadata\"");
    QTest::newRow("json patch") << "json" << QByteArray("PATCH") << pod
                                << QByteArray("application/json-patch+json") << QString()
                                << QByteArray("[{\"op\"");
    QTest::newRow("server-side apply forced")
        << "apply" << QByteArray("PATCH") << pod << QByteArray("application/apply-patch+yaml")
        << QStringLiteral("fieldManager=vigil&force=true") << QByteArray("kind: Pod");
    QTest::newRow("delete with preconditions")
        << "delete" << QByteArray("DELETE") << pod << QByteArray("application/json")
        << QStringLiteral("dryRun=All")
        << QByteArray("\"preconditions\":{\"resourceVersion\":\"41\",\"uid\":\"u-1\"}");
    QTest::newRow("eviction") << "evict" << QByteArray("POST") << pod + QStringLiteral("/eviction")
                              << QByteArray("application/json") << QString()
                              << QByteArray("\"kind\":\"Eviction\"");
}

void TestRestClient::mutations()
{
    QFETCH(QString, op);
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QByteArray, contentType);
    QFETCH(QString, query);
    QFETCH(QByteArray, bodyContains);
    HttpTestServer server([](HttpExchange *ex) { ex->respondJson(200, R"({"kind":"Pod"})"); });
    QVERIFY(server.listen());
    RestClient client(connectionTo(server.url()));
    std::optional<Result<nlohmann::json>> got;
    auto done = [&](Result<nlohmann::json> r) { got = std::move(r); };
    const nlohmann::json podJson = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "web"}}}};
    const QByteArray mergeBody = R"({"metadata":{"labels":{"a":"b"}}})";
    if (op == QLatin1String("create"))
        client.create(podsIn, podJson, WriteOptions{true, {}}, this, done);
    else if (op == QLatin1String("updateStatus"))
        client.update(ResourcePath{ResourceType::pods(), QStringLiteral("shop"), QStringLiteral("web"),
                                   QStringLiteral("status")},
                      podJson, {}, this, done);
    else if (op == QLatin1String("merge"))
        client.patch(webPod, PatchType::Merge, mergeBody, {}, this, done);
    else if (op == QLatin1String("strategic"))
        client.patch(webPod, PatchType::StrategicMerge, mergeBody, WriteOptions{true, {}}, this, done);
    else if (op == QLatin1String("json"))
        client.patch(webPod, PatchType::Json, R"([{"op":"remove","path":"/metadata/labels/a"}])", {}, this,
                     done);
    else if (op == QLatin1String("apply")) {
        ApplyOptions a;
        a.force = true;
        client.apply(webPod, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n", a, this, done);
    } else if (op == QLatin1String("delete")) {
        DeleteOptions d;
        d.uid = QStringLiteral("u-1");
        d.resourceVersion = QStringLiteral("41");
        d.dryRun = true;
        client.remove(webPod, d, this, done);
    } else if (op == QLatin1String("evict")) {
        client.evict(QStringLiteral("shop"), QStringLiteral("web"), {}, this, done);
    }
    QTRY_VERIFY(got.has_value());
    QVERIFY2(got->ok(), qPrintable(got->errorMessage()));
    QCOMPARE(server.requests().size(), 1);
    const auto &req = server.requests()[0];
    QCOMPARE(req.method, method);
    QCOMPARE(req.path, path);
    QCOMPARE(req.header("Content-Type"), contentType);
    QCOMPARE(req.query.toString(QUrl::FullyDecoded), query);
    QVERIFY2(req.body.contains(bodyContains), req.body.constData());
}

void TestRestClient::closedAfterReadingIsNeverResent_data()
{
    QTest::addColumn<QString>("op");
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<int>("expectedArrivals"); // requests of that method that reach the server
    QTest::addColumn<bool>("expectOk");
    // The control row proves the script provokes Qt's resend: an idempotent GET is sent again.
    QTest::newRow("GET is resent on a fresh connection (control)") << "get" << QByteArray("GET") << 2 << true;
    QTest::newRow("create (POST) reaches the server once") << "create" << QByteArray("POST") << 1 << false;
    QTest::newRow("update (PUT) reaches the server once") << "update" << QByteArray("PUT") << 1 << false;
    QTest::newRow("merge patch reaches the server once") << "merge" << QByteArray("PATCH") << 1 << false;
    QTest::newRow("server-side apply reaches the server once")
        << "apply" << QByteArray("PATCH") << 1 << false;
    QTest::newRow("delete reaches the server once") << "delete" << QByteArray("DELETE") << 1 << false;
    QTest::newRow("eviction reaches the server once") << "evict" << QByteArray("POST") << 1 << false;
}

// The server reads a request on a kept-alive connection and closes it without answering: the
// request may have been applied. Qt's HTTP/1.1 channel would silently send it again on a new
// connection; for anything but a read that must not happen.
void TestRestClient::closedAfterReadingIsNeverResent()
{
    QFETCH(QString, op);
    QFETCH(QByteArray, method);
    QFETCH(int, expectedArrivals);
    QFETCH(bool, expectOk);
    int arrivals = 0;
    HttpTestServer server([&](HttpExchange *ex) {
        if (ex->request().path == QLatin1String("/version")) {
            ex->respondJson(200, R"({"major":"1"})");
            return;
        }
        if (++arrivals == 1)
            ex->closeConnection();
        else
            ex->respondJson(200, R"({"kind":"Pod","metadata":{"name":"web"}})");
    });
    QVERIFY(server.listen());
    RestClient client(connectionTo(server.url()));

    // Warm up: one answered request leaves a keep-alive connection for the next one to reuse.
    std::optional<Result<Response>> warm;
    Request version;
    version.path = QStringLiteral("/version");
    client.send(version, this, [&](Result<Response> r) { warm = std::move(r); });
    QTRY_VERIFY(warm.has_value());
    QVERIFY2(warm->ok(), qPrintable(warm->errorMessage()));

    std::optional<Result<nlohmann::json>> got;
    auto done = [&](Result<nlohmann::json> r) { got = std::move(r); };
    const nlohmann::json podJson = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "web"}}}};
    if (op == QLatin1String("get"))
        client.get(webPod, this, done);
    else if (op == QLatin1String("create"))
        client.create(podsIn, podJson, {}, this, done);
    else if (op == QLatin1String("update"))
        client.update(webPod, podJson, {}, this, done);
    else if (op == QLatin1String("merge"))
        client.patch(webPod, PatchType::Merge, R"({"metadata":{"labels":{"a":"b"}}})", {}, this, done);
    else if (op == QLatin1String("apply"))
        client.apply(webPod, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n", {}, this, done);
    else if (op == QLatin1String("delete"))
        client.remove(webPod, {}, this, done);
    else if (op == QLatin1String("evict"))
        client.evict(QStringLiteral("shop"), QStringLiteral("web"), {}, this, done);
    QTRY_VERIFY_WITH_TIMEOUT(got.has_value(), 10000);
    QTest::qWait(300); // a resend would arrive within this
    QCOMPARE(arrivals, expectedArrivals);
    QList<vigil::test::HttpRequest> sent;
    for (const auto &r : server.requests()) {
        if (r.method == method && r.path != QLatin1String("/version"))
            sent.append(r);
    }
    QCOMPARE(sent.size(), expectedArrivals);
    QCOMPARE(sent.first().connectionId, server.requests().first().connectionId); // the kept-alive one
    QCOMPARE(got->ok(), expectOk);
    if (!expectOk) {
        QVERIFY2(got->errorMessage().startsWith(QString::fromLatin1(method) + QLatin1Char(' ')),
                 qPrintable(got->errorMessage()));
        QVERIFY2(got->errorMessage().contains(QLatin1String("not sent again")),
                 qPrintable(got->errorMessage()));
    }
}

void TestRestClient::logParameters()
{
    HttpTestServer server([](HttpExchange *ex) {
        ex->respond(200, "line 1\nline 2\n", {{"Content-Type", "text/plain"}});
    });
    QVERIFY(server.listen());
    RestClient client(connectionTo(server.url()));
    std::optional<Result<QByteArray>> got;
    LogOptions o;
    o.container = QStringLiteral("api");
    o.tailLines = 50;
    o.previous = true;
    o.timestamps = true;
    client.logs(QStringLiteral("shop"), QStringLiteral("web"), o, this,
                [&](Result<QByteArray> r) { got = std::move(r); });
    QTRY_VERIFY(got.has_value());
    QVERIFY(got->ok());
    QCOMPARE(**got, QByteArray("line 1\nline 2\n"));
    const auto &req = server.requests().at(0);
    QCOMPARE(req.path, QStringLiteral("/api/v1/namespaces/shop/pods/web/log"));
    QCOMPARE(req.query.toString(QUrl::FullyDecoded),
             QStringLiteral("container=api&tailLines=50&previous=true&timestamps=true"));
}

void TestRestClient::callbackSkippedWhenContextDestroyed()
{
    HttpTestServer server([](HttpExchange *ex) { ex->later(100, [ex] { ex->respondJson(200, "{}"); }); });
    QVERIFY(server.listen());
    RestClient client(connectionTo(server.url()));
    bool called = false, controlCalled = false;
    auto *context = new QObject;
    client.get(webPod, context, [&](Result<nlohmann::json>) { called = true; });
    client.get(webPod, this, [&](Result<nlohmann::json>) { controlCalled = true; });
    delete context;
    QTRY_VERIFY(controlCalled);
    QTest::qWait(150);
    QVERIFY(!called);
}

void TestRestClient::tokenBucket_data()
{
    QTest::addColumn<double>("qps");
    QTest::addColumn<int>("burst");
    QTest::addColumn<QList<qint64>>("times");
    QTest::addColumn<QList<qint64>>("waits");
    QTest::newRow("burst of 10 passes, the 11th waits 1/qps")
        << 5.0 << 10 << QList<qint64>(11, 0) << (QList<qint64>(10, 0) << 200);
    QTest::newRow("queued requests space out at qps")
        << 5.0 << 1 << QList<qint64>{0, 0, 0} << QList<qint64>{0, 200, 400};
    QTest::newRow("tokens refill over time")
        << 5.0 << 2 << QList<qint64>{0, 0, 0, 1000, 1000} << QList<qint64>{0, 0, 200, 0, 0};
    QTest::newRow("refill is capped at burst")
        << 10.0 << 2 << QList<qint64>{0, 0, 10000, 10000, 10000} << QList<qint64>{0, 0, 0, 0, 100};
}

void TestRestClient::tokenBucket()
{
    QFETCH(double, qps);
    QFETCH(int, burst);
    QFETCH(QList<qint64>, times);
    QFETCH(QList<qint64>, waits);
    TokenBucket bucket(qps, burst);
    QList<qint64> got;
    for (qint64 t : times)
        got.append(bucket.reserve(t));
    QCOMPARE(got, waits);
}

void TestRestClient::rateLimitDelaysRequests()
{
    HttpTestServer server([](HttpExchange *ex) { ex->respondJson(200, "{}"); });
    QVERIFY(server.listen());
    RestClientOptions o;
    o.qps = 10;
    o.burst = 1;
    RestClient client(connectionTo(server.url()), o);
    int done = 0;
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < 3; ++i)
        client.get(webPod, this, [&](Result<nlohmann::json>) { ++done; });
    QTRY_COMPARE(done, 3);
    QVERIFY2(timer.elapsed() >= 175, qPrintable(QString::number(timer.elapsed())));
}

void TestRestClient::watchDeliversEventsAndClose()
{
    HttpTestServer server([](HttpExchange *ex) {
        ex->streamChunks(200, {{"Content-Type", "application/json"}},
                         {{0, R"({"type":"ADDED","object":{"metadata":{"uid":"a","resourceVersion":"5"}}})"
                              "\n{\"type\":"},
                          {30, R"("DELETED","object":{"metadata":{"uid":"a","resourceVersion":"6"}}})"
                               "\n"}},
                         HttpExchange::Ending::End);
    });
    QVERIFY(server.listen());
    RestClient client(connectionTo(server.url()));
    QStringList seen;
    std::optional<Result<void>> closed;
    WatchOptions w;
    w.resourceVersion = QStringLiteral("4");
    w.timeoutSeconds = 321;
    StreamHandle handle = client.watch(
        podsIn, w, this,
        [&](const QList<WatchEvent> &events) {
            for (const auto &e : events)
                seen.append(e.resourceVersion());
        },
        [&](Result<void> r) { closed = std::move(r); });
    QVERIFY(handle.active());
    QTRY_VERIFY(closed.has_value());
    QVERIFY2(closed->ok(), qPrintable(closed->errorMessage()));
    QCOMPARE(seen, (QStringList{QStringLiteral("5"), QStringLiteral("6")}));
    QVERIFY(!handle.active());
    const auto &req = server.requests().at(0);
    QCOMPARE(req.query.toString(QUrl::FullyDecoded),
             QStringLiteral("watch=true&resourceVersion=4&allowWatchBookmarks=true&timeoutSeconds=321"));
}

void TestRestClient::smallStreamReadBufferDeliversEveryEvent_data()
{
    QTest::addColumn<qint64>("readBuffer");
    QTest::newRow("4 KiB buffer, 600 KiB in one chunk: back-pressure without loss") << qint64(4096);
    QTest::newRow("unbounded buffer") << qint64(0);
}

void TestRestClient::smallStreamReadBufferDeliversEveryEvent()
{
    QFETCH(qint64, readBuffer);
    // Far more than the read buffer, sent at once: Qt must stop and resume reading the socket.
    QByteArray body;
    const int count = 5000;
    for (int i = 1; i <= count; ++i)
        body += R"({"type":"ADDED","object":{"metadata":{"uid":"u)" + QByteArray::number(i) +
                R"(","resourceVersion":")" + QByteArray::number(i) + R"(","padding":")" +
                QByteArray(60, 'x') + "\"}}}\n";
    HttpTestServer server([&body](HttpExchange *ex) {
        ex->streamChunks(200, {{"Content-Type", "application/json"}}, {{0, body}}, HttpExchange::Ending::End);
    });
    QVERIFY(server.listen());
    RestClientOptions options;
    options.streamReadBufferBytes = readBuffer;
    RestClient client(connectionTo(server.url()), options);
    QStringList seen;
    std::optional<Result<void>> closed;
    StreamHandle handle = client.watch(
        podsIn, WatchOptions(), this,
        [&](const QList<WatchEvent> &events) {
            for (const auto &e : events)
                seen.append(e.resourceVersion());
        },
        [&](Result<void> r) { closed = std::move(r); });
    QTRY_VERIFY_WITH_TIMEOUT(closed.has_value(), 20000);
    QVERIFY2(closed->ok(), qPrintable(closed->errorMessage()));
    QCOMPARE(seen.size(), count);
    for (int i = 0; i < count; ++i)
        QCOMPARE(seen.at(i), QString::number(i + 1));
}

QTEST_GUILESS_MAIN(TestRestClient)
#include "tst_restclient.moc"
