#include "core/reason/llm/openaiprovider.h"
#include "core/reason/llm/secretstore.h"
#include "core/reason/llm/strictschema.h"
#include "core/reason/prompts.h"

#include "cannedserver.h"
#include "jsonschemacheck.h"
#include "llmtestutil.h"

#include <QTest>

using namespace vigil;
using namespace vigil::llm;
using vigil::test::CannedResponse;
using vigil::test::HttpHeaders;

namespace {

const QString kKey = QStringLiteral("sk-test-7f3a9c1e5b2d4f60a8e1");

struct Canned {
    int status = 200;
    QByteArray body;
    HttpHeaders headers;
    enum Mode { Normal, CloseMidBody, Stall } mode = Normal;

    CannedResponse response() const
    {
        const auto m = mode == Normal         ? CannedResponse::Mode::Respond
                       : mode == CloseMidBody ? CannedResponse::Mode::CloseMidBody
                                              : CannedResponse::Mode::Stall;
        return {m, status, body, headers};
    }
};

QByteArray completion(const nlohmann::json &message, const char *finish, int prompt = 120,
                      int completion = 40)
{
    nlohmann::json msg = message;
    msg["role"] = "assistant";
    if (!msg.contains("content"))
        msg["content"] = nullptr;
    if (!msg.contains("refusal"))
        msg["refusal"] = nullptr;
    const nlohmann::json body{
        {"id", "chatcmpl-123"},
        {"object", "chat.completion"},
        {"created", 1741570283},
        {"model", "gpt-4o-mini-2024-07-18"},
        {"choices",
         nlohmann::json::array(
             {{{"index", 0}, {"message", msg}, {"logprobs", nullptr}, {"finish_reason", finish}}})},
        {"usage",
         {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion}}},
    };
    return QByteArray::fromStdString(body.dump());
}

QByteArray errorBody(const char *type, const std::string &message)
{
    return QByteArray::fromStdString(nlohmann::json{
        {"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}}}}
                                         .dump());
}

const char *kAnswer = R"({"diagnosis":"nil map write","confidence":0.9,"action":"restart_pod"})";

} // namespace

Q_DECLARE_METATYPE(Canned)

class TestOpenAiProvider final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cannedReplies_data();
    void cannedReplies();
    void requestBodiesFollowTheContract_data();
    void requestBodiesFollowTheContract();
    void replySchemaGoesOutStrict();
    void azureUsesDeploymentUrlAndApiKeyHeader();
    void compatibleServerWithoutKey();
    void missingKeyFailsBeforeSending();
    void abortCancels();
    void keyNeverInErrorsOrBodies();

private:
    LlmReply run(const Canned &canned, OpenAiConfig config = {}, LlmRequest request = test::sampleRequest());

    std::optional<test::OpenApiSchemas> m_spec;
    QList<test::HttpRequest> m_seen;
};

void TestOpenAiProvider::initTestCase()
{
    const QString path = QStringLiteral(VIGIL_CONTRACTS_DIR "/openai/openapi.yaml");
    auto spec = test::OpenApiSchemas::load(path);
    QVERIFY2(spec.ok(), qPrintable(spec.errorMessage()));
    m_spec = std::move(*spec);
    QVERIFY(m_spec->hasSchema(QStringLiteral("CreateChatCompletionRequest")));
    // The validator itself must reject what the contract forbids.
    QVERIFY(!m_spec->validate(nlohmann::json{{"model", "x"}}, QStringLiteral("CreateChatCompletionRequest"))
                 .isEmpty());
    QVERIFY(!m_spec
                 ->validate(nlohmann::json{{"model", "x"},
                                           {"messages", {{{"role", "system"}, {"content", "a"}}}},
                                           {"temperature", 7}},
                            QStringLiteral("CreateChatCompletionRequest"))
                 .isEmpty());
    QVERIFY(!m_spec
                 ->validate(nlohmann::json{{"model", "x"},
                                           {"messages", {{{"role", "system"}, {"content", "a"}}}},
                                           {"response_format", {{"type", "json_schema"}, {"schema", {}}}}},
                            QStringLiteral("CreateChatCompletionRequest"))
                 .isEmpty());
}

