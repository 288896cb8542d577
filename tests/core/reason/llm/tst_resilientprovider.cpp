#include "core/reason/llm/costmeter.h"
#include "core/reason/llm/openaiprovider.h"
#include "core/reason/llm/resilientprovider.h"
#include "core/reason/llm/secretstore.h"

#include "cannedserver.h"
#include "llmtestutil.h"

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QTest>

using namespace vigil;
using namespace vigil::llm;
using vigil::test::CannedResponse;
using M = CannedResponse::Mode;

namespace {

const QString kKey = QStringLiteral("sk-proj-NEVERLOGME-4242424242");

QByteArray okBody()
{
    return QByteArray::fromStdString(nlohmann::json{
        {"id", "c"},
        {"object", "chat.completion"},
        {"created", 1},
        {"model", "gpt-4o-mini"},
        {"choices",
         {{{"index", 0},
           {"logprobs", nullptr},
           {"finish_reason", "stop"},
           {"message",
            {{"role", "assistant"}, {"content", "{\"diagnosis\":\"x\"}"}, {"refusal", nullptr}}}}}},
        {"usage", {{"prompt_tokens", 1000000}, {"completion_tokens", 100000}, {"total_tokens", 1100000}}}}
                                         .dump());
}

QByteArray errBody(const QString &message)
{
    return QByteArray::fromStdString(nlohmann::json{
        {"error",
         {{"message", message.toStdString()},
          {"type", "server_error"},
          {"param", nullptr},
          {"code", nullptr}}}}.dump());
}

QStringList g_log;

void captureLog(QtMsgType, const QMessageLogContext &, const QString &message)
{
    g_log.append(message);
}

// A provider wired to a canned server, wrapped in the production controls.
struct Rig {
    explicit Rig(test::CannedServer::Handler handler, ResilienceConfig config = {}, CostBudget budget = {})
        : server(std::move(handler))
        , meter(PriceTable::defaults(), budget, &clock)
    {
        server.listen();
        secrets.set(QStringLiteral("OPENAI_API_KEY"), kKey);
        OpenAiConfig oc;
        oc.baseUrl = server.url().toString() + QStringLiteral("/v1");
        inner = std::make_unique<OpenAiProvider>(oc, &secrets);
        config.retry.baseDelayMs = 5;
        config.retry.maxDelayMs = 20;
        provider = std::make_unique<ResilientProvider>(
            inner.get(), &meter, &clock, [] { return 0.5; }, config);
    }

    test::CannedServer server;
    SystemClock clock;
    MapSecretStore secrets;
    CostMeter meter;
    std::unique_ptr<OpenAiProvider> inner;
    std::unique_ptr<ResilientProvider> provider;
};

} // namespace

class TestResilientProvider final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void retries_data();
    void retries();
    void honoursRetryAfter();
    void tooLongRetryAfterIsNotWaited();
    void circuitOpensAndRefusesFast();
    void budgetSpentRefusesBeforeSending();
    void abortDuringBackoff();
    void keyNeverInLogsOrErrors();
};

void TestResilientProvider::retries_data()
{
    QTest::addColumn<QList<int>>("statuses"); // served in order, last one repeats
    QTest::addColumn<int>("maxAttempts");
    QTest::addColumn<int>("requests");
    QTest::addColumn<int>("kind");
    QTest::addColumn<QString>("messagePart");
    QTest::newRow("500 then success")
        << QList<int>{500, 200} << 4 << 2 << int(LlmErrorKind::None) << QString();
    QTest::newRow("408, 409, 502 then success")
        << QList<int>{408, 409, 502, 200} << 4 << 4 << int(LlmErrorKind::None) << QString();
    QTest::newRow("529 overloaded then success")
        << QList<int>{529, 200} << 4 << 2 << int(LlmErrorKind::None) << QString();
    QTest::newRow("gives up after max attempts")
        << QList<int>{503} << 3 << 3 << int(LlmErrorKind::Overloaded)
        << QStringLiteral("HTTP 503: server_error: boom (after 3 attempts)");
    QTest::newRow("400 is not retried")
        << QList<int>{400, 200} << 4 << 1 << int(LlmErrorKind::Http) << QStringLiteral("HTTP 400");
}

