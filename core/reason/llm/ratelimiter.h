#pragma once

// Client-side rate limiting and retry timing for one provider: token buckets
// for requests/min and tokens/min, a concurrency cap, server-requested pauses
// (Retry-After and friends) and exponential back-off with jitter.

#include "core/reason/llm/clock.h"

#include <QByteArray>
#include <QHash>

namespace vigil::llm {

/// Limits for one provider; 0 means unlimited.
struct RateLimits {
    int requestsPerMinute = 0;
    int tokensPerMinute = 0;
    int maxConcurrent = 0;
};

/// How often and how patiently to retry.
struct RetryPolicy {
    int maxAttempts = 4; ///< including the first
    qint64 baseDelayMs = 500;
    qint64 maxDelayMs = 30000;
    qint64 maxServerDelayMs = 120000; ///< a longer Retry-After is not waited for: the call fails
};

/// Exponential back-off with "equal jitter": half fixed, half random.
/// failedAttempts counts from 1; random01 is in [0, 1).
qint64 backoffDelayMs(const RetryPolicy &policy, int failedAttempts, double random01);

/// The delay a server asked for, in ms, or -1: retry-after-ms, Retry-After
/// (seconds or HTTP-date), else on 429 or an exhausted limit the
/// x-ratelimit-reset-requests/-tokens durations ("1s", "6m0s", "20ms") or
/// anthropic-ratelimit-*-reset timestamps. Header names are lower-case.
qint64 serverRetryDelayMs(const QHash<QByteArray, QByteArray> &headers, qint64 nowMs, int httpStatus);

/// Parses an OpenAI reset duration such as "1h2m3.5s", "6m0s" or "20ms"; -1 if malformed.
qint64 parseResetDuration(const QByteArray &text);

/// Token buckets plus a concurrency cap. Not thread-safe: one owner thread.
class RateLimiter final {
public:
    RateLimiter(RateLimits limits, const Clock *clock); // clock not owned

    /// Reserves a request slot and `tokens` and returns 0, or returns the ms to
    /// wait before asking again (nothing reserved).
    qint64 tryAcquire(int tokens);
    /// Ends a request begun by tryAcquire; the token bucket is corrected to `actualTokens`.
    void release(int reservedTokens, int actualTokens);
    /// No request starts before epochMs (the server said so).
    void pauseUntil(qint64 epochMs);

    int inFlight() const { return m_inFlight; }
    double availableRequests();
    double availableTokens();
    const RateLimits &limits() const { return m_limits; }

private:
    void refill();

    RateLimits m_limits;
    const Clock *m_clock;
    double m_requests = 0;
    double m_tokens = 0;
    qint64 m_lastRefillMs = 0;
    qint64 m_pausedUntilMs = 0;
    int m_inFlight = 0;
};

} // namespace vigil::llm
