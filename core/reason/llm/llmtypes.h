#pragma once

// Plain values that cross the LLM seam: what goes out, what comes back.

#include "core/util/result.h"

#include <QByteArray>
#include <QString>

#include <nlohmann/json.hpp>

namespace vigil::llm {

/// One structured-output request: the model must answer with JSON matching `schema`.
struct LlmRequest {
    QString system;
    QString user;
    QString schemaName = QStringLiteral("diagnosis"); ///< a-z, A-Z, 0-9, '_' or '-', at most 64
    /// Keys keep their order on the wire: the model reads diagnosis before action and reasoning.
    nlohmann::ordered_json schema = nlohmann::ordered_json::object();
    QString model;
    int maxTokens = 1024;
    double temperature = 0.0; ///< negative: leave it out (some reasoning models reject it)
    int timeoutMs = 60000;    ///< whole-request deadline, connection to last byte
};

/// Why the model stopped, normalised across providers.
enum class FinishReason { Unknown, Stop, Length, ContentFilter, ToolCalls, Refusal };
QString finishReasonName(FinishReason reason);

/// What went wrong, so callers (retry, circuit breaker, router) can decide without parsing text.
enum class LlmErrorKind {
    None,
    Config,      ///< missing key, bad URL: fix the settings
    Network,     ///< connection refused/reset/closed mid-body
    Timeout,     ///< the request deadline passed
    Http,        ///< any other non-2xx status
    RateLimited, ///< 429
    Overloaded,  ///< 529 / 503 overloaded
    BadReply,    ///< 2xx but not the shape we expect (not JSON, no choices, empty content)
    Refused,     ///< the model refused (refusal text or content filter)
    Truncated,   ///< stopped at the token limit; the JSON is incomplete
    Cancelled,   ///< the caller aborted
    CircuitOpen, ///< not sent: the circuit breaker is open
    BudgetSpent, ///< not sent: the cost budget would be exceeded
};
QString errorKindName(LlmErrorKind kind);
/// True for failures worth another attempt (network, timeout, 408/409/429/5xx/529).
bool isRetryable(LlmErrorKind kind, int httpStatus);

/// What came back. `content` is the model's raw JSON text, unvalidated.
struct LlmReply {
    QString provider; ///< "openai", "anthropic", "ollama", ...
    QString model;    ///< as reported by the server, else as requested
    QString content;
    QString refusal;
    FinishReason finishReason = FinishReason::Unknown;
    QString finishReasonRaw; ///< the provider's own word ("end_turn", "max_tokens", ...)
    int promptTokens = 0;
    int completionTokens = 0;
    int httpStatus = 0;
    qint64 retryAfterMs = -1; ///< server-requested delay, -1 when none was given
    LlmErrorKind errorKind = LlmErrorKind::None;
    Error error;          ///< message and code (HTTP status) when errorKind != None
    QByteArray rawBody;   ///< the reply body as received (API keys scrubbed)
    int attempts = 1;     ///< set by ResilientProvider
    double costUsd = 0.0; ///< set by ResilientProvider

    bool ok() const { return errorKind == LlmErrorKind::None; }
    /// The content or the error, for callers that only want the JSON text.
    Result<QString> contentResult() const;
};

} // namespace vigil::llm
