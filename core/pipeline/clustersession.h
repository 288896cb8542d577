#pragma once

// ClusterSession: the desktop's worker. Lives on its own QThread, owns the
// RestClient and the informers (pods, Warning events, nodes) for one
// connection, polls metrics.k8s.io, and hands the GUI coalesced batches
// through queued signals, at most one per batch interval. Nothing here
// blocks on the network; exec credential plugins run on this thread.
//
// Incidents walk the Diagnoser (detect -> group -> fetch -> gather -> redact
// -> Router) and then the Guardrails; actionable answers become Executor
// decisions that a person approves, rejects or undoes through the slots.

#include "core/act/decision.h"
#include "core/gather/evidence.h"
#include "core/guard/guardrails.h"
#include "core/kube/connection.h"
#include "core/kube/informer.h"
#include "core/pipeline/diagnoser.h"
#include "core/pipeline/incidentgrouper.h"
#include "core/reason/diagnosis.h"
#include "core/util/result.h"

#include <QDateTime>
#include <QHash>
#include <QList>
#include <QMetaType>
#include <QObject>
#include <QSet>
#include <QStringList>
#include <QTimer>

#include <cstdint>
#include <functional>
#include <memory>

namespace vigil::kube {
class RestClient;
}
namespace vigil::audit {
class AuditLog;
class RetentionSchedule;
} // namespace vigil::audit
namespace vigil::act {
class ActionRunner;
class AgentDecisionMirror;
class DecisionStore;
class Executor;
} // namespace vigil::act
namespace vigil::gather {
class GatherFetcher;
}
namespace vigil::reason {
class Router;
}

namespace vigil::pipeline {

/// CPU and memory in use by one pod, from metrics.k8s.io.
struct PodUsageSample {
    int64_t cpuMilli = -1;
    int64_t memoryBytes = -1;
};

using PodUsageMap = QHash<QString, PodUsageSample>;

/// One incident as the desktop shows it.
struct IncidentReport {
    Incident incident;
    /// Exactly the redacted context the reasoner was given (text, what the budget cut, tokens).
    gather::Evidence evidence;
    bool diagnosing = false;      ///< a diagnosis is in flight (gathering or a model call)
    QDateTime diagnosingSince;    ///< when it began
    QString diagnosingWith;       ///< the model asked ("openai/gpt-4o"); empty while gathering
    bool strongRequested = false; ///< the diagnosis in flight or shown was asked of the strong model
    bool diagnosed = false;
    Diagnosis diagnosis;    ///< valid when diagnosed
    QString diagnosisError; ///< why there is no diagnosis
    bool judged = false;
    guard::Verdict verdict;       ///< valid when judged
    QString targetKey;            ///< guard::targetKey of the proposed action
    guard::IncidentTarget target; ///< what the proposed action acts on
    QString decisionId;           ///< the executor's decision for this proposal; empty when none
    act::DecisionState decisionState = act::DecisionState::Proposed; ///< valid with decisionId
    QString decisionOutcome;    ///< the decision's last outcome sentence (why it failed, ...)
    bool undoAvailable = false; ///< the decision ran and its action has an undo
};

/// What the GUI receives at most once per batch interval.
struct SessionBatch {
    bool podsResynced = false; ///< pods is the complete set: reset the table
    QList<kube::PodView> pods; ///< added or modified (all pods when resynced)
    QStringList deletedPodUids;
    QList<kube::EventView> warnings; ///< new or updated Warning events
    QList<IncidentReport> incidents; ///< opened or changed incidents
};

/// The connection indicator's state, summarised over the informers.
struct SessionHealth {
    enum class Kind { Connecting, Connected, Reconnecting, CredentialsExpired, Forbidden, Failed };
    Kind kind = Kind::Connecting;
    QString resource;    ///< the informer that spoke ("pods", ...)
    QDateTime nextRetry; ///< when Reconnecting
    QString detail;      ///< the last error, verbatim
    int objects = 0;     ///< pods in the store

