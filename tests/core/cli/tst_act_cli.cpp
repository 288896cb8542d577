// vigilctl act against a scripted API server (and alert sinks on the same
// server): approve → preview → execute → verify, reject with a reason,
// --dry-run, --undo, unknown ids, a decision already executed, suggest-only,
// and the create_alert destinations given as flags or configured in the policy's
// alerts: section (environment variables override the file and carry bearer
// tokens; flags override both), with the Alertmanager v2
// body checked against the postableAlerts definition of Alertmanager's
// OpenAPI spec (api/v2/openapi.yaml) and the Slack-compatible body.

#include "core/act/decisionstore.h"
#include "core/audit/auditlog.h"
#include "core/cli/cli.h"
#include "core/guard/guardrails.h"
#include "core/guard/policy.h"
#include "httptestserver.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>
#include <QTextStream>

using namespace vigil;
using json = nlohmann::json;
using test::HttpExchange;
using test::HttpTestServer;

namespace {

const QString kEvents = "/api/v1/namespaces/shop/events";
const QString kScale = "/apis/apps/v1/namespaces/shop/deployments/web/scale";
const QString kDeployment = "/apis/apps/v1/namespaces/shop/deployments/web";

// The API server of namespace shop with one Deployment (web) whose ready count follows its scale at once.
class FakeApi {
public:
    FakeApi()
        : server([this](HttpExchange *ex) { handle(ex); })
    {
    }

    // Requests that would change something: not GET, not a dry run, not the identity lookup.
    QStringList changes() const
    {
        QStringList out;
        for (const test::HttpRequest &r : server.requests()) {
            if (r.method == "GET" || r.query.hasQueryItem("dryRun") || r.path.contains("selfsubjectreviews"))
                continue;
            out << QString::fromLatin1(r.method) + ' ' + r.path;
        }
        return out;
    }
    QList<int> patchedReplicas() const
    {
        QList<int> out;
        for (const test::HttpRequest &r : server.requestsTo(kScale)) {
            if (r.method == "PATCH" && !r.query.hasQueryItem("dryRun"))
                out << json::parse(r.body.toStdString())["spec"]["replicas"].get<int>();
        }
        return out;
    }

    HttpTestServer server;
    int replicas = 3;
    QSet<QString> events;

private:
    void handle(HttpExchange *ex)
    {
        const test::HttpRequest &r = ex->request();
        const bool dry = r.query.hasQueryItem("dryRun");
        if (r.path == "/apis/authentication.k8s.io/v1/selfsubjectreviews")
            return ex->respondJson(
                201, R"({"kind":"SelfSubjectReview","status":{"userInfo":{"username":"kubernetes-admin"}}})");
        if (r.path == kEvents && r.method == "POST") {
            const json e = json::parse(r.body.toStdString());
            if (!dry)
                events.insert(QString::fromStdString(e["metadata"]["name"].get<std::string>()));
            return ex->respondJson(201, r.body);
        }
        if (r.path.startsWith(kEvents + '/') && r.method == "GET") {
            if (events.contains(r.path.mid(kEvents.size() + 1)))
                return ex->respondJson(200, R"({"kind":"Event"})");
            return ex->respondJson(
                404, R"({"kind":"Status","code":404,"reason":"NotFound","message":"no event"})");
        }
        if (r.path == kScale && r.method == "GET")
            return ex->respondJson(200, scale());
        if (r.path == kScale && r.method == "PATCH") {
            const int to = json::parse(r.body.toStdString())["spec"]["replicas"].get<int>();
            if (!dry)
                replicas = to;
            json doc = json::parse(scale().toStdString());
            doc["spec"]["replicas"] = to;
            return ex->respondJson(200, QByteArray::fromStdString(doc.dump()));
        }
        if (r.path == kDeployment && r.method == "GET")
            return ex->respondJson(200,
                                   QByteArray::fromStdString(json{{"kind", "Deployment"},
                                                                  {"spec", {{"replicas", replicas}}},
                                                                  {"status", {{"readyReplicas", replicas}}}}
                                                                 .dump()));
        if (r.path == "/am/api/v2/alerts" || r.path == "/slack" || r.path == "/hook" || r.path == "/other")
            return ex->respond(200, "ok", {{"Content-Type", "text/plain"}});
        ex->respondJson(404, R"({"kind":"Status","code":404,"reason":"NotFound","message":"not scripted"})");
    }
    QByteArray scale() const
    {
        return QByteArray::fromStdString(
            json{{"kind", "Scale"}, {"spec", {{"replicas", replicas}}}, {"status", {{"replicas", replicas}}}}
                .dump());
    }
};

// True when text is an RFC 3339 date-time (Go's strfmt.DateTime, what Alertmanager parses).
bool isDateTime(const std::string &text)
{
    return QDateTime::fromString(QString::fromStdString(text), Qt::ISODateWithMs).isValid() &&
           (text.back() == 'Z' || text.find('+') != std::string::npos);
}

// postableAlerts: an array of postableAlert = {startsAt?, endsAt?: date-time, annotations?: labelSet,
// labels: labelSet (required), generatorURL?: uri}; labelSet = object of string values.
QString postableAlertsProblem(const json &body)
{
    if (!body.is_array() || body.empty())
        return "not a non-empty array";
    for (const json &a : body) {
        if (!a.is_object())
            return "an alert is not an object";
        for (auto it = a.begin(); it != a.end(); ++it) {
            const std::string &k = it.key();
            if (k != "startsAt" && k != "endsAt" && k != "annotations" && k != "labels" &&
                k != "generatorURL")
                return QString::fromStdString("unknown field " + k);
        }
        if (!a.contains("labels"))
            return "labels missing";
        for (const char *set : {"labels", "annotations"}) {
            if (!a.contains(set))
                continue;
            if (!a[set].is_object())
                return QString(set) + " is not an object";
            for (auto it = a[set].begin(); it != a[set].end(); ++it) {
                if (!it->is_string())
                    return QString(set) + "." + QString::fromStdString(it.key()) + " is not a string";
            }
        }
        for (const char *t : {"startsAt", "endsAt"}) {
            if (a.contains(t) && (!a[t].is_string() || !isDateTime(a[t].get<std::string>())))
                return QString(t) + " is not an RFC 3339 date-time";
        }
    }
    return QString();
}

} // namespace

