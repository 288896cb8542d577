#include "core/act/executor.h"

#include "core/act/actions.h"
#include "core/act/decisionstore.h"
#include "core/audit/auditlog.h"
#include "core/cli/await.h"
#include "core/gather/gatherer.h"
#include "core/kube/restclient.h"
#include "core/reason/prompts.h"
#include "httptestserver.h"

#include <QTemporaryDir>
#include <QTest>

using namespace vigil;
using namespace vigil::act;
using json = nlohmann::json;
using vigil::test::HttpExchange;
using vigil::test::HttpTestServer;

#define QCOMPARE_JSON(a, b) QVERIFY2(json(a) == json(b), (json(a).dump() + " != " + json(b).dump()).c_str())

Q_DECLARE_METATYPE(vigil::act::DecisionState)
Q_DECLARE_METATYPE(vigil::ActionKind)

namespace {

class NoCredentials final : public kube::CredentialSource {
public:
    Result<kube::Credentials> credentials() override { return kube::Credentials(); }
    void invalidate() override {}
    QString method() const override { return QStringLiteral("none"); }
};

// "METHOD /path" -> a scripted reply; status -1 never answers.
struct Reply {
    int status = 200;
    json body = json::object();
};

class FakeApi {
public:
    FakeApi()
        : server([this](HttpExchange *ex) {
            const QString key = QString::fromLatin1(ex->request().method) + ' ' + ex->request().path;
            ++counts[key];
            if (const auto raw = rawRoutes.find(key); raw != rawRoutes.end())
                return ex->respondJson(raw->second.first, raw->second.second);
            const auto it = routes.find(key);
            if (it == routes.end())
                return ex->respondJson(404,
                                       R"({"kind":"Status","reason":"NotFound","message":"not scripted"})");
            const Reply r = it->second(ex->request());
            if (r.status < 0)
                return; // never answers: the client's timeout fires
            ex->respondJson(r.status, QByteArray::fromStdString(r.body.dump()));
        })
    {
    }
    void on(const QString &key, Reply reply)
    {
        routes[key] = [reply](const test::HttpRequest &) { return reply; };
    }
    int total() const { return int(server.requests().size()); }

    HttpTestServer server;
    std::map<QString, std::function<Reply(const test::HttpRequest &)>> routes;
    /// Bodies json cannot hold (100,000 levels would recurse in dump()), sent as they are.
    std::map<QString, std::pair<int, QByteArray>> rawRoutes;
    QMap<QString, int> counts;
};

struct Rig {
    explicit Rig(guard::PolicyMode mode = guard::PolicyMode::Approve, AlertConfig alerts = {},
                 int timeoutMs = 20000)
    {
        QVERIFY(api.server.listen());
        kube::Connection c;
        c.server = api.server.url();
        c.credentials = std::make_shared<NoCredentials>();
        kube::RestClientOptions o;
        o.maxRetries = 0;
        o.qps = 0;
        o.timeoutMs = timeoutMs;
        client = std::make_unique<kube::RestClient>(c, o);
        runner = std::make_unique<ActionRunner>(client.get(), alerts);
        runner->setPollIntervalMs(20);
        store = std::move(DecisionStore::open(dir.filePath("decisions.db")).value());
        audit = std::move(audit::AuditLog::open(dir.filePath("audit.db")).value());
        guard::Policy policy;
        policy.mode = mode;
        executor = std::make_unique<Executor>(store.get(), audit.get(), runner.get(), policy);
    }
    Result<Decision> execute(const QString &id)
    {
        return cli::await<Decision>([&](QObject *ctx, auto cb) { executor->execute(id, ctx, cb); });
    }
    QStringList auditKinds()
    {
        QStringList out;
        const Result<QList<audit::AuditEvent>> events = audit->query();
        for (const audit::AuditEvent &e : *events)
            out << e.kind;
        return out;
    }

