#include "core/reason/llm/anthropicprovider.h"
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

const QString kKey = QStringLiteral("sk-ant-api03-secretvalue-0123456789");

QByteArray message(const nlohmann::json &content, const char *stop)
{
    return QByteArray::fromStdString(nlohmann::json{{"id", "msg_01"},
                                                    {"type", "message"},
                                                    {"role", "assistant"},
                                                    {"model", "claude-3-5-haiku-20241022"},
                                                    {"content", content},
                                                    {"stop_reason", stop},
                                                    {"stop_sequence", nullptr},
                                                    {"usage", {{"input_tokens", 321}, {"output_tokens", 54}}}}
                                         .dump());
}

QByteArray anthropicError(const char *type, const char *text)
{
    return QByteArray::fromStdString(
        nlohmann::json{{"type", "error"}, {"error", {{"type", type}, {"message", text}}}}.dump());
}

const nlohmann::json kInput = {
    {"diagnosis", "nil map write"}, {"confidence", 0.9}, {"action", "restart_pod"}};

} // namespace

Q_DECLARE_METATYPE(CannedResponse)

class TestAnthropicProvider final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void replies_data();
    void replies();
    void requestUsesForcedTool();
    void outputConfigReplies_data();
    void outputConfigReplies();
    void requestUsesOutputConfig();
};

void TestAnthropicProvider::replies_data()
{
    using M = CannedResponse::Mode;
    QTest::addColumn<CannedResponse>("canned");
    QTest::addColumn<int>("kind");
    QTest::addColumn<int>("finish");
    QTest::addColumn<QString>("content");
    QTest::addColumn<qint64>("retryAfterMs");
    QTest::addColumn<QString>("messagePart");

    QTest::newRow("tool_use input is the content")
        << CannedResponse{M::Respond,
                          200,
                          message({{{"type", "text"}, {"text", "Here is my answer."}},
                                   {{"type", "tool_use"},
                                    {"id", "toolu_1"},
                                    {"name", "diagnosis"},
                                    {"input", kInput}}},
                                  "tool_use"),
                          {}}
        << int(LlmErrorKind::None) << int(FinishReason::ToolCalls) << QString::fromStdString(kInput.dump())
        << qint64(-1) << QString();
    QTest::newRow("max_tokens is truncation")
        << CannedResponse{M::Respond,
                          200,
                          message({{{"type", "tool_use"},
                                    {"id", "t"},
                                    {"name", "diagnosis"},
                                    {"input", nlohmann::json::object()}}},
                                  "max_tokens"),
                          {}}
        << int(LlmErrorKind::Truncated) << int(FinishReason::Length) << QStringLiteral("{}") << qint64(-1)
        << QStringLiteral("truncated at max_tokens (400)");
    QTest::newRow("429 rate_limit_error with retry-after")
        << CannedResponse{M::Respond,
                          429,
                          anthropicError("rate_limit_error",
                                         "Number of request tokens has exceeded your per-minute rate limit"),
                          {{"retry-after", "12"}}}
        << int(LlmErrorKind::RateLimited) << int(FinishReason::Unknown) << QString() << qint64(12000)
        << QStringLiteral("HTTP 429: rate_limit_error: Number of request tokens");
    QTest::newRow("529 overloaded_error")
        << CannedResponse{M::Respond, 529, anthropicError("overloaded_error", "Overloaded"), {}}
        << int(LlmErrorKind::Overloaded) << int(FinishReason::Unknown) << QString() << qint64(-1)
        << QStringLiteral("HTTP 529: overloaded_error: Overloaded");
    QTest::newRow("400 invalid_request_error names the error")
        << CannedResponse{M::Respond,
                          400,
                          anthropicError("invalid_request_error", "max_tokens: Field required"),
                          {}}
        << int(LlmErrorKind::Http) << int(FinishReason::Unknown) << QString() << qint64(-1)
        << QStringLiteral(
               "/v1/messages returned HTTP 400: invalid_request_error: max_tokens: Field required");
    QTest::newRow("text only reply passes the text on")
        << CannedResponse{M::Respond,
                          200,
                          message({{{"type", "text"}, {"text", "{\"a\":1}"}}}, "end_turn"),
                          {}}
        << int(LlmErrorKind::None) << int(FinishReason::Stop) << QStringLiteral("{\"a\":1}") << qint64(-1)
        << QString();
    QTest::newRow("refusal stop_reason")
        << CannedResponse{M::Respond, 200, message(nlohmann::json::array(), "refusal"), {}}
        << int(LlmErrorKind::Refused) << int(FinishReason::Refusal) << QString() << qint64(-1)
        << QStringLiteral("refused");
    QTest::newRow("401 echoing the key is scrubbed")
        << CannedResponse{M::Respond,
                          401,
                          anthropicError("authentication_error",
                                         qPrintable(QStringLiteral("invalid x-api-key ") + kKey)),
                          {}}
        << int(LlmErrorKind::Http) << int(FinishReason::Unknown) << QString() << qint64(-1)
        << QStringLiteral("invalid x-api-key [redacted]");
}

