#pragma once

// Ollama's native /api/chat (non-streaming) with `format: <schema>`.

#include "core/reason/llm/llmprovider.h"

#include <QUrl>

class QNetworkAccessManager;

namespace vigil::llm {

class SecretStore;
struct HttpExchange;

struct OllamaConfig {
    QString name = QStringLiteral("ollama");
    QString host; ///< empty: the OLLAMA_HOST secret, else http://127.0.0.1:11434
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
    LlmReply parseReply(const HttpExchange &ex, const LlmRequest &request) const;

    OllamaConfig m_config;
    const SecretStore *m_secrets;
    QNetworkAccessManager *m_nam;
};

} // namespace vigil::llm