    /// One sentence a person reads, e.g. "Reconnecting: retrying in 4 s."
    QString sentence(const QDateTime &now) const;
    /// Summarises one informer's health; 401/403 in its last error become their own kinds.
    static SessionHealth fromInformer(const kube::InformerHealth &health, const QString &resource);
};

/// Pod details fetched on request, for the details dialog.
struct PodDetails {
    QString namespaceName;
    QString name;
    bool previous = false;
    QList<kube::EventView> events; ///< newest first
    QString log;
    QString logError;
    QString yaml;
    QString yamlError;
};

/// One AgentDecision (ai.vigil.dev/v1alpha1) as the desktop lists it.
struct AgentDecisionInfo {
    struct Condition {
        QString type;
        QString status; ///< "True", "False", "Unknown"
        QString reason;
        QString message;
        QDateTime lastTransition;
    };
    QString uid;
    QString namespaceName;
    QString name;
    QString resourceVersion;
    QDateTime created;
    QString decisionId; ///< label vigil.dev/decision
    QString action;
    QString target;
    QString diagnosis;
    QString reasoning;
    QString provider;
    QString model;
    double confidence = 0.0;
    bool approved = false;
    bool executed = false;
    QString phase; ///< status.phase: proposed, approved, executing, verified, failed, ...
    QList<Condition> conditions;
    QString approvedBy; ///< annotation vigil.dev/approved-by (who clicked Approve)
    /// spec.rejected: true (kubectl, the desktop), or the annotation vigil.dev/rejected-by that
    /// desktops before spec.rejected wrote; the agent reads both the same way.
    bool rejected = false;
    QString rejectedBy;   ///< annotation vigil.dev/rejected-by, else "field-manager:<who set spec.rejected>"
    QString rejectReason; ///< spec.rejectReason, else the annotation vigil.dev/reject-reason

    /// Whether a person can still approve or reject it.
    bool awaitingDecision() const;
    /// Reads an AgentDecision object; an error names what is missing.
    static Result<AgentDecisionInfo> fromJson(const nlohmann::json &object);
};

/// Changes to the cluster's AgentDecisions, batched like pods.
struct AgentDecisionBatch {
    bool resynced = false; ///< upserted is the complete set
    QList<AgentDecisionInfo> upserted;
    QStringList deletedUids;
};

/// What a SessionOptions::reasoner built.
struct ReasonerSetup {
    reason::Router *router = nullptr; ///< a child of the parent given; null: rules only
    QString description;              ///< "openai: gpt-4o-mini → gpt-4o", or why it is rules only
};

struct SessionOptions {
    QString namespaceName; ///< empty: all namespaces
    guard::Policy policy;
    int batchIntervalMs = 100;
    int metricsIntervalMs = 15000;
    bool diagnose = true;         ///< detect incidents and diagnose them
    int rescanIntervalMs = 30000; ///< re-detect over the whole store (grace periods end without an event)
    DiagnoserOptions diagnoser;
    /// Builds the Router on the worker thread, as children of parent (so they
    /// live and die there). Empty, or no router returned: a rules-only Router.
    std::function<ReasonerSetup(QObject *parent)> reasoner;
    int maxWarnings = 500;
    QString dataDir;       ///< decisions.db lives here; empty: act::dataDirectory()
    QString auditPath;     ///< empty: act::auditPath(dataDir)
    bool readOnly = false; ///< suggest only: the executor refuses to act
    /// Mirror decisions into the cluster as AgentDecisions (act::AgentDecisionMirror::start) when the
    /// CRD is installed and RBAC allows; decisionsMirrored() says whether, or why not.
    bool mirrorDecisions = true;
    int verifyTimeoutMs = 120000; ///< how long verify() waits for the effect
};

class ClusterSession final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ClusterSession)

