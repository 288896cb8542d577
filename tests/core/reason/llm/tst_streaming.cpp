// Streaming replies (server-sent events) from OpenAI chat completions and
// Anthropic messages, and Ollama's native newline-delimited JSON, served by
// the scriptable HTTP server in pieces that split events anywhere: a stream
// counts only when it reaches its end marker; an error event, a cut
// connection or a garbled stream is an error with no partial content.

#include "core/reason/llm/anthropicprovider.h"
#include "core/reason/llm/costmeter.h"
#include "core/reason/llm/ollamaprovider.h"
#include "core/reason/llm/openaiprovider.h"
#include "core/reason/llm/resilientprovider.h"
#include "core/reason/llm/secretstore.h"

#include "httptestserver.h"
#include "jsonschemacheck.h"
#include "llmtestutil.h"

#include <QElapsedTimer>
#include <QTest>

#include <optional>

using namespace vigil;
using namespace vigil::llm;
using nlohmann::json;
using ServerExchange = test::HttpExchange;
using Ending = test::HttpExchange::Ending;

namespace {

const QString kKey = QStringLiteral("sk-stream-test-0123456789");
const std::string kAnswer =
    R"({"diagnosis":"nil map write in handler","confidence":0.9,"action":"restart_pod","parameters":{"namespace":"shop","pod":"web-1"},"reasoning":"panic in the previous log"})";
const test::HttpHeaders kSse{{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}};

QByteArray sse(const json &data, const char *event = nullptr)
{
    QByteArray out;
    if (event)
        out += QByteArray("event: ") + event + '\n';
    return out + "data: " + QByteArray::fromStdString(data.dump()) + "\n\n";
}

// One chat.completion.chunk as CreateChatCompletionStreamResponse describes it.
json openAiChunk(const json &delta, const json &finish = nullptr)
{
    return json{{"id", "chatcmpl-9"},
                {"object", "chat.completion.chunk"},
                {"created", 1741570283},
                {"model", "gpt-4o-mini-2024-07-18"},
                {"choices", json::array({json{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}};
}

json openAiUsageChunk()
{
    json c = openAiChunk(json::object());
    c["choices"] = json::array();
    c["usage"] = {{"prompt_tokens", 120}, {"completion_tokens", 40}, {"total_tokens", 160}};
    return c;
}

// The chunks of a streamed answer: role, the content in three deltas, the finish, the usage.
QList<json> openAiChunks(const std::string &content = kAnswer, const char *finish = "stop")
{
    const std::size_t third = content.size() / 3;
    return {openAiChunk({{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}),
            openAiChunk({{"content", content.substr(0, third)}}),
            openAiChunk({{"content", content.substr(third, third)}}),
            openAiChunk({{"content", content.substr(2 * third)}}),
            openAiChunk(json::object(), finish),
            openAiUsageChunk()};
}

QByteArray openAiStream(const QList<json> &chunks, bool done = true)
{
    QByteArray out = ": keep-alive\n\n";
    for (const json &c : chunks)
        out += sse(c);
    if (done)
        out += "data: [DONE]\n\n";
    return out;
}

QByteArray anthropicStream(bool tool, const char *stop = "end_turn", bool withStop = true)
{
    QByteArray out;
    out += sse({{"type", "message_start"},
                {"message",
                 {{"id", "msg_1"},
                  {"type", "message"},
                  {"role", "assistant"},
                  {"model", "claude-sonnet-4-5-20250929"},
                  {"content", json::array()},
                  {"stop_reason", nullptr},
                  {"usage", {{"input_tokens", 321}, {"output_tokens", 1}}}}}},
               "message_start");
    out += sse({{"type", "ping"}}, "ping");
    const std::size_t half = kAnswer.size() / 2;
    if (tool) {
        out += sse(
            {{"type", "content_block_start"},
             {"index", 0},
             {"content_block",
              {{"type", "tool_use"}, {"id", "toolu_1"}, {"name", "diagnosis"}, {"input", json::object()}}}},
            "content_block_start");
        for (const std::string &piece : {kAnswer.substr(0, half), kAnswer.substr(half)})
            out += sse({{"type", "content_block_delta"},
                        {"index", 0},
                        {"delta", {{"type", "input_json_delta"}, {"partial_json", piece}}}},
                       "content_block_delta");
    } else {
        out += sse({{"type", "content_block_start"},
                    {"index", 0},
                    {"content_block", {{"type", "text"}, {"text", ""}}}},
                   "content_block_start");
        for (const std::string &piece : {kAnswer.substr(0, half), kAnswer.substr(half)})
            out += sse({{"type", "content_block_delta"},
                        {"index", 0},
                        {"delta", {{"type", "text_delta"}, {"text", piece}}}},
                       "content_block_delta");
    }
    out += sse({{"type", "content_block_stop"}, {"index", 0}}, "content_block_stop");
    out += sse({{"type", "message_delta"},
                {"delta", {{"stop_reason", stop}, {"stop_sequence", nullptr}}},
                {"usage", {{"output_tokens", 54}}}},
               "message_delta");
    if (withStop)
        out += sse({{"type", "message_stop"}}, "message_stop");
    return out;
}

const test::HttpHeaders kNdjson{{"Content-Type", "application/x-ndjson"}};

// Ollama's /api/chat stream: one JSON object a line, the content in pieces,
// then the line with done: true, done_reason and the counts.
QByteArray ollamaStream(const std::string &content = kAnswer, const char *doneReason = "stop",
                        bool withDone = true)
{
    QByteArray out;
    const std::size_t third = content.size() / 3;
    for (const std::string &piece :
         {content.substr(0, third), content.substr(third, third), content.substr(2 * third)}) {
        out += QByteArray::fromStdString(json{
                   {"model", "qwen2.5:7b"},
                   {"created_at", "2026-11-25T08:00:00.1Z"},
                   {"message", {{"role", "assistant"}, {"content", piece}}},
                   {"done", false}}.dump()) +
               '\n';
    }
    if (withDone)
        out += QByteArray::fromStdString(json{
                   {"model", "qwen2.5:7b"},
                   {"created_at", "2026-11-25T08:00:00.9Z"},
                   {"message", {{"role", "assistant"}, {"content", ""}}},
                   {"done", true},
                   {"done_reason", doneReason},
                   {"total_duration", 912000000},
                   {"prompt_eval_count", 210},
                   {"eval_count", 33}}.dump()) +
               '\n';
    return out;
}

// `stream` cut into pieces of `size` bytes, sent as separate chunks.
QList<QPair<int, QByteArray>> pieces(const QByteArray &stream, int size, int delayMs = 0)
{
    QList<QPair<int, QByteArray>> out;
    for (qsizetype i = 0; i < stream.size(); i += size)
        out.append({delayMs, stream.mid(i, size)});
    return out;
}

struct Script {
    int status = 200;
    test::HttpHeaders headers = kSse;
    QByteArray stream;
    int pieceSize = 0; ///< 0: one piece
    Ending ending = Ending::End;
};

} // namespace

Q_DECLARE_METATYPE(Script)

class TestStreaming final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void openAiStreams_data();
    void openAiStreams();
    void openAiRequestAndChunksFollowTheContract();
    void anthropicStreams_data();
    void anthropicStreams();
    void anthropicRequestAsksForAStream();
    void ollamaStreams_data();
    void ollamaStreams();
    void ollamaRequestAsksForAStream();
    void endMarkerEndsTheCallWithoutWaitingForClose();
    void cutStreamIsRetriedWholeNeverPatched();

private:
    LlmReply runOpenAi(const Script &script, int timeoutMs = 5000);
    LlmReply runAnthropic(const Script &script, AnthropicConfig::StructuredOutput route);
    LlmReply runOllama(const Script &script, int timeoutMs = 5000);
    void serve(const Script &script);

    std::optional<test::OpenApiSchemas> m_spec;
    std::unique_ptr<test::HttpTestServer> m_server;
};

void TestStreaming::initTestCase()
{
    auto spec = test::OpenApiSchemas::load(QStringLiteral(VIGIL_CONTRACTS_DIR "/openai/openapi.yaml"));
    QVERIFY2(spec.ok(), qPrintable(spec.errorMessage()));
    m_spec = std::move(*spec);
    QVERIFY(m_spec->hasSchema(QStringLiteral("CreateChatCompletionStreamResponse")));
}

void TestStreaming::serve(const Script &script)
{
    m_server = std::make_unique<test::HttpTestServer>([script](ServerExchange *ex) {
        const int size =
            script.pieceSize > 0 ? script.pieceSize : int(std::max<qsizetype>(1, script.stream.size()));
        ex->streamChunks(script.status, script.headers, pieces(script.stream, size), script.ending);
    });
    QVERIFY(m_server->listen());
}

LlmReply TestStreaming::runOpenAi(const Script &script, int timeoutMs)
{
    serve(script);
    MapSecretStore secrets({{QStringLiteral("OPENAI_API_KEY"), kKey}});
    OpenAiConfig config;
    config.baseUrl = m_server->url().toString() + QStringLiteral("/v1");
    config.stream = true;
    OpenAiProvider provider(config, &secrets);
    LlmRequest request = test::sampleRequest();
    request.timeoutMs = timeoutMs;
    return test::awaitReply(provider.complete(request));
}

LlmReply TestStreaming::runAnthropic(const Script &script, AnthropicConfig::StructuredOutput route)
{
    serve(script);
    MapSecretStore secrets({{QStringLiteral("ANTHROPIC_API_KEY"), kKey}});
    AnthropicConfig config;
    config.baseUrl = m_server->url().toString();
    config.stream = true;
    config.structuredOutput = route;
    AnthropicProvider provider(config, &secrets);
    return test::awaitReply(provider.complete(test::sampleRequest()));
}

LlmReply TestStreaming::runOllama(const Script &script, int timeoutMs)
{
    serve(script);
    OllamaConfig config;
    config.host = m_server->url().toString();
    config.stream = true;
    OllamaProvider provider(config, nullptr);
    LlmRequest request = test::sampleRequest();
    request.model = QStringLiteral("qwen2.5:7b");
    request.timeoutMs = timeoutMs;
    return test::awaitReply(provider.complete(request));
}

void TestStreaming::openAiStreams_data()
{
    QTest::addColumn<Script>("script");
    QTest::addColumn<int>("kind");
    QTest::addColumn<int>("finish");
    QTest::addColumn<QString>("content");
    QTest::addColumn<QString>("messagePart");
    const QString answer = QString::fromStdString(kAnswer);
    const QByteArray whole = openAiStream(openAiChunks());
    const int none = int(LlmErrorKind::None);

    for (int size : {1, 7, 61, 0})
        QTest::newRow(
            qPrintable(size ? QStringLiteral("split every %1 bytes").arg(size) : QStringLiteral("one piece")))
            << Script{200, kSse, whole, size, Ending::End} << none << int(FinishReason::Stop) << answer
            << QString();
    QByteArray crlf = whole;
    crlf.replace("\n", "\r\n");
    QTest::newRow("CRLF line endings split mid-CRLF")
        << Script{200, kSse, crlf, 2, Ending::End} << none << int(FinishReason::Stop) << answer << QString();

    QList<json> cut = openAiChunks();
    QTest::newRow("connection cut mid-stream")
        << Script{200, kSse, openAiStream(cut.mid(0, 3), false) + "data: {\"id\":\"chat", 13, Ending::Close}
        << int(LlmErrorKind::Network) << int(FinishReason::Unknown) << QString()
        << QStringLiteral("the partial reply is discarded");
    QTest::newRow("stream ends cleanly without [DONE]")
        << Script{200, kSse, openAiStream(cut.mid(0, 3), false), 9, Ending::End} << int(LlmErrorKind::Network)
        << int(FinishReason::Unknown) << QString()
        << QStringLiteral("the event stream ended before data: [DONE] (3 events)");
    QList<json> failing = cut.mid(0, 2);
    failing << json{{"error",
                     {{"message", "The server had an error while processing your request."},
                      {"type", "server_error"},
                      {"param", nullptr},
                      {"code", nullptr}}}};
    QTest::newRow("error event mid-stream")
        << Script{200, kSse, openAiStream(failing, false), 11, Ending::End} << int(LlmErrorKind::Network)
        << int(FinishReason::Unknown) << QString()
        << QStringLiteral("error event mid-stream: server_error: The server had an error");
    failing.last() = json{{"error",
                           {{"message", "Rate limit reached for gpt-4o-mini"},
                            {"type", "tokens"},
                            {"code", "rate_limit_exceeded"}}}};
    failing.last()["error"]["type"] = "rate_limit_exceeded";
    QTest::newRow("rate limit error event mid-stream")
        << Script{200, kSse, openAiStream(failing, false), 0, Ending::Stall} << int(LlmErrorKind::RateLimited)
        << int(FinishReason::Unknown) << QString()
        << QStringLiteral("rate_limit_exceeded: Rate limit reached");
    QTest::newRow("garbled chunk")
        << Script{200, kSse, openAiStream(cut.mid(0, 2), false) + "data: {not json\n\ndata: [DONE]\n\n", 5,
                  Ending::End}
        << int(LlmErrorKind::Network) << int(FinishReason::Unknown) << QString()
        << QStringLiteral("the event stream is garbled: a chunk is not a JSON object");
    QTest::newRow("finish_reason length is truncation")
        << Script{200, kSse, openAiStream(openAiChunks(kAnswer.substr(0, 40), "length")), 17, Ending::End}
        << int(LlmErrorKind::Truncated) << int(FinishReason::Length)
        << QString::fromStdString(kAnswer.substr(0, 40)) << QStringLiteral("truncated at the token limit");
    QList<json> refusal{
        openAiChunk({{"role", "assistant"}, {"content", nullptr}, {"refusal", "I'm sorry, "}}),
        openAiChunk({{"refusal", "I can't help with that."}}), openAiChunk(json::object(), "stop"),
        openAiUsageChunk()};
    QTest::newRow("refusal streamed in pieces")
        << Script{200, kSse, openAiStream(refusal), 23, Ending::End} << int(LlmErrorKind::Refused)
        << int(FinishReason::Refusal) << QString()
        << QStringLiteral("refused: I'm sorry, I can't help with that.");
    QTest::newRow("429 before any event keeps Retry-After")
        << Script{429,
                  {{"Content-Type", "application/json"}, {"Retry-After", "7"}},
                  R"({"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}})",
                  0,
                  Ending::End}
        << int(LlmErrorKind::RateLimited) << int(FinishReason::Unknown) << QString()
        << QStringLiteral("HTTP 429");
    QTest::newRow("a server that ignores stream and answers JSON")
        << Script{200,
                  {{"Content-Type", "application/json"}},
                  QByteArray::fromStdString(json{
                      {"id", "c"},
                      {"object", "chat.completion"},
                      {"created", 1},
                      {"model", "gpt-4o-mini"},
                      {"choices",
                       {{{"index", 0},
                         {"finish_reason", "stop"},
                         {"logprobs", nullptr},
                         {"message", {{"role", "assistant"}, {"content", kAnswer}, {"refusal", nullptr}}}}}},
                      {"usage", {{"prompt_tokens", 120}, {"completion_tokens", 40}, {"total_tokens", 160}}}}
                                                .dump()),
                  0,
                  Ending::End}
        << none << int(FinishReason::Stop) << answer << QString();
}

