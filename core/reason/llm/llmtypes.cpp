#include "core/reason/llm/llmtypes.h"

namespace vigil::llm {

QString finishReasonName(FinishReason reason)
{
    switch (reason) {
    case FinishReason::Unknown:
        return QStringLiteral("unknown");
    case FinishReason::Stop:
        return QStringLiteral("stop");
    case FinishReason::Length:
        return QStringLiteral("length");
    case FinishReason::ContentFilter:
        return QStringLiteral("content_filter");
    case FinishReason::ToolCalls:
        return QStringLiteral("tool_calls");
    case FinishReason::Refusal:
        return QStringLiteral("refusal");
    }
    return QStringLiteral("unknown");
}

QString errorKindName(LlmErrorKind kind)
{
    switch (kind) {
    case LlmErrorKind::None:
        return QStringLiteral("none");
    case LlmErrorKind::Config:
        return QStringLiteral("config");
    case LlmErrorKind::Network:
        return QStringLiteral("network");
    case LlmErrorKind::Timeout:
        return QStringLiteral("timeout");
    case LlmErrorKind::Http:
        return QStringLiteral("http");
    case LlmErrorKind::RateLimited:
        return QStringLiteral("rate_limited");
    case LlmErrorKind::Overloaded:
        return QStringLiteral("overloaded");
    case LlmErrorKind::BadReply:
        return QStringLiteral("bad_reply");
    case LlmErrorKind::Refused:
        return QStringLiteral("refused");
    case LlmErrorKind::Truncated:
        return QStringLiteral("truncated");
    case LlmErrorKind::Cancelled:
        return QStringLiteral("cancelled");
    case LlmErrorKind::CircuitOpen:
        return QStringLiteral("circuit_open");
    case LlmErrorKind::BudgetSpent:
        return QStringLiteral("budget_spent");
    }
    return QStringLiteral("none");
}

bool isRetryable(LlmErrorKind kind, int httpStatus)
{
    switch (kind) {
    case LlmErrorKind::Network:
    case LlmErrorKind::Timeout:
    case LlmErrorKind::RateLimited:
    case LlmErrorKind::Overloaded:
        return true;
    case LlmErrorKind::Http:
        return httpStatus == 408 || httpStatus == 409 || httpStatus == 429 || httpStatus >= 500;
    default:
        return false;
    }
}

Result<QString> LlmReply::contentResult() const
{
    if (!ok())
        return error;
    return content;
}

} // namespace vigil::llm
