#pragma once

// The action catalog: for each ActionKind the preconditions, a server-side
// dry run that yields a preview, the call, a verification, an undo where one
// exists, and a reconcile step that inspects the cluster after a crash.
// Everything goes through the Kubernetes API (RestClient); nothing here
// shells out. Parameters are judged by core/guard before anything runs here
// (the executor calls guard::evaluate); this file only acts on the incident's
// own object as named by the validated parameters.
//
// There is deliberately no way to express deleting a namespace or a volume or
// touching RBAC or NetworkPolicies: the only writes are pods/eviction,
// deployments/scale, nodes (spec.unschedulable) and events.
//
// Results follow RestClient's convention: a callback plus a context QObject.

#include "core/guard/policy.h"
#include "core/reason/diagnosis.h"
#include "core/util/result.h"

#include <QByteArray>
#include <QObject>
#include <QProcessEnvironment>
#include <QString>
#include <QUrl>

#include <nlohmann/json.hpp>

#include <functional>

class QNetworkAccessManager;

namespace vigil::kube {
class RestClient;
}

namespace vigil::act {

/// Where create_alert also goes besides the Kubernetes Event; empty URLs are off.
struct AlertConfig {
    QUrl alertmanagerUrl;         ///< base URL; alerts are POSTed to <base>/api/v2/alerts
    QUrl slackWebhookUrl;         ///< Slack-compatible: {"text": ...}
    QUrl webhookUrl;              ///< generic JSON: the whole alert document
    QByteArray alertmanagerToken; ///< sent as "Authorization: Bearer <token>" when set
    QByteArray webhookToken;      ///< likewise, to webhookUrl
    int timeoutMs = 10000;
};

/// Checks one alert destination given as text (a flag, a setting): an absolute http or https URL
/// with a host and no user:password (guard::checkAlertUrl). `what` ("--slack-webhook-url") starts the error.
Result<QUrl> parseAlertUrl(const QString &text, const QString &what);

/// The one loader of alert destinations that vigilctl act, the agent and the desktop share: the
/// policy's `alerts:` URLs, each replaced by VIGIL_ALERTMANAGER_URL, VIGIL_SLACK_WEBHOOK_URL or
/// VIGIL_WEBHOOK_URL when set (a webhook URL is often a secret itself, so it may stay out of the
/// file), and bearer tokens from VIGIL_ALERTMANAGER_TOKEN and VIGIL_WEBHOOK_TOKEN (never from a
/// file). Command-line flags, where a program has them, override the result. Errors name the variable.
Result<AlertConfig> alertConfig(const guard::AlertDestinations &destinations, const QProcessEnvironment &env);

/// One action to run, taken from a decision whose parameters passed the guardrails.
struct ActionRequest {
    QString decisionId;
    ActionKind kind = ActionKind::None;
    nlohmann::json parameters = nlohmann::json::object();
    QString namespaceName; ///< the incident's namespace (alerts: where the Event goes)
    QString podName;       ///< the incident's pod, if any (alerts: the Event's object)
    QString nodeName;      ///< the incident's node, if any
    QString diagnosis;     ///< for alert text
};

/// What an action found or did. facts carry what undo and reconcile need.
struct ActionOutcome {
    enum Status {
        Done,    ///< the call succeeded / the check passed
        Blocked, ///< refused by the cluster's own rules (a PodDisruptionBudget); not an error
        NotDone, ///< verification failed or reconcile found it did not happen
    };
    Status status = Done;
    QString message;                                    ///< one sentence a person reads
    nlohmann::json facts = nlohmann::json::object();    ///< pod uid, owner, previous replicas, ...
    nlohmann::json response = nlohmann::json::object(); ///< the API responses, for the audit log
};

/// "done", "blocked", "not-done".
QString outcomeStatusName(ActionOutcome::Status status);

/// The JSON document create_alert sends to a generic webhook (also the Alertmanager labels' source).
nlohmann::json alertDocument(const ActionRequest &request);

/// Runs catalog actions through one RestClient (not owned).
class ActionRunner final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ActionRunner)

public:
    using Callback = std::function<void(Result<ActionOutcome>)>;

    ActionRunner(kube::RestClient *client, AlertConfig alerts, QObject *parent = nullptr);
    ~ActionRunner() override;

    /// Reads the target and checks it can be acted on (restart_pod: the pod has a
    /// controller owner; scale: the scale subresource; cordon: the node). The
    /// outcome's facts are what execute(), undo() and reconcile() need later.
    void preconditions(const ActionRequest &request, QObject *context, Callback callback);
    /// Server-side dry run (dryRun=All); the outcome's message is the preview.
    void dryRun(const ActionRequest &request, const nlohmann::json &facts, QObject *context,
                Callback callback);
    /// The call. A PodDisruptionBudget refusal is status Blocked naming the budget.
    void execute(const ActionRequest &request, const nlohmann::json &facts, QObject *context,
                 Callback callback);
    /// Polls until the effect shows (replacement Ready, readyReplicas at target,
    /// node unschedulable, Event present) or timeoutMs passes (then NotDone).
    void verify(const ActionRequest &request, const nlohmann::json &facts, int timeoutMs, QObject *context,
                Callback callback);
    /// Reverts scale_deployment and cordon_node; an error for the others.
    void undo(const ActionRequest &request, const nlohmann::json &facts, QObject *context, Callback callback);
    /// After a crash mid-execution: Done when the cluster shows the call
    /// happened, NotDone when it did not. Never repeats the call.
    void reconcile(const ActionRequest &request, const nlohmann::json &facts, QObject *context,
                   Callback callback);

    /// Poll interval of verify() (default 500 ms).
    void setPollIntervalMs(int ms) { m_pollMs = ms; }

private:
    void restartPrecheck(const ActionRequest &r, QObject *context, Callback cb);
    void evict(const ActionRequest &r, const nlohmann::json &facts, bool dryRun, QObject *context,
               Callback cb);
    void findBudget(const ActionRequest &r, const nlohmann::json &facts, nlohmann::json response,
                    QObject *context, Callback cb);
    void scaleTo(const ActionRequest &r, const nlohmann::json &facts, int replicas, bool dryRun,
                 const QString &verb, QObject *context, Callback cb);
    void setUnschedulable(const ActionRequest &r, const nlohmann::json &facts, bool value, bool dryRun,
                          const QString &verb, QObject *context, Callback cb);
    void alert(const ActionRequest &r, bool dryRun, QObject *context, Callback cb);
    void sendSinks(const ActionRequest &r, nlohmann::json response, QObject *context, Callback cb);
    void poll(std::function<void(std::function<void(Result<ActionOutcome>, bool final)>)> probe,
              qint64 deadlineMs, QObject *context, Callback cb);

    kube::RestClient *m_client; // not owned
    AlertConfig m_alerts;
    QNetworkAccessManager *m_nam; // child
    int m_pollMs = 500;
};

} // namespace vigil::act
