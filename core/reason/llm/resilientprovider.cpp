#include "core/reason/llm/resilientprovider.h"

#include "core/reason/llm/costmeter.h"

#include <QLoggingCategory>
#include <QPointer>
#include <QTimer>

#include <memory>

Q_LOGGING_CATEGORY(lcLlm, "vigil.llm")

namespace vigil::llm {

struct ResilientProvider::Job {
    LlmRequest request;
    int estimatedTokens = 0;
    int attempt = 0;
    QPointer<LlmCall> inner;
    QTimer *timer = nullptr; // child of the outer call
};

namespace {

// Failures that say the endpoint is unwell; a refusal or truncation proves it answered.
bool countsAgainstBreaker(const LlmReply &r)
{
    switch (r.errorKind) {
    case LlmErrorKind::Network:
    case LlmErrorKind::Timeout:
    case LlmErrorKind::Http:
    case LlmErrorKind::RateLimited:
    case LlmErrorKind::Overloaded:
    case LlmErrorKind::BadReply:
        return true;
    default:
        return false;
    }
}

} // namespace

ResilientProvider::ResilientProvider(LlmProvider *inner, CostMeter *meter, const Clock *clock,
                                     std::function<double()> random, ResilienceConfig config, QObject *parent)
    : LlmProvider(parent)
    , m_inner(inner)
    , m_meter(meter)
    , m_clock(clock)
    , m_random(std::move(random))
    , m_config(config)
    , m_limiter(config.limits, clock)
    , m_breaker(config.breaker, clock)
{
}

ResilientProvider::~ResilientProvider() = default;

QString ResilientProvider::name() const
{
    return m_inner->name();
}

bool ResilientProvider::isLocal() const
{
    return m_inner->isLocal();
}

int ResilientProvider::estimatePromptTokens(const LlmRequest &request)
{
    // About four characters per token for English and JSON.
    const qsizetype chars =
        request.system.size() + request.user.size() + static_cast<qsizetype>(request.schema.dump().size());
    return static_cast<int>(chars / 4 + 16);
}

LlmCall *ResilientProvider::complete(const LlmRequest &request)
{
    auto *outer = new LlmCall(this);
    auto job = std::make_shared<Job>();
    job->request = request;
    job->estimatedTokens = estimatePromptTokens(request) + std::max(0, request.maxTokens);
    job->timer = new QTimer(outer);
    job->timer->setSingleShot(true);
    connect(job->timer, &QTimer::timeout, outer, [this, outer, job]() { step(outer, job); });
    outer->setAbortHandler([this, job]() {
        job->timer->stop();
        if (job->inner) {
            // The attempt in flight will never report back to us: settle its books now.
            m_limiter.release(job->estimatedTokens, -1);
            m_breaker.recordAbandoned();
            job->inner->abort();
        }
    });
    step(outer, job);
    return outer;
}

void ResilientProvider::fail(LlmCall *outer, const Job &job, LlmErrorKind kind, const QString &message)
{
    LlmReply r;
    r.provider = m_inner->name();
    r.model = job.request.model;
    r.attempts = job.attempt;
    r.errorKind = kind;
    r.error = Error(message);
    outer->finish(std::move(r));
}

void ResilientProvider::step(LlmCall *outer, const std::shared_ptr<Job> &job)
{
    if (outer->isFinished())
        return;
    if (m_meter && !m_inner->isLocal()) {
        const auto budget = m_meter->checkBudget(job->request.model, estimatePromptTokens(job->request),
                                                 job->request.maxTokens);
        if (!budget) {
            fail(outer, *job, LlmErrorKind::BudgetSpent,
                 m_inner->name() + QStringLiteral(": ") + budget.errorMessage());
            return;
        }
    }
    const qint64 wait = m_limiter.tryAcquire(job->estimatedTokens);
    if (wait > 0) {
        job->timer->start(static_cast<int>(std::min<qint64>(wait, 24 * 3600 * 1000)));
        return;
    }
    const auto allowed = m_breaker.allow();
    if (!allowed) {
        m_limiter.release(job->estimatedTokens, 0);
        fail(outer, *job, LlmErrorKind::CircuitOpen,
             m_inner->name() + QStringLiteral(": ") + allowed.errorMessage());
        return;
    }
    ++job->attempt;
    LlmCall *inner = m_inner->complete(job->request);
    job->inner = inner;
    connect(inner, &LlmCall::finished, outer,
            [this, outer, job](const LlmReply &reply) { onAttemptFinished(outer, job, reply); });
}

void ResilientProvider::onAttemptFinished(LlmCall *outer, const std::shared_ptr<Job> &job, LlmReply reply)
{
    job->inner = nullptr;
    if (outer->isFinished())
        return;
    const int used = reply.promptTokens + reply.completionTokens;
    m_limiter.release(job->estimatedTokens, used > 0 ? used : -1);
    const qint64 now = m_clock->nowMs();
    if (reply.retryAfterMs > 0)
        m_limiter.pauseUntil(now + reply.retryAfterMs);
    if (m_meter && !m_inner->isLocal() && used > 0)
        reply.costUsd = m_meter->record(reply.model.isEmpty() ? job->request.model : reply.model,
                                        reply.promptTokens, reply.completionTokens);
    reply.attempts = job->attempt;

    if (reply.errorKind == LlmErrorKind::Cancelled)
        m_breaker.recordAbandoned();
    else if (countsAgainstBreaker(reply))
        m_breaker.recordFailure(reply.error.message);
    else
        m_breaker.recordSuccess();

    if (!reply.ok() && isRetryable(reply.errorKind, reply.httpStatus) &&
        job->attempt < m_config.retry.maxAttempts) {
        if (reply.retryAfterMs > m_config.retry.maxServerDelayMs) {
            reply.error.message += QStringLiteral(" (the server asked to wait %1 s; not retrying)")
                                       .arg(reply.retryAfterMs / 1000);
            outer->finish(std::move(reply));
            return;
        }
        const double jitter = m_random ? m_random() : 0.5;
        const qint64 delay = reply.retryAfterMs >= 0 ? reply.retryAfterMs
                                                     : backoffDelayMs(m_config.retry, job->attempt, jitter);
        qCInfo(lcLlm).noquote() << QStringLiteral("attempt %1 failed: %2; retrying in %3 ms")
                                       .arg(job->attempt)
                                       .arg(reply.error.message)
                                       .arg(delay);
        Q_EMIT retrying(reply, job->attempt, delay);
        job->timer->start(static_cast<int>(delay));
        return;
    }
    if (!reply.ok() && job->attempt > 1)
        reply.error.message += QStringLiteral(" (after %1 attempts)").arg(job->attempt);
    if (!reply.ok())
        qCWarning(lcLlm).noquote() << reply.error.message;
    outer->finish(std::move(reply));
}

} // namespace vigil::llm
