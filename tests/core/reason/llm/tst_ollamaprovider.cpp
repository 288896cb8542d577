#include "core/reason/llm/ollamaprovider.h"
#include "core/reason/llm/secretstore.h"
#include "core/reason/llm/strictschema.h"

#include "cannedserver.h"
#include "llmtestutil.h"

#include <QTest>

using namespace vigil;
using namespace vigil::llm;
using vigil::test::CannedResponse;

class TestOllamaProvider final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void replies_data();
    void replies();
    void hostFromSecretStore_data();
    void hostFromSecretStore();
};

void TestOllamaProvider::replies_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("kind");
    QTest::addColumn<QString>("content");
    QTest::addColumn<QString>("messagePart");
    QTest::newRow("native reply with counts")
        << 200
        << QByteArrayLiteral(
               R"({"model":"qwen2.5:7b","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"{\"diagnosis\":\"x\"}"},"done":true,"done_reason":"stop","prompt_eval_count":210,"eval_count":33})")
        << int(LlmErrorKind::None) << QStringLiteral("{\"diagnosis\":\"x\"}") << QString();
    QTest::newRow("done_reason length is truncation")
        << 200
        << QByteArrayLiteral(
               R"({"model":"m","message":{"role":"assistant","content":"{\"diag"},"done":true,"done_reason":"length","prompt_eval_count":1,"eval_count":400})")
        << int(LlmErrorKind::Truncated) << QStringLiteral("{\"diag")
        << QStringLiteral("truncated at num_predict (400)");
    QTest::newRow("unknown model 404 quotes ollama")
        << 404 << QByteArrayLiteral(R"({"error":"model \"nope\" not found, try pulling it first"})")
        << int(LlmErrorKind::Http) << QString()
        << QStringLiteral("/api/chat returned HTTP 404: model \"nope\" not found");
    QTest::newRow("no message is a bad reply")
        << 200 << QByteArrayLiteral(R"({"done":true})") << int(LlmErrorKind::BadReply) << QString()
        << QStringLiteral("reply has no message");
    // Found by tests/fuzz/fuzz_reply: quoting a 100,000-deep "error" dumped it recursively and overflowed the
    // stack.
    const QByteArray deep = QByteArray(100000, '[') + QByteArray(100000, ']');
    QTest::newRow("100,000-deep error body is quoted, not dumped")
        << 500 << "{\"error\":" + deep + "}" << int(LlmErrorKind::Http) << QString()
        << QStringLiteral("/api/chat returned HTTP 500: {\"error\":[[[");
    QTest::newRow("100,000-deep reply is a bad reply")
        << 200 << "{\"message\":" + deep + "}" << int(LlmErrorKind::BadReply) << QString()
        << QStringLiteral("reply body is nested deeper than 512 levels");
}

void TestOllamaProvider::replies()
{
    QFETCH(int, status);
    QFETCH(QByteArray, body);
    QFETCH(int, kind);
    QFETCH(QString, content);
    QFETCH(QString, messagePart);
    test::CannedServer server([&](const test::HttpRequest &, int) {
        return CannedResponse{CannedResponse::Mode::Respond, status, body, {}};
    });
    QVERIFY(server.listen());
    OllamaConfig config;
    config.host = server.url().toString();
    OllamaProvider provider(config, nullptr);
    LlmRequest request = test::sampleRequest();
    request.model = QStringLiteral("qwen2.5:7b");
    const LlmReply reply = test::awaitReply(provider.complete(request));
    QCOMPARE(int(reply.errorKind), kind);
    QCOMPARE(reply.content, content);
    if (messagePart.isEmpty()) {
        QVERIFY2(reply.ok(), qPrintable(reply.error.message));
        QCOMPARE(reply.promptTokens, 210);
        QCOMPARE(reply.completionTokens, 33);
        QCOMPARE(reply.finishReason, FinishReason::Stop);
    } else {
        QVERIFY2(reply.error.message.contains(messagePart), qPrintable(reply.error.message));
    }
    QCOMPARE(server.requests().size(), 1);
    const auto sent = nlohmann::json::parse(server.requests()[0].body.toStdString());
    QCOMPARE(server.requests()[0].path, QStringLiteral("/api/chat"));
    QVERIFY(sent["stream"] == false);
    QVERIFY(sent["format"] == nlohmann::json(strictJsonSchema(request.schema)));
    QVERIFY(sent["messages"][0]["role"] == "system" && sent["messages"][1]["role"] == "user");
    QVERIFY(sent["options"]["num_predict"] == 400);
    QVERIFY(sent["model"] == "qwen2.5:7b");
}

void TestOllamaProvider::hostFromSecretStore_data()
{
    QTest::addColumn<QString>("host");
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("error");
    QTest::newRow("unset uses loopback default")
        << QString() << QStringLiteral("http://127.0.0.1:11434/api/chat") << QString();
    QTest::newRow("bare host:port gets http")
        << QStringLiteral("127.0.0.1:9999") << QStringLiteral("http://127.0.0.1:9999/api/chat") << QString();
    QTest::newRow("0.0.0.0 means loopback")
        << QStringLiteral("0.0.0.0") << QStringLiteral("http://127.0.0.1:11434/api/chat") << QString();
    QTest::newRow("not a URL") << QStringLiteral("ftp://x") << QString()
                               << QStringLiteral("OLLAMA_HOST: 'ftp://x' is not an http(s) URL");
}

void TestOllamaProvider::hostFromSecretStore()
{
    QFETCH(QString, host);
    QFETCH(QString, url);
    QFETCH(QString, error);
    MapSecretStore secrets;
    if (!host.isEmpty())
        secrets.set(QStringLiteral("OLLAMA_HOST"), host);
    OllamaProvider provider(OllamaConfig{}, &secrets);
    const auto endpoint = provider.endpoint();
    QCOMPARE(endpoint.ok(), error.isEmpty());
    if (endpoint.ok())
        QCOMPARE(endpoint->toString(), url);
    else
        QVERIFY2(endpoint.errorMessage().contains(error), qPrintable(endpoint.errorMessage()));
}

QTEST_GUILESS_MAIN(TestOllamaProvider)
#include "tst_ollamaprovider.moc"