LlmReply TestOpenAiProvider::run(const Canned &canned, OpenAiConfig config, LlmRequest request)
{
    test::CannedServer server([canned](const test::HttpRequest &, int) { return canned.response(); });
    if (!server.listen())
        return {};
    if (config.baseUrl.isEmpty() && !config.azure)
        config.baseUrl = server.url().toString() + QStringLiteral("/v1");
    if (config.azure)
        config.azureEndpoint = server.url().toString();
    MapSecretStore secrets(
        {{QStringLiteral("OPENAI_API_KEY"), kKey}, {QStringLiteral("AZURE_OPENAI_API_KEY"), kKey}});
    OpenAiProvider provider(config, &secrets);
    const LlmReply reply = test::awaitReply(provider.complete(request));
    m_seen = server.requests();
    return reply;
}

void TestOpenAiProvider::cannedReplies_data()
{
    QTest::addColumn<Canned>("canned");
    QTest::addColumn<QString>("responseSchema"); // the fixture must be a valid instance of it
    QTest::addColumn<int>("kind");
    QTest::addColumn<int>("finish");
    QTest::addColumn<QString>("content");
    QTest::addColumn<int>("promptTokens");
    QTest::addColumn<qint64>("retryAfterMs");
    QTest::addColumn<QString>("messagePart");

    const QString ok = QStringLiteral("CreateChatCompletionResponse");
    const QString err = QStringLiteral("ErrorResponse");
    const int none = int(LlmErrorKind::None);
    QTest::newRow("content JSON with usage")
        << Canned{200, completion({{"content", kAnswer}}, "stop"), {}} << ok << none
        << int(FinishReason::Stop) << QString::fromLatin1(kAnswer) << 120 << qint64(-1) << QString();
    QTest::newRow("tool_calls arguments become the content")
        << Canned{200,
                  completion({{"tool_calls",
                               {{{"id", "call_1"},
                                 {"type", "function"},
                                 {"function", {{"name", "diagnosis"}, {"arguments", kAnswer}}}}}}},
                             "tool_calls"),
                  {}}
        << ok << none << int(FinishReason::ToolCalls) << QString::fromLatin1(kAnswer) << 120 << qint64(-1)
        << QString();
    QTest::newRow("refusal is an error that quotes it")
        << Canned{200, completion({{"refusal", "I can't help with that."}}, "stop"), {}} << ok
        << int(LlmErrorKind::Refused) << int(FinishReason::Refusal) << QString() << 120 << qint64(-1)
        << QStringLiteral("refused: I can't help with that.");
    QTest::newRow("finish_reason length is truncation")
        << Canned{200, completion({{"content", "{\"diagnosis\":\"nil ma"}}, "length", 120, 400), {}} << ok
        << int(LlmErrorKind::Truncated) << int(FinishReason::Length)
        << QStringLiteral("{\"diagnosis\":\"nil ma") << 120 << qint64(-1)
        << QStringLiteral("truncated at the token limit (400)");
    QTest::newRow("content filter is a refusal")
        << Canned{200, completion({}, "content_filter"), {}} << ok << int(LlmErrorKind::Refused)
        << int(FinishReason::ContentFilter) << QString() << 120 << qint64(-1)
        << QStringLiteral("content filter");
    QTest::newRow("empty content is a bad reply")
        << Canned{200, completion({{"content", ""}}, "stop"), {}} << ok << int(LlmErrorKind::BadReply)
        << int(FinishReason::Stop) << QString() << 120 << qint64(-1) << QStringLiteral("empty content");
    QTest::newRow("429 with Retry-After seconds")
        << Canned{429,
                  errorBody("rate_limit_exceeded", "Rate limit reached for gpt-4o-mini"),
                  {{"Retry-After", "7"}}}
        << err << int(LlmErrorKind::RateLimited) << int(FinishReason::Unknown) << QString() << 0
        << qint64(7000) << QStringLiteral("HTTP 429: rate_limit_exceeded: Rate limit reached");
    QTest::newRow("429 without Retry-After uses the reset header")
        << Canned{429,
                  errorBody("rate_limit_exceeded", "Rate limit reached"),
                  {{"x-ratelimit-reset-requests", "1.5s"}}}
        << err << int(LlmErrorKind::RateLimited) << int(FinishReason::Unknown) << QString() << 0
        << qint64(1500) << QStringLiteral("HTTP 429");
    QTest::newRow("429 with no hint at all")
        << Canned{429, errorBody("rate_limit_exceeded", "slow down"), {}} << err
        << int(LlmErrorKind::RateLimited) << int(FinishReason::Unknown) << QString() << 0 << qint64(-1)
        << QStringLiteral("slow down");
    QTest::newRow("500 names status and endpoint")
        << Canned{500, errorBody("server_error", "The server had an error"), {}} << err
        << int(LlmErrorKind::Http) << int(FinishReason::Unknown) << QString() << 0 << qint64(-1)
        << QStringLiteral("/v1/chat/completions returned HTTP 500: server_error: The server had an error");
    QTest::newRow("malformed body") << Canned{200,
                                              QByteArrayLiteral("{\"id\": \"chatcmpl-1\", \"choices\": ["),
                                              {}}
                                    << QString() << int(LlmErrorKind::BadReply) << int(FinishReason::Unknown)
                                    << QString() << 0 << qint64(-1)
                                    << QStringLiteral("reply body is not JSON (HTTP 200)");
    QTest::newRow("no choices")
        << Canned{200,
                  QByteArrayLiteral(
                      R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[]})"),
                  {}}
        << ok << int(LlmErrorKind::BadReply) << int(FinishReason::Unknown) << QString() << 0 << qint64(-1)
        << QStringLiteral("no choices");
    QTest::newRow("connection closed mid-body")
        << Canned{200, completion({{"content", kAnswer}}, "stop"), {}, Canned::CloseMidBody} << QString()
        << int(LlmErrorKind::Network) << int(FinishReason::Unknown) << QString() << 0 << qint64(-1)
        << QStringLiteral("connection closed before the reply was complete");
    QTest::newRow("server that never answers times out")
        << Canned{200, {}, {}, Canned::Stall} << QString() << int(LlmErrorKind::Timeout)
        << int(FinishReason::Unknown) << QString() << 0 << qint64(-1)
        << QStringLiteral("timed out after 300 ms");
}