    QTemporaryDir dir;
    FakeApi api;
    std::unique_ptr<kube::RestClient> client;
    std::unique_ptr<ActionRunner> runner;
    std::unique_ptr<DecisionStore> store;
    std::unique_ptr<audit::AuditLog> audit;
    std::unique_ptr<Executor> executor;
};

Decision decisionFor(ActionKind kind, json params = json())
{
    guard::IncidentTarget t;
    t.namespaceName = "shop";
    t.podName = "web-1";
    t.ownerKind = "Deployment";
    t.ownerName = "web";
    t.nodeName = "node-a";
    Diagnosis g;
    g.diagnosis = "web is unhealthy";
    g.confidence = 0.95;
    g.action = kind;
    switch (kind) {
    case ActionKind::RestartPod:
        g.parameters = {{"namespace", "shop"}, {"pod", "web-1"}};
        break;
    case ActionKind::ScaleDeployment:
        g.parameters = {{"namespace", "shop"}, {"deployment", "web"}, {"replicas", 4}};
        break;
    case ActionKind::CordonNode:
        g.parameters = {{"node", "node-a"}};
        break;
    case ActionKind::CreateAlert:
        g.parameters = {{"summary", "web keeps crashing"}, {"severity", "critical"}};
        break;
    case ActionKind::None:
        g.parameters = json::object();
        break;
    }
    if (!params.is_null())
        g.parameters = params;
    guard::Verdict v;
    v.decision = guard::Verdict::NeedsApproval;
    return newDecision("fp", t, g, v);
}

const QString kScale = "/apis/apps/v1/namespaces/shop/deployments/web/scale";
const QString kPod = "/api/v1/namespaces/shop/pods/web-1";

json scaleDoc(int replicas)
{
    return {{"kind", "Scale"}, {"spec", {{"replicas", replicas}}}};
}

json pod(const std::string &uid)
{
    return {{"kind", "Pod"},
            {"metadata",
             {{"name", "web-1"},
              {"namespace", "shop"},
              {"uid", uid},
              {"labels", {{"app", "web"}}},
              {"ownerReferences",
               json::array(
                   {{{"kind", "ReplicaSet"}, {"name", "web-5d"}, {"uid", "rs-1"}, {"controller", true}}})}}}};
}

const Approver kAlice{"alice", "system:admin", "test"};

} // namespace

class TestExecutor final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void executesAtMostOnce_data();
    void executesAtMostOnce();
    void reconcile_data();
    void reconcile();
    void refusesBeforeAnyApiCall_data();
    void refusesBeforeAnyApiCall();
    void budgetRefusalIsAnOutcome();
    void previewUsesServerDryRun();
    void undoScaleRestoresPreviousCount();
    void alertPayloads();
    void kubeUserFromSelfSubjectReview_data();
    void kubeUserFromSelfSubjectReview();
    void proposedRowCarriesReasoningContext_data();
    void proposedRowCarriesReasoningContext();
};

void TestExecutor::executesAtMostOnce_data()
{
    QTest::addColumn<bool>("serverApplied");
    QTest::addColumn<DecisionState>("expected");
    QTest::newRow("connection lost before the server applied it: failed, not retried")
        << false << DecisionState::Failed;
    QTest::newRow("reply lost after the server applied it: executed, not retried")
        << true << DecisionState::Executed;
}

void TestExecutor::executesAtMostOnce()
{
    QFETCH(bool, serverApplied);
    QFETCH(DecisionState, expected);
    Rig rig{guard::PolicyMode::Approve, {}, 1000};
    bool patched = false;
    rig.api.routes["GET " + kScale] = [&](const test::HttpRequest &) {
        return Reply{200, scaleDoc(patched && serverApplied ? 4 : 2)};
    };
    rig.api.routes["PATCH " + kScale] = [&](const test::HttpRequest &) {
        patched = true;
        return Reply{-1, {}}; // fails mid-way: no answer, the request times out
    };
    const Decision d = *rig.executor->propose(decisionFor(ActionKind::ScaleDeployment));
    QVERIFY(rig.executor->approve(d.id, kAlice).ok());
    Result<Decision> first = rig.execute(d.id);
    QVERIFY2(first.ok(), qPrintable(first.errorMessage()));
    QCOMPARE(first->state, expected);
    QCOMPARE(rig.api.counts.value("PATCH " + kScale), 1);

    Result<Decision> again = rig.execute(d.id);
    QVERIFY(!again.ok());
    QVERIFY2(again.errorMessage().contains("not approved"), qPrintable(again.errorMessage()));
    QCOMPARE(rig.api.counts.value("PATCH " + kScale), 1);
    QCOMPARE(rig.store->load(d.id)->state, expected);
    QVERIFY(rig.auditKinds().contains("executing"));
    QVERIFY(rig.audit->verify()->ok);
}

