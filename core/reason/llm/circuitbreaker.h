#pragma once

// Stops calling a provider that keeps failing, so the pipeline falls back to
// the rules at once (and says why) instead of waiting on timeouts.

#include "core/reason/llm/clock.h"
#include "core/util/result.h"

namespace vigil::llm {

struct BreakerConfig {
    int failureThreshold = 5;  ///< consecutive failures that open the circuit
    qint64 coolDownMs = 60000; ///< how long it stays open before one probe is let through
};

/// Closed → (N consecutive failures) → Open → (cool-down) → HalfOpen: one probe;
/// its success closes the circuit, its failure reopens it.
class CircuitBreaker final {
public:
    enum class State { Closed, Open, HalfOpen };

    CircuitBreaker(BreakerConfig config, const Clock *clock); // clock not owned

    /// OK to send, or "circuit open since <UTC time>: <last error>".
    /// In HalfOpen exactly one caller is allowed until it reports back.
    Result<void> allow();
    void recordSuccess();
    void recordFailure(const QString &error);
    /// The allowed call was cancelled: it proves nothing, but frees the half-open probe.
    void recordAbandoned() { m_probeInFlight = false; }

    State state() const { return m_state; }
    int consecutiveFailures() const { return m_failures; }
    qint64 openedAtMs() const { return m_openedAtMs; }
    QString lastError() const { return m_lastError; }

private:
    void open();

    BreakerConfig m_config;
    const Clock *m_clock;
    State m_state = State::Closed;
    int m_failures = 0;
    qint64 m_openedAtMs = 0;
    bool m_probeInFlight = false;
    QString m_lastError;
};

} // namespace vigil::llm
