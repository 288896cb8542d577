#include "core/guard/policy.h"

#include "core/kube/config/yamlguard.h"

#include <QFile>
#include <QHash>
#include <QRegularExpression>
#include <QSet>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <exception>
#include <string>
#include <vector>

namespace vigil::guard {
namespace {

// Byte-identical to resources/policy/default-policy.yaml (tst_policy checks).
constexpr char kDefaultPolicyYaml[] =
    R"yaml(# Vigil's built-in guardrail policy. Vigil compiles this exact text in
# (core/guard/policy.cpp); a test keeps the two identical.
#
# Floors no policy can lower: replicas stay within 1..50, kube-system is
# always denied, and vigil.dev/protected=true always protects its object.

# suggest-only | approve | auto-within-policy
mode: approve

# The whole catalog. Anything else (deleting namespaces or volumes, RBAC,
# NetworkPolicies) is not an action Vigil can take.
allowedActions: [restart_pod, scale_deployment, cordon_node, create_alert]

scale:
  minReplicas: 2
  maxReplicas: 20

namespaces:
  allow: []
  deny: [kube-system]

protectedLabels:
  vigil.dev/protected: "true"

minConfidence:
  default: 0.6
  restart_pod: 0.7
  scale_deployment: 0.8
  cordon_node: 0.9

cooldown:
  perTarget: 10m

maxActionsPerHour: 10

# Actions that run without a person in auto-within-policy mode.
autoApprove: [create_alert]
)yaml";

const QString kKubeSystem = QStringLiteral("kube-system");
const QString kProtectedKey = QStringLiteral("vigil.dev/protected");
constexpr qint64 kMaxCooldownMs = 24LL * 3600 * 1000;
constexpr int kMaxActionsPerHourCap = 1000;

QString shortValue(const std::string &raw)
{
    QString s = QString::fromStdString(raw);
    if (s.size() > 60)
        s = s.left(60) + QStringLiteral("...");
    return u'\'' + s + u'\'';
}

// Collects the first error with file:line and the dotted field path.
class Loader final {
public:
    explicit Loader(QString source)
        : m_source(std::move(source))
    {
    }

    Error fail(const YAML::Node &node, const QString &field, const QString &what) const
    {
        // A null value's mark points at the next token, so prefer the key's line.
        int line = m_keyLines.value(field, 0);
        if (line == 0)
            line = node.Mark().is_null() ? 0 : node.Mark().line + 1;
        return fail(line, field, what);
    }
    Error fail(int line, const QString &field, const QString &what) const
    {
        QString where = m_source;
        if (line > 0)
            where += u':' + QString::number(line);
        if (field.isEmpty())
            return Error(where + QStringLiteral(": ") + what);
        return Error(where + QStringLiteral(": field '") + field + QStringLiteral("': ") + what);
    }

    static QString describe(const YAML::Node &node)
    {
        switch (node.Type()) {
        case YAML::NodeType::Null:
            return QStringLiteral("nothing (null)");
        case YAML::NodeType::Sequence:
            return QStringLiteral("a list");
        case YAML::NodeType::Map:
            return QStringLiteral("a mapping");
        case YAML::NodeType::Scalar:
            return (node.Tag() == "?" ? QStringLiteral("") : QStringLiteral("the string ")) +
                   shortValue(node.Scalar());
        default:
            return QStringLiteral("an undefined value");
        }
    }

    Result<QString> string(const YAML::Node &node, const QString &field) const
    {
        if (!node.IsScalar())
            return fail(node, field, QStringLiteral("expected a string, got ") + describe(node));
        return QString::fromStdString(node.Scalar());
    }

    Result<qint64> integer(const YAML::Node &node, const QString &field, qint64 lo, qint64 hi) const
    {
        static const QRegularExpression re(QStringLiteral("^[+-]?[0-9]{1,15}$"));
        if (!node.IsScalar() || node.Tag() != "?" ||
            !re.match(QString::fromStdString(node.Scalar())).hasMatch())
            return fail(node, field, QStringLiteral("expected an integer, got ") + describe(node));
        const qint64 v = QString::fromStdString(node.Scalar()).toLongLong();
        if (v < lo || v > hi)
            return fail(node, field, QStringLiteral("%1 is out of range %2..%3").arg(v).arg(lo).arg(hi));
        return v;
    }