void TestOpenAiProvider::cannedReplies()
{
    QFETCH(Canned, canned);
    QFETCH(QString, responseSchema);
    QFETCH(int, kind);
    QFETCH(int, finish);
    QFETCH(QString, content);
    QFETCH(int, promptTokens);
    QFETCH(qint64, retryAfterMs);
    QFETCH(QString, messagePart);

    if (!responseSchema.isEmpty()) {
        const QStringList violations =
            m_spec->validate(nlohmann::json::parse(canned.body.toStdString()), responseSchema);
        QVERIFY2(violations.isEmpty(), qPrintable(violations.join(u'\n')));
    }
    LlmRequest request = test::sampleRequest();
    if (canned.mode == Canned::Stall)
        request.timeoutMs = 300;
    const LlmReply reply = run(canned, {}, request);

    QCOMPARE(m_seen.size(), 1);
    QCOMPARE(m_seen[0].method, QByteArrayLiteral("POST"));
    QCOMPARE(m_seen[0].path, QStringLiteral("/v1/chat/completions"));
    QCOMPARE(m_seen[0].header("authorization"), QByteArray("Bearer " + kKey.toUtf8()));
    const QStringList violations = m_spec->validate(nlohmann::json::parse(m_seen[0].body.toStdString()),
                                                    QStringLiteral("CreateChatCompletionRequest"));
    QVERIFY2(violations.isEmpty(), qPrintable(violations.join(u'\n')));

    QCOMPARE(int(reply.errorKind), kind);
    QCOMPARE(int(reply.finishReason), finish);
    QCOMPARE(reply.content, content);
    QCOMPARE(reply.promptTokens, promptTokens);
    QCOMPARE(reply.retryAfterMs, retryAfterMs);
    QCOMPARE(reply.provider, QStringLiteral("openai"));
    if (messagePart.isEmpty()) {
        QVERIFY2(reply.ok(), qPrintable(reply.error.message));
        QCOMPARE(reply.model, QStringLiteral("gpt-4o-mini-2024-07-18"));
        QCOMPARE(reply.completionTokens, 40);
        QCOMPARE(reply.httpStatus, 200);
    } else {
        QVERIFY2(reply.error.message.contains(messagePart), qPrintable(reply.error.message));
    }
}