void TestExecutor::reconcile_data()
{
    QTest::addColumn<ActionKind>("kind");
    QTest::addColumn<QString>("path");
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<DecisionState>("expected");
    const QByteArray podA = QByteArray::fromStdString(pod("uid-a").dump());
    const QByteArray podB = QByteArray::fromStdString(pod("uid-b").dump());
    QTest::newRow("restart: pod gone -> executed")
        << ActionKind::RestartPod << kPod << 404 << QByteArray("{}") << DecisionState::Executed;
    QTest::newRow("restart: same name, new uid -> executed")
        << ActionKind::RestartPod << kPod << 200 << podB << DecisionState::Executed;
    QTest::newRow("restart: same pod still runs -> failed")
        << ActionKind::RestartPod << kPod << 200 << podA << DecisionState::Failed;
    QTest::newRow("scale: at target -> executed")
        << ActionKind::ScaleDeployment << kScale << 200 << QByteArray::fromStdString(scaleDoc(4).dump())
        << DecisionState::Executed;
    QTest::newRow("scale: still previous -> failed")
        << ActionKind::ScaleDeployment << kScale << 200 << QByteArray::fromStdString(scaleDoc(2).dump())
        << DecisionState::Failed;
    QTest::newRow("cordon: unschedulable -> executed")
        << ActionKind::CordonNode << QString("/api/v1/nodes/node-a") << 200
        << QByteArray(R"({"spec":{"unschedulable":true}})") << DecisionState::Executed;
    QTest::newRow("cordon: schedulable -> failed")
        << ActionKind::CordonNode << QString("/api/v1/nodes/node-a") << 200 << QByteArray(R"({"spec":{}})")
        << DecisionState::Failed;
    QTest::newRow("alert: event recorded -> executed")
        << ActionKind::CreateAlert << QString("/api/v1/namespaces/shop/events/vigil-alert-x") << 200
        << QByteArray("{}") << DecisionState::Executed;
    QTest::newRow("alert: no event -> failed")
        << ActionKind::CreateAlert << QString("/api/v1/namespaces/shop/events/vigil-alert-x") << 404
        << QByteArray("{}") << DecisionState::Failed;
}

void TestExecutor::reconcile()
{
    QFETCH(ActionKind, kind);
    QFETCH(QString, path);
    QFETCH(int, status);
    QFETCH(QByteArray, body);
    QFETCH(DecisionState, expected);
    Rig rig;
    rig.api.on("GET " + path, {status, json::parse(body.toStdString())});
    Decision d = decisionFor(kind);
    d.state = DecisionState::Executing; // as a crash left it
    d.facts = {{"namespace", "shop"},      {"pod", "web-1"},
               {"podUid", "uid-a"},        {"deployment", "web"},
               {"previousReplicas", 2},    {"targetReplicas", 4},
               {"node", "node-a"},         {"wasUnschedulable", false},
               {"event", "vigil-alert-x"}, {"eventNamespace", "shop"}};
    QVERIFY(rig.store->insert(d).ok());
    auto settled =
        cli::await<QList<Decision>>([&](QObject *ctx, auto cb) { rig.executor->reconcile(ctx, cb); });
    QVERIFY2(settled.ok(), qPrintable(settled.errorMessage()));
    QCOMPARE(settled->size(), 1);
    QCOMPARE(settled->first().state, expected);
    QCOMPARE(rig.store->load(d.id)->state, expected);
    // Only the one read: nothing was (re-)executed.
    QCOMPARE(rig.api.total(), 1);
    QCOMPARE(rig.auditKinds(), QStringList{"reconciled"});
    QVERIFY(rig.audit->verify()->ok);
}

