#pragma once

// The Executor walks decisions through their state machine (decision.h),
// persisting each state in the DecisionStore and appending an audit event
// BEFORE the side effect that state guards. It executes a decision at most
// once: Approved -> Executing is a compare-and-set written before the API
// call, so a second execute() (in this process or another) is refused, and a
// decision found in Executing after a crash is reconcile()d against the
// cluster, never run again.
//
// It re-judges every decision with guard::evaluate() right before executing
// (parameters, bounds, target, namespace, protection, cooldown, rate) and
// refuses in suggest-only mode itself, whatever the verdict said earlier.

#include "core/act/actions.h"
#include "core/act/decision.h"
#include "core/guard/policy.h"
#include "core/util/result.h"

#include <QObject>

#include <functional>

namespace vigil::audit {
class AuditLog;
}
namespace vigil::kube {
class RestClient;
}

namespace vigil::act {

class DecisionStore;

class Executor final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Executor)

public:
    using Callback = std::function<void(Result<Decision>)>;
    using ListCallback = std::function<void(Result<QList<Decision>>)>;

    /// None of the pointers is owned; all must outlive the executor.
    Executor(DecisionStore *store, audit::AuditLog *audit, ActionRunner *runner, guard::Policy policy,
             QObject *parent = nullptr);
    ~Executor() override;

    /// Stores a new Proposed decision and audits it: a "proposed" row, whose payload also takes
    /// context's keys (reasoningContext(): what the model was sent and answered), then a "verdict"
    /// row with the guardrails' decision and every reason.
    Result<Decision> propose(const Decision &decision,
                             const nlohmann::json &context = nlohmann::json::object());
    /// Preconditions and the server-side dry run; Proposed|Previewed -> Previewed with the preview text.
    void preview(const QString &id, QObject *context, Callback callback);
    /// Proposed|Previewed -> Approved. Refused for blocked verdicts and in suggest-only mode.
    Result<Decision> approve(const QString &id, const Approver &approver);
    /// Proposed|Previewed -> Rejected with a reason.
    Result<Decision> reject(const QString &id, const Approver &approver, const QString &reason);
    /// Approved -> Executing -> Executed | Failed (a PodDisruptionBudget refusal is Failed with outcome
    /// "blocked").
    void execute(const QString &id, QObject *context, Callback callback);
    /// Executed -> Verified | VerifyFailed.
    void verify(const QString &id, int timeoutMs, QObject *context, Callback callback);
    /// Executed|Verified|VerifyFailed -> Undone, for actions that have an undo.
    void undo(const QString &id, const Approver &approver, QObject *context, Callback callback);
    /// Every decision left in Executing (a crash mid-call) -> Executed | Failed after
    /// inspecting the cluster. Returns the decisions it settled.
    void reconcile(QObject *context, ListCallback callback);

    /// Called right after Executing is durable and before the API call (crash tests pause here).
    void setAfterExecutingHook(std::function<void(const Decision &)> hook)
    {
        m_afterExecuting = std::move(hook);
    }

    const guard::Policy &policy() const { return m_policy; }

    /// The Kubernetes user this client acts as, via SelfSubjectReview.
    static void fetchKubeUser(kube::RestClient *client, QObject *context,
                              std::function<void(Result<QString>)> callback);

Q_SIGNALS:
    /// A decision was stored as proposed or moved to a new state (already durable and audited).
    void decisionChanged(const vigil::act::Decision &decision);

private:
    Result<Decision> loadIn(const QString &id, std::initializer_list<DecisionState> states,
                            const QString &verb) const;
    Result<void> move(Decision &decision, DecisionState to, const QString &kind, const QString &outcome,
                      const nlohmann::json &extra = nlohmann::json::object());
    Result<void> audit(const Decision &decision, const QString &kind, const QString &outcome,
                       const nlohmann::json &extra);
    void finishExecution(Decision decision, Result<ActionOutcome> result, Callback cb);
    QList<guard::ExecutionRecord> recentExecutions() const;

    DecisionStore *m_store;   // not owned
    audit::AuditLog *m_audit; // not owned
    ActionRunner *m_runner;   // not owned
    guard::Policy m_policy;
    std::function<void(const Decision &)> m_afterExecuting;
};

/// The ActionRequest for a decision (parameters from its validated diagnosis).
ActionRequest actionRequest(const Decision &decision);

} // namespace vigil::act
