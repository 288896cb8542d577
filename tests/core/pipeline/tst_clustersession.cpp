#include "core/pipeline/clustersession.h"

#include "core/act/actions.h"
#include "core/act/datapaths.h"
#include "core/act/decisionstore.h"
#include "core/act/executor.h"
#include "core/audit/auditlog.h"
#include "httptestserver.h"

#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

using nlohmann::json;
using namespace vigil;
using vigil::kube::InformerHealth;
using vigil::pipeline::ClusterSession;
using vigil::pipeline::SessionHealth;
using vigil::test::HttpExchange;
using vigil::test::HttpTestServer;

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
    void agentDecision_data();
    void agentDecision();
    void mirrorsDecisions_data();
    void mirrorsDecisions();
    void clusterApprovalExecutes();
    void auditsIncidentWalk_data();
    void auditsIncidentWalk();
};

namespace {

const QString kDiscovery = "/apis/ai.vigil.dev/v1alpha1";
const QString kReviews = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

// A scripted API server for a whole ClusterSession: empty lists, quiet watches, the
// AgentDecision discovery and access reviews as the row says, events accepted.
struct ApiServer {
    ApiServer()
        : server([this](HttpExchange *ex) { handle(ex); })
    {
    }

    void handle(HttpExchange *ex)
    {
        const test::HttpRequest &r = ex->request();
        if (r.path == kDiscovery) {
            if (!crdInstalled)
                return ex->respondJson(
                    404,
                    R"({"kind":"Status","code":404,"message":"the server could not find the requested resource"})");
            const json doc = {
                {"kind", "APIResourceList"},
                {"groupVersion", "ai.vigil.dev/v1alpha1"},
                {"resources", json::array({{{"name", "agentdecisions"}, {"namespaced", true}},
                                           {{"name", "agentdecisions/status"}, {"namespaced", true}}})}};
            return ex->respondJson(200, QByteArray::fromStdString(doc.dump()));
        }
        if (r.path == kReviews) {
            json review = json::parse(r.body.toStdString());
            const std::string verb = review["spec"]["resourceAttributes"].value("verb", std::string());
            const bool allowed = !denied.contains(QString::fromStdString(verb));
            review["status"] = {{"allowed", allowed}};
            return ex->respondJson(201, QByteArray::fromStdString(review.dump()));
        }
        if (r.method == "POST" && r.path == "/hook")
            return ex->respond(200, "ok", {{"Content-Type", "text/plain"}});
        if (r.method == "POST" && r.path.endsWith("/events")) {
            json event = json::parse(r.body.toStdString());
            event["metadata"]["uid"] = "e1";
            return ex->respondJson(201, QByteArray::fromStdString(event.dump()));
        }
        if (r.method == "PATCH" && r.path.contains("/agentdecisions/"))
            return ex->respondJson(200, r.body);
        if (r.method == "GET" && r.queryValue("watch") == "true") {
            ex->beginChunked(200, {{"Content-Type", "application/json"}});
            // A streamed pod list: the pod, then the bookmark that ends the initial state.
            if (!pod.is_null() && r.path == "/api/v1/pods" && r.queryValue("sendInitialEvents") == "true") {
                ex->sendChunk(QByteArray::fromStdString(json{{"type", "ADDED"}, {"object", pod}}.dump()) +
                              '\n');
                const json end = {
                    {"kind", "Pod"},
                    {"apiVersion", "v1"},
                    {"metadata",
                     {{"resourceVersion", "5"}, {"annotations", {{"k8s.io/initial-events-end", "true"}}}}}};
                ex->sendChunk(QByteArray::fromStdString(json{{"type", "BOOKMARK"}, {"object", end}}.dump()) +
                              '\n');
            }
            // The mirror's own watch (no resourceVersion, no initial events) carries the approval.
            if (r.path.endsWith("/agentdecisions") && !r.query.hasQueryItem("resourceVersion") &&
                r.queryValue("sendInitialEvents") != "true" && !approval.is_null())
                ex->sendChunk(
                    QByteArray::fromStdString(json{{"type", "ADDED"}, {"object", approval}}.dump()) + '\n');
            return;
        }
        if (r.method == "GET" && !pod.is_null() && r.path == "/api/v1/namespaces/shop/pods/web-1")
            return ex->respondJson(200, QByteArray::fromStdString(pod.dump()));
        if (r.method == "GET" && r.path.endsWith("/log"))
            return ex->respond(200, "ERROR cannot connect to postgres://orders:hunter2pw@db:5432: refused\n",
                               {{"Content-Type", "text/plain"}});
        if (r.method == "GET") {
            const json items =
                !pod.is_null() && r.path == "/api/v1/pods" ? json::array({pod}) : json::array();
            const json list = {{"kind", "List"}, {"metadata", {{"resourceVersion", "5"}}}, {"items", items}};
            return ex->respondJson(200, QByteArray::fromStdString(list.dump()));
        }
        ex->respondJson(404, R"({"kind":"Status","code":404,"message":"not scripted"})");
    }