class TestActCli final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init();
    void approveRunsPreviewExecuteVerifyAndNotifiesEverySink();
    void alertDestinationsFromThePolicy_data();
    void alertDestinationsFromThePolicy();
    void badAlertSettings_data();
    void badAlertSettings();
    void rejectRecordsTheReason();
    void dryRunOnlyPreviews();
    void undoRestoresTheScale();
    void unknownIdIsNamed_data();
    void unknownIdIsNamed();
    void alreadyExecutedIsRefused();
    void suggestOnlyRefuses_data();
    void suggestOnlyRefuses();
    void badArguments_data();
    void badArguments();

private:
    int run(QStringList args, QString *out, QString *err);
    QString propose(ActionKind kind, const json &params);
    QStringList auditKinds(const QString &decision);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<FakeApi> m_api;
    QString m_kubeconfig;
};

void TestActCli::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    m_api = std::make_unique<FakeApi>();
    QVERIFY(m_api->server.listen());
    m_kubeconfig = m_dir->filePath("kubeconfig");
    QFile f(m_kubeconfig);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("apiVersion: v1\nkind: Config\ncurrent-context: t\n"
            "clusters:\n- name: c\n  cluster:\n    server: " +
            m_api->server.url().toEncoded() +
            "\nusers:\n- name: u\n  user: {}\n"
            "contexts:\n- name: t\n  context: {cluster: c, user: u, namespace: shop}\n");
}

int TestActCli::run(QStringList args, QString *outText, QString *errText)
{
    QTextStream out(outText), err(errText);
    args.prepend("act");
    args.prepend("vigilctl");
    args << "--db" << m_dir->path() << "--kubeconfig" << m_kubeconfig;
    const int code = cli::run(args, out, err);
    out.flush();
    err.flush();
    return code;
}

// A decision the way a session stores it: judged by the default policy, proposed, audited.
QString TestActCli::propose(ActionKind kind, const json &params)
{
    guard::IncidentTarget t;
    t.namespaceName = "shop";
    t.podName = "web-7d4b9c8f6-x2k9p";
    t.ownerKind = "Deployment";
    t.ownerName = "web";
    t.nodeName = "kwok-node-0";
    Diagnosis d;
    d.diagnosis = "web fails its readiness probe: the cache backend is unreachable";
    d.confidence = 0.9;
    d.action = kind;
    d.parameters = params;
    const guard::Verdict v =
        guard::evaluate({d, QString(), t}, {guard::defaultPolicy(), QDateTime::currentDateTimeUtc(), {}});
    const act::Decision decision = act::newDecision("fp-web", t, d, v);
    auto store = act::DecisionStore::open(m_dir->filePath("decisions.db"));
    if (!store || !(*store)->insert(decision).ok())
        return QString();
    return decision.id;
}