void TestExecutor::refusesBeforeAnyApiCall_data()
{
    QTest::addColumn<int>("mode");
    QTest::addColumn<QByteArray>("params");
    QTest::addColumn<QString>("why");
    QTest::newRow("scale above the policy's maximum")
        << int(guard::PolicyMode::Approve)
        << QByteArray(R"({"namespace":"shop","deployment":"web","replicas":21})") << "outside";
    QTest::newRow("scale to zero") << int(guard::PolicyMode::Approve)
                                   << QByteArray(R"({"namespace":"shop","deployment":"web","replicas":0})")
                                   << "outside";
    QTest::newRow("scale a different deployment")
        << int(guard::PolicyMode::Approve)
        << QByteArray(R"({"namespace":"shop","deployment":"db","replicas":3})") << "belongs to";
    QTest::newRow("suggest-only executor refuses")
        << int(guard::PolicyMode::SuggestOnly)
        << QByteArray(R"({"namespace":"shop","deployment":"web","replicas":3})") << "suggest-only";
}

void TestExecutor::refusesBeforeAnyApiCall()
{
    QFETCH(int, mode);
    QFETCH(QByteArray, params);
    QFETCH(QString, why);
    Rig rig{guard::PolicyMode(mode)};
    Decision d = decisionFor(ActionKind::ScaleDeployment, json::parse(params.toStdString()));
    d.state = DecisionState::Approved; // even if a verdict was forged or stale
    QVERIFY(rig.store->insert(d).ok());
    Result<Decision> r = rig.execute(d.id);
    QVERIFY(!r.ok());
    QVERIFY2(r.errorMessage().contains(why), qPrintable(r.errorMessage()));
    QCOMPARE(rig.api.total(), 0);
    QVERIFY(!rig.auditKinds().contains("executing"));
    if (guard::PolicyMode(mode) == guard::PolicyMode::SuggestOnly)
        QVERIFY(!rig.executor
                     ->approve(rig.executor->propose(decisionFor(ActionKind::ScaleDeployment))->id, kAlice)
                     .ok());
}

void TestExecutor::budgetRefusalIsAnOutcome()
{
    Rig rig;
    rig.api.on("GET " + kPod, {200, pod("uid-a")});
    rig.api.on("POST " + kPod + "/eviction",
               {429,
                {{"kind", "Status"},
                 {"reason", "TooManyRequests"},
                 {"message", "Cannot evict pod as it would violate the pod's disruption budget."}}});
    rig.api.on("GET /apis/policy/v1/namespaces/shop/poddisruptionbudgets",
               {200,
                {{"kind", "PodDisruptionBudgetList"},
                 {"metadata", json::object()},
                 {"items", json::array({{{"metadata", {{"name", "web-pdb"}}},
                                         {"spec", {{"selector", {{"matchLabels", {{"app", "web"}}}}}}}},
                                        {{"metadata", {{"name", "db-pdb"}}},
                                         {"spec", {{"selector", {{"matchLabels", {{"app", "db"}}}}}}}}})}}});
    const Decision d = *rig.executor->propose(decisionFor(ActionKind::RestartPod));
    QVERIFY(rig.executor->approve(d.id, kAlice).ok());
    Result<Decision> r = rig.execute(d.id);
    QVERIFY2(r.ok(), qPrintable(r.errorMessage()));
    QCOMPARE(r->state, DecisionState::Failed);
    QCOMPARE(QString::fromStdString(r->outcome["status"].get<std::string>()), QString("blocked"));
    const QString message = QString::fromStdString(r->outcome["message"].get<std::string>());
    QVERIFY2(message.startsWith("blocked by PodDisruptionBudget web-pdb"), qPrintable(message));
    QVERIFY(!message.contains("db-pdb"));
    // The eviction carried the pod's uid as a precondition.
    const auto evictions = rig.api.server.requestsTo(kPod + "/eviction");
    QCOMPARE(evictions.size(), 1);
    QCOMPARE_JSON(json::parse(evictions.first().body.toStdString())["deleteOptions"]["preconditions"]["uid"],
                  json("uid-a"));
}

