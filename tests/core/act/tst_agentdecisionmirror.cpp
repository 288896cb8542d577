// AgentDecisionMirror::start() against a scripted API server: mirroring
// starts only when discovery serves agentdecisions and every
// SelfSubjectAccessReview allows it; otherwise the error says
// "not mirrored because ..." and names the missing CRD or each denied verb.
// Once started, every decision the Executor proposes or moves is applied,
// one write in flight per decision, the latest state last.

#include "core/act/agentdecisionmirror.h"

#include "core/act/actions.h"
#include "core/act/decisionstore.h"
#include "core/act/executor.h"
#include "core/audit/auditlog.h"
#include "core/cli/await.h"
#include "httptestserver.h"

#include <QPointer>
#include <QTemporaryDir>
#include <QTest>

using namespace vigil;
using namespace vigil::act;
using json = nlohmann::json;
using test::HttpExchange;
using test::HttpTestServer;

namespace {

class NoCredentials final : public kube::CredentialSource {
public:
    Result<kube::Credentials> credentials() override { return kube::Credentials(); }
    void invalidate() override {}
    QString method() const override { return QStringLiteral("none"); }
};

const QString kDiscovery = "/apis/ai.vigil.dev/v1alpha1";
const QString kReviews = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

QByteArray discovery(bool withAgentDecisions)
{
    json resources = json::array({{{"name", "other"}, {"namespaced", true}, {"kind", "Other"}}});
    if (withAgentDecisions)
        resources = json::array(
            {{{"name", "agentdecisions"}, {"namespaced", true}, {"kind", "AgentDecision"}},
             {{"name", "agentdecisions/status"}, {"namespaced", true}, {"kind", "AgentDecision"}}});
    return QByteArray::fromStdString(json{
        {"kind", "APIResourceList"},
        {"groupVersion", "ai.vigil.dev/v1alpha1"},
        {"resources", resources}}.dump());
}

// "verb" or "verb/subresource" of one SelfSubjectAccessReview body.
QString reviewKey(const QByteArray &body)
{
    const json attrs = json::parse(body.toStdString())["spec"]["resourceAttributes"];
    QString key = QString::fromStdString(attrs.value("verb", std::string()));
    if (attrs.contains("subresource"))
        key += '/' + QString::fromStdString(attrs["subresource"].get<std::string>());
    return key;
}

struct Rig {
    Rig()
        : server([this](HttpExchange *ex) { handle(ex); })
    {
        QVERIFY(server.listen());
        kube::Connection c;
        c.server = server.url();
        c.credentials = std::make_shared<NoCredentials>();
        kube::RestClientOptions o;
        o.qps = 0;
        o.maxRetries = 0;
        o.timeoutMs = 5000;
        client = std::make_unique<kube::RestClient>(c, o);
        runner = std::make_unique<ActionRunner>(client.get(), AlertConfig{});
        store = std::move(DecisionStore::open(dir.filePath("decisions.db")).value());
        audit = std::move(audit::AuditLog::open(dir.filePath("audit.db")).value());
        executor = std::make_unique<Executor>(store.get(), audit.get(), runner.get(), guard::Policy{});
    }

    void handle(HttpExchange *ex)
    {
        const test::HttpRequest &r = ex->request();
        if (!deepBody.isEmpty() && r.path == deepPath)
            return ex->respondJson(r.path == kReviews ? 201 : 200, deepBody);
        if (r.path == kDiscovery) {
            if (discoveryStatus != 200)
                return ex->respondJson(discoveryStatus, R"({"kind":"Status","code":)" +
                                                            QByteArray::number(discoveryStatus) +
                                                            R"(,"message":"the server could not find it"})");
            return ex->respondJson(200, discovery(served));
        }
        if (r.path == kReviews) {
            if (reviewStatus != 201)
                return ex->respondJson(reviewStatus,
                                       R"({"kind":"Status","code":500,"message":"etcd is down"})");
            const bool allowed = !denied.contains(reviewKey(r.body));
            json review = json::parse(r.body.toStdString());
            review["status"] = {{"allowed", allowed}};
            if (!allowed)
                review["status"]["reason"] = "no RBAC policy matched";
            return ex->respondJson(201, QByteArray::fromStdString(review.dump()));
        }
        if (r.method == "GET" && r.query.hasQueryItem("watch"))
            return ex->beginChunked(200, {{"Content-Type", "application/json"}}); // an open, quiet watch
        if (r.method == "PATCH" && r.path.contains("/agentdecisions/")) {
            // Applies answer after a pause, so states pile up behind the write in flight.
            QPointer<HttpExchange> guard(ex);
            const QByteArray body = r.body;
            ++inFlight;
            maxInFlight = std::max(maxInFlight, inFlight);
            ex->later(30, [this, guard, body] {
                --inFlight;
                if (guard)
                    guard->respondJson(200,
                                       QByteArray::fromStdString(json::parse(body.toStdString()).dump()));
            });
            return;
        }
        ex->respondJson(404, R"({"kind":"Status","code":404,"message":"not scripted"})");
    }