void TestAnthropicProvider::replies()
{
    QFETCH(CannedResponse, canned);
    QFETCH(int, kind);
    QFETCH(int, finish);
    QFETCH(QString, content);
    QFETCH(qint64, retryAfterMs);
    QFETCH(QString, messagePart);

    test::CannedServer server([canned](const test::HttpRequest &, int) { return canned; });
    QVERIFY(server.listen());
    MapSecretStore secrets({{QStringLiteral("ANTHROPIC_API_KEY"), kKey}});
    AnthropicConfig config;
    config.baseUrl = server.url().toString();
    AnthropicProvider provider(config, &secrets);
    const LlmReply reply = test::awaitReply(provider.complete(test::sampleRequest()));

    QCOMPARE(int(reply.errorKind), kind);
    QCOMPARE(int(reply.finishReason), finish);
    QCOMPARE(reply.content, content);
    QCOMPARE(reply.retryAfterMs, retryAfterMs);
    QVERIFY(!reply.error.message.contains(kKey));
    QVERIFY(!reply.rawBody.contains(kKey.toUtf8()));
    if (messagePart.isEmpty()) {
        QVERIFY2(reply.ok(), qPrintable(reply.error.message));
        QCOMPARE(reply.promptTokens, 321);
        QCOMPARE(reply.completionTokens, 54);
        QCOMPARE(reply.model, QStringLiteral("claude-3-5-haiku-20241022"));
    } else {
        QVERIFY2(reply.error.message.contains(messagePart), qPrintable(reply.error.message));
    }
}

void TestAnthropicProvider::requestUsesForcedTool()
{
    test::CannedServer server([](const test::HttpRequest &, int) {
        return CannedResponse{
            CannedResponse::Mode::Respond,
            200,
            message({{{"type", "tool_use"}, {"id", "t"}, {"name", "diagnosis"}, {"input", kInput}}},
                    "tool_use"),
            {}};
    });
    QVERIFY(server.listen());
    MapSecretStore secrets({{QStringLiteral("ANTHROPIC_API_KEY"), kKey}});
    AnthropicConfig config;
    config.baseUrl = server.url().toString() + u'/';
    AnthropicProvider provider(config, &secrets);
    const LlmRequest request = test::sampleRequest();
    QVERIFY(test::awaitReply(provider.complete(request)).ok());
    QCOMPARE(server.requests().size(), 1);
    const auto &req = server.requests()[0];
    QCOMPARE(req.path, QStringLiteral("/v1/messages"));
    QCOMPARE(req.header("x-api-key"), kKey.toUtf8());
    QCOMPARE(req.header("anthropic-version"), QByteArrayLiteral("2023-06-01"));
    QVERIFY(req.header("content-type").startsWith("application/json"));
    const auto body = nlohmann::json::parse(req.body.toStdString());
    QVERIFY(body["tools"][0]["name"] == "diagnosis");
    QVERIFY(body["tools"][0]["input_schema"] == nlohmann::json(strictJsonSchema(request.schema)));
    QVERIFY(body["tool_choice"] == (nlohmann::json{{"type", "tool"}, {"name", "diagnosis"}}));
    QVERIFY(body["system"] == request.system.toStdString());
    QVERIFY(body["messages"].size() == 1 && body["messages"][0]["role"] == "user");
    QVERIFY(body["max_tokens"] == 400);
}

