#pragma once

// OpenAI Chat Completions with Structured Outputs. The same wire serves Azure
// OpenAI, Ollama's /v1, vLLM, llama.cpp's server, LM Studio and LiteLLM.

#include "core/reason/llm/llmprovider.h"

#include <QUrl>

#include <memory>

class QNetworkAccessManager;

namespace vigil::llm {

class Clock;
class SecretStore;
struct HttpExchange;

struct OpenAiConfig {
    QString name = QStringLiteral("openai");
    QString baseUrl; ///< empty: the OPENAI_BASE_URL secret, else https://api.openai.com/v1
    QString keyName = QStringLiteral("OPENAI_API_KEY");
    bool keyRequired = true; ///< false for local OpenAI-compatible servers
    bool local = false;      ///< costs nothing per token
    /// Which token-limit field to send: Auto picks max_completion_tokens for
    /// OpenAI and Azure (o-series reject max_tokens), max_tokens elsewhere.
    enum class TokenField { Auto, MaxTokens, MaxCompletionTokens } tokenField = TokenField::Auto;

    bool azure =
        false; ///< {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=, header api-key
    QString azureEndpoint;
    QString azureDeployment;
    QString azureApiVersion = QStringLiteral("2024-10-21");
    /// Stream the reply as server-sent events (stream: true, usage in the last chunk);
    /// only a stream that reaches [DONE] is used.
    bool stream = false;
};

class OpenAiProvider final : public LlmProvider {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(OpenAiProvider)

public:
    /// secrets, nam and clock are not owned; nam/clock may be null (own ones are made).
    OpenAiProvider(OpenAiConfig config, const SecretStore *secrets, QNetworkAccessManager *nam = nullptr,
                   const Clock *clock = nullptr, QObject *parent = nullptr);
    ~OpenAiProvider() override;

    QString name() const override { return m_config.name; }
    bool isLocal() const override { return m_config.local; }
    LlmCall *complete(const LlmRequest &request) override;

    /// The chat/completions URL this provider posts to.
    Result<QUrl> endpoint() const;
    /// The request body complete() sends (a CreateChatCompletionRequest).
    nlohmann::ordered_json buildBody(const LlmRequest &request) const;

private:
    struct StreamState;
    LlmReply parseReply(const HttpExchange &ex, const LlmRequest &request, const QString &key) const;
    LlmReply parseStream(const HttpExchange &ex, const StreamState &state, const LlmRequest &request,
                         const QString &key) const;

    OpenAiConfig m_config;
    const SecretStore *m_secrets;
    QNetworkAccessManager *m_nam;
    const Clock *m_clock;
    std::unique_ptr<Clock> m_ownClock;
};

} // namespace vigil::llm