public:
    ClusterSession(kube::Connection connection, SessionOptions options, QObject *parent = nullptr);
    ~ClusterSession() override;

    const kube::Connection &connection() const { return m_connection; }

    /// Renders a JSON object as YAML (block style, keys sorted as nlohmann::json keeps them).
    static QString toYaml(const nlohmann::json &object);
    /// Parses a metrics.k8s.io PodMetricsList into usage keyed by "namespace/name".
    static PodUsageMap parsePodMetrics(const nlohmann::json &list);

public Q_SLOTS:
    /// Call on the worker thread (queued): checks credentials, then lists and watches.
    void start();
    void requestPodDetails(const QString &namespaceName, const QString &name, bool previous);
    /// Approves the incident's decision, executes it and verifies the effect (decisionUpdated reports each
    /// step).
    void approve(const QString &fingerprint);
    /// Rejects the incident's decision with a reason.
    void reject(const QString &fingerprint, const QString &reason);
    /// Reverts the incident's executed decision, for actions that have an undo.
    void undo(const QString &fingerprint);
    /// Diagnoses the incident again with the strong model tier, whatever the cache and threshold say.
    void rediagnose(const QString &fingerprint);
    /// Cancels the incident's diagnosis in flight; the rules' answer stands.
    void cancelDiagnosis(const QString &fingerprint);
    /// Sets spec.approved: true on the AgentDecision (merge patch, field manager "vigil-desktop"),
    /// recording who in the annotation vigil.dev/approved-by.
    void approveAgentDecision(const QString &namespaceName, const QString &name);
    /// Rejects the AgentDecision as the agent reads it: spec.rejected: true, spec.rejectReason and
    /// spec.approved: false, recording who in the annotation vigil.dev/rejected-by.
    void rejectAgentDecision(const QString &namespaceName, const QString &name, const QString &reason);

Q_SIGNALS:
    void batchReady(const vigil::pipeline::SessionBatch &batch);
    void healthChanged(const vigil::pipeline::SessionHealth &health);
    void namespacesListed(const QStringList &names);
    void usageUpdated(const vigil::pipeline::PodUsageMap &usage);
    /// The exec plugin may not run yet: show commandLine, and on consent reconnect with it allowed.
    void execConsentRequired(const QString &commandLine, const QString &message);
    void podDetailsReady(const vigil::pipeline::PodDetails &details);
    /// The dry run of the incident's proposed action, or why there is none.
    void previewReady(const QString &fingerprint, const QString &preview);
    /// The incident's decision moved to state; outcome is one sentence (an error, the verify result, ...).
    void decisionUpdated(const QString &fingerprint, vigil::act::DecisionState state, const QString &outcome);
    /// The API server's version (gitVersion), once known.
    void clusterVersionKnown(const QString &version);
    /// Which reasoner diagnoses ("rules only", "openai: gpt-4o-mini → gpt-4o", ...).
    void reasonerReady(const QString &description);
    /// Something a person should read in the status bar (reconciled decisions, store errors, ...).
    void notice(const QString &message);
    /// Whether this session's own decisions are mirrored as AgentDecisions, or why not
    /// ("not mirrored because the AgentDecision CRD is not installed ..."); also sent as a notice.
    void decisionsMirrored(bool mirrored, const QString &message);
    /// Whether the AgentDecision CRD can be listed here; why not ("not installed", 403, ...).
    void agentDecisionsAvailable(bool available, const QString &why);
    void agentDecisionsChanged(const vigil::pipeline::AgentDecisionBatch &batch);
    /// The outcome of approveAgentDecision / rejectAgentDecision.
    void agentDecisionActed(const QString &namespaceName, const QString &name, bool ok,
                            const QString &message);