void TestExecutor::previewUsesServerDryRun()
{
    Rig rig;
    rig.api.on("GET /api/v1/nodes/node-a", {200, {{"spec", json::object()}}});
    rig.api.on("PATCH /api/v1/nodes/node-a", {200, {{"spec", {{"unschedulable", true}}}}});
    const Decision d = *rig.executor->propose(decisionFor(ActionKind::CordonNode));
    auto r = cli::await<Decision>([&](QObject *ctx, auto cb) { rig.executor->preview(d.id, ctx, cb); });
    QVERIFY2(r.ok(), qPrintable(r.errorMessage()));
    QCOMPARE(r->state, DecisionState::Previewed);
    QVERIFY2(r->preview.contains("would cordon node node-a"), qPrintable(r->preview));
    const auto patches = rig.api.server.requestsTo("/api/v1/nodes/node-a");
    QCOMPARE(patches.last().queryValue("dryRun"), QString("All"));
    QCOMPARE_JSON(json::parse(patches.last().body.toStdString()),
                  json::parse(R"({"spec":{"unschedulable":true}})"));
}

void TestExecutor::undoScaleRestoresPreviousCount()
{
    Rig rig;
    QList<int> patchedTo;
    rig.api.on("GET " + kScale, {200, scaleDoc(3)});
    rig.api.routes["PATCH " + kScale] = [&](const test::HttpRequest &req) {
        const int n = json::parse(req.body.toStdString())["spec"]["replicas"].get<int>();
        patchedTo << n;
        return Reply{200, scaleDoc(n)};
    };
    const Decision d = *rig.executor->propose(decisionFor(ActionKind::ScaleDeployment));
    QVERIFY(rig.executor->approve(d.id, kAlice).ok());
    QCOMPARE(rig.execute(d.id)->state, DecisionState::Executed);
    auto undone =
        cli::await<Decision>([&](QObject *ctx, auto cb) { rig.executor->undo(d.id, kAlice, ctx, cb); });
    QVERIFY2(undone.ok(), qPrintable(undone.errorMessage()));
    QCOMPARE(undone->state, DecisionState::Undone);
    QCOMPARE(patchedTo, (QList<int>{4, 3}));
    QCOMPARE(rig.auditKinds().join(","),
             QString("proposed,verdict,approved,executing,executed,undo_requested,undone"));
    const auto events = *rig.audit->query();
    QCOMPARE(events[2].actor, QString("os:alice k8s:system:admin"));
}