    int requestsTo(const QString &path) const { return int(server.requestsTo(path).size()); }

    HttpTestServer server;
    bool crdInstalled = true;
    QStringList denied;
    json approval; // an AgentDecision the mirror's watch delivers
    json pod;      // shop/web-1 in the pod list and on its own, when set
};

// shop/web-1, its container crash-looping (or running).
json podDoc(bool crashing)
{
    const QString started = QDateTime::currentDateTimeUtc().addSecs(-600).toString(Qt::ISODate);
    const QString died = QDateTime::currentDateTimeUtc().addSecs(-20).toString(Qt::ISODate);
    json state = crashing ? json{{"waiting", {{"reason", "CrashLoopBackOff"}, {"message", "back-off 5m0s"}}}}
                          : json{{"running", {{"startedAt", started.toStdString()}}}};
    json status = {{"name", "app"},
                   {"image", "registry.example/web:1.4"},
                   {"ready", !crashing},
                   {"restartCount", crashing ? 6 : 0},
                   {"state", state}};
    if (crashing)
        status["lastState"] = {
            {"terminated", {{"reason", "Error"}, {"exitCode", 1}, {"finishedAt", died.toStdString()}}}};
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata",
             {{"name", "web-1"},
              {"namespace", "shop"},
              {"uid", "uid-web-1"},
              {"resourceVersion", "4"},
              {"creationTimestamp", started.toStdString()}}},
            {"spec", {{"nodeName", "worker-1"}, {"containers", json::array({{{"name", "app"}}})}}},
            {"status", {{"phase", "Running"}, {"containerStatuses", json::array({status})}}}};
}

// A session over the scripted server with its data in dir; diagnosis off.
std::unique_ptr<pipeline::ClusterSession> makeSession(ApiServer &api, const QString &dir, bool mirror,
                                                      const guard::Policy &policy = {})
{
    kube::Connection c;
    c.server = api.server.url();
    pipeline::SessionOptions o;
    o.policy = policy;
    o.diagnose = false;
    o.dataDir = dir;
    o.mirrorDecisions = mirror;
    o.metricsIntervalMs = 600000;
    o.verifyTimeoutMs = 2000;
    return std::make_unique<pipeline::ClusterSession>(c, o);
}

} // namespace

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

