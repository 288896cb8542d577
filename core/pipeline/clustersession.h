#pragma once

// ClusterSession: the desktop's worker. Lives on its own QThread, owns the
// RestClient and the informers (pods, Warning events, nodes) for one
// connection, polls metrics.k8s.io, and hands the GUI coalesced batches
// through queued signals, at most one per batch interval. Nothing here
// blocks on the network; exec credential plugins run on this thread.
//
// Until core/pipeline/diagnoser lands, the session also runs an interim
// rules-only diagnosis (Detector -> IncidentGrouper -> Gatherer without logs
// -> RuleReasoner -> Guardrails) so the desktop shows incidents today.

#include "core/act/decision.h"
#include "core/gather/evidence.h"
#include "core/guard/guardrails.h"
#include "core/kube/connection.h"
#include "core/kube/informer.h"
#include "core/pipeline/detector.h"
#include "core/pipeline/incidentgrouper.h"
#include "core/reason/diagnosis.h"

#include <QDateTime>
#include <QHash>
#include <QList>
#include <QMetaType>
#include <QObject>
#include <QStringList>
#include <QTimer>

#include <cstdint>
#include <memory>

namespace vigil::kube {
class RestClient;
}
namespace vigil::audit {
class AuditLog;
}
namespace vigil::act {
class ActionRunner;
class DecisionStore;
class Executor;
} // namespace vigil::act

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
    QString evidenceText;    ///< exactly the redacted context a reasoner was given
    QStringList evidenceCut; ///< what the budget removed
    int evidenceTokens = 0;
    bool diagnosed = false;
    Diagnosis diagnosis;    ///< valid when diagnosed
    QString diagnosisError; ///< why there is no diagnosis
    bool judged = false;
    guard::Verdict verdict;       ///< valid when judged
    QString targetKey;            ///< guard::targetKey of the proposed action
    guard::IncidentTarget target; ///< what the proposed action acts on
    QString decisionId;           ///< the executor's decision for this proposal; empty when none
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

struct SessionOptions {
    QString namespaceName; ///< empty: all namespaces
    guard::Policy policy;
    int batchIntervalMs = 100;
    int metricsIntervalMs = 15000;
    bool interimRules = true; ///< run the rules-only diagnosis
    int maxWarnings = 500;
    QString dataDir;              ///< decisions.db lives here; empty: act::dataDirectory()
    QString auditPath;            ///< empty: act::auditPath(dataDir)
    bool readOnly = false;        ///< suggest only: the executor refuses to act
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

private:
    void startInformers();
    void onPodDeltas(const kube::DeltaBatch &batch);
    void onEventDeltas(const kube::DeltaBatch &batch);
    void onNodeDeltas(const kube::DeltaBatch &batch);
    void onHealth(const kube::InformerHealth &health, const QString &resource);
    void pollMetrics();
    void flush();
    void scheduleFlush();
    // Interim rules-only diagnosis; replaced by core/pipeline/diagnoser.
    void observe(const QList<Observation> &observations);
    IncidentReport diagnoseWithRules(const Incident &incident) const;
    void openExecutor();
    void proposeFor(IncidentReport &report);
    act::Approver approver() const;
    QString decisionFor(const QString &fingerprint, const QString &verb);

    kube::Connection m_connection;
    SessionOptions m_options;
    std::unique_ptr<kube::RestClient> m_client;
    kube::Informer *m_pods = nullptr;   // child
    kube::Informer *m_events = nullptr; // child
    kube::Informer *m_nodes = nullptr;  // child
    QTimer m_flushTimer;                // parented: moves to the worker thread with the session
    QTimer m_metricsTimer;              // parented, likewise
    SessionBatch m_pending;
    QHash<QString, qsizetype> m_pendingPodIndex;
    QHash<QString, qsizetype> m_pendingIncidentIndex;
    QHash<QString, kube::InformerHealth> m_health;
    SessionHealth m_lastHealth;
    Detector m_detector;
    IncidentGrouper m_grouper;
    // Decisions: opened on the worker thread (QtSql connections are per thread).
    std::unique_ptr<act::DecisionStore> m_decisions;
    std::unique_ptr<audit::AuditLog> m_audit;
    std::unique_ptr<act::ActionRunner> m_runner;
    std::unique_ptr<act::Executor> m_executor;
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
Q_DECLARE_METATYPE(vigil::act::DecisionState)