private:
    void startInformers();
    void onPodDeltas(const kube::DeltaBatch &batch);
    void onEventDeltas(const kube::DeltaBatch &batch);
    void onNodeDeltas(const kube::DeltaBatch &batch);
    void onHealth(const kube::InformerHealth &health, const QString &resource);
    void pollMetrics();
    void flush();
    void scheduleFlush();
    void startDiagnoser();
    void detectAgentDecisions();
    void onAgentDecisionDeltas(const kube::DeltaBatch &batch);
    void patchAgentDecision(const QString &namespaceName, const QString &name, const nlohmann::json &patch,
                            const QString &verb);
    void observe(const QList<kube::PodView> &pods, const QList<kube::NodeView> &nodes,
                 const QList<kube::EventView> &events);
    void rescan();
    void onDiagnosed(const Incident &incident, const gather::Evidence &evidence, const Diagnosis &diagnosis);
    void onDiagnosisFailed(const Incident &incident, const QString &error);
    void onModelRequest(const QString &fingerprint, const QString &model);
    void queueReport(const IncidentReport &report);
    void refreshDecision(IncidentReport &report) const;
    void openExecutor();
    void reconcile();
    void onMirrorApproved(const QString &decisionId, const QString &by);
    void executeApproved(const QString &fingerprint, const act::Decision &approved);
    void proposeFor(IncidentReport &report);
    act::Approver approver() const;
    QString decisionFor(const QString &fingerprint, const QString &verb);

    kube::Connection m_connection;
    SessionOptions m_options;
    std::unique_ptr<kube::RestClient> m_client;
    kube::Informer *m_pods = nullptr;           // child
    kube::Informer *m_events = nullptr;         // child
    kube::Informer *m_nodes = nullptr;          // child
    kube::Informer *m_agentDecisions = nullptr; // child, once the CRD is found
    bool m_agentDecisionsUsable = false;
    QTimer m_flushTimer;   // parented: moves to the worker thread with the session
    QTimer m_metricsTimer; // parented, likewise
    SessionBatch m_pending;
    QHash<QString, qsizetype> m_pendingPodIndex;
    QHash<QString, qsizetype> m_pendingIncidentIndex;
    QHash<QString, kube::InformerHealth> m_health;
    SessionHealth m_lastHealth;
    QTimer m_rescanTimer;                       // parented, likewise
    gather::GatherFetcher *m_fetcher = nullptr; // child
    reason::Router *m_router = nullptr;         // child (or of the reasoner's objects)
    Diagnoser *m_diagnoser = nullptr;           // child
    QHash<QString, IncidentReport> m_reports;   // by fingerprint: what the GUI was last told
    QSet<QString> m_cancelPending;              // cancelled while still gathering
    // Decisions: opened on the worker thread (QtSql connections are per thread).
    std::unique_ptr<act::DecisionStore> m_decisions;
    std::unique_ptr<audit::AuditLog> m_audit;
    std::unique_ptr<audit::RetentionSchedule> m_retention; // after m_audit: goes first
    std::unique_ptr<act::ActionRunner> m_runner;
    std::unique_ptr<act::Executor> m_executor;
    act::AgentDecisionMirror *m_mirror = nullptr; // child, once started
    QString m_executorError;
    QString m_kubeUser;
    QHash<QString, QString> m_decisionIds; // incident fingerprint -> decision id
};

} // namespace vigil::pipeline

Q_DECLARE_METATYPE(vigil::pipeline::SessionBatch)
Q_DECLARE_METATYPE(vigil::pipeline::SessionHealth)
Q_DECLARE_METATYPE(vigil::pipeline::PodDetails)
Q_DECLARE_METATYPE(vigil::pipeline::IncidentReport)
Q_DECLARE_METATYPE(vigil::pipeline::PodUsageMap)
Q_DECLARE_METATYPE(vigil::pipeline::AgentDecisionBatch)
Q_DECLARE_METATYPE(vigil::pipeline::AgentDecisionInfo)
Q_DECLARE_METATYPE(vigil::act::DecisionState)
