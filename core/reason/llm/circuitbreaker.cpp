#include "core/reason/llm/circuitbreaker.h"

#include <QDateTime>

namespace vigil::llm {

CircuitBreaker::CircuitBreaker(BreakerConfig config, const Clock *clock)
    : m_config(config)
    , m_clock(clock)
{
}

Result<void> CircuitBreaker::allow()
{
    if (m_state == State::Closed)
        return {};
    if (m_state == State::Open && m_clock->nowMs() - m_openedAtMs >= m_config.coolDownMs) {
        m_state = State::HalfOpen;
        m_probeInFlight = false;
    }
    if (m_state == State::HalfOpen && !m_probeInFlight) {
        m_probeInFlight = true;
        return {};
    }
    const QString since = QDateTime::fromMSecsSinceEpoch(m_openedAtMs, Qt::UTC).toString(Qt::ISODate);
    return Error(QStringLiteral("circuit open since %1: %2").arg(since, m_lastError));
}

void CircuitBreaker::recordSuccess()
{
    m_state = State::Closed;
    m_failures = 0;
    m_probeInFlight = false;
}

void CircuitBreaker::recordFailure(const QString &error)
{
    m_lastError = error;
    ++m_failures;
    if (m_state == State::HalfOpen || m_failures >= m_config.failureThreshold)
        open();
}

void CircuitBreaker::open()
{
    m_state = State::Open;
    m_openedAtMs = m_clock->nowMs();
    m_probeInFlight = false;
}

} // namespace vigil::llm
