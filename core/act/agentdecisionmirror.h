#pragma once

// Mirrors decisions into the cluster as AgentDecision objects
// (resources/crd/agentdecision.yaml) so they can be reviewed with kubectl and
// approved by setting spec.approved: true. Vigil writes spec and status with
// server-side apply (field manager "vigil") and never includes
// spec.approved in its own apply, so it does not own that field and a
// person's true is never overwritten. An approval seen in the cluster goes
// through Executor::approve, so the state machine and the verdict still decide.

#include "core/act/decision.h"
#include "core/kube/restclient.h"
#include "core/util/result.h"

#include <QHash>
#include <QObject>
#include <QSet>
#include <QString>

#include <functional>

namespace vigil::act {

class Executor;

class AgentDecisionMirror final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AgentDecisionMirror)

public:
    /// Neither pointer is owned; both must outlive the mirror.
    AgentDecisionMirror(kube::RestClient *client, Executor *executor, QObject *parent = nullptr);
    ~AgentDecisionMirror() override;

    /// ai.vigil.dev/v1alpha1 agentdecisions.
    static kube::ResourceType resourceType();
    /// "vigil-<decision id>".
    static QString objectName(const QString &decisionId);
    /// The decision's namespace, "default" for node-only decisions.
    static QString objectNamespace(const Decision &decision);
    /// The apply manifest for decision's spec (without spec.approved).
    static nlohmann::json specManifest(const Decision &decision);

    /// The one call a session or the agent makes to mirror its decisions: checkAvailable(), then a
    /// mirror (a child of parent) that follows executor and watches namespaceName (empty: every
    /// namespace) for approvals. On error no mirror is made and the message reads
    /// "not mirrored because ...". The callback runs once, later, never after parent is destroyed.
    static void start(kube::RestClient *client, Executor *executor, const QString &namespaceName,
                      QObject *parent, std::function<void(Result<AgentDecisionMirror *>)> callback);

    /// Whether decisions can be mirrored: a discovery GET of ai.vigil.dev/v1alpha1 must list
    /// agentdecisions, and SelfSubjectAccessReviews must allow get, list, watch, create and patch
    /// on agentdecisions and patch on agentdecisions/status in namespaceName (empty: cluster-wide).
    /// Errors say "not mirrored because ..." and name the missing CRD or every denied verb.
    static void checkAvailable(kube::RestClient *client, const QString &namespaceName, QObject *context,
                               std::function<void(Result<void>)> callback);

    /// Whether the CRD is installed: false on 404, an error for anything else.
    void detect(QObject *context, std::function<void(Result<bool>)> callback);
    /// Mirrors every decision the executor reports from now on (Executor::decisionChanged);
    /// one write per decision is in flight and the latest state wins.
    void follow();
    /// Server-side applies the decision's spec, then its status.phase.
    void mirror(const Decision &decision, QObject *context, std::function<void(Result<void>)> callback);
    /// Watches AgentDecisions in namespaceName (empty: every namespace) for spec.approved: true.
    void watch(const QString &namespaceName);
    void stop();

Q_SIGNALS:
    /// A decision was approved through its AgentDecision (by names the field manager that set spec.approved).
    void approved(const QString &decisionId, const QString &by);
    /// An approval could not be carried out, or the watch failed.
    void failed(const QString &message);

private:
    void onObject(const nlohmann::json &object);
    void restartWatch();
    void enqueue(const Decision &decision);

    kube::RestClient *m_client; // not owned
    Executor *m_executor;       // not owned
    QString m_namespace;
    bool m_watching = false;
    bool m_following = false;
    kube::StreamHandle m_stream;
    QSet<QString> m_handled;           // decision ids whose approval was already acted on
    QSet<QString> m_writing;           // decision ids with a mirror() in flight
    QHash<QString, Decision> m_queued; // the latest state to write once the one in flight is done
};

} // namespace vigil::act