QStringList TestActCli::auditKinds(const QString &decision)
{
    auto log = audit::AuditLog::open(m_dir->filePath("audit.db"));
    audit::AuditFilter f;
    f.decisionId = decision;
    QStringList out;
    const Result<QList<audit::AuditEvent>> rows = (*log)->query(f); // outlives the loop
    for (const audit::AuditEvent &e : *rows)
        out << e.kind;
    return out;
}

void TestActCli::approveRunsPreviewExecuteVerifyAndNotifiesEverySink()
{
    const QString id =
        propose(ActionKind::CreateAlert, {{"severity", "critical"}, {"summary", "web is not ready"}});
    QVERIFY(!id.isEmpty());
    const QString base = m_api->server.url().toString();
    QString out, err;
    const int code = run({id, "--approve", "--alertmanager-url", base + "/am", "--slack-webhook-url",
                          base + "/slack", "--webhook-url", base + "/hook", "--verify-timeout", "5"},
                         &out, &err);
    QVERIFY2(code == 0, qPrintable(out + err));
    QVERIFY2(out.contains("preview: would record Warning Event shop/vigil-alert-" + id) &&
                 out.contains("and notify Alertmanager, Slack webhook, webhook"),
             qPrintable(out));
    QVERIFY2(out.contains("decision " + id + ": verified"), qPrintable(out));
    QCOMPARE(m_api->changes(),
             (QStringList{"POST " + kEvents, "POST /am/api/v2/alerts", "POST /slack", "POST /hook"}));
    QCOMPARE(auditKinds(id).join(','), QString("previewed,approved,executing,executed,verified"));

    // Alertmanager v2: a postableAlerts body naming the pod and carrying the summary.
    const json am = json::parse(m_api->server.requestsTo("/am/api/v2/alerts").first().body.toStdString());
    QVERIFY2(postableAlertsProblem(am).isEmpty(),
             qPrintable(postableAlertsProblem(am) + ": " + QString::fromStdString(am.dump())));
    QCOMPARE(am.size(), std::size_t(1));
    QVERIFY(am[0]["labels"]["alertname"] == "VigilAlert");
    QVERIFY(am[0]["labels"]["severity"] == "critical");
    QVERIFY(am[0]["labels"]["namespace"] == "shop");
    QVERIFY(am[0]["labels"]["pod"] == "web-7d4b9c8f6-x2k9p");
    QVERIFY(am[0]["labels"]["decision"] == id.toStdString());
    QVERIFY(am[0]["annotations"]["summary"] == "web is not ready");
    QVERIFY(am[0].contains("startsAt"));
    QCOMPARE(m_api->server.requestsTo("/am/api/v2/alerts").first().header("content-type"),
             QByteArray("application/json"));

    // Slack-compatible: {"text": ...} and nothing else.
    const json slack = json::parse(m_api->server.requestsTo("/slack").first().body.toStdString());
    QVERIFY(slack.is_object() && slack.size() == 1 && slack["text"].is_string());
    QCOMPARE(QString::fromStdString(slack["text"].get<std::string>()),
             QString("[critical] web is not ready (pod shop/web-7d4b9c8f6-x2k9p)"));

    // The generic webhook gets the whole alert document.
    const json hook = json::parse(m_api->server.requestsTo("/hook").first().body.toStdString());
    QVERIFY(hook["decision"] == id.toStdString() && hook["severity"] == "critical" &&
            hook["source"] == "vigil");

    // The audit log names the approver (OS and Kubernetes user) and keeps webhook URLs to their origin.
    auto log = audit::AuditLog::open(m_dir->filePath("audit.db"));
    audit::AuditFilter f;
    f.decisionId = id;
    f.kind = "executed";
    const QList<audit::AuditEvent> executed = *(*log)->query(f);
    QCOMPARE(executed.size(), 1);
    QVERIFY2(executed[0].actor.endsWith("k8s:kubernetes-admin"), qPrintable(executed[0].actor));
    const json sinks = executed[0].payload["result"]["response"]["sinks"];
    QVERIFY2(sinks["slack"]["url"] == base.toStdString(), sinks.dump().c_str());
    QVERIFY(sinks["alertmanager"]["status"] == 200);
}