void TestStreaming::openAiStreams()
{
    QFETCH(Script, script);
    QFETCH(int, kind);
    QFETCH(int, finish);
    QFETCH(QString, content);
    QFETCH(QString, messagePart);
    const LlmReply reply = runOpenAi(script);
    QCOMPARE(int(reply.errorKind), kind);
    QCOMPARE(int(reply.finishReason), finish);
    QCOMPARE(reply.content, content);
    QVERIFY(!reply.error.message.contains(kKey));
    if (messagePart.isEmpty()) {
        QVERIFY2(reply.ok(), qPrintable(reply.error.message));
        QCOMPARE(reply.promptTokens, 120);
        QCOMPARE(reply.completionTokens, 40);
        QVERIFY(reply.model.startsWith(QLatin1String("gpt-4o-mini")));
    } else {
        QVERIFY2(reply.error.message.contains(messagePart), qPrintable(reply.error.message));
    }
    if (kind == int(LlmErrorKind::RateLimited) && script.status == 429)
        QCOMPARE(reply.retryAfterMs, qint64(7000));
    // A failed stream never hands on what it had so far.
    if (kind != int(LlmErrorKind::None) && kind != int(LlmErrorKind::Truncated))
        QVERIFY(reply.content.isEmpty());
}

void TestStreaming::openAiRequestAndChunksFollowTheContract()
{
    const LlmReply reply = runOpenAi(Script{200, kSse, openAiStream(openAiChunks()), 0, Ending::End});
    QVERIFY2(reply.ok(), qPrintable(reply.error.message));
    QCOMPARE(m_server->requests().size(), 1);
    const test::HttpRequest &req = m_server->requests().first();
    QCOMPARE(req.header("accept"), QByteArray("text/event-stream"));
    const json body = json::parse(req.body.toStdString());
    const QStringList violations = m_spec->validate(body, QStringLiteral("CreateChatCompletionRequest"));
    QVERIFY2(violations.isEmpty(), qPrintable(violations.join(u'\n')));
    QVERIFY(body["stream"] == true);
    QVERIFY(body["stream_options"]["include_usage"] == true);
    // The fixtures are what the contract says a stream carries.
    for (const json &chunk : openAiChunks()) {
        const QStringList errors =
            m_spec->validate(chunk, QStringLiteral("CreateChatCompletionStreamResponse"));
        QVERIFY2(errors.isEmpty(),
                 qPrintable(errors.join(u'\n') + u'\n' + QString::fromStdString(chunk.dump())));
    }
    // The audit keeps the stream as it came.
    QVERIFY(reply.rawBody.startsWith(": keep-alive\n\ndata: {"));
    QVERIFY(reply.rawBody.endsWith("data: [DONE]\n\n"));
}

