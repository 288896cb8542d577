#pragma once

// Leader election through a coordination.k8s.io/v1 Lease, the way client-go's
// leaderelection package does it, so that of several agent replicas exactly
// one acts:
//
// - A candidate reads the Lease every retry period. It may take it when the
//   Lease does not exist, has no holder (released), or has not changed for
//   leaseDurationSeconds as measured on the candidate's own monotonic clock
//   from when it last saw the record change (never by comparing wall clocks).
// - Writes are optimistic: create, or PUT with the resourceVersion that was
//   read; a 409 means another replica wrote first, and this attempt failed.
// - The leader renews every retry period. When no renewal has succeeded for
//   renewDeadline it stops leading at once (stoppedLeading), even while a
//   request still hangs; renewDeadline < leaseDuration leaves the margin in
//   which nobody else can have taken over yet.
// - release() hands the Lease back on a graceful shutdown (holder cleared,
//   leaseDurationSeconds 1), so a standby takes over within one retry period.

#include "core/util/result.h"

#include <QDateTime>
#include <QObject>
#include <QString>
#include <QTimer>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>

namespace vigil::kube {
class RestClient;
}

namespace vigil::agent {

struct LeaderElectionOptions {
    QString leaseName = QStringLiteral("vigil-agent");
    QString leaseNamespace = QStringLiteral("default");
    QString identity; ///< unique per replica: the pod name, else hostname_pid
    int leaseDurationMs = 15000;
    int renewDeadlineMs = 10000;
    int retryPeriodMs = 2000;
    std::function<int64_t()> clockMs;     ///< monotonic milliseconds; null = steady clock
    std::function<QDateTime()> wallClock; ///< for acquireTime/renewTime; null = now (UTC)
    std::function<double()> random;       ///< uniform in [0, 1) for jitter; null = QRandomGenerator
};

/// client-go's checks: leaseDuration > renewDeadline > 1.2 x retryPeriod > 0, names and identity set.
Result<void> validateOptions(const LeaderElectionOptions &options);

/// The spec of a Lease as leader election reads and writes it.
struct LeaseRecord {
    QString holderIdentity;
    int leaseDurationSeconds = 0;
    QString acquireTime; ///< MicroTime text, as stored
    QString renewTime;
    int leaseTransitions = 0;

    /// Reads spec from a Lease object; missing fields keep their defaults.
    static LeaseRecord fromLease(const nlohmann::json &lease);
    nlohmann::json toSpec() const;
    bool operator==(const LeaseRecord &) const = default;
};

/// "2006-01-02T15:04:05.000000Z": Kubernetes' MicroTime.
QString microTime(const QDateTime &time);

class LeaderElector final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(LeaderElector)

public:
    /// client is not owned and must outlive the elector. Give it a client of its
    /// own (no client-side rate limit) so renewals never queue behind other work.
    LeaderElector(kube::RestClient *client, LeaderElectionOptions options, QObject *parent = nullptr);
    ~LeaderElector() override;

    /// Starts trying to acquire the Lease (first attempt at once).
    void start();
    /// Stops trying, without touching the Lease; stoppedLeading() if this replica led.
    void stop();
    /// Stops trying and, if leading, clears the holder so a peer takes over at
    /// once. callback runs once, after the write or its failure.
    void release(QObject *context, std::function<void(Result<void>)> callback);

    bool isLeader() const { return m_state == State::Leading; }
    /// The holder last seen in the Lease (empty when none or not read yet).
    QString observedLeader() const { return m_observed.holderIdentity; }
    const LeaderElectionOptions &options() const { return m_options; }
    /// Successful renewals while leading, since start().
    int renewals() const { return m_renewals; }

Q_SIGNALS:
    void startedLeading();
    /// Lost or gave up the Lease; reason is one sentence for the log.
    void stoppedLeading(const QString &reason);
    /// The holder seen in the Lease changed (empty: released).
    void leaderObserved(const QString &identity);
    /// One acquire or renew attempt failed (409, timeout, 5xx, ...): for the log.
    void attemptFailed(const QString &message);

private:
    enum class State { Stopped, Candidate, Leading };

    void schedule(int delayMs);
    void tryAcquireOrRenew();
    void onRead(uint64_t generation, Result<nlohmann::json> lease);
    void write(uint64_t generation, const QByteArray &verb, const LeaseRecord &record,
               const QString &resourceVersion);
    void onWritten(uint64_t generation, const LeaseRecord &record, Result<nlohmann::json> written);
    void attemptDone(uint64_t generation, bool ok, const QString &error);
    void observe(const LeaseRecord &record);
    void becomeLeader();
    void loseLeadership(const QString &reason);
    int requestTimeoutMs() const;
    QString leasePath(bool collection) const;
    int64_t nowMs() const;
    QDateTime wallNow() const;

    kube::RestClient *m_client; // not owned
    LeaderElectionOptions m_options;
    State m_state = State::Stopped;
    LeaseRecord m_observed;
    bool m_observedAny = false;
    int64_t m_observedAtMs = 0;
    QString m_resourceVersion; ///< of the Lease as last read or written
    int64_t m_lastRenewMs = 0;
    uint64_t m_generation = 0; ///< bumped by stop/loss: stale replies compare and bail
    bool m_inFlight = false;
    int m_renewals = 0;
    QTimer m_retry;
    QTimer m_deadline; ///< fires renewDeadline after the last successful renewal
};

} // namespace vigil::agent