void TestExecutor::alertPayloads()
{
    AlertConfig alerts;
    Rig rig(guard::PolicyMode::Approve, alerts);
    // The sinks live on the same scripted server under their own paths.
    AlertConfig cfg;
    cfg.alertmanagerUrl = QUrl(rig.api.server.url().toString() + "/am");
    cfg.slackWebhookUrl = QUrl(rig.api.server.url().toString() + "/slack");
    cfg.webhookUrl = QUrl(rig.api.server.url().toString() + "/hook");
    ActionRunner runner(rig.client.get(), cfg);
    rig.api.on("POST /api/v1/namespaces/shop/events", {201, json::object()});
    rig.api.on("POST /am/api/v2/alerts", {200, json::object()});
    rig.api.on("POST /slack", {200, json::object()});
    rig.api.on("POST /hook", {500, json::object()});
    ActionRequest req = actionRequest(decisionFor(ActionKind::CreateAlert));
    req.decisionId = "d-1";
    auto r = cli::await<ActionOutcome>(
        [&](QObject *ctx, auto cb) { runner.execute(req, json::object(), ctx, cb); });
    QVERIFY2(r.ok(), qPrintable(r.errorMessage()));

    const json event =
        json::parse(rig.api.server.requestsTo("/api/v1/namespaces/shop/events").first().body.toStdString());
    QCOMPARE_JSON(event["reason"], json("VigilAlert"));
    QCOMPARE_JSON(event["type"], json("Warning"));
    QCOMPARE_JSON(event["metadata"]["name"], json("vigil-alert-d-1"));
    QCOMPARE_JSON(event["involvedObject"]["kind"], json("Pod"));
    QCOMPARE_JSON(event["involvedObject"]["name"], json("web-1"));

    const json am = json::parse(rig.api.server.requestsTo("/am/api/v2/alerts").first().body.toStdString());
    QVERIFY(am.is_array());
    QCOMPARE_JSON(am[0]["labels"]["alertname"], json("VigilAlert"));
    QCOMPARE_JSON(am[0]["labels"]["severity"], json("critical"));
    QCOMPARE_JSON(am[0]["labels"]["pod"], json("web-1"));
    QCOMPARE_JSON(am[0]["annotations"]["summary"], json("web keeps crashing"));
    QVERIFY(am[0]["startsAt"].is_string());

    const json slack = json::parse(rig.api.server.requestsTo("/slack").first().body.toStdString());
    QCOMPARE_JSON(slack, json({{"text", "[critical] web keeps crashing (pod shop/web-1)"}}));

    const json hook = json::parse(rig.api.server.requestsTo("/hook").first().body.toStdString());
    QCOMPARE_JSON(hook, alertDocument(req));
    QCOMPARE_JSON(hook["summary"], json("web keeps crashing"));
    // A failing sink does not hide the others; it is named in the outcome.
    QVERIFY2(r->message.contains("not delivered: webhook (HTTP 500"), qPrintable(r->message));
    QCOMPARE_JSON(r->response["sinks"]["slack"]["status"], json(200));
}

void TestExecutor::kubeUserFromSelfSubjectReview_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("expected"); // the user, or the error
    QTest::newRow("username from status.userInfo")
        << QByteArray(R"({"kind":"SelfSubjectReview","status":{"userInfo":{"username":"kubernetes-admin"}}})")
        << "kubernetes-admin";
    QTest::newRow("no username") << QByteArray(R"({"kind":"SelfSubjectReview","status":{}})")
                                 << "SelfSubjectReview: the response has no status.userInfo.username";
    // 100,000 levels parse, but copying status.userInfo out of them recurses past the stack.
    QTest::newRow("100,000-deep [[[") << QByteArray(100000, '[') + QByteArray(100000, ']')
                                      << "SelfSubjectReview: the response is nested deeper than 512 levels";
    QTest::newRow("100,000-deep {\"a\": in status")
        << QByteArray(R"({"status":)") + QByteArray("{\"a\":").repeated(100000) + "1" +
               QByteArray(100000, '}') + "}"
        << "SelfSubjectReview: the response is nested deeper than 512 levels";
}

void TestExecutor::kubeUserFromSelfSubjectReview()
{
    QFETCH(QByteArray, body);
    QFETCH(QString, expected);
    Rig rig;
    rig.api.rawRoutes["POST /apis/authentication.k8s.io/v1/selfsubjectreviews"] = {201, body};
    auto user = cli::await<QString>(
        [&](QObject *ctx, auto cb) { Executor::fetchKubeUser(rig.client.get(), ctx, cb); });
    QCOMPARE(user.ok() ? *user : user.errorMessage(), expected);
    const auto sent = json::parse(rig.api.server.requests().first().body.toStdString());
    QCOMPARE_JSON(sent["kind"], json("SelfSubjectReview"));
}

namespace {

// Secrets in the unredacted inputs; none may reach the audit log.
const QStringList kSecrets{"hunter2pw", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "s3cr3t-Value-42"};

gather::Evidence redactedEvidence()
{
    gather::GatherInput input;
    input.now = QDateTime::currentDateTimeUtc();
    input.subject.reason = "CrashLoopBackOff";
    input.subject.namespaceName = "shop";
    input.subject.workloadKind = "Deployment";
    input.subject.workloadName = "web";
    input.subject.podName = "web-1";
    input.subject.message = "back-off 5m0s restarting failed container=app";
    kube::PodView pod;
    pod.namespaceName = "shop";
    pod.name = "web-1";
    pod.phase = "Running";
    pod.owner = kube::OwnerRef{"ReplicaSet", "web-7d4b9c8f6", "rs", true};
    input.pods << pod;
    input.previousLog =
        "INFO starting\n"
        "ERROR cannot connect to postgres://orders:hunter2pw@db:5432/orders: connection refused\n"
        "DEBUG aws_access_key_id=AKIAIOSFODNN7EXAMPLE "
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
    input.env << gather::EnvVar{"app", "DB_PASSWORD", "s3cr3t-Value-42"};
    gather::Redactor redactor;
    return gather::Gatherer().gather(input, redactor);
}

} // namespace