void TestStreaming::anthropicStreams_data()
{
    QTest::addColumn<Script>("script");
    QTest::addColumn<bool>("tool");
    QTest::addColumn<int>("kind");
    QTest::addColumn<int>("finish");
    QTest::addColumn<QString>("messagePart");
    const int none = int(LlmErrorKind::None);
    for (int size : {1, 9, 0}) {
        const QString split =
            size ? QStringLiteral(" split every %1 bytes").arg(size) : QStringLiteral(" in one piece");
        QTest::newRow(qPrintable(QStringLiteral("output_config text") + split))
            << Script{200, kSse, anthropicStream(false), size, Ending::End} << false << none
            << int(FinishReason::Stop) << QString();
        QTest::newRow(qPrintable(QStringLiteral("tool_use input_json_delta") + split))
            << Script{200, kSse, anthropicStream(true, "tool_use"), size, Ending::End} << true << none
            << int(FinishReason::ToolCalls) << QString();
    }
    const QByteArray full = anthropicStream(false);
    const QByteArray half = full.left(full.indexOf("content_block_stop"));
    QTest::newRow("overloaded_error event mid-stream")
        << Script{200, kSse,
                  half.left(half.lastIndexOf("event:")) +
                      sse({{"type", "error"},
                           {"error", {{"type", "overloaded_error"}, {"message", "Overloaded"}}}},
                          "error"),
                  31, Ending::Stall}
        << false << int(LlmErrorKind::Overloaded) << int(FinishReason::Unknown)
        << QStringLiteral("error event mid-stream: overloaded_error: Overloaded");
    QTest::newRow("connection cut mid-stream")
        << Script{200, kSse, half, 29, Ending::Close} << false << int(LlmErrorKind::Network)
        << int(FinishReason::Unknown) << QStringLiteral("the partial reply is discarded");
    QTest::newRow("no message_stop") << Script{200, kSse, anthropicStream(false, "end_turn", false), 0,
                                               Ending::End}
                                     << false << int(LlmErrorKind::Network) << int(FinishReason::Unknown)
                                     << QStringLiteral("the event stream ended before message_stop");
    QTest::newRow("max_tokens is truncation")
        << Script{200, kSse, anthropicStream(true, "max_tokens"), 0, Ending::End} << true
        << int(LlmErrorKind::Truncated) << int(FinishReason::Length)
        << QStringLiteral("truncated at max_tokens");
    QTest::newRow("529 before the stream")
        << Script{529,
                  {{"Content-Type", "application/json"}},
                  R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
                  0,
                  Ending::End}
        << false << int(LlmErrorKind::Overloaded) << int(FinishReason::Unknown)
        << QStringLiteral("HTTP 529: overloaded_error");
}