    Result<AgentDecisionMirror *> start(const QString &ns)
    {
        QObject *parent = &owner;
        return cli::await<AgentDecisionMirror *>([&](QObject *, auto cb) {
            AgentDecisionMirror::start(client.get(), executor.get(), ns, parent, cb);
        });
    }

    // The status phases applied for decision id, in the order the server received them.
    QStringList phases(const QString &id) const
    {
        QStringList out;
        for (const test::HttpRequest &r : server.requests()) {
            if (r.method != "PATCH" || !r.path.endsWith("/vigil-" + id + "/status"))
                continue;
            out << QString::fromStdString(
                json::parse(r.body.toStdString())["status"]["phase"].get<std::string>());
        }
        return out;
    }

    QTemporaryDir dir;
    HttpTestServer server;
    int discoveryStatus = 200;
    bool served = true;
    int reviewStatus = 201;
    QStringList denied;
    QString deepPath; ///< answered with deepBody when set
    QByteArray deepBody;
    int inFlight = 0;
    int maxInFlight = 0;
    QObject owner;
    std::unique_ptr<kube::RestClient> client;
    std::unique_ptr<ActionRunner> runner;
    std::unique_ptr<DecisionStore> store;
    std::unique_ptr<audit::AuditLog> audit;
    std::unique_ptr<Executor> executor;
};

Decision alertDecision()
{
    guard::IncidentTarget t;
    t.namespaceName = "shop";
    t.podName = "web-1";
    t.ownerKind = "Deployment";
    t.ownerName = "web";
    Diagnosis d;
    d.diagnosis = "web is not ready";
    d.confidence = 0.9;
    d.action = ActionKind::CreateAlert;
    d.parameters = {{"severity", "warning"}, {"summary", "web is not ready"}};
    d.reasoning = "the readiness probe fails since the cache moved";
    d.source.kind = DiagnosisSource::Llm;
    d.source.provider = "openai";
    d.source.model = "gpt-4o-mini";
    guard::Verdict v;
    v.decision = guard::Verdict::NeedsApproval;
    return newDecision("fp", t, d, v);
}

} // namespace

class TestAgentDecisionMirror final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void notMirroredSaysWhy_data();
    void notMirroredSaysWhy();
    void deepAnswersAreRefused_data();
    void deepAnswersAreRefused();
    void reviewsAskExactlyWhatTheMirrorDoes();
    void startedMirrorFollowsTheExecutor();
    void specCarriesObservationAndSource_data();
    void specCarriesObservationAndSource();
};

void TestAgentDecisionMirror::notMirroredSaysWhy_data()
{
    QTest::addColumn<int>("discoveryStatus");
    QTest::addColumn<bool>("served");
    QTest::addColumn<int>("reviewStatus");
    QTest::addColumn<QStringList>("denied");
    QTest::addColumn<QString>("message");
    QTest::newRow("CRD not installed")
        << 404 << true << 201 << QStringList{}
        << "not mirrored because the AgentDecision CRD is not installed "
           "(ai.vigil.dev/v1alpha1 is not served; apply resources/crd/agentdecision.yaml)";
    QTest::newRow("group served without agentdecisions")
        << 200 << false << 201 << QStringList{}
        << "not mirrored because ai.vigil.dev/v1alpha1 is served "
           "without agentdecisions";
    QTest::newRow("discovery fails") << 503 << true << 201 << QStringList{}
                                     << "not mirrored because discovery of ai.vigil.dev/v1alpha1 failed";
    QTest::newRow("RBAC denies writing status")
        << 200 << true << 201 << QStringList{"patch/status"}
        << "not mirrored because RBAC denies patch agentdecisions/status (no RBAC policy matched) in "
           "namespace shop";
    QTest::newRow("RBAC denies watch and create, both named")
        << 200 << true << 201 << QStringList{"watch", "create"}
        << "not mirrored because RBAC denies watch agentdecisions (no RBAC policy matched), create "
           "agentdecisions "
           "(no RBAC policy matched) in namespace shop";
    QTest::newRow("access reviews fail")
        << 200 << true << 500 << QStringList{} << "not mirrored because cannot ask whether ";
}