void TestClusterSession::agentDecision_data()
{
    QTest::addColumn<QString>("object");
    QTest::addColumn<QString>("error"); // empty: parses
    QTest::addColumn<QString>(
        "summary"); // action|target|phase|approved|awaiting|approvedBy|rejected|rejectedBy|rejectReason|conditions
    const char *full = R"({"apiVersion":"ai.vigil.dev/v1alpha1","kind":"AgentDecision",
      "metadata":{"name":"vigil-1","namespace":"shop","uid":"u1","resourceVersion":"7",
        "creationTimestamp":"2026-11-25T12:00:00Z","labels":{"vigil.dev/decision":"1"},
        "annotations":{"vigil.dev/approved-by":"os:alice via desktop"}},
      "spec":{"action":"restart_pod","target":"pod/shop/web-1","confidence":0.8,"approved":true,
        "diagnosis":"crash loop"},
      "status":{"phase":"verified","conditions":[{"type":"Executed","status":"True","reason":"Evicted",
        "message":"pod shop/web-1 evicted","lastTransitionTime":"2026-11-25T12:01:00Z"},
        {"type":"Verified","status":"True"}]}})";
    QTest::newRow("approved and verified, with conditions")
        << full << ""
        << "restart_pod|pod/shop/web-1|verified|1|0|os:alice via desktop|0|||Executed,Verified";
    QTest::newRow("fresh proposal awaits a person")
        << R"({"metadata":{"name":"vigil-2","namespace":"shop","uid":"u2"},"spec":{"action":"scale_deployment",
              "target":"deployment/shop/web"},"status":{"phase":"proposed"}})"
        << ""
        << "scale_deployment|deployment/shop/web|proposed|0|1||0|||";
    QTest::newRow("no status yet still awaits")
        << R"({"metadata":{"name":"vigil-3","namespace":"shop","uid":"u3"},"spec":{"action":"none","target":"x"}})"
        << ""
        << "none|x||0|1||0|||";
    QTest::newRow("rejected through the annotations awaits nothing")
        << R"({"metadata":{"name":"vigil-4","namespace":"shop","uid":"u4","annotations":{
              "vigil.dev/rejected-by":"os:bob","vigil.dev/reject-reason":"no"}},
              "spec":{"action":"restart_pod","target":"pod/shop/a"},"status":{"phase":"proposed"}})"
        << ""
        << "restart_pod|pod/shop/a|proposed|0|0||1|os:bob|no|";
    QTest::newRow("spec.rejected by kubectl: rejected, by its field manager, with spec.rejectReason")
        << R"({"metadata":{"name":"vigil-8","namespace":"shop","uid":"u8","managedFields":[
              {"manager":"vigil","operation":"Apply","fieldsV1":{"f:spec":{"f:action":{}}}},
              {"manager":"kubectl-patch","operation":"Update","fieldsV1":{"f:spec":{"f:rejected":{},
                "f:rejectReason":{}}}}]},
              "spec":{"action":"restart_pod","target":"pod/shop/a","rejected":true,
                "rejectReason":" the database is down "},"status":{"phase":"proposed"}})"
        << ""
        << "restart_pod|pod/shop/a|proposed|0|0||1|field-manager:kubectl-patch|the database is down|";
    QTest::newRow("desktop rejection: spec.rejected with the annotation naming who")
        << R"({"metadata":{"name":"vigil-9","namespace":"shop","uid":"u9","annotations":{
              "vigil.dev/rejected-by":"os:bob via desktop"}},
              "spec":{"action":"restart_pod","target":"pod/shop/a","approved":false,"rejected":true,
                "rejectReason":"web-2 is being debugged"},"status":{"phase":"rejected"}})"
        << ""
        << "restart_pod|pod/shop/a|rejected|0|0||1|os:bob via desktop|web-2 is being debugged|";
    QTest::newRow("spec.rejectReason wins over the old annotation")
        << R"({"metadata":{"name":"vigil-10","namespace":"shop","uid":"u10","annotations":{
              "vigil.dev/rejected-by":"os:bob","vigil.dev/reject-reason":"old"}},
              "spec":{"action":"restart_pod","target":"pod/shop/a","rejected":true,"rejectReason":"new"}})"
        << ""
        << "restart_pod|pod/shop/a||0|0||1|os:bob|new|";
    QTest::newRow("spec.rejected without managedFields: who is unknown")
        << R"({"metadata":{"name":"vigil-11","namespace":"shop","uid":"u11"},
              "spec":{"action":"restart_pod","target":"pod/shop/a","rejected":true}})"
        << ""
        << "restart_pod|pod/shop/a||0|0||1|field-manager:unknown||";
    QTest::newRow("spec.rejected false awaits a person")
        << R"({"metadata":{"name":"vigil-12","namespace":"shop","uid":"u12"},
              "spec":{"action":"restart_pod","target":"pod/shop/a","rejected":false,"rejectReason":"x"}})"
        << ""
        << "restart_pod|pod/shop/a||0|1||0||x|";
    QTest::newRow("approved as a string is not approved")
        << R"({"metadata":{"name":"vigil-5","namespace":"shop","uid":"u5"},"spec":{"action":"restart_pod",
              "target":"pod/shop/a","approved":"true"},"status":{"phase":"proposed","conditions":"bad"}})"
        << ""
        << "restart_pod|pod/shop/a|proposed|0|1||0|||";
    QTest::newRow("no uid is an error") << R"({"metadata":{"name":"vigil-6"},"spec":{}})"
                                        << "metadata.uid or metadata.name missing"
                                        << "";
    QTest::newRow("spec not an object is an error")
        << R"({"metadata":{"name":"vigil-7","namespace":"shop","uid":"u7"},"spec":[1]})"
        << "spec is not an object"
        << "";
    QTest::newRow("not an object is an error") << "[1,2]"
                                               << "not an object"
                                               << "";
}