void TestOpenAiProvider::requestBodiesFollowTheContract_data()
{
    QTest::addColumn<int>("tokenField");
    QTest::addColumn<double>("temperature");
    QTest::addColumn<int>("maxTokens");
    QTest::addColumn<QString>("expectLimitField");
    QTest::newRow("compatible server gets max_tokens")
        << int(OpenAiConfig::TokenField::Auto) << 0.2 << 300 << QStringLiteral("max_tokens");
    QTest::newRow("forced max_completion_tokens") << int(OpenAiConfig::TokenField::MaxCompletionTokens) << 0.0
                                                  << 300 << QStringLiteral("max_completion_tokens");
    QTest::newRow("temperature left out when negative")
        << int(OpenAiConfig::TokenField::MaxTokens) << -1.0 << 300 << QStringLiteral("max_tokens");
    QTest::newRow("no token limit") << int(OpenAiConfig::TokenField::Auto) << 1.0 << 0 << QString();
}

void TestOpenAiProvider::requestBodiesFollowTheContract()
{
    QFETCH(int, tokenField);
    QFETCH(double, temperature);
    QFETCH(int, maxTokens);
    QFETCH(QString, expectLimitField);
    OpenAiConfig config;
    config.tokenField = OpenAiConfig::TokenField(tokenField);
    LlmRequest request = test::sampleRequest();
    request.temperature = temperature;
    request.maxTokens = maxTokens;
    const LlmReply reply = run(Canned{200, completion({{"content", kAnswer}}, "stop"), {}}, config, request);
    QVERIFY2(reply.ok(), qPrintable(reply.error.message));
    QCOMPARE(m_seen.size(), 1);
    const auto body = nlohmann::json::parse(m_seen[0].body.toStdString());
    const QStringList violations = m_spec->validate(body, QStringLiteral("CreateChatCompletionRequest"));
    QVERIFY2(violations.isEmpty(), qPrintable(violations.join(u'\n')));

    // The nested structured-output form, strict, carrying our schema verbatim.
    QVERIFY(body["response_format"]["type"] == "json_schema");
    QVERIFY(body["response_format"]["json_schema"]["name"] == "diagnosis");
    QVERIFY(body["response_format"]["json_schema"]["strict"] == true);
    QVERIFY(body["response_format"]["json_schema"]["schema"] ==
            nlohmann::json(strictJsonSchema(request.schema)));
    QVERIFY(!body["response_format"].contains("schema"));
    QVERIFY(body["messages"][0]["role"] == "system");
    QVERIFY(body["messages"][1]["content"] == request.user.toStdString());
    QCOMPARE(body.contains("temperature"), temperature >= 0);
    QCOMPARE(body.contains("max_tokens"), expectLimitField == QLatin1String("max_tokens"));
    QCOMPARE(body.contains("max_completion_tokens"),
             expectLimitField == QLatin1String("max_completion_tokens"));
    if (!expectLimitField.isEmpty())
        QVERIFY(body[expectLimitField.toStdString()] == maxTokens);
}

void TestOpenAiProvider::replySchemaGoesOutStrict()
{
    // Vigil's own reply schema (top-level oneOf, bounds, an open parameters object) goes
    // out in the form strict mode accepts, inside a body the contract accepts.
    const Result<reason::PromptSet> prompts = reason::loadPrompts();
    QVERIFY2(prompts.ok(), qPrintable(prompts.errorMessage()));
    LlmRequest request = test::sampleRequest();
    request.schema = prompts->schema;
    const LlmReply reply = run(Canned{200, completion({{"content", kAnswer}}, "stop"), {}}, {}, request);
    QVERIFY2(reply.ok(), qPrintable(reply.error.message));
    QCOMPARE(m_seen.size(), 1);
    const auto body = nlohmann::json::parse(m_seen[0].body.toStdString());
    const QStringList violations = m_spec->validate(body, QStringLiteral("CreateChatCompletionRequest"));
    QVERIFY2(violations.isEmpty(), qPrintable(violations.join(u'\n')));
    QVERIFY(body["response_format"]["json_schema"]["strict"] == true);
    const auto &schema = body["response_format"]["json_schema"]["schema"];
    const QStringList strict = test::strictModeViolations(schema);
    QVERIFY2(strict.isEmpty(), qPrintable(strict.join(u'\n')));
    QVERIFY(!test::strictModeViolations(prompts->schema).isEmpty());
    QVERIFY(schema == nlohmann::json(strictJsonSchema(prompts->schema)));
}

