#pragma once

// The guardrail policy: what Vigil may do, where, how often and with whose
// approval. Loaded from YAML and validated strictly: an unknown key, a wrong
// type, an out-of-range value or an action outside the catalog is a load
// error naming file, line and field, never silently ignored.
//
// Safety floors a policy cannot lower:
// - scale bounds live inside the hard caps 1..50 (kHardMinReplicas..
//   kHardMaxReplicas); a policy may narrow them, a value outside is an error;
// - kube-system is always denied (the policy's deny list is added to it, and
//   naming kube-system under namespaces.allow is an error);
// - the label vigil.dev/protected=true always protects its object (the
//   policy's protectedLabels are added to it).
// Omitted keys take the built-in default (the values of a default Policy).
//
// Two sections are settings rather than guardrails but live here because the
// policy file is the one file vigilctl, the agent and the desktop all load:
// `audit.retentionDays` (how long the audit log keeps rows) and `alerts`
// (where create_alert also goes: URLs only, never credentials; see
// act::alertConfig for the environment variables that carry secrets).

#include "core/reason/diagnosis.h"
#include "core/util/result.h"

#include <QByteArray>
#include <QList>
#include <QMap>
#include <QString>
#include <QStringList>
#include <QUrl>

namespace vigil::guard {

inline constexpr int kHardMinReplicas = 1;
inline constexpr int kHardMaxReplicas = 50;
inline constexpr int kMaxPolicyBytes = 256 * 1024;
inline constexpr int kMaxPolicyDepth = 64;
inline constexpr int kMaxAuditRetentionDays = 36500;

/// Who acts: nobody, a person, or the policy itself for autoApprove actions.
enum class PolicyMode { SuggestOnly, Approve, AutoWithinPolicy };

/// "suggest-only", "approve", "auto-within-policy".
QString policyModeName(PolicyMode mode);

/// Where create_alert also goes besides the Kubernetes Event (`alerts:`); empty URLs are off.
/// Each is an absolute http(s) URL with a host and without user:password.
struct AlertDestinations {
    QUrl alertmanagerUrl; ///< alerts.alertmanagerUrl: Alertmanager's base URL (v2 API)
    QUrl slackWebhookUrl; ///< alerts.slackWebhookUrl: a Slack-compatible incoming webhook
    QUrl webhookUrl;      ///< alerts.webhookUrl: a generic JSON webhook

    bool operator==(const AlertDestinations &) const = default;
};

/// A validated policy. Default-constructed, it is the built-in default.
struct Policy {
    PolicyMode mode = PolicyMode::Approve;
    /// Catalog order; never contains ActionKind::None (always allowed: it only notifies).
    QList<ActionKind> allowedActions{ActionKind::RestartPod, ActionKind::ScaleDeployment,
                                     ActionKind::CordonNode, ActionKind::CreateAlert};
    int minReplicas = 2;
    int maxReplicas = 20;
    QStringList namespaceAllow;                               ///< globs (* and ?); empty = every namespace
    QStringList namespaceDeny{QStringLiteral("kube-system")}; ///< globs; always holds kube-system
    QMap<QString, QString> protectedLabels{{QStringLiteral("vigil.dev/protected"), QStringLiteral("true")}};
    double defaultMinConfidence = 0.6;
    QMap<ActionKind, double> minConfidence{
        {ActionKind::RestartPod, 0.7}, {ActionKind::ScaleDeployment, 0.8}, {ActionKind::CordonNode, 0.9}};
    qint64 cooldownPerTargetMs = 10 * 60 * 1000;
    int maxActionsPerHour = 10;
    QList<ActionKind> autoApprove{ActionKind::CreateAlert}; ///< subset of allowedActions
    /// audit.retentionDays: audit rows older than this many days are dropped when the log is
    /// opened and daily after (leaving a checkpoint row, so the chain still verifies); 0 keeps all.
    int auditRetentionDays = 0;
    AlertDestinations alerts;

    bool allows(ActionKind kind) const;
    bool autoApproves(ActionKind kind) const;
    double minConfidenceFor(ActionKind kind) const;
    /// Deny wins over allow; an empty allow list admits every namespace not denied.
    bool namespaceAllowed(const QString &namespaceName) const;

    bool operator==(const Policy &) const = default;
};

/// Parses and validates policy YAML. sourceName ("policy.yaml") prefixes every error.
Result<Policy> parsePolicy(const QByteArray &yaml, const QString &sourceName);
/// Reads and parses a policy file (at most kMaxPolicyBytes).
Result<Policy> loadPolicyFile(const QString &path);

/// The built-in default policy's YAML, byte-identical to resources/policy/default-policy.yaml.
QByteArray defaultPolicyYaml();
/// The built-in default policy, parsed from defaultPolicyYaml().
Policy defaultPolicy();

/// Checks one alert destination: an absolute http or https URL with a host and no user
/// information (credentials never belong in a file). The error says what is wrong, without a prefix.
Result<QUrl> checkAlertUrl(const QString &text);

/// Shell-style glob match of * and ? over a whole string.
bool globMatch(const QString &pattern, const QString &text);

} // namespace vigil::guard