    Result<double> number(const YAML::Node &node, const QString &field, double lo, double hi) const
    {
        static const QRegularExpression re(
            QStringLiteral("^[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?$"));
        if (!node.IsScalar() || node.Tag() != "?" ||
            !re.match(QString::fromStdString(node.Scalar())).hasMatch())
            return fail(node, field, QStringLiteral("expected a number, got ") + describe(node));
        bool ok = false;
        const double v = QString::fromStdString(node.Scalar()).toDouble(&ok);
        if (!ok || !std::isfinite(v))
            return fail(node, field, QStringLiteral("expected a finite number, got ") + describe(node));
        if (v < lo || v > hi)
            return fail(node, field, QStringLiteral("%1 is out of range %2..%3").arg(v).arg(lo).arg(hi));
        return v;
    }

    Result<ActionKind> action(const YAML::Node &node, const QString &field) const
    {
        auto name = string(node, field);
        if (!name)
            return name.error();
        ActionKind kind = ActionKind::None;
        if (!parseActionName(*name, &kind))
            return fail(node, field,
                        shortValue(node.Scalar()) +
                            QStringLiteral(
                                " is not an action Vigil can take "
                                "(the catalog is restart_pod, scale_deployment, cordon_node, create_alert)"));
        if (kind == ActionKind::None)
            return fail(node, field,
                        QStringLiteral("'none' is always allowed (it only notifies) and cannot be listed"));
        return kind;
    }

    Result<QList<ActionKind>> actionList(const YAML::Node &node, const QString &field) const
    {
        if (!node.IsSequence())
            return fail(node, field, QStringLiteral("expected a list of actions, got ") + describe(node));
        QList<ActionKind> seen;
        for (std::size_t i = 0; i < node.size(); ++i) {
            const QString itemField = field + u'[' + QString::number(i) + u']';
            auto kind = action(node[i], itemField);
            if (!kind)
                return kind.error();
            if (seen.contains(*kind))
                return fail(node[i], itemField, actionName(*kind) + QStringLiteral(" is listed twice"));
            seen.append(*kind);
        }
        QList<ActionKind> out;
        for (ActionKind k : {ActionKind::RestartPod, ActionKind::ScaleDeployment, ActionKind::CordonNode,
                             ActionKind::CreateAlert}) {
            if (seen.contains(k))
                out.append(k);
        }
        return out;
    }

    Result<QStringList> globList(const YAML::Node &node, const QString &field) const
    {
        static const QRegularExpression re(QStringLiteral("^[a-z0-9*?]([a-z0-9*?-]{0,62})$"));
        if (!node.IsSequence())
            return fail(node, field,
                        QStringLiteral("expected a list of namespace names or globs, got ") + describe(node));
        QStringList out;
        for (std::size_t i = 0; i < node.size(); ++i) {
            const QString itemField = field + u'[' + QString::number(i) + u']';
            auto s = string(node[i], itemField);
            if (!s)
                return s.error();
            if (!re.match(*s).hasMatch())
                return fail(node[i], itemField,
                            shortValue(node[i].Scalar()) +
                                QStringLiteral(" is not a namespace name or glob (lowercase letters, digits, "
                                               "'-', '*', '?'; at most 63)"));
            out.append(*s);
        }
        return out;
    }

    // Checks every key of a mapping against the allowed set; duplicates are errors too.
    Result<void> keys(const YAML::Node &node, const QString &field, const QStringList &allowed) const
    {
        if (!node.IsMap())
            return fail(node, field, QStringLiteral("expected a mapping, got ") + describe(node));
        QSet<QString> seen;
        for (auto it = node.begin(); it != node.end(); ++it) {
            if (!it->first.IsScalar())
                return fail(it->first, field, QStringLiteral("keys must be strings"));
            const QString key = QString::fromStdString(it->first.Scalar());
            const QString keyField = field.isEmpty() ? key : field + u'.' + key;
            if (!allowed.contains(key))
                return fail(it->first, keyField,
                            QStringLiteral("unknown key (expected one of: ") +
                                allowed.join(QStringLiteral(", ")) + u')');
            if (seen.contains(key))
                return fail(lineOf(it->first), keyField, QStringLiteral("duplicate key"));
            seen.insert(key);
            noteKey(it->first, keyField);
        }
        return {};
    }

    static int lineOf(const YAML::Node &node) { return node.Mark().is_null() ? 0 : node.Mark().line + 1; }