void TestClusterSession::agentDecision()
{
    QFETCH(QString, object);
    QFETCH(QString, error);
    QFETCH(QString, summary);
    const auto r = vigil::pipeline::AgentDecisionInfo::fromJson(json::parse(object.toStdString()));
    if (!error.isEmpty()) {
        QVERIFY(!r);
        QVERIFY2(r.errorMessage().contains(error), qPrintable(r.errorMessage()));
        return;
    }
    QVERIFY2(r, qPrintable(r.errorMessage()));
    QStringList conditions;
    for (const auto &c : r->conditions)
        conditions << c.type;
    const QString got = QStringList{r->action,
                                    r->target,
                                    r->phase,
                                    QString::number(int(r->approved)),
                                    QString::number(int(r->awaitingDecision())),
                                    r->approvedBy,
                                    QString::number(int(r->rejected)),
                                    r->rejectedBy,
                                    r->rejectReason,
                                    conditions.join(',')}
                            .join('|');
    QCOMPARE(got, summary);
}

void TestClusterSession::mirrorsDecisions_data()
{
    QTest::addColumn<bool>("mirror");
    QTest::addColumn<bool>("crdInstalled");
    QTest::addColumn<QStringList>("denied");
    QTest::addColumn<int>("mirrored"); // -1: no answer (mirroring off), 0: not mirrored, 1: mirrored
    QTest::addColumn<QString>("message");

    QTest::newRow("CRD missing reaches the user")
        << true << false << QStringList() << 0
        << "not mirrored because the AgentDecision CRD is not installed";
    QTest::newRow("RBAC denying create reaches the user")
        << true << true << QStringList{"create"} << 0
        << "not mirrored because RBAC denies create agentdecisions cluster-wide";
    QTest::newRow("installed and allowed mirrors")
        << true << true << QStringList() << 1 << "mirrored into the cluster as AgentDecisions";
    QTest::newRow("off asks nothing") << false << true << QStringList() << -1 << "";
}

void TestClusterSession::mirrorsDecisions()
{
    QFETCH(bool, mirror);
    QFETCH(bool, crdInstalled);
    QFETCH(QStringList, denied);
    QFETCH(int, mirrored);
    QFETCH(QString, message);

    ApiServer api;
    QVERIFY(api.server.listen());
    api.crdInstalled = crdInstalled;
    api.denied = denied;
    QTemporaryDir dir;
    auto session = makeSession(api, dir.path(), mirror);
    QList<QPair<bool, QString>> answers;
    QStringList notices;
    connect(session.get(), &pipeline::ClusterSession::decisionsMirrored, this,
            [&](bool ok, const QString &why) {
                answers.append({ok, why});
            });
    connect(session.get(), &pipeline::ClusterSession::notice, this,
            [&](const QString &text) { notices << text; });
    session->start();

    if (mirrored < 0) {
        QTRY_VERIFY(api.requestsTo("/api/v1/pods") > 0);
        QTest::qWait(300);
        QCOMPARE(api.requestsTo(kDiscovery), 0);
        QCOMPARE(api.requestsTo(kReviews), 0);
        QVERIFY(answers.isEmpty());
        return;
    }
    QTRY_COMPARE_WITH_TIMEOUT(answers.size(), 1, 5000);
    QCOMPARE(answers.first().first, mirrored == 1);
    QVERIFY2(answers.first().second.contains(message), qPrintable(answers.first().second));
    QCOMPARE(api.requestsTo(kReviews), crdInstalled ? 6 : 0);
    if (mirrored == 0) {
        // The status bar gets the same reason, as a sentence.
        const QString expected = "Decisions are " + answers.first().second + '.';
        QVERIFY2(notices.contains(expected), qPrintable(notices.join(" / ")));
    }
}

