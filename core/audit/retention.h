#pragma once

// Keeps an audit log within its retention: applies AuditLog::applyRetention
// once when started (the log was just opened) and again every day after,
// on the thread that owns the log. Each pass leaves a "retention" checkpoint
// row, so verify() still passes over the shortened chain.

#include "core/audit/auditlog.h"
#include "core/util/result.h"

#include <QDateTime>
#include <QObject>
#include <QTimer>

#include <functional>

namespace vigil::audit {

class RetentionSchedule final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RetentionSchedule)

public:
    static constexpr int kDailyMs = 24 * 60 * 60 * 1000;
    using Clock = std::function<QDateTime()>;

    /// log is not owned and must outlive the schedule. days 0 keeps every row (start() does nothing).
    /// clock defaults to the current UTC time; intervalMs is how often after start() it runs again.
    RetentionSchedule(AuditLog *log, int days, QString actor, QObject *parent = nullptr, Clock clock = {},
                      int intervalMs = kDailyMs);
    ~RetentionSchedule() override;

    /// Applies the retention now and then every interval; returns the first pass's result
    /// (which applied() or failed() also reports).
    Result<qint64> start();
    /// One pass: the number of rows dropped (applied() or failed() reports it too).
    Result<qint64> applyNow();
    int days() const { return m_days; }

Q_SIGNALS:
    /// A pass dropped rows (never emitted for 0).
    void applied(qint64 dropped);
    /// A pass failed (database error, or a chain that does not verify); the next one tries again.
    void failed(const QString &message);

private:
    AuditLog *m_log; // not owned
    int m_days;
    QString m_actor;
    Clock m_clock;
    QTimer m_timer; // parented
};

} // namespace vigil::audit
