#include "core/audit/retention.h"

namespace vigil::audit {

RetentionSchedule::RetentionSchedule(AuditLog *log, int days, QString actor, QObject *parent, Clock clock,
                                     int intervalMs)
    : QObject(parent)
    , m_log(log)
    , m_days(days)
    , m_actor(std::move(actor))
    , m_clock(clock ? std::move(clock) : Clock([] { return QDateTime::currentDateTimeUtc(); }))
    , m_timer(this)
{
    m_timer.setInterval(intervalMs);
    connect(&m_timer, &QTimer::timeout, this, [this] { (void)applyNow(); });
}

RetentionSchedule::~RetentionSchedule() = default;

Result<qint64> RetentionSchedule::start()
{
    if (m_days <= 0)
        return qint64(0);
    m_timer.start();
    return applyNow();
}

Result<qint64> RetentionSchedule::applyNow()
{
    if (m_days <= 0)
        return qint64(0);
    Result<qint64> dropped = m_log->applyRetention(m_days, m_clock(), m_actor);
    if (!dropped)
        Q_EMIT failed(dropped.errorMessage());
    else if (*dropped > 0)
        Q_EMIT applied(*dropped);
    return dropped;
}

} // namespace vigil::audit