void TestExecutor::proposedRowCarriesReasoningContext_data()
{
    QTest::addColumn<int>("source");
    QTest::addColumn<QString>("model");
    QTest::addColumn<QStringList>("route");
    QTest::addColumn<QString>("fallbackReason");
    QTest::addColumn<QString>("rawReply");
    QTest::addColumn<int>("promptTokens");
    QTest::addColumn<int>("completionTokens");
    QTest::addColumn<double>("cost");
    QTest::addColumn<QString>("tier");
    QTest::addColumn<bool>("modelAsked");
    const QString reply = R"({"diagnosis":"db refuses","confidence":0.82,"action":"create_alert"})";
    QTest::newRow("rules answered alone: sent 'rules', the evidence summary kept")
        << int(DiagnosisSource::Rules) << QString() << QStringList{"rules 0.80 (accepted)"} << QString()
        << QString() << 0 << 0 << 0.0 << "rules" << false;
    QTest::newRow("small model answered: its prompt, reply, tokens and cost")
        << int(DiagnosisSource::Llm) << "gpt-4o-mini"
        << QStringList{"rules 0.55", "openai/gpt-4o-mini 0.82 (accepted)"} << QString() << reply << 912 << 64
        << 0.00018 << "small" << true;
    QTest::newRow("strong model after the small one")
        << int(DiagnosisSource::Llm) << "gpt-4o"
        << QStringList{"rules 0.55", "openai/gpt-4o-mini 0.60", "openai/gpt-4o 0.91 (accepted)"} << QString()
        << reply << 1830 << 130 << 0.0061 << "strong" << true;
    QTest::newRow("model failed, rules kept: the prompt still went out")
        << int(DiagnosisSource::Rules) << QString()
        << QStringList{"rules 0.55 (accepted)", "openai/gpt-4o-mini failed (timeout: no answer in 60 s)"}
        << "openai/gpt-4o-mini: timeout" << QString() << 0 << 0 << 0.0 << "fallback" << true;
    QTest::newRow("cache hit: nothing sent, nothing spent")
        << int(DiagnosisSource::Cache) << "gpt-4o-mini"
        << QStringList{"cache hit: openai/gpt-4o-mini 0.82 (accepted)"} << QString() << reply << 0 << 0 << 0.0
        << "cache" << false;
}

