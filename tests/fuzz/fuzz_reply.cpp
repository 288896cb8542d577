// Fuzzes what an LLM sends back. Byte 0 picks the entry point:
//   0      the reply validator over the raw model text;
//   1,2,3  the OpenAI, Anthropic or Ollama provider's reply parsing, with
//          byte 1 picking the HTTP status, the next line the Retry-After
//          header and the rest the body; a parsed reply's content then goes
//          through the validator, as the router does.
// The providers are driven through their public complete() with a canned
// QNetworkAccessManager: no socket is opened.

#include "core/reason/llm/anthropicprovider.h"
#include "core/reason/llm/ollamaprovider.h"
#include "core/reason/llm/openaiprovider.h"
#include "core/reason/llm/secretstore.h"
#include "core/reason/replyvalidator.h"

#include "tests/fuzz/fuzzprint.h"

#include <QCoreApplication>
#include <QEventLoop>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTimer>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {

const QString kSecret = QStringLiteral("sk-fuzz-0123456789abcdef");

// A finished reply with a fixed status, headers and body.
class CannedReply final : public QNetworkReply {
public:
    CannedReply(const QNetworkRequest &request, int status, const QByteArray &retryAfter, QByteArray body,
                QObject *parent)
        : QNetworkReply(parent)
        , m_body(std::move(body))
    {
        setRequest(request);
        setUrl(request.url());
        setOperation(QNetworkAccessManager::PostOperation);
        setAttribute(QNetworkRequest::HttpStatusCodeAttribute, status);
        if (!retryAfter.isEmpty())
            setRawHeader("Retry-After", retryAfter);
        if (status >= 400)
            setError(QNetworkReply::ProtocolInvalidOperationError, QStringLiteral("HTTP error"));
        open(QIODevice::ReadOnly | QIODevice::Unbuffered);
        setFinished(true);
        QTimer::singleShot(0, this, [this]() {
            Q_EMIT readyRead();
            Q_EMIT finished();
        });
    }
    void abort() override {}
    bool isSequential() const override { return true; }
    qint64 bytesAvailable() const override { return m_body.size() - m_pos + QIODevice::bytesAvailable(); }

protected:
    qint64 readData(char *out, qint64 max) override
    {
        const qint64 n = qMin(max, m_body.size() - m_pos);
        if (n <= 0)
            return m_pos >= m_body.size() ? -1 : 0;
        std::memcpy(out, m_body.constData() + m_pos, static_cast<size_t>(n));
        m_pos += n;
        return n;
    }

private:
    QByteArray m_body;
    qint64 m_pos = 0;
};

class CannedNam final : public QNetworkAccessManager {
public:
    int status = 200;
    QByteArray retryAfter;
    QByteArray body;

protected:
    QNetworkReply *createRequest(Operation, const QNetworkRequest &request, QIODevice *) override
    {
        return new CannedReply(request, status, retryAfter, body, this);
    }
};

vigil::llm::OpenAiConfig openAiConfig()
{
    vigil::llm::OpenAiConfig c;
    c.baseUrl = QStringLiteral("http://127.0.0.1:9/v1");
    return c;
}

vigil::llm::AnthropicConfig anthropicConfig()
{
    vigil::llm::AnthropicConfig c;
    c.baseUrl = QStringLiteral("http://127.0.0.1:9");
    return c;
}

vigil::llm::OllamaConfig ollamaConfig()
{
    vigil::llm::OllamaConfig c;
    c.host = QStringLiteral("127.0.0.1:9");
    return c;
}

struct Fixture {
    CannedNam nam;
    vigil::llm::MapSecretStore secrets{
        {{QStringLiteral("OPENAI_API_KEY"), kSecret}, {QStringLiteral("ANTHROPIC_API_KEY"), kSecret}}};
    vigil::llm::OpenAiProvider openai{openAiConfig(), &secrets, &nam};
    vigil::llm::AnthropicProvider anthropic{anthropicConfig(), &secrets, &nam};
    vigil::llm::OllamaProvider ollama{ollamaConfig(), &secrets, &nam};
};

Fixture *fixture()
{
    static Fixture f; // after the QCoreApplication of LLVMFuzzerInitialize
    return &f;
}

void checkReply(const vigil::llm::LlmReply &reply)
{
    // The API key must never leak into what is logged or stored.
    if (reply.error.message.contains(kSecret) || reply.rawBody.contains(kSecret.toUtf8()))
        std::abort();
    vigil::fuzz::report("provider", reply.error.message);
    if (reply.ok())
        vigil::fuzz::report("validator", vigil::reason::validateReply(reply.content));
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static QCoreApplication app(*argc, *argv);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace vigil::llm;
    if (size < 2)
        return 0;
    const int mode = data[0] % 4;
    if (mode == 0) {
        vigil::fuzz::report("validator",
                            vigil::reason::validateReply(QString::fromUtf8(
                                reinterpret_cast<const char *>(data + 1), static_cast<qsizetype>(size - 1))));
        return 0;
    }
    static const int kStatuses[] = {200, 200, 200, 201, 204, 400, 401, 404,
                                    429, 500, 503, 529, 302, 299, 600, 100};
    Fixture *f = fixture();
    f->nam.status = kStatuses[data[1] % (sizeof kStatuses / sizeof kStatuses[0])];
    const QByteArray rest(reinterpret_cast<const char *>(data + 2), static_cast<qsizetype>(size - 2));
    const qsizetype nl = rest.indexOf('\n');
    f->nam.retryAfter = nl < 0 ? QByteArray() : rest.left(nl);
    f->nam.body = nl < 0 ? rest : rest.mid(nl + 1);

    LlmProvider *provider = mode == 1   ? static_cast<LlmProvider *>(&f->openai)
                            : mode == 2 ? static_cast<LlmProvider *>(&f->anthropic)
                                        : static_cast<LlmProvider *>(&f->ollama);
    LlmRequest request;
    request.system = QStringLiteral("system");
    request.user = QStringLiteral("user");
    request.model = QStringLiteral("fuzz-model");
    LlmCall *call = provider->complete(request);
    QEventLoop loop;
    bool done = false;
    QObject::connect(call, &LlmCall::finished, &loop, [&](const LlmReply &reply) {
        done = true;
        checkReply(reply);
        loop.quit();
    });
    if (!done)
        loop.exec();
    delete call;
    return 0;
}
