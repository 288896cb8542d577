#pragma once

// The provider wiring every front end shares (vigilctl, the desktop, the
// agent): provider settings from a YAML file plus the environment, and the
// stack they build — provider, production controls, cache, cost meter and
// the Router the pipeline calls.

#include "core/gather/redactor.h"
#include "core/reason/llm/circuitbreaker.h"
#include "core/reason/llm/costmeter.h"
#include "core/reason/llm/ratelimiter.h"
#include "core/util/result.h"

#include <QObject>
#include <QProcessEnvironment>
#include <QString>

#include <memory>

namespace vigil::reason {
class Router;
}

namespace vigil::llm {

class DiagnosisCache;
class LlmProvider;
class ResilientProvider;
class SecretStore;

/// How diagnoses are reasoned: which provider, which models, and the limits
/// around them. API keys are never part of it (they come from a SecretStore).
struct ProviderSettings {
    QString provider = QStringLiteral("rules"); ///< rules | openai | anthropic | ollama
    /// Endpoint; empty: the vendor's default. For Azure OpenAI, the resource endpoint.
    QString baseUrl;
    QString smallModel;                ///< the cheap first model tier; empty: none
    QString strongModel;               ///< the tier escalated to; empty with a model provider is an error
    double escalationThreshold = 0.75; ///< a tier below this confidence escalates to the next
    int timeoutMs = 60000;             ///< per model request, connection to last byte
    int maxTokens = 1024;              ///< per model reply

    // OpenAI-compatible servers.
    bool local = false;      ///< a local server (vLLM, llama.cpp, LM Studio): no key needed, no cost
    QString apiKeyEnv;       ///< the secret's name when not the provider's usual variable
    bool azure = false;      ///< Azure OpenAI: baseUrl is the resource endpoint
    QString azureDeployment; ///< Azure OpenAI deployment name
    QString azureApiVersion = QStringLiteral("2024-10-21");

    /// Anthropic: "tool" (a forced tool, the default) or "output_config" (json_schema output format).
    QString structuredOutput = QStringLiteral("tool");

    bool stream = false; ///< stream the reply: server-sent events (openai, anthropic), NDJSON (ollama)

    RateLimits limits;   ///< requests/min, tokens/min, concurrency; 0 = unlimited
    int maxAttempts = 3; ///< per model request, including the first
    BreakerConfig breaker;
    PriceTable prices = PriceTable::defaults(); ///< the file's prices are laid over these
    CostBudget budget;                          ///< USD per UTC day and per session; 0 = no cap
    qint64 cacheTtlMs = 3600 * 1000;            ///< 0 disables the diagnosis cache
    /// What evidence redaction replaces besides secrets (`redact: {emails, ips}`); the caller
    /// that builds the Diagnoser copies it into DiagnoserOptions::redactor.
    gather::RedactorOptions redact;

    QString source; ///< the file it was read from, or "<defaults>"

    bool usesModel() const { return provider != QLatin1String("rules"); }
};

/// The default small and strong models of a provider ("" when it has none).
struct DefaultModels {
    QString small;
    QString strong;
};
DefaultModels defaultModels(const QString &provider);

/// $XDG_CONFIG_HOME/vigil/providers.yaml (else ~/.config/vigil/providers.yaml).
QString defaultProviderSettingsPath();

/// Reads provider settings from a YAML file, then applies the environment:
/// OPENAI_BASE_URL (openai), AZURE_OPENAI_ENDPOINT (openai with azure),
/// ANTHROPIC_BASE_URL (anthropic) and OLLAMA_HOST (ollama) override baseUrl.
/// Unset models take the provider's defaults. Every error names the file and
/// the field; an `apiKey` field is refused (keys come from the environment or
/// the keychain, never a plain file). Documented in docs/providers.md.
Result<ProviderSettings>
loadProviderSettings(const QString &path,
                     const QProcessEnvironment &environment = QProcessEnvironment::systemEnvironment());
/// As loadProviderSettings on text; `source` names it in error messages.
Result<ProviderSettings>
parseProviderSettings(const QByteArray &yaml, const QString &source,
                      const QProcessEnvironment &environment = QProcessEnvironment::systemEnvironment());
/// Switches settings to another provider (a command-line --provider): its
/// default models and the environment's endpoint; the file's endpoint and
/// OpenAI-compatible specifics are dropped, its limits, prices and budget kept.
Result<void>
selectProvider(ProviderSettings *settings, const QString &provider,
               const QProcessEnvironment &environment = QProcessEnvironment::systemEnvironment());
/// The default file when it exists, else the defaults (rules only) plus the environment.
Result<ProviderSettings> loadDefaultProviderSettings(
    const QProcessEnvironment &environment = QProcessEnvironment::systemEnvironment());

/// Owns the reasoning side of the pipeline for one set of settings: the
/// provider, its ResilientProvider (budget, rate limits, circuit breaker,
/// retries), the diagnosis cache, the cost meter and the Router. Lives on
/// and is used from the thread that created it (the SQLite connections are
/// per thread).
class ReasoningStack final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ReasoningStack)

public:
    /// Builds the stack; rules only when settings.provider is "rules".
    /// secrets is not owned and must outlive the stack. cacheDbPath is the
    /// SQLite file for the diagnosis cache and the cost totals (its folder is
    /// created; the cost meter's session is new per stack); empty keeps
    /// neither on disk. Errors name the bad setting or file.
    static Result<std::unique_ptr<ReasoningStack>> create(const ProviderSettings &settings,
                                                          SecretStore *secrets, const QString &cacheDbPath,
                                                          QObject *parent = nullptr);
    ~ReasoningStack() override;

    reason::Router *router() const { return m_router; }
    CostMeter *costMeter() const { return m_meter.get(); }
    /// Null when rules only, the TTL is 0 or no path was given.
    DiagnosisCache *cache() const { return m_cache.get(); }
    /// The model side behind the controls; null when rules only.
    ResilientProvider *provider() const { return m_resilient; }
    const ProviderSettings &settings() const { return m_settings; }

private:
    explicit ReasoningStack(ProviderSettings settings, QObject *parent);

    ProviderSettings m_settings;
    std::unique_ptr<Clock> m_clock;
    std::unique_ptr<CostMeter> m_meter;
    std::unique_ptr<DiagnosisCache> m_cache;
    LlmProvider *m_raw = nullptr;             // child
    ResilientProvider *m_resilient = nullptr; // child
    reason::Router *m_router = nullptr;       // child, destroyed before the cache (see ~ReasoningStack)
};

} // namespace vigil::llm