void TestResilientProvider::retries()
{
    QFETCH(QList<int>, statuses);
    QFETCH(int, maxAttempts);
    QFETCH(int, requests);
    QFETCH(int, kind);
    QFETCH(QString, messagePart);
    ResilienceConfig config;
    config.retry.maxAttempts = maxAttempts;
    Rig rig(
        [statuses](const test::HttpRequest &, int i) {
            const int status = statuses.value(i, statuses.last());
            return CannedResponse{
                M::Respond, status, status == 200 ? okBody() : errBody(QStringLiteral("boom")), {}};
        },
        config);
    int retried = 0;
    connect(rig.provider.get(), &ResilientProvider::retrying, this,
            [&retried](const LlmReply &, int, qint64) { ++retried; });
    const LlmReply reply = test::awaitReply(rig.provider->complete(test::sampleRequest()));
    QCOMPARE(int(reply.errorKind), kind);
    QCOMPARE(rig.server.requests().size(), requests);
    QCOMPARE(reply.attempts, requests);
    QCOMPARE(retried, requests - 1);
    QCOMPARE(rig.provider->limiter().inFlight(), 0);
    if (messagePart.isEmpty()) {
        // 1M prompt + 100k completion tokens of gpt-4o-mini: $0.15 + $0.06
        QCOMPARE(reply.costUsd, 0.21);
        QCOMPARE(rig.meter.sessionTotal(), 0.21);
        QCOMPARE(rig.provider->breaker().consecutiveFailures(), 0);
    } else {
        QVERIFY2(reply.error.message.contains(messagePart), qPrintable(reply.error.message));
    }
}

void TestResilientProvider::honoursRetryAfter()
{
    Rig rig([](const test::HttpRequest &, int i) {
        if (i == 0)
            return CannedResponse{
                M::Respond, 429, errBody(QStringLiteral("slow down")), {{"retry-after-ms", "300"}}};
        return CannedResponse{M::Respond, 200, okBody(), {}};
    });
    QElapsedTimer timer;
    timer.start();
    const LlmReply reply = test::awaitReply(rig.provider->complete(test::sampleRequest()));
    QVERIFY2(reply.ok(), qPrintable(reply.error.message));
    QCOMPARE(reply.attempts, 2);
    QVERIFY2(timer.elapsed() >= 270, qPrintable(QString::number(timer.elapsed()))); // not the 5 ms back-off
}

void TestResilientProvider::tooLongRetryAfterIsNotWaited()
{
    Rig rig([](const test::HttpRequest &, int) {
        return CannedResponse{M::Respond, 429, errBody(QStringLiteral("quota")), {{"retry-after", "3600"}}};
    });
    const LlmReply reply = test::awaitReply(rig.provider->complete(test::sampleRequest()));
    QCOMPARE(reply.errorKind, LlmErrorKind::RateLimited);
    QCOMPARE(rig.server.requests().size(), 1);
    QVERIFY2(reply.error.message.contains(QStringLiteral("the server asked to wait 3600 s; not retrying")),
             qPrintable(reply.error.message));
}

void TestResilientProvider::circuitOpensAndRefusesFast()
{
    ResilienceConfig config;
    config.retry.maxAttempts = 1;
    config.breaker = {2, 600000};
    Rig rig(
        [](const test::HttpRequest &, int) {
            return CannedResponse{M::Respond, 500, errBody(QStringLiteral("backend down")), {}};
        },
        config);
    for (int i = 0; i < 2; ++i)
        QCOMPARE(test::awaitReply(rig.provider->complete(test::sampleRequest())).errorKind,
                 LlmErrorKind::Http);
    const LlmReply refused = test::awaitReply(rig.provider->complete(test::sampleRequest()));
    QCOMPARE(refused.errorKind, LlmErrorKind::CircuitOpen);
    QCOMPARE(rig.server.requests().size(), 2);
    QVERIFY2(refused.error.message.startsWith(QStringLiteral("openai: circuit open since ")),
             qPrintable(refused.error.message));
    QVERIFY2(refused.error.message.contains(QStringLiteral("HTTP 500: server_error: backend down")),
             qPrintable(refused.error.message));
}