void TestAnthropicProvider::outputConfigReplies_data()
{
    using M = CannedResponse::Mode;
    QTest::addColumn<CannedResponse>("canned");
    QTest::addColumn<int>("kind");
    QTest::addColumn<int>("finish");
    QTest::addColumn<QString>("content");
    QTest::addColumn<QString>("messagePart");
    const QString answer = QString::fromStdString(kInput.dump());

    QTest::newRow("the text block is the answer")
        << CannedResponse{M::Respond,
                          200,
                          message({{{"type", "text"}, {"text", kInput.dump()}}}, "end_turn"),
                          {}}
        << int(LlmErrorKind::None) << int(FinishReason::Stop) << answer << QString();
    QTest::newRow("text split over blocks is joined")
        << CannedResponse{M::Respond,
                          200,
                          message({{{"type", "text"}, {"text", "{\"diagnosis\":\"nil map write\","}},
                                   {{"type", "text"},
                                    {"text", "\"confidence\":0.9,\"action\":\"restart_pod\"}"}}},
                                  "end_turn"),
                          {}}
        << int(LlmErrorKind::None) << int(FinishReason::Stop)
        << QStringLiteral("{\"diagnosis\":\"nil map write\",\"confidence\":0.9,\"action\":\"restart_pod\"}")
        << QString();
    QTest::newRow("refusal carries the model's words")
        << CannedResponse{M::Respond,
                          200,
                          message({{{"type", "text"}, {"text", "I can't help with that."}}}, "refusal"),
                          {}}
        << int(LlmErrorKind::Refused) << int(FinishReason::Refusal)
        << QStringLiteral("I can't help with that.") << QStringLiteral("refused: I can't help with that.");
    QTest::newRow("max_tokens mid-JSON is truncation")
        << CannedResponse{M::Respond,
                          200,
                          message({{{"type", "text"}, {"text", "{\"diagnosis\":\"nil ma"}}}, "max_tokens"),
                          {}}
        << int(LlmErrorKind::Truncated) << int(FinishReason::Length)
        << QStringLiteral("{\"diagnosis\":\"nil ma") << QStringLiteral("truncated at max_tokens");
    QTest::newRow("no text at all") << CannedResponse{M::Respond,
                                                      200,
                                                      message(nlohmann::json::array(), "end_turn"),
                                                      {}}
                                    << int(LlmErrorKind::BadReply) << int(FinishReason::Stop) << QString()
                                    << QStringLiteral("reply has no text (stop_reason end_turn)");
    QTest::newRow("529 overloaded_error")
        << CannedResponse{M::Respond, 529, anthropicError("overloaded_error", "Overloaded"), {}}
        << int(LlmErrorKind::Overloaded) << int(FinishReason::Unknown) << QString()
        << QStringLiteral("HTTP 529: overloaded_error: Overloaded");
    QTest::newRow("400 for an unsupported schema names the error")
        << CannedResponse{M::Respond,
                          400,
                          anthropicError(
                              "invalid_request_error",
                              "output_config.format.schema: For 'object' type, 'additionalProperties' "
                              "must be explicitly set to false"),
                          {}}
        << int(LlmErrorKind::Http) << int(FinishReason::Unknown) << QString()
        << QStringLiteral("HTTP 400: invalid_request_error: output_config.format.schema");
}

void TestAnthropicProvider::outputConfigReplies()
{
    QFETCH(CannedResponse, canned);
    QFETCH(int, kind);
    QFETCH(int, finish);
    QFETCH(QString, content);
    QFETCH(QString, messagePart);

    test::CannedServer server([canned](const test::HttpRequest &, int) { return canned; });
    QVERIFY(server.listen());
    MapSecretStore secrets({{QStringLiteral("ANTHROPIC_API_KEY"), kKey}});
    AnthropicConfig config;
    config.baseUrl = server.url().toString();
    config.structuredOutput = AnthropicConfig::StructuredOutput::OutputConfig;
    AnthropicProvider provider(config, &secrets);
    const LlmReply reply = test::awaitReply(provider.complete(test::sampleRequest()));

    QCOMPARE(int(reply.errorKind), kind);
    QCOMPARE(int(reply.finishReason), finish);
    QCOMPARE(kind == int(LlmErrorKind::Refused) ? reply.refusal : reply.content, content);
    if (messagePart.isEmpty()) {
        QVERIFY2(reply.ok(), qPrintable(reply.error.message));
        QCOMPARE(reply.promptTokens, 321);
        QCOMPARE(reply.completionTokens, 54);
    } else {
        QVERIFY2(reply.error.message.contains(messagePart), qPrintable(reply.error.message));
    }
}

void TestAnthropicProvider::requestUsesOutputConfig()
{
    test::CannedServer server([](const test::HttpRequest &, int) {
        return CannedResponse{CannedResponse::Mode::Respond,
                              200,
                              message({{{"type", "text"}, {"text", kInput.dump()}}}, "end_turn"),
                              {}};
    });
    QVERIFY(server.listen());
    MapSecretStore secrets({{QStringLiteral("ANTHROPIC_API_KEY"), kKey}});
    AnthropicConfig config;
    config.baseUrl = server.url().toString();
    config.structuredOutput = AnthropicConfig::StructuredOutput::OutputConfig;
    AnthropicProvider provider(config, &secrets);
    const Result<reason::PromptSet> prompts = reason::loadPrompts();
    QVERIFY2(prompts.ok(), qPrintable(prompts.errorMessage()));
    LlmRequest request = test::sampleRequest();
    request.schema = prompts->schema;
    QVERIFY(test::awaitReply(provider.complete(request)).ok());
    QCOMPARE(server.requests().size(), 1);
    const auto body = nlohmann::json::parse(server.requests()[0].body.toStdString());
    QVERIFY(!body.contains("tools"));
    QVERIFY(!body.contains("tool_choice"));
    QVERIFY(body["output_config"]["format"]["type"] == "json_schema");
    const auto &schema = body["output_config"]["format"]["schema"];
    QVERIFY(schema == nlohmann::json(strictJsonSchema(prompts->schema)));
    // The Vigil schema goes out closed and without a top-level union.
    const QStringList strict = test::strictModeViolations(schema);
    QVERIFY2(strict.isEmpty(), qPrintable(strict.join(u'\n')));
    QVERIFY(body["system"] == request.system.toStdString());
    QVERIFY(body["max_tokens"] == 400);
}

QTEST_GUILESS_MAIN(TestAnthropicProvider)
#include "tst_anthropicprovider.moc"
