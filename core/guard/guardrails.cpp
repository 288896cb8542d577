#include "core/guard/guardrails.h"

#include <QRegularExpression>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>

namespace vigil::guard {
namespace {

using json = nlohmann::json;

constexpr qsizetype kMaxNameLength = 253;
constexpr qsizetype kMaxSummaryLength = 2000;
constexpr qsizetype kShown = 64;

// Shows untrusted text safely: non-ASCII and control characters escaped, long text cut.
QString quoted(const QString &text, qsizetype totalBytes = -1)
{
    QString out;
    for (const QChar c : text.left(kShown)) {
        if (c.unicode() >= 0x20 && c.unicode() < 0x7f)
            out += c;
        else
            out += QStringLiteral("\\u%1").arg(c.unicode(), 4, 16, QLatin1Char('0'));
    }
    out = u'\'' + out + u'\'';
    if (totalBytes >= 0)
        out += QStringLiteral("... (%1 bytes)").arg(totalBytes);
    else if (text.size() > kShown)
        out += QStringLiteral("... (%1 characters)").arg(text.size());
    return out;
}

QString quoted(const std::string &text)
{
    // Decode only the head so a 1 MB value costs nothing to describe.
    if (text.size() > std::size_t(kShown))
        return quoted(QString::fromUtf8(text.data(), kShown).left(kShown), qsizetype(text.size()));
    return quoted(QString::fromUtf8(text.data(), qsizetype(text.size())));
}

bool hasNonAscii(const QString &s)
{
    for (const QChar c : s) {
        if (c.unicode() >= 0x7f || c.unicode() < 0x20)
            return true;
    }
    return false;
}

// Wire names that reach for something on the NEVER list.
bool reachesForNeverList(const QString &name)
{
    const QString n = name.toLower();
    static const char *const kNever[] = {
        "delete", "namespace", "persistentvolume", "pvc",    "pv_",    "_pv",        "volume",
        "rbac",   "role",      "networkpolic",     "netpol", "secret", "clusterrole"};
    for (const char *w : kNever) {
        if (n.contains(QLatin1String(w)))
            return true;
    }
    return n == QLatin1String("pv");
}

bool validKind(ActionKind k)
{
    switch (k) {
    case ActionKind::None:
    case ActionKind::RestartPod:
    case ActionKind::ScaleDeployment:
    case ActionKind::CordonNode:
    case ActionKind::CreateAlert:
        return true;
    }
    return false;
}

QString typeName(const json &v)
{
    if (v.is_null())
        return QStringLiteral("null");
    if (v.is_boolean())
        return QStringLiteral("a boolean");
    if (v.is_number_integer())
        return QStringLiteral("the integer %1")
            .arg(v.is_number_unsigned() ? QString::number(v.get<quint64>())
                                        : QString::number(v.get<qint64>()));
    if (v.is_number_float()) {
        const double d = v.get<double>();
        return QStringLiteral("the number ") +
               (std::isfinite(d) ? QString::number(d, 'g', 12) : QStringLiteral("non-finite"));
    }
    if (v.is_string())
        return QStringLiteral("the string ") + quoted(v.get_ref<const std::string &>());
    if (v.is_array())
        return QStringLiteral("a list of %1").arg(v.size());
    if (v.is_object())
        return QStringLiteral("an object");
    return QStringLiteral("a binary value");
}

class Checker final {
public:
    Checker(const Proposal &p, const GuardContext &c)
        : m_p(p)
        , m_c(c)
        , m_policy(c.policy)
    {
    }

    Verdict run();

private:
    void block(const char *code, const QString &message) { add(code, message, true); }
    void note(const char *code, const QString &message) { add(code, message, false); }
    void add(const char *code, const QString &message, bool blocking)
    {
        m_v.reasons.append({QString::fromLatin1(code), message, blocking});
    }