void TestResilientProvider::budgetSpentRefusesBeforeSending()
{
    Rig rig(
        [](const test::HttpRequest &, int) {
            return CannedResponse{M::Respond, 200, okBody(), {}};
        },
        {}, CostBudget{0.0, 0.2101}); // the next call's worst case (~$0.0003) no longer fits
    QVERIFY(test::awaitReply(rig.provider->complete(test::sampleRequest())).ok()); // spends $0.21
    const LlmReply refused = test::awaitReply(rig.provider->complete(test::sampleRequest()));
    QCOMPARE(refused.errorKind, LlmErrorKind::BudgetSpent);
    QVERIFY2(refused.error.message.startsWith(
                 QStringLiteral("openai: budget spent: $0.2100 of the $0.21 session")),
             qPrintable(refused.error.message));
    QCOMPARE(rig.server.requests().size(), 1);
}

void TestResilientProvider::abortDuringBackoff()
{
    ResilienceConfig config;
    Rig rig(
        [](const test::HttpRequest &, int) {
            return CannedResponse{M::Respond, 503, errBody(QStringLiteral("busy")), {{"retry-after", "30"}}};
        },
        config);
    QPointer<LlmCall> call = rig.provider->complete(test::sampleRequest());
    LlmReply reply;
    connect(call, &LlmCall::finished, this, [&reply](const LlmReply &r) { reply = r; });
    QTRY_COMPARE(rig.server.requests().size(), 1);
    QTRY_COMPARE(rig.provider->limiter().inFlight(), 0); // the first attempt is back; now waiting 30 s
    call->abort();
    QTRY_VERIFY(call.isNull());
    QCOMPARE(reply.errorKind, LlmErrorKind::Cancelled);
    QCOMPARE(rig.server.requests().size(), 1);
}

void TestResilientProvider::keyNeverInLogsOrErrors()
{
    QLoggingCategory::setFilterRules(QStringLiteral("vigil.llm*=true"));
    g_log.clear();
    const QtMessageHandler previous = qInstallMessageHandler(captureLog);
    ResilienceConfig config;
    config.retry.maxAttempts = 2;
    // A misbehaving proxy echoing the whole key: first as a 500 (retried, logged), then as a 401.
    Rig rig(
        [](const test::HttpRequest &request, int i) {
            const QString echoed = QString::fromUtf8(request.header("authorization"));
            return CannedResponse{
                M::Respond, i == 0 ? 500 : 401, errBody(QStringLiteral("rejected ") + echoed), {}};
        },
        config);
    const LlmReply reply = test::awaitReply(rig.provider->complete(test::sampleRequest()));
    qInstallMessageHandler(previous);
    QLoggingCategory::setFilterRules(QString());

    QCOMPARE(reply.errorKind, LlmErrorKind::Http);
    QCOMPARE(rig.server.requests().size(), 2);
    QCOMPARE(rig.server.requests()[0].header("authorization"), QByteArray("Bearer " + kKey.toUtf8()));
    QVERIFY2(reply.error.message.contains(QStringLiteral("rejected Bearer [redacted]")),
             qPrintable(reply.error.message));
    QVERIFY(!reply.error.message.contains(kKey));
    QVERIFY(!reply.rawBody.contains(kKey.toUtf8()));
    QVERIFY2(g_log.size() >= 2, qPrintable(g_log.join(u'\n'))); // the retry and the final failure were logged
    for (const QString &line : std::as_const(g_log))
        QVERIFY2(!line.contains(kKey) && !line.contains(QStringLiteral("NEVERLOGME")), qPrintable(line));
}

QTEST_GUILESS_MAIN(TestResilientProvider)
#include "tst_resilientprovider.moc"