void TestStreaming::anthropicStreams()
{
    QFETCH(Script, script);
    QFETCH(bool, tool);
    QFETCH(int, kind);
    QFETCH(int, finish);
    QFETCH(QString, messagePart);
    const LlmReply reply = runAnthropic(script, tool ? AnthropicConfig::StructuredOutput::ForcedTool
                                                     : AnthropicConfig::StructuredOutput::OutputConfig);
    QCOMPARE(int(reply.errorKind), kind);
    QCOMPARE(int(reply.finishReason), finish);
    QVERIFY(!reply.error.message.contains(kKey));
    if (messagePart.isEmpty()) {
        QVERIFY2(reply.ok(), qPrintable(reply.error.message));
        QVERIFY(json::parse(reply.content.toStdString()) == json::parse(kAnswer));
        QCOMPARE(reply.promptTokens, 321);
        QCOMPARE(reply.completionTokens, 54);
        QCOMPARE(reply.model, QStringLiteral("claude-sonnet-4-5-20250929"));
    } else {
        QVERIFY2(reply.error.message.contains(messagePart), qPrintable(reply.error.message));
        if (kind != int(LlmErrorKind::Truncated))
            QVERIFY(reply.content.isEmpty());
    }
}

void TestStreaming::anthropicRequestAsksForAStream()
{
    const LlmReply reply = runAnthropic(Script{200, kSse, anthropicStream(false), 0, Ending::End},
                                        AnthropicConfig::StructuredOutput::OutputConfig);
    QVERIFY2(reply.ok(), qPrintable(reply.error.message));
    const test::HttpRequest &req = m_server->requests().first();
    QCOMPARE(req.header("accept"), QByteArray("text/event-stream"));
    QCOMPARE(req.header("x-api-key"), kKey.toUtf8());
    const json body = json::parse(req.body.toStdString());
    QVERIFY(body["stream"] == true);
    QVERIFY(body.contains("output_config"));
}