void TestActCli::alertDestinationsFromThePolicy_data()
{
    // BASE stands for the scripted server's URL.
    QTest::addColumn<QString>("alerts"); // the policy's alerts: section
    QTest::addColumn<QStringList>("flags");
    QTest::addColumn<QStringList>("env");   // NAME=value
    QTest::addColumn<QStringList>("posts"); // sink paths that received the alert, in order
    QTest::addColumn<QString>("hookAuth");  // the Authorization header /hook got ("" none)

    QTest::newRow("every destination from the policy file")
        << "alerts:\n  alertmanagerUrl: BASE/am\n  slackWebhookUrl: BASE/slack\n  webhookUrl: BASE/hook\n"
        << QStringList() << QStringList() << QStringList{"/am/api/v2/alerts", "/slack", "/hook"} << "";
    QTest::newRow("a flag overrides the file")
        << "alerts:\n  webhookUrl: BASE/other\n"
        << QStringList{"--webhook-url", "BASE/hook"} << QStringList() << QStringList{"/hook"} << "";
    QTest::newRow("the environment overrides the file and carries the token")
        << "alerts:\n  webhookUrl: BASE/other\n"
        << QStringList() << QStringList{"VIGIL_WEBHOOK_URL=BASE/hook", "VIGIL_WEBHOOK_TOKEN=t0k3n"}
        << QStringList{"/hook"} << "Bearer t0k3n";
    QTest::newRow("a Slack URL kept out of the file")
        << "mode: approve\n"
        << QStringList() << QStringList{"VIGIL_SLACK_WEBHOOK_URL=BASE/slack"} << QStringList{"/slack"} << "";
    QTest::newRow("no destinations: the Event only") << "mode: approve\n"
                                                     << QStringList() << QStringList() << QStringList() << "";
}

void TestActCli::alertDestinationsFromThePolicy()
{
    QFETCH(QString, alerts);
    QFETCH(QStringList, flags);
    QFETCH(QStringList, env);
    QFETCH(QStringList, posts);
    QFETCH(QString, hookAuth);
    const QString base = m_api->server.url().toString();
    const QString policy = m_dir->filePath("policy.yaml");
    QFile f(policy);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QString(alerts).replace("BASE", base).toUtf8());
    f.close();
    for (const QString &e : env)
        qputenv(e.section('=', 0, 0).toLatin1(), e.section('=', 1).replace("BASE", base).toUtf8());
    const QString id =
        propose(ActionKind::CreateAlert, {{"severity", "warning"}, {"summary", "web is not ready"}});
    QStringList args{id, "--approve", "--policy", policy, "--verify-timeout", "5"};
    for (const QString &flag : flags)
        args << QString(flag).replace("BASE", base);
    QString out, err;
    const int code = run(args, &out, &err);
    for (const QString &e : env)
        qunsetenv(e.section('=', 0, 0).toLatin1());
    QVERIFY2(code == 0, qPrintable(out + err));
    QStringList sent;
    for (const QString &change : m_api->changes()) {
        if (change != "POST " + kEvents)
            sent << change.mid(5);
    }
    QCOMPARE(sent, posts);
    if (posts.contains("/hook"))
        QCOMPARE(QString::fromLatin1(m_api->server.requestsTo("/hook").first().header("authorization")),
                 hookAuth);
}

void TestActCli::badAlertSettings_data()
{
    QTest::addColumn<QString>("policy");
    QTest::addColumn<QString>("env"); // NAME=value or empty
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("message");
    QTest::newRow("password in the policy file names file, line and field")
        << "mode: approve\nalerts:\n  alertmanagerUrl: http://admin:pw@am.example:9093\n"
        << "" << 1
        << "policy.yaml:3: field 'alerts.alertmanagerUrl': 'http://am.example:9093' carries a user name or "
           "password";
    QTest::newRow("environment URL with another scheme names the variable")
        << "mode: approve\n"
        << "VIGIL_ALERTMANAGER_URL=ftp://am.example" << 2
        << "environment variable VIGIL_ALERTMANAGER_URL 'ftp://am.example' is not an http";
    QTest::newRow("token with a line break")
        << "mode: approve\n"
        << "VIGIL_WEBHOOK_TOKEN=a\nX-Evil: 1" << 2
        << "environment variable VIGIL_WEBHOOK_TOKEN holds a control character";
}