void TestClusterSession::clusterApprovalExecutes()
{
    // A decision the desktop proposed earlier, approved in the cluster through its AgentDecision
    // (kubectl patch spec.approved: true): the session's mirror approves it and the session runs it.
    // The session also takes the policy's settings: the alert reaches alerts.webhookUrl, and the
    // audit log drops rows older than audit.retentionDays when it is opened.
    QTemporaryDir dir;
    QString id;
    const QString fingerprint = "fp-alert";
    {
        auto store = std::move(act::DecisionStore::open(act::decisionsPath(dir.path())).value());
        auto log = std::move(audit::AuditLog::open(act::auditPath(dir.path())).value());
        audit::AuditEvent old;
        old.tsMs = QDateTime::currentMSecsSinceEpoch() - 10LL * 86400000;
        old.kind = "observed";
        QVERIFY(log->append(old).ok());
        act::ActionRunner runner(nullptr, act::AlertConfig{});
        act::Executor executor(store.get(), log.get(), &runner, guard::Policy{});
        guard::IncidentTarget target;
        target.namespaceName = "shop";
        target.podName = "web-1";
        Diagnosis d;
        d.diagnosis = "web-1 keeps crashing";
        d.confidence = 0.9;
        d.action = ActionKind::CreateAlert;
        d.parameters = {{"summary", "web-1 keeps crashing"}, {"severity", "warning"}};
        guard::Verdict verdict;
        verdict.decision = guard::Verdict::NeedsApproval;
        auto proposed = executor.propose(act::newDecision(fingerprint, target, d, verdict));
        QVERIFY2(proposed, qPrintable(proposed.errorMessage()));
        id = proposed->id;
    }

    ApiServer api;
    QVERIFY(api.server.listen());
    api.approval = {
        {"apiVersion", "ai.vigil.dev/v1alpha1"},
        {"kind", "AgentDecision"},
        {"metadata",
         {{"name", QString("vigil-" + id).toStdString()},
          {"namespace", "shop"},
          {"labels", {{"vigil.dev/decision", id.toStdString()}}},
          {"managedFields", json::array({{{"manager", "kubectl-patch"},
                                          {"fieldsV1", {{"f:spec", {{"f:approved", json::object()}}}}}}})}}},
        {"spec", {{"approved", true}, {"action", "create_alert"}}}};
    guard::Policy policy;
    policy.alerts.webhookUrl = QUrl(api.server.url().toString() + "/hook");
    policy.auditRetentionDays = 3;
    auto session = makeSession(api, dir.path(), true, policy);
    QList<int> states;
    connect(session.get(), &pipeline::ClusterSession::decisionUpdated, this,
            [&](const QString &fp, act::DecisionState state, const QString &) {
                if (fp == fingerprint)
                    states << int(state);
            });
    session->start();
    QTRY_VERIFY_WITH_TIMEOUT(states.contains(int(act::DecisionState::Executing)), 5000);
    QTRY_VERIFY_WITH_TIMEOUT(states.contains(int(act::DecisionState::Executed)) ||
                                 states.contains(int(act::DecisionState::Verified)),
                             5000);
    int created = 0;
    for (const test::HttpRequest &r : api.server.requestsTo("/api/v1/namespaces/shop/events"))
        created += r.method == "POST" && !r.query.hasQueryItem("dryRun");
    QCOMPARE(created, 1);
    QCOMPARE(api.server.requestsTo("/hook").size(), 1);
    const json hook = json::parse(api.server.requestsTo("/hook").first().body.toStdString());
    QVERIFY2(hook["decision"] == id.toStdString(), hook.dump().c_str());
    session.reset();

    // The 10-day-old row went when the session opened the log; the chain still verifies.
    auto log = std::move(audit::AuditLog::open(act::auditPath(dir.path())).value());
    auto events = log->query();
    QVERIFY(!events->isEmpty());
    QCOMPARE(events->first().kind, QString("proposed"));
    QVERIFY(std::any_of(events->begin(), events->end(),
                        [](const audit::AuditEvent &e) { return e.kind == "retention"; }));
    QVERIFY2(log->verify()->ok, qPrintable(log->verify()->message));

    auto store = std::move(act::DecisionStore::open(act::decisionsPath(dir.path())).value());
    auto d = store->load(id);
    QVERIFY2(d, qPrintable(d.errorMessage()));
    QVERIFY2(d->approver.via == "AgentDecision", qPrintable(d->approver.via));
    QCOMPARE(d->approver.kubeUser, QString("field-manager:kubectl-patch"));
}

