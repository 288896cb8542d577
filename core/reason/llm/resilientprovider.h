#pragma once

// The one thing the router calls: a provider wrapped in the production
// controls (budget, rate limits, circuit breaker, retries with back-off).

#include "core/reason/llm/circuitbreaker.h"
#include "core/reason/llm/llmprovider.h"
#include "core/reason/llm/ratelimiter.h"

#include <functional>

namespace vigil::llm {

class CostMeter;

struct ResilienceConfig {
    RateLimits limits;
    RetryPolicy retry;
    BreakerConfig breaker;
};

/// Wraps a provider. Before sending: budget, then rate limiter (waits without
/// blocking), then circuit breaker. After: cost recorded, breaker updated,
/// retryable failures retried after the server's Retry-After or back-off.
class ResilientProvider final : public LlmProvider {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ResilientProvider)

public:
    /// inner, meter (may be null: no cost control) and clock are not owned.
    /// random returns values in [0, 1) for back-off jitter.
    ResilientProvider(LlmProvider *inner, CostMeter *meter, const Clock *clock,
                      std::function<double()> random, ResilienceConfig config, QObject *parent = nullptr);
    ~ResilientProvider() override;

    QString name() const override;
    bool isLocal() const override;
    /// The reply carries attempts and costUsd; errors are BudgetSpent or
    /// CircuitOpen when nothing was sent, else the last attempt's.
    LlmCall *complete(const LlmRequest &request) override;

    CircuitBreaker &breaker() { return m_breaker; }
    RateLimiter &limiter() { return m_limiter; }
    /// Rough token estimate used for budgets and the tokens/min bucket.
    static int estimatePromptTokens(const LlmRequest &request);

Q_SIGNALS:
    /// An attempt failed and will be retried after retryInMs.
    void retrying(const vigil::llm::LlmReply &failed, int attempt, qint64 retryInMs);

private:
    struct Job;
    void step(LlmCall *outer, const std::shared_ptr<Job> &job);
    void onAttemptFinished(LlmCall *outer, const std::shared_ptr<Job> &job, LlmReply reply);
    void fail(LlmCall *outer, const Job &job, LlmErrorKind kind, const QString &message);

    LlmProvider *m_inner;
    CostMeter *m_meter;
    const Clock *m_clock;
    std::function<double()> m_random;
    ResilienceConfig m_config;
    RateLimiter m_limiter;
    CircuitBreaker m_breaker;
};

} // namespace vigil::llm
