#pragma once

// Anthropic Messages API; structured output through a forced tool whose
// input_schema is the reply schema, or through output_config.format.

#include "core/reason/llm/llmprovider.h"

#include <QUrl>

#include <memory>

class QNetworkAccessManager;

namespace vigil::llm {

class Clock;
class SecretStore;
struct HttpExchange;

struct AnthropicConfig {
    QString name = QStringLiteral("anthropic");
    QString baseUrl; ///< empty: the ANTHROPIC_BASE_URL secret, else https://api.anthropic.com
    QString keyName = QStringLiteral("ANTHROPIC_API_KEY");
    QString version = QStringLiteral("2023-06-01");
    /// How the reply is held to the schema: a forced tool whose input_schema is
    /// the schema (the answer is the tool_use input), or output_config's
    /// json_schema format (the answer is the text).
    enum class StructuredOutput { ForcedTool, OutputConfig } structuredOutput = StructuredOutput::ForcedTool;
    /// Stream the reply as server-sent events; only a stream that reaches message_stop is used.
    bool stream = false;
};

class AnthropicProvider final : public LlmProvider {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AnthropicProvider)

public:
    /// secrets, nam and clock are not owned; nam/clock may be null.
    AnthropicProvider(AnthropicConfig config, const SecretStore *secrets,
                      QNetworkAccessManager *nam = nullptr, const Clock *clock = nullptr,
                      QObject *parent = nullptr);
    ~AnthropicProvider() override;

    QString name() const override { return m_config.name; }
    LlmCall *complete(const LlmRequest &request) override;

    Result<QUrl> endpoint() const;
    /// The /v1/messages body: system, one user message, and the forced tool or output_config.
    nlohmann::ordered_json buildBody(const LlmRequest &request) const;

private:
    struct StreamState;
    LlmReply parseReply(const HttpExchange &ex, const LlmRequest &request, const QString &key) const;
    LlmReply parseStream(const HttpExchange &ex, const StreamState &state, const LlmRequest &request,
                         const QString &key) const;

    AnthropicConfig m_config;
    const SecretStore *m_secrets;
    QNetworkAccessManager *m_nam;
    const Clock *m_clock;
    std::unique_ptr<Clock> m_ownClock;
};

} // namespace vigil::llm