    bool checkAction();
    void checkConfidence(ActionKind kind);
    void checkParameters(ActionKind kind);
    QString name(const char *key, bool namespaceLabel);
    void checkReplicas();
    void checkAlert();
    void checkTarget(ActionKind kind);
    void checkNamespace(ActionKind kind);
    void checkProtected(ActionKind kind);
    void checkHistory(ActionKind kind);
    void applyMode(ActionKind kind);

    const Proposal &m_p;
    const GuardContext &m_c;
    const Policy &m_policy;
    Verdict m_v;
    const json *m_params = nullptr; // the parameters object once it is known to be one
    QMap<QString, QString> m_names; // valid single names taken from the parameters
};

bool Checker::checkAction()
{
    const ActionKind kind = m_p.diagnosis.action;
    bool ok = true;
    if (!validKind(kind)) {
        block("action.unknown", QStringLiteral("action #%1 is not an action Vigil can take").arg(int(kind)));
        ok = false;
    }
    if (!m_p.actionWireName.isNull()) {
        const QString &wire = m_p.actionWireName;
        ActionKind parsed = ActionKind::None;
        if (!parseActionName(wire, &parsed)) {
            QString why = quoted(wire) + QStringLiteral(" is not an action Vigil can take");
            if (hasNonAscii(wire))
                why += QStringLiteral(
                    " (it contains non-ASCII or control characters; look-alike names are refused)");
            block("action.unknown", why);
            if (reachesForNeverList(wire))
                block("action.never",
                      quoted(wire) + QStringLiteral(" reaches for what Vigil never touches: "
                                                    "namespaces, volumes, RBAC, NetworkPolicies, secrets"));
            ok = false;
        } else if (validKind(kind) && parsed != kind) {
            block("action.mismatch", QStringLiteral("the reply names action %1 but the proposal carries %2")
                                         .arg(actionName(parsed), actionName(kind)));
            ok = false;
        }
    }
    if (ok && !m_policy.allows(kind)) {
        block("action.not_allowed",
              actionName(kind) + QStringLiteral(" is not in the policy's allowedActions"));
    }
    return ok;
}

void Checker::checkConfidence(ActionKind kind)
{
    const double c = m_p.diagnosis.confidence;
    if (!std::isfinite(c) || c < 0.0 || c > 1.0) {
        block("confidence.invalid", QStringLiteral("confidence %1 is not a number between 0 and 1")
                                        .arg(std::isnan(c) ? QStringLiteral("NaN") : QString::number(c)));
        return;
    }
    if (validKind(kind) && kind != ActionKind::None) {
        const double min = m_policy.minConfidenceFor(kind);
        if (c < min)
            block("confidence.low", QStringLiteral("confidence %1 is below the policy's minimum %2 for %3")
                                        .arg(c)
                                        .arg(min)
                                        .arg(actionName(kind)));
    }
}

// Takes one required object name; flags lists, wildcards and bad names.
QString Checker::name(const char *key, bool namespaceLabel)
{
    const QString field = QString::fromLatin1(key);
    const auto it = m_params->find(key);
    if (it == m_params->end()) {
        block("params.missing", QStringLiteral("parameter '%1' is required").arg(field));
        return QString();
    }
    if (it->is_array()) {
        block("params.multiple",
              QStringLiteral("parameter '%1' is %2: Vigil never acts on several objects at once")
                  .arg(field, typeName(*it)));
        return QString();
    }
    if (!it->is_string()) {
        block("params.type",
              QStringLiteral("parameter '%1' must be a string, got %2").arg(field, typeName(*it)));
        return QString();
    }
    const std::string &raw = it->get_ref<const std::string &>();
    if (raw.size() > std::size_t(kMaxNameLength)) {
        block("params.invalid_name",
              QStringLiteral("parameter '%1' is %2 bytes long, more than a Kubernetes name (%3)")
                  .arg(field)
                  .arg(raw.size())
                  .arg(kMaxNameLength));
        return QString();
    }
    const QString value = QString::fromUtf8(raw.data(), qsizetype(raw.size()));
    static const QRegularExpression several(QStringLiteral("[,;\\s*?\\[\\]{}|]"));
    if (several.match(value).hasMatch()) {
        block("params.multiple", QStringLiteral("parameter '%1' %2 names several objects or a pattern; "
                                                "Vigil acts on exactly one")
                                     .arg(field, quoted(value)));
        return QString();
    }
    static const QRegularExpression subdomain(QStringLiteral("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"));
    static const QRegularExpression label(QStringLiteral("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"));
    if (!(namespaceLabel ? label : subdomain).match(value).hasMatch()) {
        block("params.invalid_name",
              QStringLiteral("parameter '%1' %2 is not a valid Kubernetes %3")
                  .arg(field, quoted(value),
                       namespaceLabel ? QStringLiteral("namespace") : QStringLiteral("name")));
        return QString();
    }
    m_names.insert(field, value);
    return value;
}

void Checker::checkReplicas()
{
    const auto it = m_params->find("replicas");
    if (it == m_params->end()) {
        block("params.missing", QStringLiteral("parameter 'replicas' is required"));
        return;
    }
    if (it->is_array()) {
        block("params.multiple",
              QStringLiteral("parameter 'replicas' is %1, expected one integer").arg(typeName(*it)));
        return;
    }
    if (!it->is_number_integer()) {
        block("params.type",
              QStringLiteral("parameter 'replicas' must be an integer, got %1").arg(typeName(*it)));
        return;
    }
    const bool tooBig = it->is_number_unsigned()
                            ? it->get<quint64>() > quint64(std::numeric_limits<int>::max())
                            : it->get<qint64>() > std::numeric_limits<int>::max();
    const qint64 n = tooBig ? std::numeric_limits<qint64>::max() : it->get<qint64>();
    const QString shown =
        it->is_number_unsigned() ? QString::number(it->get<quint64>()) : QString::number(it->get<qint64>());
    if (n < m_policy.minReplicas || n > m_policy.maxReplicas) {
        block("params.range", QStringLiteral("replicas %1 is outside the policy's bounds %2..%3")
                                  .arg(shown)
                                  .arg(m_policy.minReplicas)
                                  .arg(m_policy.maxReplicas));
    }
}

void Checker::checkAlert()
{
    const auto summary = m_params->find("summary");
    if (summary == m_params->end()) {
        block("params.missing", QStringLiteral("parameter 'summary' is required"));
    } else if (!summary->is_string()) {
        block("params.type",
              QStringLiteral("parameter 'summary' must be a string, got %1").arg(typeName(*summary)));
    } else if (summary->get_ref<const std::string &>().empty()) {
        block("params.range", QStringLiteral("parameter 'summary' is empty"));
    } else if (QString::fromStdString(summary->get_ref<const std::string &>()).size() > kMaxSummaryLength) {
        block("params.range",
              QStringLiteral("parameter 'summary' is longer than %1 characters").arg(kMaxSummaryLength));
    }
    const auto severity = m_params->find("severity");
    if (severity == m_params->end()) {
        block("params.missing", QStringLiteral("parameter 'severity' is required"));
    } else {
        if (!severity->is_string()) {
            block("params.type",
                  QStringLiteral("parameter 'severity' must be a string, got %1").arg(typeName(*severity)));
        } else {
            const std::string &s = severity->get_ref<const std::string &>();
            if (s != "info" && s != "warning" && s != "critical")
                block("params.range",
                      QStringLiteral("parameter 'severity' %1 is not info, warning or critical")
                          .arg(quoted(s)));
        }
    }
}

void Checker::checkParameters(ActionKind kind)
{
    const json &params = m_p.diagnosis.parameters;
    if (params.is_array()) {
        block("params.multiple", QStringLiteral("parameters are %1 where one object is expected: "
                                                "Vigil never acts on several objects at once")
                                     .arg(typeName(params)));
        return;
    }
    if (kind == ActionKind::None && params.is_null())
        return;
    if (!params.is_object()) {
        block("params.not_object",
              QStringLiteral("parameters must be an object, got %1").arg(typeName(params)));
        return;
    }
    m_params = &params;

    std::set<std::string> expected;
    switch (kind) {
    case ActionKind::RestartPod:
        expected = {"namespace", "pod"};
        name("namespace", true);
        name("pod", false);
        break;
    case ActionKind::ScaleDeployment:
        expected = {"namespace", "deployment", "replicas"};
        name("namespace", true);
        name("deployment", false);
        checkReplicas();
        break;
    case ActionKind::CordonNode:
        expected = {"node"};
        name("node", false);
        break;
    case ActionKind::CreateAlert:
        expected = {"summary", "severity"};
        checkAlert();
        break;
    case ActionKind::None:
        break;
    }
    QStringList extra;
    for (auto it = params.begin(); it != params.end(); ++it) {
        if (!expected.count(it.key()))
            extra.append(quoted(it.key()));
    }
    if (!extra.isEmpty()) {
        const qsizetype total = extra.size();
        if (total > 5)
            extra = extra.mid(0, 5) << QStringLiteral("... %1 in all").arg(total);
        block("params.extra", QStringLiteral("%1 takes no parameter %2")
                                  .arg(actionName(kind), extra.join(QStringLiteral(", "))));
    }
}

void Checker::checkTarget(ActionKind kind)
{
    const IncidentTarget &t = m_p.target;
    auto sameNamespace = [&] {
        if (!m_names.contains(QStringLiteral("namespace")))
            return;
        const QString ns = m_names.value(QStringLiteral("namespace"));
        if (ns != t.namespaceName)
            block("target.namespace_mismatch",
                  QStringLiteral("the proposal names namespace %1 but the incident is in %2")
                      .arg(quoted(ns), t.namespaceName.isEmpty() ? QStringLiteral("no namespace")
                                                                 : quoted(t.namespaceName)));
    };
    switch (kind) {
    case ActionKind::RestartPod: {
        sameNamespace();
        if (t.podName.isEmpty()) {
            block("target.mismatch",
                  QStringLiteral("the incident is not about a pod, so no pod may be restarted"));
        } else if (m_names.contains(QStringLiteral("pod")) &&
                   m_names.value(QStringLiteral("pod")) != t.podName) {
            block("target.mismatch",
                  QStringLiteral("the proposal names pod %1 but the incident is about pod %2")
                      .arg(quoted(m_names.value(QStringLiteral("pod"))), quoted(t.podName)));
        }
        break;
    }
    case ActionKind::ScaleDeployment: {
        sameNamespace();
        if (t.ownerKind != QLatin1String("Deployment")) {
            block("target.not_owner",
                  t.ownerKind.isEmpty()
                      ? QStringLiteral("the incident's pod has no Deployment owner to scale")
                      : QStringLiteral("the incident's pod is owned by %1 %2, not a Deployment")
                            .arg(t.ownerKind, quoted(t.ownerName)));
        } else if (m_names.contains(QStringLiteral("deployment")) &&
                   m_names.value(QStringLiteral("deployment")) != t.ownerName) {
            block("target.mismatch",
                  QStringLiteral("the proposal names deployment %1 but the incident's pod belongs to "
                                 "deployment %2")
                      .arg(quoted(m_names.value(QStringLiteral("deployment"))), quoted(t.ownerName)));
        }
        break;
    }
    case ActionKind::CordonNode:
        if (t.nodeName.isEmpty()) {
            block("target.mismatch", QStringLiteral("the incident has no node, so no node may be cordoned"));
        } else if (m_names.contains(QStringLiteral("node")) &&
                   m_names.value(QStringLiteral("node")) != t.nodeName) {
            block("target.mismatch",
                  QStringLiteral("the proposal names node %1 but the incident is about node %2")
                      .arg(quoted(m_names.value(QStringLiteral("node"))), quoted(t.nodeName)));
        }
        break;
    case ActionKind::CreateAlert:
    case ActionKind::None:
        break;
    }
}

void Checker::checkNamespace(ActionKind kind)
{
    // Alerts change nothing in the cluster, so they may speak about any namespace.
    if (kind == ActionKind::CreateAlert || kind == ActionKind::None)
        return;
    QStringList namespaces;
    if (!m_p.target.namespaceName.isEmpty())
        namespaces << m_p.target.namespaceName;
    const QString named = m_names.value(QStringLiteral("namespace"));
    if (!named.isEmpty() && !namespaces.contains(named))
        namespaces << named;
    for (const QString &ns : namespaces) {
        if (!m_policy.namespaceAllowed(ns))
            block("namespace.denied", QStringLiteral("namespace %1 is denied by the policy").arg(quoted(ns)));
    }
}

void Checker::checkProtected(ActionKind kind)
{
    const IncidentTarget &t = m_p.target;
    auto check = [&](const QMap<QString, QString> &labels, const QString &what) {
        for (auto it = m_policy.protectedLabels.begin(); it != m_policy.protectedLabels.end(); ++it) {
            if (labels.contains(it.key()) && labels.value(it.key()) == it.value()) {
                block("target.protected",
                      QStringLiteral("%1 carries the protected label %2=%3").arg(what, it.key(), it.value()));
                return;
            }
        }
    };
    switch (kind) {
    case ActionKind::RestartPod:
        check(t.podLabels, QStringLiteral("pod ") + quoted(t.podName));
        break;
    case ActionKind::ScaleDeployment:
        check(t.ownerLabels, QStringLiteral("deployment ") + quoted(t.ownerName));
        check(t.podLabels, QStringLiteral("pod ") + quoted(t.podName));
        break;
    case ActionKind::CordonNode:
        check(t.nodeLabels, QStringLiteral("node ") + quoted(t.nodeName));
        break;
    case ActionKind::CreateAlert:
    case ActionKind::None:
        break;
    }
}

void Checker::checkHistory(ActionKind kind)
{
    if (!m_c.now.isValid()) {
        block(
            "clock.invalid",
            QStringLiteral("no valid current time was given, so cooldown and rate limits cannot be checked"));
        return;
    }
    const QString key = targetKey(kind, m_p.target);
    const qint64 nowMs = m_c.now.toMSecsSinceEpoch();
    int lastHour = 0;
    qint64 lastOnTarget = std::numeric_limits<qint64>::min();
    for (const ExecutionRecord &r : m_c.recentExecutions) {
        if (r.action == ActionKind::None || !r.at.isValid())
            continue;
        const qint64 at = r.at.toMSecsSinceEpoch();
        // Records from the future (clock skew) count: the cautious reading.
        if (at > nowMs - 3600 * 1000)
            ++lastHour;
        if (!key.isEmpty() && r.targetKey == key)
            lastOnTarget = std::max(lastOnTarget, at);
    }
    if (lastOnTarget != std::numeric_limits<qint64>::min() &&
        lastOnTarget > nowMs - m_policy.cooldownPerTargetMs) {
        const qint64 leftS = (lastOnTarget + m_policy.cooldownPerTargetMs - nowMs + 999) / 1000;
        block("cooldown.active", QStringLiteral("%1 was acted on %2 s ago; its cooldown has %3 s left")
                                     .arg(key)
                                     .arg((nowMs - lastOnTarget) / 1000)
                                     .arg(leftS));
    }
    if (lastHour >= m_policy.maxActionsPerHour)
        block("rate.exceeded", QStringLiteral("%1 actions ran in the last hour; the policy allows %2")
                                   .arg(lastHour)
                                   .arg(m_policy.maxActionsPerHour));
}

void Checker::applyMode(ActionKind kind)
{
    switch (m_policy.mode) {
    case PolicyMode::SuggestOnly:
        block("mode.suggest_only", QStringLiteral("suggest-only mode: read-only"));
        break;
    case PolicyMode::Approve:
        note("mode.approve", QStringLiteral("approve mode: a person must approve %1").arg(actionName(kind)));
        break;
    case PolicyMode::AutoWithinPolicy:
        if (m_policy.autoApproves(kind))
            note("mode.auto_approved",
                 QStringLiteral("auto-within-policy: %1 may run without a person").arg(actionName(kind)));
        else
            note("mode.needs_approval",
                 QStringLiteral("auto-within-policy: %1 is not in autoApprove, so a person must approve")
                     .arg(actionName(kind)));
        break;
    }
}

Verdict Checker::run()
{
    const bool known = checkAction();
    const ActionKind kind = m_p.diagnosis.action;

    if (known && kind == ActionKind::None) {
        checkParameters(kind);
        checkConfidence(kind);
        note("action.none", QStringLiteral("notify only: nothing in the cluster changes"));
        const bool blocked = std::any_of(m_v.reasons.begin(), m_v.reasons.end(),
                                         [](const VerdictReason &r) { return r.blocking; });
        m_v.decision = blocked ? Verdict::Blocked : Verdict::Allowed;
        return m_v;
    }

    checkConfidence(known ? kind : ActionKind::None);
    if (known) {
        checkParameters(kind);
        checkTarget(kind);
        checkNamespace(kind);
        checkProtected(kind);
        checkHistory(kind);
        applyMode(kind);
    } else if (m_policy.mode == PolicyMode::SuggestOnly) {
        block("mode.suggest_only", QStringLiteral("suggest-only mode: read-only"));
    }

    const bool blocked = std::any_of(m_v.reasons.begin(), m_v.reasons.end(),
                                     [](const VerdictReason &r) { return r.blocking; });
    if (blocked)
        m_v.decision = Verdict::Blocked;
    else if (m_policy.mode == PolicyMode::AutoWithinPolicy && m_policy.autoApproves(kind))
        m_v.decision = Verdict::Allowed;
    else
        m_v.decision = Verdict::NeedsApproval;
    return m_v;
}

} // namespace

bool Verdict::hasReason(const QString &code) const
{
    return std::any_of(reasons.begin(), reasons.end(),
                       [&](const VerdictReason &r) { return r.code == code; });
}

QStringList Verdict::codes() const
{
    QStringList out;
    for (const VerdictReason &r : reasons)
        out << r.code;
    return out;
}

QString decisionName(Verdict::Decision decision)
{
    switch (decision) {
    case Verdict::Allowed:
        return QStringLiteral("allowed");
    case Verdict::NeedsApproval:
        return QStringLiteral("needs-approval");
    case Verdict::Blocked:
        return QStringLiteral("blocked");
    }
    return QStringLiteral("blocked");
}

QString targetKey(ActionKind action, const IncidentTarget &target)
{
    switch (action) {
    case ActionKind::RestartPod:
        return QStringLiteral("pod/") + target.namespaceName + u'/' + target.podName;
    case ActionKind::ScaleDeployment:
        return QStringLiteral("deployment/") + target.namespaceName + u'/' + target.ownerName;
    case ActionKind::CordonNode:
        return QStringLiteral("node/") + target.nodeName;
    case ActionKind::CreateAlert:
        return QStringLiteral("alert/") + target.namespaceName + u'/' +
               (target.podName.isEmpty() ? target.nodeName : target.podName);
    case ActionKind::None:
        break;
    }
    return QString();
}

Verdict evaluate(const Proposal &proposal, const GuardContext &context)
{
    return Checker(proposal, context).run();
}

} // namespace vigil::guard
