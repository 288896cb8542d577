#include "core/reason/llm/anthropicprovider.h"
#include "core/reason/llm/ollamaprovider.h"
#include "core/reason/llm/openaiprovider.h"
#include "core/reason/llm/secretstore.h"
#include "core/reason/prompts.h"

#include "cannedserver.h"
#include "llmtestutil.h"

#include <QTest>

#include <memory>

using namespace vigil;
using namespace vigil::llm;
using nlohmann::ordered_json;

// The reply schema reaches the model with its properties in the order prompts/
// writes them (diagnosis first, reasoning last), not sorted: a model fills a
// structured reply in the order it reads the schema.
class TestWireOrder final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void schemaPropertiesKeepPromptOrder_data();
    void schemaPropertiesKeepPromptOrder();
};

namespace {

const QByteArray kOpenAiReply =
    R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"{}"}}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}})";
const QByteArray kAnthropicReply =
    R"({"id":"m","type":"message","role":"assistant","model":"m","stop_reason":"tool_use","content":[{"type":"tool_use","id":"t","name":"diagnosis","input":{}}],"usage":{"input_tokens":1,"output_tokens":1}})";
const QByteArray kOllamaReply =
    R"({"model":"m","message":{"role":"assistant","content":"{}"},"done":true,"done_reason":"stop"})";

QStringList keysOf(const ordered_json &object)
{
    QStringList keys;
    for (auto it = object.begin(); it != object.end(); ++it)
        keys << QString::fromStdString(it.key());
    return keys;
}

QStringList stringsOf(const ordered_json &array)
{
    QStringList out;
    for (const auto &v : array)
        out << QString::fromStdString(v.get<std::string>());
    return out;
}

} // namespace

void TestWireOrder::schemaPropertiesKeepPromptOrder_data()
{
    QTest::addColumn<QString>("provider");
    QTest::addColumn<QString>("schemaPointer");
    QTest::newRow("openai response_format") << "openai"
                                            << "/response_format/json_schema/schema";
    QTest::newRow("anthropic forced tool") << "anthropic-tool"
                                           << "/tools/0/input_schema";
    QTest::newRow("anthropic output_config") << "anthropic-output"
                                             << "/output_config/format/schema";
    QTest::newRow("ollama format") << "ollama"
                                   << "/format";
}

void TestWireOrder::schemaPropertiesKeepPromptOrder()
{
    QFETCH(QString, provider);
    QFETCH(QString, schemaPointer);
    const QByteArray reply = provider == QLatin1String("openai")   ? kOpenAiReply
                             : provider == QLatin1String("ollama") ? kOllamaReply
                                                                   : kAnthropicReply;
    test::CannedServer server([&](const test::HttpRequest &, int) {
        return test::CannedResponse{test::CannedResponse::Mode::Respond, 200, reply, {}};
    });
    QVERIFY(server.listen());
    MapSecretStore secrets({{QStringLiteral("OPENAI_API_KEY"), QStringLiteral("k")},
                            {QStringLiteral("ANTHROPIC_API_KEY"), QStringLiteral("k")}});
    std::unique_ptr<LlmProvider> p;
    if (provider == QLatin1String("openai")) {
        OpenAiConfig c;
        c.baseUrl = server.url().toString();
        p = std::make_unique<OpenAiProvider>(c, &secrets);
    } else if (provider == QLatin1String("ollama")) {
        OllamaConfig c;
        c.host = server.url().toString();
        p = std::make_unique<OllamaProvider>(c, &secrets);
    } else {
        AnthropicConfig c;
        c.baseUrl = server.url().toString();
        if (provider == QLatin1String("anthropic-output"))
            c.structuredOutput = AnthropicConfig::StructuredOutput::OutputConfig;
        p = std::make_unique<AnthropicProvider>(c, &secrets);
    }
    const Result<reason::PromptSet> prompts = reason::loadPrompts();
    QVERIFY2(prompts.ok(), qPrintable(prompts.errorMessage()));
    LlmRequest request = test::sampleRequest();
    request.schema = prompts->schema;
    test::awaitReply(p->complete(request));
    QCOMPARE(server.requests().size(), 1);

    // The order the file lists its required properties in is the order sent.
    const QStringList promptOrder = stringsOf(prompts->schema["required"]);
    QCOMPARE(promptOrder, QStringList({"diagnosis", "confidence", "action", "parameters", "reasoning"}));
    const auto body = ordered_json::parse(server.requests()[0].body.toStdString());
    const ordered_json &schema = body.at(ordered_json::json_pointer(schemaPointer.toStdString()));
    QCOMPARE(keysOf(schema["properties"]), promptOrder);
    QCOMPARE(stringsOf(schema["required"]), promptOrder);
    // What the prompt-token budget and benchmark count is exactly what is sent.
    QCOMPARE(QString::fromStdString(schema.dump()), prompts->wireSchemaText);
    // The raw bytes too: "diagnosis" is named before "action", "reasoning" after "parameters".
    const QByteArray raw = server.requests()[0].body;
    const qsizetype at = raw.indexOf("\"properties\"");
    QVERIFY(at > 0);
    qsizetype last = at;
    for (const QString &name : promptOrder) {
        const qsizetype pos = raw.indexOf(QByteArray("\"" + name.toUtf8() + "\":"), at);
        QVERIFY2(pos > last, qPrintable(name));
        last = pos;
    }
    // The body's own fields keep the order they are written in: model first.
    QCOMPARE(keysOf(body).first(), QStringLiteral("model"));
}

QTEST_GUILESS_MAIN(TestWireOrder)
#include "tst_wireorder.moc"