void TestActCli::badAlertSettings()
{
    QFETCH(QString, policy);
    QFETCH(QString, env);
    QFETCH(int, code);
    QFETCH(QString, message);
    const QString path = m_dir->filePath("policy.yaml");
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(policy.toUtf8());
    f.close();
    if (!env.isEmpty())
        qputenv(env.section('=', 0, 0).toLatin1(), env.section('=', 1).toUtf8());
    QString out, err;
    const int got = run({"x", "--approve", "--policy", path}, &out, &err);
    if (!env.isEmpty())
        qunsetenv(env.section('=', 0, 0).toLatin1());
    QCOMPARE(got, code);
    QVERIFY2(err.contains(message), qPrintable(err));
    QVERIFY(m_api->server.requests().isEmpty());
}

void TestActCli::rejectRecordsTheReason()
{
    const QString id =
        propose(ActionKind::CreateAlert, {{"severity", "warning"}, {"summary", "web is not ready"}});
    QString out, err;
    QCOMPARE(run({id.left(8), "--reject", "--reason", "the cache team is on it"}, &out, &err), 0);
    QVERIFY2(out.contains("decision " + id + ": rejected"), qPrintable(out + err));
    QVERIFY(m_api->changes().isEmpty());
    auto log = audit::AuditLog::open(m_dir->filePath("audit.db"));
    audit::AuditFilter f;
    f.decisionId = id;
    f.kind = "rejected";
    const QList<audit::AuditEvent> rows = *(*log)->query(f);
    QCOMPARE(rows.size(), 1);
    QVERIFY(rows[0].payload["reason"] == "the cache team is on it");
    QVERIFY(rows[0].payload["decision"]["rejectReason"] == "the cache team is on it");
    // Rejected is final: approving it afterwards is refused, and nothing reaches the API.
    QCOMPARE(run({id, "--approve"}, &out, &err), 1);
    QVERIFY2(err.contains("already rejected"), qPrintable(err));
    QVERIFY(m_api->changes().isEmpty());
}

void TestActCli::dryRunOnlyPreviews()
{
    const QString id =
        propose(ActionKind::ScaleDeployment, {{"namespace", "shop"}, {"deployment", "web"}, {"replicas", 4}});
    QString out, err;
    QCOMPARE(run({id, "--approve", "--dry-run"}, &out, &err), 0);
    QVERIFY2(out.contains("preview: would scale deployment shop/web from 3 to 4 replicas"),
             qPrintable(out + err));
    QVERIFY(m_api->changes().isEmpty());
    QCOMPARE(m_api->replicas, 3);
    bool dryPatch = false;
    for (const test::HttpRequest &r : m_api->server.requestsTo(kScale))
        dryPatch = dryPatch || (r.method == "PATCH" && r.queryValue("dryRun") == "All");
    QVERIFY(dryPatch);
    QCOMPARE(auditKinds(id).join(','), QString("previewed"));
}

void TestActCli::undoRestoresTheScale()
{
    const QString id =
        propose(ActionKind::ScaleDeployment, {{"namespace", "shop"}, {"deployment", "web"}, {"replicas", 4}});
    QString out, err;
    QVERIFY2(run({id, "--approve", "--verify-timeout", "5"}, &out, &err) == 0, qPrintable(out + err));
    QCOMPARE(m_api->replicas, 4);
    out.clear();
    QVERIFY2(run({"--undo", id}, &out, &err) == 0, qPrintable(out + err));
    QVERIFY2(out.contains("decision " + id + ": undone"), qPrintable(out));
    QCOMPARE(m_api->replicas, 3);
    QCOMPARE(m_api->patchedReplicas(), (QList<int>{4, 3}));
    QVERIFY(auditKinds(id).join(',').endsWith("verified,undo_requested,undone"));
    // Undone once: a second undo is refused and changes nothing.
    QCOMPARE(run({"--undo", id}, &out, &err), 1);
    QVERIFY2(err.contains("it is undone"), qPrintable(err));
    QCOMPARE(m_api->patchedReplicas(), (QList<int>{4, 3}));
}

void TestActCli::unknownIdIsNamed_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::newRow("approve") << QStringList{"d0d0d0d0-nope", "--approve"};
    QTest::newRow("reject") << QStringList{"d0d0d0d0-nope", "--reject", "--reason", "x"};
    QTest::newRow("undo") << QStringList{"--undo", "d0d0d0d0-nope"};
    QTest::newRow("dry run") << QStringList{"d0d0d0d0-nope", "--approve", "--dry-run"};
}