void TestAgentDecisionMirror::notMirroredSaysWhy()
{
    QFETCH(int, discoveryStatus);
    QFETCH(bool, served);
    QFETCH(int, reviewStatus);
    QFETCH(QStringList, denied);
    QFETCH(QString, message);
    Rig rig;
    rig.discoveryStatus = discoveryStatus;
    rig.served = served;
    rig.reviewStatus = reviewStatus;
    rig.denied = denied;
    Result<AgentDecisionMirror *> started = rig.start("shop");
    QVERIFY(!started);
    QVERIFY2(started.errorMessage().startsWith(message), qPrintable(started.errorMessage()));
    QCOMPARE(rig.owner.findChildren<AgentDecisionMirror *>().size(), 0);
    // Nothing is written when mirroring is not possible.
    QVERIFY(rig.executor->propose(alertDecision()));
    QTest::qWait(100);
    for (const test::HttpRequest &r : rig.server.requests())
        QVERIFY2(r.method == "GET" || r.path == kReviews, qPrintable(r.method + ' ' + r.path));
}

void TestAgentDecisionMirror::deepAnswersAreRefused_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("message");
    // 100,000 levels parse, but copying status out of them recurses past the stack.
    const QByteArray arrays = QByteArray(100000, '[') + QByteArray(100000, ']');
    const QByteArray objects = QByteArray("{\"a\":").repeated(100000) + "1" + QByteArray(100000, '}');
    const QString discoveryFailed =
        "not mirrored because discovery of ai.vigil.dev/v1alpha1 failed: the response "
        "is nested deeper than 512 levels";
    QTest::newRow("discovery [[[") << QString(kDiscovery) << arrays << discoveryFailed;
    QTest::newRow("discovery {\"a\":") << QString(kDiscovery) << objects << discoveryFailed;
    QTest::newRow("access review [[[")
        << QString(kReviews) << arrays << "not mirrored because cannot ask whether ";
    QTest::newRow("access review {\"a\": in status")
        << QString(kReviews) << QByteArray(R"({"kind":"SelfSubjectAccessReview","status":)") + objects + "}"
        << "not mirrored because cannot ask whether ";
}

void TestAgentDecisionMirror::deepAnswersAreRefused()
{
    QFETCH(QString, path);
    QFETCH(QByteArray, body);
    QFETCH(QString, message);
    Rig rig;
    rig.deepPath = path;
    rig.deepBody = body;
    Result<AgentDecisionMirror *> started = rig.start("shop");
    QVERIFY(!started);
    QVERIFY2(started.errorMessage().startsWith(message), qPrintable(started.errorMessage()));
    QVERIFY2(started.errorMessage().endsWith("the response is nested deeper than 512 levels"),
             qPrintable(started.errorMessage()));
}

void TestAgentDecisionMirror::reviewsAskExactlyWhatTheMirrorDoes()
{
    Rig rig;
    Result<AgentDecisionMirror *> started = rig.start(QString());
    QVERIFY2(started.ok(), qPrintable(started.errorMessage()));
    QStringList asked;
    for (const test::HttpRequest &r : rig.server.requestsTo(kReviews)) {
        const json attrs = json::parse(r.body.toStdString())["spec"]["resourceAttributes"];
        QVERIFY(attrs["group"] == "ai.vigil.dev" && attrs["resource"] == "agentdecisions");
        QVERIFY2(!attrs.contains("namespace"), "an empty namespace asks cluster-wide");
        asked << reviewKey(r.body);
    }
    asked.sort();
    QCOMPARE(asked, (QStringList{"create", "get", "list", "patch", "patch/status", "watch"}));
}