void TestExecutor::proposedRowCarriesReasoningContext()
{
    QFETCH(int, source);
    QFETCH(QString, model);
    QFETCH(QStringList, route);
    QFETCH(QString, fallbackReason);
    QFETCH(QString, rawReply);
    QFETCH(int, promptTokens);
    QFETCH(int, completionTokens);
    QFETCH(double, cost);
    QFETCH(QString, tier);
    QFETCH(bool, modelAsked);

    const Result<reason::PromptSet> prompts = reason::loadPrompts();
    QVERIFY2(prompts.ok(), qPrintable(prompts.errorMessage()));
    const gather::Evidence evidence = redactedEvidence();
    QVERIFY(evidence.redactions.total() >= 3);
    QVERIFY(evidence.text.contains("connection refused"));

    Decision d = decisionFor(ActionKind::CreateAlert);
    d.diagnosis.source.kind = DiagnosisSource::Kind(source);
    d.diagnosis.source.provider = model.isEmpty() ? QString() : QStringLiteral("openai");
    d.diagnosis.source.model = model;
    d.diagnosis.route = route;
    d.diagnosis.fallbackReason = fallbackReason;
    d.diagnosis.rawReply = rawReply;
    d.diagnosis.promptTokens = promptTokens;
    d.diagnosis.completionTokens = completionTokens;
    d.diagnosis.costUsd = cost;
    QVERIFY(parseRouteTierName(tier, &d.diagnosis.tier)); // as the router sets it
    d.diagnosis.promptVersion = modelAsked ? prompts->version : QString();
    d.verdict.reasons.append({"mode.approve", "a person approves every action in approve mode", false});

    Rig rig;
    const Result<Decision> proposed =
        rig.executor->propose(d, reasoningContext(d.diagnosis, evidence, *prompts));
    QVERIFY2(proposed.ok(), qPrintable(proposed.errorMessage()));
    const Result<QList<audit::AuditEvent>> events = rig.audit->query();
    QVERIFY(events.ok());
    QCOMPARE(events->size(), 2);
    const audit::AuditEvent &row = events->first();
    QCOMPARE(row.kind, QString("proposed"));
    // The guardrails' verdict follows as its own row, with every reason.
    const audit::AuditEvent &verdict = events->at(1);
    QCOMPARE(verdict.kind, QString("verdict"));
    QCOMPARE(verdict.decisionId, proposed->id);
    QCOMPARE(verdict.outcome, guard::decisionName(d.verdict.decision));
    QCOMPARE_JSON(verdict.payload["reasons"].size(), json(d.verdict.reasons.size()));
    const json &p = row.payload;

    const Result<QString> user = reason::renderUserPrompt(*prompts, evidence);
    QVERIFY(user.ok());
    const QString expectedSent = modelAsked ? *user : tier == "cache" ? QString("cache") : QString("rules");
    QCOMPARE_JSON(p["sent"], json(expectedSent.toStdString()));
    if (modelAsked)
        QVERIFY(user->contains(evidence.text));
    QCOMPARE_JSON(p["evidence"]["text"], json(evidence.text.toStdString()));
    QCOMPARE_JSON(p["evidence"]["redactions"].size(), json(evidence.redactions.counts.size()));
    QCOMPARE_JSON(p["rawReply"], json(rawReply.toStdString()));
    QCOMPARE_JSON(p["provider"], json(d.diagnosis.source.provider.toStdString()));
    QCOMPARE_JSON(p["model"], json(model.toStdString()));
    QCOMPARE_JSON(p["promptVersion"], json(modelAsked ? prompts->version.toStdString() : std::string()));
    QCOMPARE_JSON(p["promptTokens"], json(promptTokens));
    QCOMPARE_JSON(p["completionTokens"], json(completionTokens));
    QCOMPARE_JSON(p["costUsd"], json(cost));
    QCOMPARE_JSON(p["tier"], json(tier.toStdString()));
    QCOMPARE_JSON(p["route"].size(), json(route.size()));
    QCOMPARE_JSON(p["fallbackReason"], json(fallbackReason.toStdString()));
    // The decision itself keeps the same (it is stored and mirrored from this JSON).
    const json &g = p["decision"]["diagnosis"];
    QCOMPARE_JSON(g["rawReply"], json(rawReply.toStdString()));
    QCOMPARE_JSON(g["promptTokens"], json(promptTokens));
    QCOMPARE_JSON(g["completionTokens"], json(completionTokens));
    QCOMPARE_JSON(g["costUsd"], json(cost));
    QCOMPARE_JSON(g["route"].size(), json(route.size()));
    QCOMPARE_JSON(g["tier"], json(tier.toStdString()));
    const Result<Decision> stored = rig.store->load(proposed->id);
    QVERIFY(stored.ok());
    QCOMPARE(stored->diagnosis.route, route);
    QCOMPARE(stored->diagnosis.rawReply, rawReply);

    const QString whole = QString::fromStdString(audit::toJson(row).dump());
    for (const QString &secret : kSecrets)
        QVERIFY2(!whole.contains(secret), qPrintable("secret in the audit row: " + secret));
}

QTEST_GUILESS_MAIN(TestExecutor)
#include "tst_executor.moc"