    void noteKey(const YAML::Node &key, const QString &field) const
    {
        if (!key.Mark().is_null())
            m_keyLines.insert(field, key.Mark().line + 1);
    }

    Result<Policy> load(const YAML::Node &root) const;

private:
    QString m_source;
    mutable QHash<QString, int> m_keyLines;
};

Result<qint64> parseDuration(const QString &text)
{
    static const QRegularExpression whole(QStringLiteral("^([0-9]{1,9}(ms|s|m|h))+$"));
    static const QRegularExpression part(QStringLiteral("([0-9]{1,9})(ms|s|m|h)"));
    if (text == QLatin1String("0"))
        return qint64(0);
    if (!whole.match(text).hasMatch())
        return Error(QStringLiteral("expected a duration such as 90s, 10m or 1h30m, got '") + text.left(60) +
                     u'\'');
    qint64 ms = 0;
    auto it = part.globalMatch(text);
    while (it.hasNext()) {
        const auto m = it.next();
        const qint64 n = m.captured(1).toLongLong();
        const QString unit = m.captured(2);
        const qint64 scale = unit == QLatin1String("ms")  ? 1
                             : unit == QLatin1String("s") ? 1000
                             : unit == QLatin1String("m") ? 60000
                                                          : 3600000;
        ms += n * scale;
        if (ms > kMaxCooldownMs)
            break;
    }
    return ms;
}

Result<Policy> Loader::load(const YAML::Node &root) const
{
    Policy p;
    if (!root.IsMap())
        return fail(root, QString(), QStringLiteral("a policy must be a mapping, got ") + describe(root));
    if (auto r = keys(root, QString(),
                      {QStringLiteral("mode"), QStringLiteral("allowedActions"), QStringLiteral("scale"),
                       QStringLiteral("namespaces"), QStringLiteral("protectedLabels"),
                       QStringLiteral("minConfidence"), QStringLiteral("cooldown"),
                       QStringLiteral("maxActionsPerHour"), QStringLiteral("autoApprove"),
                       QStringLiteral("audit"), QStringLiteral("alerts")});
        !r)
        return r.error();

    if (const YAML::Node n = root["mode"]) {
        auto s = string(n, QStringLiteral("mode"));
        if (!s)
            return s.error();
        if (*s == QLatin1String("suggest-only"))
            p.mode = PolicyMode::SuggestOnly;
        else if (*s == QLatin1String("approve"))
            p.mode = PolicyMode::Approve;
        else if (*s == QLatin1String("auto-within-policy"))
            p.mode = PolicyMode::AutoWithinPolicy;
        else
            return fail(
                n, QStringLiteral("mode"),
                shortValue(n.Scalar()) +
                    QStringLiteral(" is not a mode (expected suggest-only, approve or auto-within-policy)"));
    }

    if (const YAML::Node n = root["allowedActions"]) {
        auto list = actionList(n, QStringLiteral("allowedActions"));
        if (!list)
            return list.error();
        p.allowedActions = *list;
    }

    if (const YAML::Node n = root["scale"]) {
        if (auto r = keys(n, QStringLiteral("scale"),
                          {QStringLiteral("minReplicas"), QStringLiteral("maxReplicas")});
            !r)
            return r.error();
        if (const YAML::Node v = n["minReplicas"]) {
            auto i = integer(v, QStringLiteral("scale.minReplicas"), kHardMinReplicas, kHardMaxReplicas);
            if (!i)
                return i.error();
            p.minReplicas = int(*i);
        }
        if (const YAML::Node v = n["maxReplicas"]) {
            auto i = integer(v, QStringLiteral("scale.maxReplicas"), kHardMinReplicas, kHardMaxReplicas);
            if (!i)
                return i.error();
            p.maxReplicas = int(*i);
        }
        if (p.minReplicas > p.maxReplicas)
            return fail(n, QStringLiteral("scale"),
                        QStringLiteral("minReplicas %1 is above maxReplicas %2")
                            .arg(p.minReplicas)
                            .arg(p.maxReplicas));
    }

    if (const YAML::Node n = root["namespaces"]) {
        if (auto r = keys(n, QStringLiteral("namespaces"), {QStringLiteral("allow"), QStringLiteral("deny")});
            !r)
            return r.error();
        if (const YAML::Node v = n["allow"]) {
            auto list = globList(v, QStringLiteral("namespaces.allow"));
            if (!list)
                return list.error();
            const qsizetype at = list->indexOf(kKubeSystem);
            if (at >= 0)
                return fail(v[std::size_t(at)], QStringLiteral("namespaces.allow[%1]").arg(at),
                            QStringLiteral("kube-system is always denied and cannot be allowed"));
            p.namespaceAllow = *list;
        }
        if (const YAML::Node v = n["deny"]) {
            auto list = globList(v, QStringLiteral("namespaces.deny"));
            if (!list)
                return list.error();
            p.namespaceDeny = *list;
            if (!p.namespaceDeny.contains(kKubeSystem))
                p.namespaceDeny.prepend(kKubeSystem);
        }
    }

    if (const YAML::Node n = root["protectedLabels"]) {
        static const QRegularExpression keyRe(QStringLiteral(
            "^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"));
        static const QRegularExpression valueRe(
            QStringLiteral("^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"));
        if (!n.IsMap())
            return fail(n, QStringLiteral("protectedLabels"),
                        QStringLiteral("expected a mapping of label: value, got ") + describe(n));
        QMap<QString, QString> labels{{kProtectedKey, QStringLiteral("true")}};
        QSet<QString> seen;
        for (auto it = n.begin(); it != n.end(); ++it) {
            auto key = string(it->first, QStringLiteral("protectedLabels"));
            if (!key)
                return key.error();
            const QString field = QStringLiteral("protectedLabels.") + *key;
            if (!keyRe.match(*key).hasMatch())
                return fail(it->first, field, QStringLiteral("is not a valid label key"));
            if (seen.contains(*key))
                return fail(lineOf(it->first), field, QStringLiteral("duplicate key"));
            seen.insert(*key);
            noteKey(it->first, field);
            auto value = string(it->second, field);
            if (!value)
                return value.error();
            if (!valueRe.match(*value).hasMatch())
                return fail(it->second, field,
                            shortValue(it->second.Scalar()) + QStringLiteral(" is not a valid label value"));
            if (*key == kProtectedKey && *value != QLatin1String("true"))
                return fail(it->second, field,
                            QStringLiteral("vigil.dev/protected always protects with value \"true\""));
            labels.insert(*key, *value);
        }
        p.protectedLabels = labels;
    }

    if (const YAML::Node n = root["minConfidence"]) {
        if (!n.IsMap())
            return fail(n, QStringLiteral("minConfidence"),
                        QStringLiteral("expected a mapping, got ") + describe(n));
        QMap<ActionKind, double> per;
        QSet<QString> seen;
        for (auto it = n.begin(); it != n.end(); ++it) {
            auto key = string(it->first, QStringLiteral("minConfidence"));
            if (!key)
                return key.error();
            const QString field = QStringLiteral("minConfidence.") + *key;
            if (seen.contains(*key))
                return fail(lineOf(it->first), field, QStringLiteral("duplicate key"));
            seen.insert(*key);
            noteKey(it->first, field);
            auto value = number(it->second, field, 0.0, 1.0);
            if (!value)
                return value.error();
            if (*key == QLatin1String("default")) {
                p.defaultMinConfidence = *value;
                continue;
            }
            auto kind = action(it->first, field);
            if (!kind)
                return kind.error();
            per.insert(*kind, *value);
        }
        p.minConfidence = per;
    }

    if (const YAML::Node n = root["cooldown"]) {
        if (auto r = keys(n, QStringLiteral("cooldown"), {QStringLiteral("perTarget")}); !r)
            return r.error();
        if (const YAML::Node v = n["perTarget"]) {
            auto s = string(v, QStringLiteral("cooldown.perTarget"));
            if (!s)
                return s.error();
            auto ms = parseDuration(*s);
            if (!ms)
                return fail(v, QStringLiteral("cooldown.perTarget"), ms.errorMessage());
            if (*ms > kMaxCooldownMs)
                return fail(v, QStringLiteral("cooldown.perTarget"), QStringLiteral("is longer than 24h"));
            p.cooldownPerTargetMs = *ms;
        }
    }

    if (const YAML::Node n = root["maxActionsPerHour"]) {
        auto i = integer(n, QStringLiteral("maxActionsPerHour"), 0, kMaxActionsPerHourCap);
        if (!i)
            return i.error();
        p.maxActionsPerHour = int(*i);
    }

    if (const YAML::Node n = root["autoApprove"]) {
        auto list = actionList(n, QStringLiteral("autoApprove"));
        if (!list)
            return list.error();
        for (std::size_t i = 0; i < n.size(); ++i) {
            ActionKind k = ActionKind::None;
            parseActionName(QString::fromStdString(n[i].Scalar()), &k);
            if (!p.allowedActions.contains(k))
                return fail(n[i], QStringLiteral("autoApprove[%1]").arg(i),
                            actionName(k) + QStringLiteral(" is not in allowedActions"));
        }
        p.autoApprove = *list;
    } else {
        p.autoApprove.erase(std::remove_if(p.autoApprove.begin(), p.autoApprove.end(),
                                           [&](ActionKind k) { return !p.allowedActions.contains(k); }),
                            p.autoApprove.end());
    }

    if (const YAML::Node n = root["audit"]) {
        if (auto r = keys(n, QStringLiteral("audit"), {QStringLiteral("retentionDays")}); !r)
            return r.error();
        if (const YAML::Node v = n["retentionDays"]) {
            auto i = integer(v, QStringLiteral("audit.retentionDays"), 0, kMaxAuditRetentionDays);
            if (!i)
                return i.error();
            p.auditRetentionDays = int(*i);
        }
    }

    if (const YAML::Node n = root["alerts"]) {
        if (auto r = keys(n, QStringLiteral("alerts"),
                          {QStringLiteral("alertmanagerUrl"), QStringLiteral("slackWebhookUrl"),
                           QStringLiteral("webhookUrl")});
            !r)
            return r.error();
        const std::pair<const char *, QUrl *> urls[] = {{"alertmanagerUrl", &p.alerts.alertmanagerUrl},
                                                        {"slackWebhookUrl", &p.alerts.slackWebhookUrl},
                                                        {"webhookUrl", &p.alerts.webhookUrl}};
        for (const auto &[key, into] : urls) {
            const YAML::Node v = n[key];
            if (!v)
                continue;
            const QString field = QStringLiteral("alerts.") + QLatin1String(key);
            auto text = string(v, field);
            if (!text)
                return text.error();
            auto url = checkAlertUrl(*text);
            if (!url)
                return fail(v, field, url.errorMessage());
            *into = *url;
        }
    }
    return p;
}

// yaml-cpp 0.7 recurses per nesting level, so deep input is refused before
// it parses. Counts flow brackets plus block indentation levels and "- "
// sequence markers; generous for any real policy (which nests 3 deep).
int estimateDepth(const QByteArray &text)
{
    int maxDepth = 0;
    int flow = 0;
    std::vector<int> indents;
    const auto lines = text.split('\n');
    for (const QByteArray &line : lines) {
        int col = 0;
        while (col < line.size() && line.at(col) == ' ')
            ++col;
        if (col >= line.size() || line.at(col) == '#')
            continue;
        if (flow == 0) {
            while (!indents.empty() && indents.back() >= col)
                indents.pop_back();
            indents.push_back(col);
        }
        int dashes = 0;
        int i = col;
        while (i + 1 < line.size() && line.at(i) == '-' &&
               (line.at(i + 1) == ' ' || line.at(i + 1) == '\t')) {
            ++dashes;
            i += 2;
            while (i < line.size() && line.at(i) == ' ')
                ++i;
        }
        char quote = 0;
        for (; i < line.size(); ++i) {
            const char c = line.at(i);
            if (quote) {
                if (c == quote)
                    quote = 0;
                continue;
            }
            if (c == '"' || c == '\'')
                quote = c;
            else if (c == '#' && i > 0 && (line.at(i - 1) == ' ' || line.at(i - 1) == '\t'))
                break;
            else if (c == '[' || c == '{')
                maxDepth = std::max(maxDepth, int(indents.size()) + dashes + ++flow);
            else if ((c == ']' || c == '}') && flow > 0)
                --flow;
        }
        maxDepth = std::max(maxDepth, int(indents.size()) + dashes + flow);
    }
    return maxDepth;
}

} // namespace

