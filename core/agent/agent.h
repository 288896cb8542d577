#pragma once

// Agent: the headless loop `vigilctl agent` runs, in or out of a cluster.
//
//   informers (pods, nodes, Warning events, AgentDecisions)
//     -> pipeline::Diagnoser (detect, group, fetch, gather, redact, Router)
//     -> guard::evaluate -> act::Executor::propose -> DecisionLedger (AgentDecision)
//     -> verdict allowed (auto-within-policy): approve as "policy", claim, execute, verify
//        otherwise: wait for spec.approved: true on the AgentDecision, then claim, execute, verify
//     -> audit (every step, by the Executor) and the AgentDecision's phase
//
// Every replica runs the informers (so /readyz means "could lead now"); only
// the replica holding the Lease (LeaderElector) diagnoses, proposes, mirrors
// and acts. On taking the lease a leader first adopts the ledger: decisions
// other leaders recorded are copied into its local store, and any that a
// vanished leader had claimed are reconciled against the cluster, never run
// again. A replica that loses the lease drops its diagnoser at once and
// starts nothing new.
//
// A person rejects through the AgentDecision (spec.rejected / the desktop's
// annotations): the decision moves to rejected with a Rejected condition naming
// who and why, and is never claimed. An approval that cannot be carried out
// (rejected, blocked, already executed) is answered with an ApprovalRefused
// condition. The leader deletes finished AgentDecisions older than
// decisionTtlMs; proposed, approved and executing ones are never deleted.
//
// A namespaced agent watches nodes only if RBAC lets it list and watch them
// (it says at start when node incidents are out of scope), looks only at the
// nodes its namespace's pods run on, records their incidents in its own
// namespace and never cordons: a node is shared with other namespaces.
//
// The local decision store is the agent's own record; the AgentDecisions
// follow it. A write that fails (a broken connection, an API server restart)
// is retried with backoff while leading, and the leader resyncs: on taking
// the lease, every resyncIntervalMs and at shutdown it compares each local
// decision with its AgentDecision and writes the missing and stale ones
// (never one the ledger is ahead of, nor a missing one untouched here for
// decisionTtlMs: the TTL sweep may have deleted it after another leader
// finished it).
//
// shutdown() (SIGTERM): stop taking work, let a running action (and a running
// verification) finish within the grace period or record it as interrupted
// (the next leader reconciles it; an unfinished verification leaves the
// decision executed), flush the AgentDecision writes still owed (retrying failed ones) within
// a bounded wait, release the Lease, then finished(0).

#include "core/act/actions.h"
#include "core/agent/agentmetrics.h"
#include "core/agent/leaderelector.h"
#include "core/guard/policy.h"
#include "core/kube/connection.h"
#include "core/kube/informer.h"
#include "core/kube/restclient.h"
#include "core/pipeline/diagnoser.h"
#include "core/util/result.h"

#include <QHash>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QString>
#include <QTimer>

#include <functional>
#include <memory>

namespace vigil::act {
class ActionRunner;
class DecisionStore;
class Executor;
struct Decision;
} // namespace vigil::act
namespace vigil::audit {
class AuditLog;
struct AuditEvent;
} // namespace vigil::audit
namespace vigil::gather {
class GatherFetcher;
}
namespace vigil::reason {
class Router;
}

namespace vigil::agent {

class DecisionLedger;
struct DecisionCondition;
struct LedgerEntry;
class StructuredLog;

struct AgentOptions {
    QString namespaceName; ///< watched namespace; empty: every namespace
    guard::Policy policy;  ///< its mode decides who approves
    QString dataDir;       ///< decisions.db and audit.db
    LeaderElectionOptions election;
    act::AlertConfig alerts; ///< where create_alert also goes
    pipeline::DiagnoserOptions diagnoser;
    kube::RestClientOptions client; ///< for informers, gathering and actions
    int verifyTimeoutMs = 120000;
    int shutdownGraceMs = 15000; ///< how long a running action may take after SIGTERM
    /// A decision for an incident is not proposed again while one is open or for this long after.
    qint64 repeatWindowMs = 10 * 60 * 1000;
    /// Finished AgentDecisions older than this are deleted by the leader; 0 keeps them.
    qint64 decisionTtlMs = 7LL * 24 * 3600 * 1000;
    /// How often the leader rewrites AgentDecisions missing or behind the local record; 0: only on
    /// taking the lease and at shutdown.
    int resyncIntervalMs = 30000;
};

class Agent final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Agent)

