// Router: escalation, repair, fallback with reasons, cache, coalescing and
// redaction, against a local server speaking the OpenAI Chat Completions shape.

#include "core/reason/router.h"

#include "core/gather/gatherer.h"
#include "core/reason/llm/costmeter.h"
#include "core/reason/llm/diagnosiscache.h"
#include "core/reason/llm/openaiprovider.h"
#include "core/reason/llm/resilientprovider.h"
#include "core/reason/llm/secretstore.h"

#include "cannedserver.h"
#include "llmtestutil.h"

#include <QElapsedTimer>
#include <QTest>

using namespace vigil;
using vigil::test::CannedResponse;
using M = CannedResponse::Mode;

namespace {

const QDateTime kNow = QDateTime(QDate(2026, 1, 10), QTime(12, 0), Qt::UTC);

QString answer(double confidence, const char *diagnosis = "the database is unreachable")
{
    return QString::fromStdString(
        nlohmann::json{{"diagnosis", diagnosis},
                       {"confidence", confidence},
                       {"action", "create_alert"},
                       {"parameters", {{"severity", "warning"}, {"summary", "db down"}}},
                       {"reasoning", "the log says connection refused"}}
            .dump());
}

// A chat.completion with `content` (null when empty) and the given extras.
QByteArray completion(const QString &content, const char *finish = "stop", const char *refusal = nullptr,
                      const char *model = "gpt-4o-mini")
{
    nlohmann::json message{
        {"role", "assistant"},
        {"content", content.isNull() ? nlohmann::json(nullptr) : nlohmann::json(content.toStdString())},
        {"refusal", refusal ? nlohmann::json(refusal) : nlohmann::json(nullptr)}};
    return QByteArray::fromStdString(nlohmann::json{
        {"id", "c"},
        {"object", "chat.completion"},
        {"created", 1},
        {"model", model},
        {"choices", {{{"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish}, {"message", message}}}},
        {"usage", {{"prompt_tokens", 1200}, {"completion_tokens", 80}, {"total_tokens", 1280}}}}
                                         .dump());
}

CannedResponse ok(const QByteArray &body)
{
    return CannedResponse{M::Respond, 200, body, {{"Content-Type", "application/json"}}};
}

// Evidence of a crash-looping pod whose env, logs and events carry secrets.
const QStringList kSecrets{
    QStringLiteral("AKIAIOSFODNN7EXAMPLE"),
    QStringLiteral("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    QStringLiteral(
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    QStringLiteral("hunter2-prod"),
    QStringLiteral("S3cret!pw"),
    QStringLiteral("ghp_1234567890abcdefghijABCDEFGHIJ123456"),
    QStringLiteral("sk-proj-AbCdEf0123456789GhIjKlMnOpQr"),
    QStringLiteral("abcdef0123456789xyz"),
    QStringLiteral("Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="),
    QStringLiteral("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
    QStringLiteral("pgS3cret!"),
};

gather::Evidence evidence(const QString &podName = QStringLiteral("web-7d4b9c8f6-x2k9p"))
{
    gather::GatherInput in;
    in.now = kNow;
    in.subject.reason = QStringLiteral("CrashLoopBackOff");
    in.subject.namespaceName = QStringLiteral("shop");
    in.subject.workloadKind = QStringLiteral("Deployment");
    in.subject.workloadName = QStringLiteral("web");
    in.subject.container = QStringLiteral("app");
    in.subject.podName = podName;
    in.subject.pods = {podName};
    kube::PodView p;
    p.uid = QStringLiteral("u1");
    p.namespaceName = QStringLiteral("shop");
    p.name = podName;
    p.phase = QStringLiteral("Running");
    kube::ContainerStatusView c;
    c.name = QStringLiteral("app");
    c.state = QStringLiteral("waiting");
    c.reason = QStringLiteral("CrashLoopBackOff");
    c.restartCount = 5;
    c.lastTerminatedReason = QStringLiteral("Error");
    c.lastExitCode = 1;
    p.containers << c;
    in.pods << p;
    in.env << gather::EnvVar{QStringLiteral("app"), QStringLiteral("DB_PASSWORD"),
                             QStringLiteral("hunter2-prod")}
           << gather::EnvVar{QStringLiteral("app"), QStringLiteral("AWS_ACCESS_KEY_ID"), kSecrets[0]}
           << gather::EnvVar{QStringLiteral("app"), QStringLiteral("AWS_SECRET_ACCESS_KEY"), kSecrets[1]}
           << gather::EnvVar{QStringLiteral("app"), QStringLiteral("GITHUB_TOKEN"), kSecrets[5]};
    in.previousLog =
        QStringLiteral(
            "boot with token %1\nERROR connect postgres://app:S3cret!pw@db:5432/orders: "
            "connection refused\nopenai key %2\naws credentials: %3 / %4\n"
            "{\"type\": \"service_account\", \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n%5\\n"
            "-----END PRIVATE KEY-----\\n\"}\npsql with PGPASSWORD=%6 failed\n")
            .arg(kSecrets[2], kSecrets[6], kSecrets[0], kSecrets[1], kSecrets[9], kSecrets[10]);
    kube::EventView e;
    e.uid = QStringLiteral("e1");
    e.type = QStringLiteral("Warning");
    e.reason = QStringLiteral("BackOff");
    e.message = QStringLiteral("probe sent Authorization: Bearer abcdef0123456789xyz; storage "
                               "AccountName=acct;AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==;");
    e.involved =
        kube::ObjectRef{QStringLiteral("Pod"), QStringLiteral("v1"), QStringLiteral("shop"), podName, {}};
    e.firstSeen = e.lastSeen = kNow.addSecs(-30);
    in.events << e;
    gather::Redactor redactor;
    return gather::Gatherer().gather(in, redactor);
}

// The server, the provider stack and a router with threshold 0.9 (above the rules' own confidence).
struct Rig {
    explicit Rig(test::CannedServer::Handler handler, llm::ResilienceConfig config = {})
        : server(std::move(handler))
        , meter(llm::PriceTable::defaults(), llm::CostBudget{}, &clock)
    {
        server.listen();
        secrets.set(QStringLiteral("OPENAI_API_KEY"), QStringLiteral("sk-test-key"));
        llm::OpenAiConfig oc;
        oc.baseUrl = server.url().toString() + QStringLiteral("/v1");
        inner = std::make_unique<llm::OpenAiProvider>(oc, &secrets);
        config.retry.baseDelayMs = 1;
        config.retry.maxDelayMs = 2;
        provider = std::make_unique<llm::ResilientProvider>(
            inner.get(), &meter, &clock, [] { return 0.5; }, config);
        auto prompts = reason::loadPrompts();
        QVERIFY2(prompts.ok(), qPrintable(prompts.errorMessage()));
        reason::RouterOptions ro;
        ro.threshold = 0.9;
        ro.timeoutMs = 5000;
        router = std::make_unique<reason::Router>(*prompts, ro);
    }
    void smallAndStrong()
    {
        router->setTiers({provider.get(), QStringLiteral("gpt-4o-mini")},
                         {provider.get(), QStringLiteral("gpt-4o")});
    }
    void strongOnly() { router->setTiers({}, {provider.get(), QStringLiteral("gpt-4o")}); }

    Diagnosis run(const QString &fingerprint = QStringLiteral("fp-1"),
                  const gather::Evidence &ev = evidence(), reason::RouteMode mode = reason::RouteMode::Auto)
    {
        std::optional<Diagnosis> out;
        router->diagnose(
            fingerprint, ev, nullptr, [&out](const Diagnosis &d) { out = d; }, mode);
        if (!QTest::qWaitFor([&out] { return out.has_value(); }, 15000))
            return Diagnosis{};
        return *out;
    }
    QString userOf(int request) const
    {
        const auto body = nlohmann::json::parse(server.requests().at(request).body.toStdString());
        return QString::fromStdString(body["messages"][1]["content"].get<std::string>());
    }
    QString modelOf(int request) const
    {
        const auto body = nlohmann::json::parse(server.requests().at(request).body.toStdString());
        return QString::fromStdString(body["model"].get<std::string>());
    }

    test::CannedServer server;
    llm::SystemClock clock;
    llm::MapSecretStore secrets;
    llm::CostMeter meter;
    std::unique_ptr<llm::OpenAiProvider> inner;
    std::unique_ptr<llm::ResilientProvider> provider;
    std::unique_ptr<reason::Router> router;
};

bool validRules(const Diagnosis &d)
{
    return d.source.kind == DiagnosisSource::Rules &&
           reason::validateReplyObject(reason::diagnosisToJson(d)).ok() &&
           d.category == QLatin1String("CrashLoopBackOff");
}

} // namespace

class TestRouter final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void escalation_data();
    void escalation();
    void malformedRepliesFallBackToRules_data();
    void malformedRepliesFallBackToRules();
    void repairHappensOnceAndCarriesTheError();
    void cacheHitMakesNoRequest();
    void strongModeAsksTheStrongModel_data();
    void strongModeAsksTheStrongModel();
    void cancelEndsWithTheRulesAtOnce_data();
    void cancelEndsWithTheRulesAtOnce();
    void thousandIdenticalRequestsShareOneCall();
    void circuitOpenFallsBackWithReason();
    void unreachableProviderFallsBackWithReason();
    void noSeededSecretInAnyRequest();
    void evidenceBudgetLeavesRoomForPrompts();
};

void TestRouter::initTestCase()
{
    const Result<Diagnosis> rules = reason::RuleReasoner().diagnose(evidence());
    QVERIFY2(rules.ok(), qPrintable(rules.errorMessage()));
    QVERIFY2(rules->confidence < 0.9, "the rig's threshold must be above the rules' confidence");
}

void TestRouter::escalation_data()
{
    QTest::addColumn<bool>("withModels");
    QTest::addColumn<double>("smallConfidence");
    QTest::addColumn<double>("strongConfidence");
    QTest::addColumn<QStringList>("modelsAsked");
    QTest::addColumn<QString>("source");
    QTest::addColumn<int>("routeSteps");
    QTest::addColumn<QString>("tier");

    QTest::newRow("no model configured: rules only, no request")
        << false << 0.0 << 0.0 << QStringList{} << "rules" << 1 << "rules";
    QTest::newRow("small model confident: accepted, strong not asked")
        << true << 0.95 << 0.99 << QStringList{"gpt-4o-mini"} << "openai/gpt-4o-mini" << 2 << "small";
    QTest::newRow("small model unsure: strong model asked and accepted")
        << true << 0.5 << 0.93 << QStringList{"gpt-4o-mini", "gpt-4o"} << "openai/gpt-4o" << 3 << "strong";
    QTest::newRow("both unsure: the most confident valid answer wins, from the small tier")
        << true << 0.85 << 0.8 << QStringList{"gpt-4o-mini", "gpt-4o"} << "openai/gpt-4o-mini" << 3
        << "small";
}

void TestRouter::escalation()
{
    QFETCH(bool, withModels);
    QFETCH(double, smallConfidence);
    QFETCH(double, strongConfidence);
    QFETCH(QStringList, modelsAsked);
    QFETCH(QString, source);
    QFETCH(int, routeSteps);
    QFETCH(QString, tier);
    Rig rig([=](const test::HttpRequest &r, int) {
        const auto body = nlohmann::json::parse(r.body.toStdString());
        const bool small = body["model"] == "gpt-4o-mini";
        return ok(completion(answer(small ? smallConfidence : strongConfidence), "stop", nullptr,
                             small ? "gpt-4o-mini" : "gpt-4o"));
    });
    if (withModels)
        rig.smallAndStrong();
    const Diagnosis d = rig.run();
    QCOMPARE(rig.server.requests().size(), modelsAsked.size());
    for (int i = 0; i < modelsAsked.size(); ++i)
        QCOMPARE(rig.modelOf(i), modelsAsked[i]);
    QCOMPARE(d.source.describe(), source);
    QCOMPARE(routeTierName(d.tier), tier);
    QCOMPARE(d.route.size(), routeSteps);
    QVERIFY2(d.route.first().startsWith(QLatin1String("rules 0.")), qPrintable(d.route.join(u'|')));
    QCOMPARE(d.route.filter(QStringLiteral("(accepted)")).size(), 1);
    QVERIFY(d.fallbackReason.isEmpty());
    QCOMPARE(d.category, QStringLiteral("CrashLoopBackOff"));
    if (withModels) {
        QCOMPARE(d.promptVersion, rig.router->prompts().version);
        QCOMPARE(d.promptTokens, 1200 * int(modelsAsked.size()));
        QCOMPARE(d.completionTokens, 80 * int(modelsAsked.size()));
        QVERIFY(d.costUsd > 0.0);
    }
}

void TestRouter::malformedRepliesFallBackToRules_data()
{
    QTest::addColumn<QByteArray>("body"); // served for the request and its repair
    auto content = [](const char *name, const QString &text) { QTest::newRow(name) << completion(text); };
    const QString good = answer(0.8);
    content("prose only", QStringLiteral("I think the pod is broken."));
    content("bare number", QStringLiteral("42"));
    content("top-level array", QStringLiteral("[") + good + u']');
    content("two objects", good + QStringLiteral(" or ") + good);
    content("truncated object", QStringLiteral("{\"diagnosis\": \"x\", \"confidence\": 0.5,"));
    content("trailing comma", QStringLiteral("{\"diagnosis\": \"x\",}"));
    content("single quotes", QStringLiteral("{'diagnosis': 'x'}"));
    content("NaN confidence", QString(good).replace(QStringLiteral("0.8"), QStringLiteral("NaN")));
    content("confidence 1.5", QString(good).replace(QStringLiteral("0.8"), QStringLiteral("1.5")));
    content("confidence negative", QString(good).replace(QStringLiteral("0.8"), QStringLiteral("-0.2")));
    content("confidence as string", QString(good).replace(QStringLiteral("0.8"), QStringLiteral("\"0.8\"")));
    content("missing reasoning",
            QStringLiteral("{\"diagnosis\": \"x\", \"confidence\": 0.5, \"action\": \"none\", "
                           "\"parameters\": {}}"));
    content("unknown field", QString(good).replace(QStringLiteral("\"reasoning\""),
                                                   QStringLiteral("\"extra\": 1, \"reasoning\"")));
    content("action outside catalog",
            QString(good).replace(QStringLiteral("create_alert"), QStringLiteral("delete_namespace")));
    content("action wrong case",
            QString(good).replace(QStringLiteral("create_alert"), QStringLiteral("Create_Alert")));
    content("alert without severity",
            QString(good).replace(QStringLiteral("\"severity\":\"warning\","), QString()));
    content("alert severity outside enum",
            QString(good).replace(QStringLiteral("warning"), QStringLiteral("urgent")));
    content(
        "restart_pod wildcard",
        QStringLiteral("{\"diagnosis\":\"x\",\"confidence\":0.8,\"action\":\"restart_pod\",\"parameters\":"
                       "{\"namespace\":\"shop\",\"pod\":\"*\"},\"reasoning\":\"r\"}"));
    content("scale to 100 replicas",
            QStringLiteral(
                "{\"diagnosis\":\"x\",\"confidence\":0.8,\"action\":\"scale_deployment\",\"parameters\":"
                "{\"namespace\":\"shop\",\"deployment\":\"web\",\"replicas\":100},\"reasoning\":\"r\"}"));
    content(
        "none with parameters",
        QStringLiteral("{\"diagnosis\":\"x\",\"confidence\":0.8,\"action\":\"none\",\"parameters\":{\"x\":1},"
                       "\"reasoning\":\"r\"}"));
    content("diagnosis empty",
            QString(good).replace(QStringLiteral("the database is unreachable"), QStringLiteral(" ")));
    content("diagnosis too long",
            QString(good).replace(QStringLiteral("the database is unreachable"), QString(2100, u'x')));
    content("33 levels deep",
            QStringLiteral("{\"a\":").repeated(33) + QStringLiteral("1") + QString(33, u'}'));
    content("reply over 64 KiB", good + QString(70000, u' '));
    content("duplicate key",
            QString(good).replace(QStringLiteral("\"action\":\"create_alert\""),
                                  QStringLiteral("\"action\":\"none\",\"action\":\"create_alert\"")));
    content("NUL in reasoning",
            QString(good).replace(QStringLiteral("connection"), QStringLiteral("conn\\u0000ection")));
    content("two fenced blocks", QStringLiteral("```json\n") + good + QStringLiteral("\n```\n```json\n") +
                                     good + QStringLiteral("\n```"));
    content("whitespace only", QStringLiteral("   \n "));
    QTest::newRow("empty content") << completion(QString());
    QTest::newRow("refusal") << completion(QString(), "stop", "I can't help with that.");
    QTest::newRow("finish_reason length") << completion(QStringLiteral("{\"diagnosis\": \"x"), "length");
    QTest::newRow("content_filter") << completion(QString(), "content_filter");
    QTest::newRow("body not JSON") << QByteArray("<html>gateway</html>");
    QTest::newRow("no choices") << QByteArray(
        R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[]})");
    QTest::newRow("choices not an array")
        << QByteArray(R"({"id":"c","object":"chat.completion","choices":{}})");
}

void TestRouter::malformedRepliesFallBackToRules()
{
    QFETCH(QByteArray, body);
    Rig rig([body](const test::HttpRequest &, int) { return ok(body); });
    rig.strongOnly();
    const Diagnosis d = rig.run();
    QVERIFY2(validRules(d), qPrintable(d.source.describe() + QStringLiteral(": ") + d.route.join(u'|')));
    QCOMPARE(rig.server.requests().size(), 2); // the request and exactly one repair
    QVERIFY2(d.fallbackReason.contains(QLatin1String("invalid reply after one repair")),
             qPrintable(d.fallbackReason));
    QVERIFY(d.route.last().startsWith(QLatin1String("openai/gpt-4o repair invalid")));
    QVERIFY(d.route.first().endsWith(QLatin1String("(accepted)")));
    QCOMPARE(rig.router->stats().fallbacks, 1);
    QCOMPARE(d.tier, RouteTier::Fallback);
}

void TestRouter::repairHappensOnceAndCarriesTheError()
{
    Rig rig([](const test::HttpRequest &, int index) {
        return ok(completion(
            index == 0 ? QString(answer(0.95)).replace(QStringLiteral("0.95"), QStringLiteral("1.5"))
                       : answer(0.95)));
    });
    rig.strongOnly();
    const Diagnosis d = rig.run();
    QCOMPARE(rig.server.requests().size(), 2);
    QVERIFY(!rig.userOf(0).contains(QLatin1String("rejected")));
    const QString repair = rig.userOf(1);
    QVERIFY2(repair.contains(QLatin1String("Your previous reply was rejected: invalid reply: ")),
             qPrintable(repair.right(300)));
    QVERIFY2(repair.contains(QLatin1String("from 0 to 1")), qPrintable(repair.right(300)));
    QVERIFY(repair.startsWith(rig.userOf(0)));                           // the same evidence, plus the error
    QCOMPARE(d.source.describe(), QStringLiteral("openai/gpt-4o-mini")); // the model the server reported
    QCOMPARE(d.confidence, 0.95);
    QVERIFY(d.fallbackReason.isEmpty());
    QCOMPARE(rig.router->stats().repairs, 1);
    QVERIFY2(d.route.join(u'|').contains(QString::fromUtf8("→ repair")), qPrintable(d.route.join(u'|')));
}

void TestRouter::cacheHitMakesNoRequest()
{
    Rig rig([](const test::HttpRequest &, int) { return ok(completion(answer(0.95))); });
    rig.strongOnly();
    test::FakeClock clock;
    auto cache = llm::DiagnosisCache::open(QStringLiteral(":memory:"), 60000, &clock);
    QVERIFY(cache.ok());
    rig.router->setCache(cache->get());
    const Diagnosis first = rig.run(QStringLiteral("fp-cache"));
    QCOMPARE(first.source.kind, DiagnosisSource::Llm);
    // The strong tier answered, though the reply names another model than the one configured (the
    // route's labels alone cannot tell which tier that was).
    QCOMPARE(first.tier, RouteTier::Strong);
    QCOMPARE(rig.server.requests().size(), 1);
    const Diagnosis second = rig.run(QStringLiteral("fp-cache"));
    QCOMPARE(rig.server.requests().size(), 1);
    QCOMPARE(second.source.kind, DiagnosisSource::Cache);
    QCOMPARE(second.tier, RouteTier::Cache);
    QCOMPARE(second.diagnosis, first.diagnosis);
    QCOMPARE(second.costUsd, 0.0);
    QVERIFY(second.route.first().startsWith(QLatin1String("cache hit: openai/gpt-4o-mini 0.95")));
    QCOMPARE(rig.router->stats().cacheHits, 1);
    clock.advance(61000); // past the TTL: asked again
    rig.run(QStringLiteral("fp-cache"));
    QCOMPARE(rig.server.requests().size(), 2);
}

void TestRouter::strongModeAsksTheStrongModel_data()
{
    QTest::addColumn<bool>("strongConfigured");
    QTest::addColumn<double>("strongConfidence");
    QTest::addColumn<int>("requests");
    QTest::addColumn<QString>("source");
    QTest::addColumn<QString>("fallback");
    QTest::addColumn<QString>("tier");
    QTest::newRow("cached small answer is skipped; the strong model answers")
        << true << 0.95 << 2 << "openai/gpt-4o"
        << ""
        << "strong";
    QTest::newRow("a strong answer less confident than the threshold still wins over the rules")
        << true << 0.4 << 2 << "openai/gpt-4o"
        << ""
        << "strong";
    QTest::newRow("no strong tier: the rules answer and say why") << false << 0.0 << 1 << "rules"
                                                                  << "none is configured"
                                                                  << "fallback";
}

void TestRouter::strongModeAsksTheStrongModel()
{
    QFETCH(bool, strongConfigured);
    QFETCH(double, strongConfidence);
    QFETCH(int, requests);
    QFETCH(QString, source);
    QFETCH(QString, fallback);
    QFETCH(QString, tier);
    Rig rig([=](const test::HttpRequest &r, int) {
        const auto body = nlohmann::json::parse(r.body.toStdString());
        const bool small = body["model"] == "gpt-4o-mini";
        return ok(completion(answer(small ? 0.95 : strongConfidence), "stop", nullptr,
                             small ? "gpt-4o-mini" : "gpt-4o"));
    });
    if (strongConfigured)
        rig.smallAndStrong();
    else
        rig.router->setTiers({rig.provider.get(), QStringLiteral("gpt-4o-mini")}, {});
    test::FakeClock clock;
    auto cache = llm::DiagnosisCache::open(QStringLiteral(":memory:"), 600000, &clock);
    QVERIFY(cache.ok());
    rig.router->setCache(cache->get());
    // Auto first: the small model answers confidently and is cached.
    const Diagnosis first = rig.run(QStringLiteral("fp-strong"));
    QCOMPARE(first.source.describe(), QString("openai/gpt-4o-mini"));
    QCOMPARE(first.tier, RouteTier::Small);
    QCOMPARE(rig.server.requests().size(), 1);

    const Diagnosis d = rig.run(QStringLiteral("fp-strong"), evidence(), reason::RouteMode::Strong);
    QCOMPARE(rig.server.requests().size(), requests);
    if (requests == 2)
        QCOMPARE(rig.modelOf(1), QString("gpt-4o"));
    QCOMPARE(d.source.describe(), source);
    QCOMPARE(routeTierName(d.tier), tier);
    QVERIFY2(fallback.isEmpty() ? d.fallbackReason.isEmpty() : d.fallbackReason.contains(fallback),
             qPrintable(d.fallbackReason));
    QCOMPARE(d.route.filter(QStringLiteral("(accepted)")).size(), 1);
    QVERIFY2(!d.route.first().startsWith(QLatin1String("cache")), qPrintable(d.route.join(u'|')));
    if (strongConfigured) {
        // The strong answer replaced the cached one.
        const Diagnosis again = rig.run(QStringLiteral("fp-strong"));
        QCOMPARE(again.source.kind, DiagnosisSource::Cache);
        QCOMPARE(again.confidence, strongConfidence);
    }
}

void TestRouter::cancelEndsWithTheRulesAtOnce_data()
{
    QTest::addColumn<int>("mode");
    QTest::newRow("auto request cancelled") << int(reason::RouteMode::Auto);
    QTest::newRow("strong request cancelled") << int(reason::RouteMode::Strong);
}

void TestRouter::cancelEndsWithTheRulesAtOnce()
{
    QFETCH(int, mode);
    // The model never answers: only the cancel can end the decision before the 5 s timeout.
    Rig rig([](const test::HttpRequest &, int) { return CannedResponse{M::Stall, 200, {}, {}}; });
    rig.smallAndStrong();
    QStringList started;
    QObject ctx;
    QObject::connect(rig.router.get(), &reason::Router::modelRequestStarted, &ctx,
                     [&started](const QString &fp, const QString &model) { started << fp + ' ' + model; });
    QVERIFY(!rig.router->cancel(QStringLiteral("fp-cancel"))); // nothing in flight yet
    std::optional<Diagnosis> out;
    rig.router->diagnose(
        QStringLiteral("fp-cancel"), evidence(), nullptr, [&out](const Diagnosis &d) { out = d; },
        reason::RouteMode(mode));
    QTRY_COMPARE(rig.server.requests().size(), 1);
    QCOMPARE(started, QStringList{QString("fp-cancel openai/") +
                                  (mode == int(reason::RouteMode::Auto) ? "gpt-4o-mini" : "gpt-4o")});
    QElapsedTimer t;
    t.start();
    QVERIFY(rig.router->cancel(QStringLiteral("fp-cancel")));
    QTRY_VERIFY_WITH_TIMEOUT(out.has_value(), 2000);
    QVERIFY2(t.elapsed() < 2000, "the cancel, not the timeout, ended it");
    QVERIFY(validRules(*out));
    QCOMPARE(out->fallbackReason, QString("cancelled by the user"));
    QVERIFY2(out->route.last().endsWith("cancelled by the user"), qPrintable(out->route.join(u'|')));
    QCOMPARE(rig.server.requests().size(), 1); // no escalation after a cancel
    QVERIFY(!rig.router->cancel(QStringLiteral("fp-cancel")));
}

void TestRouter::thousandIdenticalRequestsShareOneCall()
{
    Rig rig([](const test::HttpRequest &, int) { return ok(completion(answer(0.95))); });
    rig.strongOnly();
    test::FakeClock clock;
    auto cache = llm::DiagnosisCache::open(QStringLiteral(":memory:"), 600000, &clock);
    QVERIFY(cache.ok());
    rig.router->setCache(cache->get());
    const gather::Evidence ev = evidence();
    QList<Diagnosis> results;
    for (int i = 0; i < 1000; ++i)
        rig.router->diagnose(QStringLiteral("fp-many"), ev, this,
                             [&results](const Diagnosis &d) { results << d; });
    QTRY_COMPARE_WITH_TIMEOUT(results.size(), 1000, 15000);
    QCOMPARE(rig.server.requests().size(), 1);
    QCOMPARE(rig.router->stats().coalesced, 999);
    for (const Diagnosis &d : results)
        QCOMPARE(d.source.describe(), QStringLiteral("openai/gpt-4o-mini"));
    int charged = 0;
    for (const Diagnosis &d : results)
        charged += d.costUsd > 0 ? 1 : 0;
    QCOMPARE(charged, 1); // only the request that made the call carries its cost
    // Later identical incidents within the TTL come from the cache.
    for (int i = 0; i < 1000; ++i)
        rig.router->diagnose(QStringLiteral("fp-many"), ev, this,
                             [&results](const Diagnosis &d) { results << d; });
    QTRY_COMPARE_WITH_TIMEOUT(results.size(), 2000, 15000);
    QCOMPARE(rig.server.requests().size(), 1);
    QCOMPARE(results.last().source.kind, DiagnosisSource::Cache);
}

void TestRouter::circuitOpenFallsBackWithReason()
{
    llm::ResilienceConfig config;
    config.retry.maxAttempts = 1;
    config.breaker.failureThreshold = 1;
    config.breaker.coolDownMs = 600000;
    Rig rig(
        [](const test::HttpRequest &, int) {
            return CannedResponse{
                M::Respond, 500, R"({"error":{"message":"boom","type":"server_error"}})", {}};
        },
        config);
    rig.strongOnly();
    const Diagnosis first = rig.run(QStringLiteral("fp-a"));
    QVERIFY(validRules(first));
    QVERIFY2(first.fallbackReason.contains(QLatin1String("500")), qPrintable(first.fallbackReason));
    QCOMPARE(rig.server.requests().size(), 1);
    const Diagnosis second = rig.run(QStringLiteral("fp-b"));
    QVERIFY(validRules(second));
    QCOMPARE(rig.server.requests().size(), 1); // nothing sent while the circuit is open
    QVERIFY2(second.fallbackReason.contains(QLatin1String("circuit open")),
             qPrintable(second.fallbackReason));
    QVERIFY2(second.route.last().contains(QLatin1String("failed")), qPrintable(second.route.join(u'|')));
}

void TestRouter::unreachableProviderFallsBackWithReason()
{
    llm::ResilienceConfig config;
    config.retry.maxAttempts = 1;
    Rig rig([](const test::HttpRequest &, int) { return ok(completion(answer(0.95))); }, config);
    llm::OpenAiConfig oc;
    oc.baseUrl = QStringLiteral("http://127.0.0.1:1/v1");
    llm::OpenAiProvider dead(oc, &rig.secrets);
    llm::ResilientProvider resilient(
        &dead, &rig.meter, &rig.clock, [] { return 0.5; }, config);
    rig.router->setTiers({&resilient, QStringLiteral("gpt-4o-mini")}, {&resilient, QStringLiteral("gpt-4o")});
    const Diagnosis d = rig.run();
    QVERIFY(validRules(d));
    QVERIFY2(d.fallbackReason.startsWith(QLatin1String("openai/gpt-4o-mini: network")),
             qPrintable(d.fallbackReason));
    QCOMPARE(rig.router->stats().llmCalls, 1); // a transport failure is not escalated
}

void TestRouter::noSeededSecretInAnyRequest()
{
    // First reply malformed, so the repair request is captured too; then two tiers.
    Rig rig([](const test::HttpRequest &, int index) {
        return ok(completion(index == 0 ? QStringLiteral("not json") : answer(0.5)));
    });
    rig.smallAndStrong();
    const gather::Evidence ev = evidence();
    QVERIFY(ev.redactions.total() >= kSecrets.size());
    const Diagnosis d = rig.run(QStringLiteral("fp-secrets"), ev);
    QCOMPARE(rig.server.requests().size(), 3);
    QVERIFY(ev.text.contains(QLatin1String("connection refused"))); // evidence survives, secrets do not
    for (const test::HttpRequest &r : rig.server.requests()) {
        QVERIFY(r.body.contains("REDACTED"));
        for (const QString &secret : kSecrets)
            QVERIFY2(!QString::fromUtf8(r.body).contains(secret), qPrintable(secret));
    }
    QVERIFY(!d.diagnosis.isEmpty());
}

void TestRouter::evidenceBudgetLeavesRoomForPrompts()
{
    auto prompts = reason::loadPrompts();
    QVERIFY(prompts.ok());
    const int budget = reason::evidenceTokenBudget(*prompts, 3000);
    QVERIFY(budget > 1000);
    // The schema counts as sent (its strict form), not as the file is written.
    const int fixed = gather::estimateTokens(prompts->system) +
                      gather::estimateTokens(prompts->wireSchemaText) +
                      gather::estimateTokens(prompts->userTemplate);
    QVERIFY(budget + fixed <= 3000);
}

QTEST_GUILESS_MAIN(TestRouter)
#include "tst_router.moc"
