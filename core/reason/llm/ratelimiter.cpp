#include "core/reason/llm/ratelimiter.h"

#include <QDateTime>
#include <QLocale>
#include <QRegularExpression>

#include <algorithm>
#include <cmath>

namespace vigil::llm {
namespace {

constexpr qint64 kConcurrencyPollMs = 50;
// A server asking to wait longer than a day is treated as asking for a day: its
// header is untrusted, and a double past qint64's range is undefined to convert.
constexpr double kMaxServerDelayMs = 24.0 * 3600.0 * 1000.0;

// Milliseconds from a parsed number, or -1 when it is negative, NaN or infinite.
qint64 delayMs(double ms)
{
    if (!std::isfinite(ms) || ms < 0)
        return -1;
    return static_cast<qint64>(std::ceil(std::min(ms, kMaxServerDelayMs)));
}

qint64 parseHttpDate(const QByteArray &text, qint64 nowMs)
{
    const QString s = QString::fromLatin1(text).trimmed();
    QDateTime when = QDateTime::fromString(s, Qt::RFC2822Date);
    if (!when.isValid()) {
        QString t = s;
        t.remove(QLatin1String(" GMT"));
        when = QLocale::c().toDateTime(t, QStringLiteral("ddd, dd MMM yyyy HH:mm:ss"));
        when.setTimeSpec(Qt::UTC);
    }
    if (!when.isValid())
        return -1;
    return std::max<qint64>(0, when.toMSecsSinceEpoch() - nowMs);
}

qint64 parseIsoDelay(const QByteArray &text, qint64 nowMs)
{
    const QDateTime when = QDateTime::fromString(QString::fromLatin1(text).trimmed(), Qt::ISODateWithMs);
    if (!when.isValid())
        return -1;
    return std::max<qint64>(0, when.toMSecsSinceEpoch() - nowMs);
}

bool isZero(const QByteArray &value)
{
    bool ok = false;
    return value.trimmed().toLongLong(&ok) == 0 && ok;
}

} // namespace

qint64 backoffDelayMs(const RetryPolicy &policy, int failedAttempts, double random01)
{
    const int exponent = std::clamp(failedAttempts - 1, 0, 30);
    const double full = std::min<double>(static_cast<double>(policy.maxDelayMs),
                                         static_cast<double>(policy.baseDelayMs) * std::pow(2.0, exponent));
    const double jitter = std::clamp(random01, 0.0, 1.0);
    return static_cast<qint64>(full / 2.0 + jitter * full / 2.0);
}

qint64 parseResetDuration(const QByteArray &text)
{
    static const QRegularExpression part(QStringLiteral("(\\d+(?:\\.\\d+)?)(ms|h|m|s)"));
    const QString s = QString::fromLatin1(text).trimmed();
    if (s.isEmpty())
        return -1;
    double total = 0;
    qsizetype pos = 0;
    auto it = part.globalMatch(s);
    while (it.hasNext()) {
        const auto m = it.next();
        if (m.capturedStart() != pos)
            return -1;
        pos = m.capturedEnd();
        const double v = m.captured(1).toDouble();
        const QString unit = m.captured(2);
        if (unit == QLatin1String("h"))
            total += v * 3600000.0;
        else if (unit == QLatin1String("m"))
            total += v * 60000.0;
        else if (unit == QLatin1String("s"))
            total += v * 1000.0;
        else
            total += v;
    }
    if (pos != s.size())
        return -1;
    return delayMs(total);
}

qint64 serverRetryDelayMs(const QHash<QByteArray, QByteArray> &headers, qint64 nowMs, int httpStatus)
{
    bool ok = false;
    if (headers.contains("retry-after-ms")) {
        const qint64 ms = delayMs(headers.value("retry-after-ms").trimmed().toDouble(&ok));
        if (ok && ms >= 0)
            return ms;
    }
    if (headers.contains("retry-after")) {
        const QByteArray v = headers.value("retry-after").trimmed();
        const qint64 ms = delayMs(v.toDouble(&ok) * 1000.0);
        if (ok && ms >= 0)
            return ms;
        const qint64 fromDate = parseHttpDate(v, nowMs);
        if (fromDate >= 0)
            return fromDate;
    }
    const bool limited = httpStatus == 429;
    qint64 best = -1;
    for (const char *kind : {"requests", "tokens"}) {
        const QByteArray k(kind);
        const QByteArray remaining = headers.value("x-ratelimit-remaining-" + k);
        if (limited || (!remaining.isEmpty() && isZero(remaining))) {
            const qint64 d = parseResetDuration(headers.value("x-ratelimit-reset-" + k));
            best = std::max(best, d);
        }
        const QByteArray aRemaining = headers.value("anthropic-ratelimit-" + k + "-remaining");
        if (limited || (!aRemaining.isEmpty() && isZero(aRemaining))) {
            const QByteArray reset = headers.value("anthropic-ratelimit-" + k + "-reset");
            if (!reset.isEmpty())
                best = std::max(best, parseIsoDelay(reset, nowMs));
        }
    }
    return best;
}

RateLimiter::RateLimiter(RateLimits limits, const Clock *clock)
    : m_limits(limits)
    , m_clock(clock)
    , m_requests(limits.requestsPerMinute)
    , m_tokens(limits.tokensPerMinute)
    , m_lastRefillMs(clock->nowMs())
{
}

void RateLimiter::refill()
{
    const qint64 now = m_clock->nowMs();
    const double elapsed = static_cast<double>(std::max<qint64>(0, now - m_lastRefillMs));
    m_lastRefillMs = now;
    if (m_limits.requestsPerMinute > 0)
        m_requests = std::min<double>(m_limits.requestsPerMinute,
                                      m_requests + elapsed * m_limits.requestsPerMinute / 60000.0);
    if (m_limits.tokensPerMinute > 0)
        m_tokens = std::min<double>(m_limits.tokensPerMinute,
                                    m_tokens + elapsed * m_limits.tokensPerMinute / 60000.0);
}

qint64 RateLimiter::tryAcquire(int tokens)
{
    refill();
    const qint64 now = m_clock->nowMs();
    if (now < m_pausedUntilMs)
        return m_pausedUntilMs - now;
    if (m_limits.maxConcurrent > 0 && m_inFlight >= m_limits.maxConcurrent)
        return kConcurrencyPollMs;
    qint64 wait = 0;
    if (m_limits.requestsPerMinute > 0 && m_requests < 1.0)
        wait = std::max<qint64>(
            wait, static_cast<qint64>(std::ceil((1.0 - m_requests) * 60000.0 / m_limits.requestsPerMinute)));
    // A request larger than the whole bucket waits for a full bucket rather than forever.
    const double need =
        m_limits.tokensPerMinute > 0 ? std::min<double>(std::max(tokens, 0), m_limits.tokensPerMinute) : 0;
    if (m_limits.tokensPerMinute > 0 && m_tokens < need)
        wait = std::max<qint64>(
            wait, static_cast<qint64>(std::ceil((need - m_tokens) * 60000.0 / m_limits.tokensPerMinute)));
    if (wait > 0)
        return wait;
    if (m_limits.requestsPerMinute > 0)
        m_requests -= 1.0;
    if (m_limits.tokensPerMinute > 0)
        m_tokens -= need;
    ++m_inFlight;
    return 0;
}

void RateLimiter::release(int reservedTokens, int actualTokens)
{
    m_inFlight = std::max(0, m_inFlight - 1);
    if (m_limits.tokensPerMinute > 0 && actualTokens >= 0) {
        refill();
        const double reserved = std::min<double>(std::max(reservedTokens, 0), m_limits.tokensPerMinute);
        m_tokens = std::min<double>(m_limits.tokensPerMinute, m_tokens + reserved - actualTokens);
    }
}

void RateLimiter::pauseUntil(qint64 epochMs)
{
    m_pausedUntilMs = std::max(m_pausedUntilMs, epochMs);
}

double RateLimiter::availableRequests()
{
    refill();
    return m_requests;
}

double RateLimiter::availableTokens()
{
    refill();
    return m_tokens;
}

} // namespace vigil::llm