void TestClusterSession::auditsIncidentWalk_data()
{
    QTest::addColumn<bool>("crashing");
    QTest::addColumn<QStringList>("kinds"); // the audit rows' kinds, in order, up to the dry run
    QTest::newRow("crash loop: observed once (rescans too), diagnosed, proposed, verdict")
        << true << QStringList{"observed", "diagnosed", "proposed", "verdict"};
    QTest::newRow("healthy pod: nothing to audit") << false << QStringList();
}

void TestClusterSession::auditsIncidentWalk()
{
    QFETCH(bool, crashing);
    QFETCH(QStringList, kinds);

    ApiServer api;
    QVERIFY(api.server.listen());
    api.crdInstalled = false;
    api.pod = podDoc(crashing);
    QTemporaryDir dir;
    kube::Connection c;
    c.server = api.server.url();
    pipeline::SessionOptions o;
    o.dataDir = dir.path();
    o.mirrorDecisions = false;
    o.metricsIntervalMs = 600000;
    o.rescanIntervalMs = 100; // several observation passes over the same pod
    auto session = std::make_unique<pipeline::ClusterSession>(c, o);
    QStringList diagnosed;
    QStringList seen; // what the session reported, for a failure message
    connect(session.get(), &pipeline::ClusterSession::batchReady, this,
            [&](const pipeline::SessionBatch &batch) {
                for (const pipeline::IncidentReport &r : batch.incidents) {
                    if (r.diagnosed && !r.decisionId.isEmpty())
                        diagnosed << r.decisionId;
                    seen << r.incident.reason + ": " + (r.diagnosed ? actionName(r.diagnosis.action) : "-") +
                                " " + r.diagnosisError;
                }
            });
    session->start();
    if (crashing)
        QTRY_VERIFY2_WITH_TIMEOUT(!diagnosed.isEmpty(), qPrintable(seen.join(" | ")), 10000);
    else
        QTRY_VERIFY_WITH_TIMEOUT(api.requestsTo("/api/v1/pods") > 0, 5000);
    QTest::qWait(500); // rescans keep observing the same incident
    session.reset();

    auto log = std::move(audit::AuditLog::open(act::auditPath(dir.path())).value());
    const auto events = log->query();
    QVERIFY(events.ok());
    QStringList got;
    for (const audit::AuditEvent &e : *events)
        if (e.kind != "previewed")
            got << e.kind;
    QCOMPARE(got.mid(0, kinds.size()), kinds);
    QCOMPARE(got.count("observed"), kinds.count("observed"));
    QCOMPARE(got.count("diagnosed"), kinds.count("diagnosed"));
    QVERIFY2(log->verify()->ok, qPrintable(log->verify()->message));
    if (!crashing)
        return;
    const audit::AuditEvent &observed = events->at(0);
    QCOMPARE(observed.outcome, QString("CrashLoopBackOff"));
    QCOMPARE(observed.namespaceName, QString("shop"));
    QVERIFY(observed.payload.value("count", 0) >= 1);
    const audit::AuditEvent &diagnosis = events->at(1);
    QCOMPARE(diagnosis.outcome, QString("rules"));
    QCOMPARE(QString::fromStdString(diagnosis.payload.value("sent", std::string())), QString("rules"));
    QVERIFY(diagnosis.payload.contains("evidence"));
    // The proposed and verdict rows belong to the decision the session reported.
    QCOMPARE(events->at(2).decisionId, diagnosed.first());
    QCOMPARE(events->at(3).decisionId, diagnosed.first());
    QCOMPARE(events->at(3).outcome, events->at(2).outcome);
    // The decision says what was seen (it becomes the AgentDecision's spec.observation).
    const QString observation =
        QString::fromStdString(events->at(2).payload["decision"].value("observation", std::string()));
    QVERIFY2(observation.startsWith("CrashLoopBackOff on "), qPrintable(observation));
    const QString whole = QString::fromStdString(audit::toJson(diagnosis).dump());
    QVERIFY2(!whole.contains("hunter2pw"), qPrintable(whole));
}

QTEST_GUILESS_MAIN(TestClusterSession)
#include "tst_clustersession.moc"