void TestOpenAiProvider::azureUsesDeploymentUrlAndApiKeyHeader()
{
    OpenAiConfig config;
    config.name = QStringLiteral("azure");
    config.azure = true;
    config.azureDeployment = QStringLiteral("vigil-4o");
    config.azureApiVersion = QStringLiteral("2024-10-21");
    const LlmReply reply = run(Canned{200, completion({{"content", kAnswer}}, "stop"), {}}, config);
    QVERIFY2(reply.ok(), qPrintable(reply.error.message));
    QCOMPARE(m_seen.size(), 1);
    QCOMPARE(m_seen[0].path, QStringLiteral("/openai/deployments/vigil-4o/chat/completions"));
    QCOMPARE(m_seen[0].queryValue(QStringLiteral("api-version")), QStringLiteral("2024-10-21"));
    QCOMPARE(m_seen[0].header("api-key"), kKey.toUtf8());
    QVERIFY(m_seen[0].header("authorization").isEmpty());
    const auto body = nlohmann::json::parse(m_seen[0].body.toStdString());
    QVERIFY(body.contains("max_completion_tokens"));
    QVERIFY(m_spec->validate(body, QStringLiteral("CreateChatCompletionRequest")).isEmpty());
}

void TestOpenAiProvider::compatibleServerWithoutKey()
{
    test::CannedServer server([](const test::HttpRequest &, int) {
        return CannedResponse{
            CannedResponse::Mode::Respond, 200, completion({{"content", kAnswer}}, "stop"), {}};
    });
    QVERIFY(server.listen());
    MapSecretStore secrets(
        {{QStringLiteral("OPENAI_BASE_URL"), server.url().toString() + QStringLiteral("/v1/")}});
    OpenAiConfig config;
    config.name = QStringLiteral("llama.cpp");
    config.keyRequired = false;
    config.local = true;
    OpenAiProvider provider(config, &secrets);
    const LlmReply reply = test::awaitReply(provider.complete(test::sampleRequest()));
    QVERIFY2(reply.ok(), qPrintable(reply.error.message));
    QCOMPARE(server.requests().size(), 1);
    QCOMPARE(server.requests()[0].path, QStringLiteral("/v1/chat/completions"));
    QVERIFY(server.requests()[0].header("authorization").isEmpty());
    QVERIFY(provider.isLocal());
}

void TestOpenAiProvider::missingKeyFailsBeforeSending()
{
    MapSecretStore secrets;
    OpenAiConfig config;
    config.baseUrl = QStringLiteral("http://127.0.0.1:9/v1");
    OpenAiProvider provider(config, &secrets);
    const LlmReply reply = test::awaitReply(provider.complete(test::sampleRequest()));
    QCOMPARE(reply.errorKind, LlmErrorKind::Config);
    QVERIFY2(reply.error.message.contains(QStringLiteral("OPENAI_API_KEY is not set")),
             qPrintable(reply.error.message));
}

void TestOpenAiProvider::abortCancels()
{
    test::CannedServer server([](const test::HttpRequest &, int) {
        return CannedResponse{CannedResponse::Mode::Stall, 0, {}, {}};
    });
    QVERIFY(server.listen());
    MapSecretStore secrets({{QStringLiteral("OPENAI_API_KEY"), kKey}});
    OpenAiConfig config;
    config.baseUrl = server.url().toString();
    OpenAiProvider provider(config, &secrets);
    QPointer<LlmCall> call = provider.complete(test::sampleRequest());
    QTRY_COMPARE(server.requests().size(), 1);
    LlmReply reply;
    connect(call, &LlmCall::finished, this, [&reply](const LlmReply &r) { reply = r; });
    call->abort();
    QTRY_VERIFY(call.isNull());
    QCOMPARE(reply.errorKind, LlmErrorKind::Cancelled);
}

void TestOpenAiProvider::keyNeverInErrorsOrBodies()
{
    // OpenAI echoes (part of) a rejected key in its 401 message; a proxy might echo all of it.
    const Canned canned{
        401, errorBody("invalid_request_error", "Incorrect API key provided: " + kKey.toStdString()), {}};
    const LlmReply reply = run(canned);
    QCOMPARE(reply.errorKind, LlmErrorKind::Http);
    QCOMPARE(reply.httpStatus, 401);
    QVERIFY2(reply.error.message.contains(QStringLiteral("Incorrect API key provided: [redacted]")),
             qPrintable(reply.error.message));
    QVERIFY(!reply.error.message.contains(kKey));
    QVERIFY(!reply.rawBody.contains(kKey.toUtf8()));
}

QTEST_GUILESS_MAIN(TestOpenAiProvider)
#include "tst_openaiprovider.moc"
