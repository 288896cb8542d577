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

#include "core/reason/diagnosis.h"
#include "core/util/result.h"

#include <QByteArray>
#include <QList>
#include <QMap>
#include <QString>
#include <QStringList>

namespace vigil::guard {

inline constexpr int kHardMinReplicas = 1;
inline constexpr int kHardMaxReplicas = 50;
inline constexpr int kMaxPolicyBytes = 256 * 1024;
inline constexpr int kMaxPolicyDepth = 64;

/// Who acts: nobody, a person, or the policy itself for autoApprove actions.
enum class PolicyMode { SuggestOnly, Approve, AutoWithinPolicy };

/// "suggest-only", "approve", "auto-within-policy".
QString policyModeName(PolicyMode mode);

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

/// Shell-style glob match of * and ? over a whole string.
bool globMatch(const QString &pattern, const QString &text);

} // namespace vigil::guard