QString policyModeName(PolicyMode mode)
{
    switch (mode) {
    case PolicyMode::SuggestOnly:
        return QStringLiteral("suggest-only");
    case PolicyMode::Approve:
        return QStringLiteral("approve");
    case PolicyMode::AutoWithinPolicy:
        return QStringLiteral("auto-within-policy");
    }
    return QStringLiteral("suggest-only");
}

bool Policy::allows(ActionKind kind) const
{
    return kind == ActionKind::None || allowedActions.contains(kind);
}

bool Policy::autoApproves(ActionKind kind) const
{
    return kind == ActionKind::None || (autoApprove.contains(kind) && allowedActions.contains(kind));
}

double Policy::minConfidenceFor(ActionKind kind) const
{
    return minConfidence.value(kind, defaultMinConfidence);
}

bool Policy::namespaceAllowed(const QString &namespaceName) const
{
    if (namespaceName == kKubeSystem)
        return false;
    for (const QString &g : namespaceDeny) {
        if (globMatch(g, namespaceName))
            return false;
    }
    if (namespaceAllow.isEmpty())
        return true;
    return std::any_of(namespaceAllow.begin(), namespaceAllow.end(),
                       [&](const QString &g) { return globMatch(g, namespaceName); });
}

Result<QUrl> checkAlertUrl(const QString &text)
{
    const QUrl url(text, QUrl::StrictMode);
    const QString scheme = url.scheme().toLower();
    const QString shown = u'\'' + url.toString(QUrl::RemoveUserInfo).left(200) + u'\'';
    if (!url.isValid() || (scheme != u"http" && scheme != u"https") || url.host().isEmpty())
        return Error(u'\'' + text.left(200) +
                     QStringLiteral("' is not an http:// or https:// URL with a host"));
    if (!url.userInfo().isEmpty())
        return Error(shown +
                     QStringLiteral(" carries a user name or password; credentials never go into a URL "
                                    "setting (give them through the environment)"));
    return url;
}