void TestStreaming::ollamaStreams_data()
{
    QTest::addColumn<Script>("script");
    QTest::addColumn<int>("kind");
    QTest::addColumn<int>("finish");
    QTest::addColumn<QString>("content");
    QTest::addColumn<QString>("messagePart");
    const QString answer = QString::fromStdString(kAnswer);
    const QByteArray whole = ollamaStream();
    const int none = int(LlmErrorKind::None);
    for (int size : {1, 13, 0})
        QTest::newRow(
            qPrintable(size ? QStringLiteral("split every %1 bytes").arg(size) : QStringLiteral("one piece")))
            << Script{200, kNdjson, whole, size, Ending::End} << none << int(FinishReason::Stop) << answer
            << QString();
    QByteArray crlf = whole;
    crlf.replace("\n", "\r\n");
    QTest::newRow("CRLF line endings and blank lines")
        << Script{200, kNdjson, "\r\n" + crlf + "\r\n", 3, Ending::End} << none << int(FinishReason::Stop)
        << answer << QString();
    QTest::newRow("done line, then the server keeps the connection open")
        << Script{200, kNdjson, whole, 0, Ending::Stall} << none << int(FinishReason::Stop) << answer
        << QString();
    const QByteArray partial = ollamaStream(kAnswer, "stop", false);
    QTest::newRow("connection cut mid-line")
        << Script{200, kNdjson, partial + "{\"model\":\"qwen", 11, Ending::Close}
        << int(LlmErrorKind::Network) << int(FinishReason::Unknown) << QString()
        << QStringLiteral("the partial reply is discarded");
    QTest::newRow("stream ends cleanly without done: true")
        << Script{200, kNdjson, partial, 17, Ending::End} << int(LlmErrorKind::Network)
        << int(FinishReason::Unknown) << QString()
        << QStringLiteral("the event stream ended before \"done\": true (3 events)");
    QTest::newRow("error line mid-stream")
        << Script{200, kNdjson,
                  partial.left(partial.indexOf('\n') + 1) +
                      R"({"error":"an error was encountered while running the model: unexpected EOF"})" +
                      "\n",
                  19, Ending::Stall}
        << int(LlmErrorKind::Network) << int(FinishReason::Unknown) << QString()
        << QStringLiteral("error event mid-stream: error: an error was encountered while running the model");
    QTest::newRow("garbled line")
        << Script{200, kNdjson, partial.left(partial.indexOf('\n') + 1) + "{not json\n" + whole, 7,
                  Ending::End}
        << int(LlmErrorKind::Network) << int(FinishReason::Unknown) << QString()
        << QStringLiteral("the event stream is garbled: a line is not a JSON object: {not json");
    QTest::newRow("a line longer than 1 MiB")
        << Script{200, kNdjson, QByteArray(1024 * 1024 + 10, 'x'), 65536, Ending::End}
        << int(LlmErrorKind::Network) << int(FinishReason::Unknown) << QString()
        << QStringLiteral("garbled: a line longer than 1048576 bytes");
    QTest::newRow("done_reason length is truncation")
        << Script{200, kNdjson, ollamaStream(kAnswer.substr(0, 40), "length"), 0, Ending::End}
        << int(LlmErrorKind::Truncated) << int(FinishReason::Length)
        << QString::fromStdString(kAnswer.substr(0, 40)) << QStringLiteral("truncated at num_predict (400)");
    QTest::newRow("done with no content is a bad reply")
        << Script{200, kNdjson, ollamaStream(""), 0, Ending::End} << int(LlmErrorKind::BadReply)
        << int(FinishReason::Stop) << QString()
        << QStringLiteral("reply has empty content (done_reason stop)");
    QTest::newRow("404 before the stream quotes ollama")
        << Script{404,
                  {{"Content-Type", "application/json"}},
                  R"({"error":"model \"qwen2.5:7b\" not found, try pulling it first"})",
                  0,
                  Ending::End}
        << int(LlmErrorKind::Http) << int(FinishReason::Unknown) << QString()
        << QStringLiteral("returned HTTP 404: model \"qwen2.5:7b\" not found");
    QTest::newRow("a server that ignores stream and answers one JSON object")
        << Script{200,
                  {{"Content-Type", "application/json"}},
                  QByteArray::fromStdString(json{
                      {"model", "qwen2.5:7b"},
                      {"message", {{"role", "assistant"}, {"content", kAnswer}}},
                      {"done", true},
                      {"done_reason", "stop"},
                      {"prompt_eval_count", 210},
                      {"eval_count", 33}}.dump()),
                  0,
                  Ending::End}
        << none << int(FinishReason::Stop) << answer << QString();
}

