#pragma once

// The agent's shared record of decisions, kept in the cluster so that every
// replica sees what any leader proposed, claimed and did: each decision is an
// AgentDecision (spec and status.phase written by act::AgentDecisionMirror)
// that also carries
//   label      vigil.dev/agent=<agent name>   which agent (lease) owns it
//   label      vigil.dev/incident=<fingerprint>
//   annotation vigil.dev/decision            the whole decision as JSON (state, facts, outcome)
//   annotation vigil.dev/claimed-by          the replica that started executing it
//   status.conditions                        Rejected, ApprovalRefused, RejectionRefused, Failed
//                                            (server-side applied by field manager vigil-agent)
// A person rejects with spec.rejected: true and spec.rejectReason (kubectl), or
// the desktop's annotations vigil.dev/rejected-by and vigil.dev/reject-reason;
// a rejected decision is never claimed.
// A leader claims a decision before executing it with a merge patch that
// carries the resourceVersion it read (409 when anything changed since), and
// the annotation it writes then already says "executing" with the
// preconditions' facts. A later leader that finds a claim without an outcome
// therefore reconciles against the cluster instead of executing again.
//
// Writes for one decision are serialized, in the order they were asked for.

#include "core/act/decision.h"
#include "core/kube/informer.h"
#include "core/util/result.h"

#include <QHash>
#include <QList>
#include <QObject>
#include <QString>

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>

namespace vigil::kube {
class RestClient;
}
namespace vigil::act {
class AgentDecisionMirror;
class Executor;
} // namespace vigil::act

namespace vigil::agent {

inline constexpr const char *kAgentLabel = "vigil.dev/agent";
inline constexpr const char *kIncidentLabel = "vigil.dev/incident";
inline constexpr const char *kDecisionAnnotation = "vigil.dev/decision";
inline constexpr const char *kClaimedByAnnotation = "vigil.dev/claimed-by";
inline constexpr const char *kClaimedAtAnnotation = "vigil.dev/claimed-at";
inline constexpr const char *kRejectedByAnnotation = "vigil.dev/rejected-by";
inline constexpr const char *kRejectReasonAnnotation = "vigil.dev/reject-reason";
/// The field manager of the agent's own metadata writes.
inline constexpr const char *kLedgerFieldManager = "vigil-agent";

/// One AgentDecision as the agent reads it.
struct LedgerEntry {
    QString decisionId; ///< label vigil.dev/decision
    QString namespaceName;
    QString name;
    QString resourceVersion;
    bool approved = false; ///< spec.approved
    QString approvedBy;    ///< the field manager that set spec.approved ("kubectl-patch", ...)
    QString phase;         ///< status.phase
    QString claimedBy;
    bool rejected = false; ///< spec.rejected: true, or the annotation vigil.dev/rejected-by
    QString rejectedBy;    ///< the annotation, else "field-manager:<who set spec.rejected>"
    QString rejectReason;  ///< spec.rejectReason, else the annotation vigil.dev/reject-reason
    qint64 createdMs = 0;  ///< metadata.creationTimestamp
    nlohmann::json conditions = nlohmann::json::array(); ///< status.conditions as stored
    std::optional<act::Decision> decision; ///< from the annotation; empty when absent or unreadable

    /// Whether status.conditions has one of this type.
    bool hasCondition(const QString &type) const;

    /// Reads an AgentDecision; an error naming the object when it is not one of the agent's.
    static Result<LedgerEntry> fromObject(const nlohmann::json &object);
};

/// A label value made of the fingerprint's allowed characters (at most 63).
QString labelValue(const QString &text);

/// One status condition the agent writes on an AgentDecision.
struct DecisionCondition {
    QString type; ///< Rejected, ApprovalRefused, RejectionRefused, Failed
    QString status = QStringLiteral("True");
    QString reason; ///< CamelCase: RejectedByUser, BlockedByGuardrails, AlreadyExecuted, ...
    QString message;

    bool operator==(const DecisionCondition &) const = default;
};

/// The condition a decision's state itself calls for: Rejected (who and why) or Failed (the
/// outcome, BlockedByGuardrails when the guardrails refused at execution); none otherwise.
std::optional<DecisionCondition> stateCondition(const act::Decision &decision);
/// Why an approval through the AgentDecision was not carried out, from the local decision and the
/// executor's error (empty when the executor was not asked).
DecisionCondition approvalRefused(const act::Decision &decision, const QString &error);

/// When the entry's decision finished (rejected, executed, verified, failed, undone), in ms since
/// the epoch; empty while it may still act (proposed, approved, executing) or is unreadable.
std::optional<qint64> finishedAtMs(const LedgerEntry &entry);
/// Whether a finished decision is older than ttlMs at nowMs (never when ttlMs <= 0).
bool expired(const LedgerEntry &entry, qint64 nowMs, qint64 ttlMs);

class DecisionLedger final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DecisionLedger)

public:
    using Callback = std::function<void(Result<void>)>;

    /// client and executor are not owned and must outlive the ledger. agentName
    /// labels this agent's objects; namespaceName scopes the watch (empty: all).
    DecisionLedger(kube::RestClient *client, act::Executor *executor, QString agentName, QString identity,
                   QString namespaceName, QObject *parent = nullptr);
    ~DecisionLedger() override;

    /// Watches this agent's AgentDecisions (start it; both leader and standby keep it current).
    kube::Informer *informer() const { return m_informer; }
    /// Whether the AgentDecision CRD is installed (false on 404).
    void detect(QObject *context, std::function<void(Result<bool>)> callback);

    /// Writes the decision's spec, status.phase, labels and annotation.
    void record(const act::Decision &decision, QObject *context, Callback callback);
    /// Claims the decision for execution by this replica (see the file comment). `executing` is
    /// stored in the annotation as given. Refused (code 409) when it is already claimed, has
    /// moved past approval, or changed concurrently.
    void claim(const act::Decision &executing, QObject *context, Callback callback);

    /// Server-side applies condition (with every agent condition already on the object) to
    /// status.conditions.
    void setCondition(const act::Decision &decision, const DecisionCondition &condition, QObject *context,
                      Callback callback);
    /// Deletes the entry's AgentDecision if it is unchanged since the entry was read (409 otherwise).
    void remove(const LedgerEntry &entry, QObject *context, Callback callback);

    /// The entries in the informer's store (unreadable objects skipped).
    QList<LedgerEntry> entries() const;
    std::optional<LedgerEntry> entry(const QString &decisionId) const;

    /// Keeps what an entry needs (the whole object minus managedFields, plus who approved).
    static kube::Projector projector();

private:
    using Operation = std::function<void(std::function<void()> done)>;
    void enqueue(const QString &decisionId, Operation operation);
    void runNext(const QString &decisionId);
    void applyCondition(const act::Decision &decision, const DecisionCondition &condition, Callback callback);
    void writeMetadata(const act::Decision &decision, const nlohmann::json &extraAnnotations,
                       const QString &resourceVersion, QObject *context, Callback callback);

    kube::RestClient *m_client;         // not owned
    act::AgentDecisionMirror *m_mirror; // child
    kube::Informer *m_informer;         // child
    QString m_agentName;
    QString m_identity;
    QHash<QString, QList<Operation>> m_queues;   // per decision id; the head is running
    QHash<QString, nlohmann::json> m_conditions; // per decision id: status.conditions after our last apply
};

} // namespace vigil::agent