public:
    /// router and log are not owned and must outlive the agent.
    Agent(kube::Connection connection, AgentOptions options, reason::Router *router, StructuredLog *log,
          QObject *parent = nullptr);
    ~Agent() override;

    /// Opens the decision store and audit log in the data dir; errors name the file.
    Result<void> open();
    /// Checks the AgentDecision CRD, starts the informers and leader election.
    void start();
    /// Graceful stop (see the file comment); a second call finishes at once.
    void shutdown();

    bool ready() const;
    bool isLeader() const;
    /// The counters, with the router's LLM numbers folded in.
    AgentMetrics metrics() const;
    /// Why the agent is not ready ("informers not synced: pods, events"); empty when ready.
    QString notReadyReason() const;
    QString identity() const { return m_options.election.identity; }

Q_SIGNALS:
    /// The agent stopped; exitCode 0 after a graceful shutdown.
    void finished(int exitCode);

private:
    void onStartedLeading();
    void onStoppedLeading(const QString &reason);
    void adoptLedger();
    void syncFromLedger(const LedgerEntry &entry);
    void beginActing();
    void startInformers(bool watchNodes);
    void checkNodeAccess(std::function<void(bool allowed, const QString &why)> callback);
    QList<kube::NodeView> nodesInScope(const QList<kube::NodeView> &nodes) const;
    bool handleRejection(const LedgerEntry &entry, const act::Decision &local);
    void refuseApproval(const LedgerEntry &entry, const act::Decision &local, const QString &error);
    void writeCondition(const act::Decision &local, const DecisionCondition &condition);
    void sweepExpired();
    void onPodDeltas(const kube::DeltaBatch &batch);
    void onNodeDeltas(const kube::DeltaBatch &batch);
    void onEventDeltas(const kube::DeltaBatch &batch);
    void onLedgerDeltas(const kube::DeltaBatch &batch);
    void observe(const QList<kube::PodView> &pods, const QList<kube::NodeView> &nodes,
                 const QList<kube::EventView> &events);
    void onDiagnosed(const pipeline::Incident &incident, const gather::Evidence &evidence,
                     const Diagnosis &diagnosis);
    bool recentlyDecided(const QString &fingerprint) const;
    void considerEntry(const LedgerEntry &entry);
    void claimAndExecute(const QString &decisionId);
    void execute(const act::Decision &claimed);
    void verify(const QString &decisionId);
    void record(const act::Decision &decision);
    void onRecordFailed(const QString &decisionId);
    void retryUnsynced();
    int resync(const QString &why);
    bool inScope(const act::Decision &decision) const;
    void appendAudit(audit::AuditEvent event);
    void countOutcome(const act::Decision &decision);
    void onInformerHealth(const kube::InformerHealth &health, const QString &resource);
    bool canAct() const;
    void maybeFinish();
    void finishShutdown();
    void interruptInFlight();

    kube::Connection m_connection;
    AgentOptions m_options;
    reason::Router *m_router; // not owned
    StructuredLog *m_log;     // not owned
    std::unique_ptr<act::DecisionStore> m_store;
    std::unique_ptr<audit::AuditLog> m_audit;
    kube::RestClient *m_client = nullptr;         // child
    kube::RestClient *m_electionClient = nullptr; // child
    act::ActionRunner *m_runner = nullptr;        // child
    act::Executor *m_executor = nullptr;          // child
    DecisionLedger *m_ledger = nullptr;           // child
    LeaderElector *m_elector = nullptr;           // child
    gather::GatherFetcher *m_fetcher = nullptr;   // child
    kube::Informer *m_pods = nullptr;             // child
    kube::Informer *m_nodes = nullptr;            // child
    kube::Informer *m_events = nullptr;           // child
    QHash<QString, kube::InformerHealth> m_health;
    QPointer<QObject> m_term;                   ///< lives while leading; owns the term's Diagnoser
    pipeline::Diagnoser *m_diagnoser = nullptr; // child of m_term
    bool m_adopting = false;                    ///< leading, adopting the ledger
    bool m_acting = false;                      ///< leading, ledger adopted, reconciled
    bool m_draining = false;
    bool m_finished = false;
    QString m_kubeUser;
    QSet<QString> m_refused;           ///< approvals refused (answered once)
    QSet<QString> m_deleting;          ///< expired AgentDecisions being deleted
    QSet<QString> m_claiming;          ///< decision ids between claim and execute's answer
    QHash<QString, qint64> m_inFlight; ///< decision id -> when its execute() started
    QSet<QString> m_verifying;         ///< decision ids whose verify() has not answered
    int m_pendingWrites = 0;           ///< AgentDecision writes not answered yet
    QHash<QString, int> m_recording;   ///< decision id -> record() writes not answered yet
    QSet<QString> m_unsynced;          ///< decision ids whose last AgentDecision write failed
    QTimer m_retryTimer;               ///< retries m_unsynced while leading
    int m_retryDelayMs = 0;
    qint64 m_flushDeadlineMs = 0; ///< after SIGTERM: failed writes are retried until then
    bool m_drainRetryQueued = false;
    QTimer m_graceTimer;
    AgentMetrics m_metrics;
};

} // namespace vigil::agent