void TestStreaming::ollamaStreams()
{
    QFETCH(Script, script);
    QFETCH(int, kind);
    QFETCH(int, finish);
    QFETCH(QString, content);
    QFETCH(QString, messagePart);
    QElapsedTimer timer;
    timer.start();
    const LlmReply reply = runOllama(script, 10000);
    QCOMPARE(int(reply.errorKind), kind);
    QCOMPARE(int(reply.finishReason), finish);
    QCOMPARE(reply.content, content);
    if (messagePart.isEmpty()) {
        QVERIFY2(reply.ok(), qPrintable(reply.error.message));
        QCOMPARE(reply.promptTokens, 210);
        QCOMPARE(reply.completionTokens, 33);
        QCOMPARE(reply.model, QStringLiteral("qwen2.5:7b"));
    } else {
        QVERIFY2(reply.error.message.contains(messagePart), qPrintable(reply.error.message));
    }
    // A stalled connection never holds the call past what the stream said.
    QVERIFY2(timer.elapsed() < 8000, qPrintable(QString::number(timer.elapsed())));
    // A failed stream never hands on what it had so far.
    if (kind != int(LlmErrorKind::None) && kind != int(LlmErrorKind::Truncated))
        QVERIFY(reply.content.isEmpty());
}

void TestStreaming::ollamaRequestAsksForAStream()
{
    const LlmReply reply = runOllama(Script{200, kNdjson, ollamaStream(), 0, Ending::End});
    QVERIFY2(reply.ok(), qPrintable(reply.error.message));
    QCOMPARE(m_server->requests().size(), 1);
    const test::HttpRequest &req = m_server->requests().first();
    QCOMPARE(req.path, QStringLiteral("/api/chat"));
    QCOMPARE(req.header("accept"), QByteArray("application/x-ndjson"));
    const json body = json::parse(req.body.toStdString());
    QVERIFY(body["stream"] == true);
    QVERIFY(body["format"].is_object());
    QVERIFY(body["options"]["num_predict"] == 400);
    // The audit keeps the stream as it came.
    QCOMPARE(reply.rawBody, ollamaStream());
    // Off by default: the same provider without stream asks for one JSON reply.
    OllamaProvider plain(OllamaConfig{QStringLiteral("ollama"), m_server->url().toString()}, nullptr);
    QVERIFY(plain.buildBody(test::sampleRequest())["stream"] == false);
}