void TestAgentDecisionMirror::startedMirrorFollowsTheExecutor()
{
    Rig rig;
    Result<AgentDecisionMirror *> started = rig.start("shop");
    QVERIFY2(started.ok(), qPrintable(started.errorMessage()));
    QCOMPARE((*started)->parent(), &rig.owner);
    QTRY_VERIFY_WITH_TIMEOUT(
        !rig.server.requestsTo("/apis/ai.vigil.dev/v1alpha1/namespaces/shop/agentdecisions").isEmpty(),
        5000); // the approval watch

    // Proposed, then approved and rejected-by-nobody in quick succession: every state is written in order,
    // never two writes of one decision at once, and the last one applied is the latest state.
    Result<Decision> d = rig.executor->propose(alertDecision());
    QVERIFY(d);
    Approver alice{"alice", "system:admin", "test"};
    QVERIFY(rig.executor->approve(d->id, alice));
    QTRY_COMPARE_WITH_TIMEOUT(rig.phases(d->id).value(rig.phases(d->id).size() - 1), QString("approved"),
                              5000);
    QTest::qWait(200);
    const QStringList phases = rig.phases(d->id);
    QVERIFY2(phases.size() >= 1 && phases.size() <= 2, qPrintable(phases.join(',')));
    QCOMPARE(phases.last(), QString("approved"));
    QCOMPARE(rig.maxInFlight, 1);
    // The spec apply never carries spec.approved, so a person's approval is never overwritten.
    for (const test::HttpRequest &r : rig.server.requests()) {
        if (r.method == "PATCH" && r.path.endsWith("/vigil-" + d->id)) {
            const json spec = json::parse(r.body.toStdString())["spec"];
            QVERIFY(!spec.contains("approved"));
            // The CRD's reasoning and provider/model travel with the spec.
            QVERIFY(spec["reasoning"] == "the readiness probe fails since the cache moved");
            QVERIFY(spec["provider"] == "openai" && spec["model"] == "gpt-4o-mini");
            QCOMPARE(r.header("content-type"), QByteArray("application/apply-patch+yaml"));
        }
    }
}

void TestAgentDecisionMirror::specCarriesObservationAndSource_data()
{
    QTest::addColumn<int>("source");
    QTest::addColumn<QString>("observation");
    QTest::addColumn<QString>("provider");
    QTest::addColumn<QString>("model");
    QTest::addColumn<int>("observationSize");
    const QString seen = "CrashLoopBackOff on Deployment shop/web (6 times): back-off 5m0s";
    QTest::newRow("model's decision: its provider and model") << int(DiagnosisSource::Llm) << seen << "openai"
                                                              << "gpt-4o-mini" << int(seen.size());
    QTest::newRow("rules' decision (the agent without a model): provider and model say rules")
        << int(DiagnosisSource::Rules) << seen << "rules"
        << "rules" << int(seen.size());
    QTest::newRow("cached model answer keeps the model that gave it")
        << int(DiagnosisSource::Cache) << seen << "openai"
        << "gpt-4o-mini" << int(seen.size());
    QTest::newRow("observation longer than the CRD allows is cut to 8192")
        << int(DiagnosisSource::Llm) << QString(9000, 'x') << "openai"
        << "gpt-4o-mini" << 8192;
}

void TestAgentDecisionMirror::specCarriesObservationAndSource()
{
    QFETCH(int, source);
    QFETCH(QString, observation);
    QFETCH(QString, provider);
    QFETCH(QString, model);
    QFETCH(int, observationSize);
    Decision d = alertDecision();
    d.observation = observation;
    d.diagnosis.source.kind = DiagnosisSource::Kind(source);
    if (source == int(DiagnosisSource::Rules)) {
        d.diagnosis.source.provider.clear();
        d.diagnosis.source.model.clear();
    }
    const json spec = AgentDecisionMirror::specManifest(d)["spec"];
    QCOMPARE(QString::fromStdString(spec.value("observation", std::string())).size(), observationSize);
    QVERIFY(
        QString::fromStdString(spec.value("observation", std::string())).startsWith(observation.left(100)));
    QCOMPARE(QString::fromStdString(spec.value("provider", std::string())), provider);
    QCOMPARE(QString::fromStdString(spec.value("model", std::string())), model);
    // The observation survives the decision's own JSON (store, annotations, audit).
    const Result<Decision> back = Decision::fromJson(d.toJson());
    QVERIFY(back.ok());
    QCOMPARE(back->observation, observation);
}

QTEST_GUILESS_MAIN(TestAgentDecisionMirror)
#include "tst_agentdecisionmirror.moc"
