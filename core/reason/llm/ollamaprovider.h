#pragma once

// Ollama's native /api/chat with `format: <schema>`, answered whole or, when
// configured, streamed as newline-delimited JSON.

#include "core/reason/llm/llmprovider.h"

#include <QUrl>

class QNetworkAccessManager;

namespace vigil::llm {

class SecretStore;
struct HttpExchange;

struct OllamaConfig {
    QString name = QStringLiteral("ollama");
    QString host; ///< empty: the OLLAMA_HOST secret, else http://127.0.0.1:11434
    /// Stream the reply (stream: true, application/x-ndjson); only a stream
    /// that reaches its "done": true line is used.
    bool stream = false;
};

class OllamaProvider final : public LlmProvider {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(OllamaProvider)

public:
    /// secrets and nam are not owned; nam may be null.
    OllamaProvider(OllamaConfig config, const SecretStore *secrets, QNetworkAccessManager *nam = nullptr,
                   QObject *parent = nullptr);
    ~OllamaProvider() override;

    QString name() const override { return m_config.name; }
    bool isLocal() const override { return true; }
    LlmCall *complete(const LlmRequest &request) override;

    Result<QUrl> endpoint() const;
    nlohmann::ordered_json buildBody(const LlmRequest &request) const;

private:
    struct StreamState;
    LlmReply parseReply(const HttpExchange &ex, const LlmRequest &request) const;
    LlmReply parseStream(const HttpExchange &ex, const StreamState &state, const LlmRequest &request) const;
    /// The checks a complete reply passes, whole or streamed: truncation, empty content.
    LlmReply finishReply(LlmReply r, const HttpExchange &ex, const LlmRequest &request) const;

    OllamaConfig m_config;
    const SecretStore *m_secrets;
    QNetworkAccessManager *m_nam;
};

} // namespace vigil::llm