void TestStreaming::endMarkerEndsTheCallWithoutWaitingForClose()
{
    // The server says everything, then keeps the connection open: the call ends at the marker.
    QElapsedTimer timer;
    timer.start();
    LlmReply reply = runOpenAi(Script{200, kSse, openAiStream(openAiChunks()), 0, Ending::Stall}, 10000);
    QVERIFY2(reply.ok(), qPrintable(reply.error.message));
    QCOMPARE(reply.content, QString::fromStdString(kAnswer));
    reply = runAnthropic(Script{200, kSse, anthropicStream(false), 0, Ending::Stall},
                         AnthropicConfig::StructuredOutput::OutputConfig);
    QVERIFY2(reply.ok(), qPrintable(reply.error.message));
    QVERIFY2(timer.elapsed() < 5000, qPrintable(QString::number(timer.elapsed())));
}

void TestStreaming::cutStreamIsRetriedWholeNeverPatched()
{
    // First attempt: cut after half the content; second: the whole stream.
    const QByteArray whole = openAiStream(openAiChunks());
    m_server = std::make_unique<test::HttpTestServer>([whole](ServerExchange *ex) {
        if (ex->request().connectionId == 1)
            ex->streamChunks(200, kSse, pieces(whole.left(whole.size() / 2), 40), Ending::Close);
        else
            ex->streamChunks(200, kSse, pieces(whole, 40), Ending::End);
    });
    QVERIFY(m_server->listen());
    MapSecretStore secrets({{QStringLiteral("OPENAI_API_KEY"), kKey}});
    OpenAiConfig config;
    config.baseUrl = m_server->url().toString() + QStringLiteral("/v1");
    config.stream = true;
    OpenAiProvider inner(config, &secrets);
    test::FakeClock clock;
    CostMeter meter(PriceTable::defaults(), {}, &clock);
    ResilienceConfig rc;
    rc.retry.baseDelayMs = 1;
    rc.retry.maxDelayMs = 2;
    ResilientProvider provider(
        &inner, &meter, &clock, [] { return 0.5; }, rc);
    const LlmReply reply = test::awaitReply(provider.complete(test::sampleRequest()));
    QVERIFY2(reply.ok(), qPrintable(reply.error.message));
    QCOMPARE(reply.attempts, 2);
    QCOMPARE(reply.content,
             QString::fromStdString(kAnswer)); // the second stream, whole; nothing of the first
    QCOMPARE(m_server->requests().size(), 2);
}

QTEST_GUILESS_MAIN(TestStreaming)
#include "tst_streaming.moc"