bool globMatch(const QString &pattern, const QString &text)
{
    // Iterative matcher with one backtrack point: linear enough, no recursion.
    qsizetype p = 0, t = 0, starP = -1, starT = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern.at(p) == u'?' || pattern.at(p) == text.at(t))) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern.at(p) == u'*') {
            starP = p++;
            starT = t;
        } else if (starP >= 0) {
            p = starP + 1;
            t = ++starT;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern.at(p) == u'*')
        ++p;
    return p == pattern.size();
}

Result<Policy> parsePolicy(const QByteArray &yaml, const QString &sourceName)
{
    const Loader loader(sourceName);
    if (yaml.size() > kMaxPolicyBytes)
        return loader.fail(0, QString(),
                           QStringLiteral("policy is %1 bytes, more than the %2 allowed")
                               .arg(yaml.size())
                               .arg(kMaxPolicyBytes));
    if (yaml.contains('\0'))
        return loader.fail(0, QString(), QStringLiteral("policy contains a NUL byte"));
    if (const int depth = estimateDepth(yaml); depth > kMaxPolicyDepth)
        return loader.fail(0, QString(),
                           QStringLiteral("policy nests %1 levels deep, more than the %2 allowed")
                               .arg(depth)
                               .arg(kMaxPolicyDepth));
    const kube::SingleYamlDocument doc = kube::loadSingleYamlDocument(yaml);
    if (doc.multipleDocuments)
        return loader.fail(doc.line, QString(), QStringLiteral("policy must be a single YAML document"));
    if (!doc.error.isEmpty())
        return loader.fail(doc.line, QString(), doc.error);
    if (doc.node.IsNull())
        return loader.fail(0, QString(), QStringLiteral("policy is empty"));
    try {
        return loader.load(doc.node);
    } catch (const std::exception &e) {
        return loader.fail(0, QString(), QStringLiteral("invalid policy: ") + QString::fromUtf8(e.what()));
    }
}

Result<Policy> loadPolicyFile(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return Error(path + QStringLiteral(": cannot open policy file: ") + f.errorString());
    const QByteArray data = f.read(kMaxPolicyBytes + 1);
    return parsePolicy(data, path);
}

QByteArray defaultPolicyYaml()
{
    return QByteArray(kDefaultPolicyYaml, sizeof(kDefaultPolicyYaml) - 1);
}

Policy defaultPolicy()
{
    auto p = parsePolicy(defaultPolicyYaml(), QStringLiteral("<built-in default policy>"));
    assert(p.ok());
    return p.ok() ? *p : Policy{};
}

} // namespace vigil::guard