void TestActCli::unknownIdIsNamed()
{
    QFETCH(QStringList, args);
    propose(ActionKind::CreateAlert, {{"severity", "info"}, {"summary", "x"}});
    QString out, err;
    QCOMPARE(run(args, &out, &err), 1);
    QVERIFY2(err.contains("no decision with id 'd0d0d0d0-nope'"), qPrintable(err));
    QVERIFY(m_api->changes().isEmpty());
}

void TestActCli::alreadyExecutedIsRefused()
{
    const QString id =
        propose(ActionKind::CreateAlert, {{"severity", "warning"}, {"summary", "web is not ready"}});
    QString out, err;
    QVERIFY2(run({id, "--approve", "--verify-timeout", "5"}, &out, &err) == 0, qPrintable(out + err));
    const QStringList first = m_api->changes();
    QCOMPARE(first, QStringList{"POST " + kEvents});
    err.clear();
    QCOMPARE(run({id, "--approve"}, &out, &err), 1);
    QVERIFY2(err.contains("refused: decision " + id + " is already verified") &&
                 err.contains("executed at most once"),
             qPrintable(err));
    QCOMPARE(m_api->changes(), first);
}

void TestActCli::suggestOnlyRefuses_data()
{
    QTest::addColumn<bool>("executedFirst");
    QTest::addColumn<QString>("message");
    QTest::newRow("approve") << false << "cannot approve decision";
    QTest::newRow("undo") << true << "refused to undo decision";
}

void TestActCli::suggestOnlyRefuses()
{
    QFETCH(bool, executedFirst);
    QFETCH(QString, message);
    QFile policy(m_dir->filePath("policy.yaml"));
    QVERIFY(policy.open(QIODevice::WriteOnly));
    policy.write("mode: suggest-only\n");
    policy.close();
    const QString id =
        propose(ActionKind::ScaleDeployment, {{"namespace", "shop"}, {"deployment", "web"}, {"replicas", 4}});
    QString out, err;
    if (executedFirst)
        QVERIFY2(run({id, "--approve", "--verify-timeout", "5"}, &out, &err) == 0, qPrintable(out + err));
    const QStringList before = m_api->changes();
    const int replicas = m_api->replicas;
    const QStringList args = executedFirst ? QStringList{"--undo", id} : QStringList{id, "--approve"};
    QCOMPARE(run(args + QStringList{"--policy", policy.fileName()}, &out, &err), 1);
    QVERIFY2(err.contains(message) && err.contains("the policy is suggest-only (read-only)"),
             qPrintable(err));
    QCOMPARE(m_api->changes(), before);
    QCOMPARE(m_api->replicas, replicas);
    QCOMPARE(auditKinds(id).count("approved"), executedFirst ? 1 : 0);
}

void TestActCli::badArguments_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("message");
    QTest::newRow("slack url with another scheme")
        << QStringList{"x", "--approve", "--slack-webhook-url", "ftp://hooks.example/T/B"}
        << "--slack-webhook-url 'ftp://hooks.example/T/B' is not an http";
    QTest::newRow("alertmanager url without a host")
        << QStringList{"x", "--approve", "--alertmanager-url", "http://"} << "--alertmanager-url 'http://'";
    QTest::newRow("webhook url that is no url")
        << QStringList{"x", "--approve", "--webhook-url", "not a url"} << "--webhook-url 'not a url'";
    QTest::newRow("webhook url with a password")
        << QStringList{"x", "--approve", "--webhook-url", "https://bot:pw@hooks.example/x"}
        << "--webhook-url 'https://hooks.example/x' carries a user name or password";
    QTest::newRow("reject without a reason") << QStringList{"x", "--reject"} << "--reject needs --reason";
    QTest::newRow("dry run of a rejection")
        << QStringList{"x", "--reject", "--reason", "r", "--dry-run"} << "use it with --approve";
    QTest::newRow("approve and reject")
        << QStringList{"x", "--approve", "--reject"} << "use 'act DECISION_ID";
    QTest::newRow("no id") << QStringList{"--approve"} << "use 'act DECISION_ID";
}

void TestActCli::badArguments()
{
    QFETCH(QStringList, args);
    QFETCH(QString, message);
    QString out, err;
    QCOMPARE(run(args, &out, &err), 2);
    QVERIFY2(err.contains(message), qPrintable(err));
    QVERIFY(m_api->server.requests().isEmpty());
}

QTEST_GUILESS_MAIN(TestActCli)
#include "tst_act_cli.moc"
