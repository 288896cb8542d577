#include "core/guard/guardrails.h"

#include <QRegularExpression>
#include <QTest>

#include <cmath>
#include <limits>

using vigil::ActionKind;
using vigil::Diagnosis;
using namespace vigil::guard;

namespace {

const QDateTime kNow = QDateTime(QDate(2026, 1, 1), QTime(12, 0), Qt::UTC);

IncidentTarget defaultTarget()
{
    IncidentTarget t;
    t.namespaceName = QStringLiteral("shop");
    t.podName = QStringLiteral("api-7d9f-abcde");
    t.ownerKind = QStringLiteral("Deployment");
    t.ownerName = QStringLiteral("api");
    t.nodeName = QStringLiteral("node-1");
    t.podLabels = {{QStringLiteral("app"), QStringLiteral("api")}};
    return t;
}

QMap<QString, QString> parseLabels(const QString &spec)
{
    QMap<QString, QString> out;
    for (const QString &kv : spec.split(u',', Qt::SkipEmptyParts))
        out.insert(kv.section(u':', 0, 0), kv.section(u':', 1));
    return out;
}

// "ns=x;pod=y;owner=Kind/name;node=z;podLabels=k:v,k:v;ownerLabels=..;nodeLabels=.."
IncidentTarget target(const QString &spec)
{
    IncidentTarget t = defaultTarget();
    for (const QString &part : spec.split(u';', Qt::SkipEmptyParts)) {
        const QString key = part.section(u'=', 0, 0);
        const QString value = part.section(u'=', 1);
        if (key == QLatin1String("ns"))
            t.namespaceName = value;
        else if (key == QLatin1String("pod"))
            t.podName = value;
        else if (key == QLatin1String("owner")) {
            t.ownerKind = value.section(u'/', 0, 0);
            t.ownerName = value.section(u'/', 1);
        } else if (key == QLatin1String("node"))
            t.nodeName = value;
        else if (key == QLatin1String("podLabels"))
            t.podLabels = parseLabels(value);
        else if (key == QLatin1String("ownerLabels"))
            t.ownerLabels = parseLabels(value);
        else if (key == QLatin1String("nodeLabels"))
            t.nodeLabels = parseLabels(value);
        else
            qFatal("bad target spec %s", qPrintable(part));
    }
    return t;
}

// "key@-300s" or "key@-300sx10"; entries separated by ';'.
QList<ExecutionRecord> history(const QString &spec)
{
    static const QRegularExpression re(QStringLiteral("^(.*)@(-?\\d+)s(?:x(\\d+))?$"));
    QList<ExecutionRecord> out;
    for (const QString &part : spec.split(u';', Qt::SkipEmptyParts)) {
        const auto m = re.match(part);
        if (!m.hasMatch())
            qFatal("bad history spec %s", qPrintable(part));
        const int times = m.captured(3).isEmpty() ? 1 : m.captured(3).toInt();
        for (int i = 0; i < times; ++i)
            out.append({kNow.addSecs(m.captured(2).toLongLong()), ActionKind::RestartPod, m.captured(1)});
    }
    return out;
}

QString defaultParams(const QString &kind)
{
    if (kind == QLatin1String("restart_pod"))
        return QStringLiteral(R"({"namespace":"shop","pod":"api-7d9f-abcde"})");
    if (kind == QLatin1String("scale_deployment"))
        return QStringLiteral(R"({"namespace":"shop","deployment":"api","replicas":4})");
    if (kind == QLatin1String("cordon_node"))
        return QStringLiteral(R"({"node":"node-1"})");
    if (kind == QLatin1String("create_alert"))
        return QStringLiteral(R"({"summary":"api is crash-looping","severity":"warning"})");
    return QStringLiteral("{}");
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Row {
    QString mode = QStringLiteral("approve");
    QString kind = QStringLiteral("restart_pod");
    QString wire = QStringLiteral("=");
    QString params;
    double confidence = 0.95;
    QString target;
    QString history;
    QByteArray policy;
};

void add(const char *name, const Row &r, Verdict::Decision decision, const char *code)
{
    QTest::newRow(name) << r.mode << r.kind << r.wire << r.params << r.confidence << r.target << r.history
                        << r.policy << int(decision) << QString::fromLatin1(code);
}

Row row(const char *kind, const char *params = "", const char *mode = "approve")
{
    Row r;
    r.kind = QString::fromLatin1(kind);
    r.params = QString::fromUtf8(params);
    r.mode = QString::fromLatin1(mode);
    return r;
}

Row withWire(Row r, const QString &wire)
{
    r.wire = wire;
    return r;
}
Row withConfidence(Row r, double c)
{
    r.confidence = c;
    return r;
}
Row withTarget(Row r, const char *t)
{
    r.target = QString::fromUtf8(t);
    return r;
}
Row withHistory(Row r, const char *h)
{
    r.history = QString::fromUtf8(h);
    return r;
}
Row withPolicy(Row r, const char *p)
{
    r.policy = QByteArray(p);
    return r;
}

Proposal buildProposal(const QString &kind, const QString &wire, QString params, double confidence,
                       const QString &spec)
{
    Proposal p;
    if (kind.startsWith(u'#'))
        p.diagnosis.action = static_cast<ActionKind>(kind.mid(1).toInt());
    else if (!vigil::parseActionName(kind, &p.diagnosis.action))
        qFatal("bad kind %s", qPrintable(kind));
    if (wire == QLatin1String("="))
        p.actionWireName = kind;
    else if (wire != QLatin1String("-"))
        p.actionWireName = wire;
    if (params.isEmpty())
        params = defaultParams(kind);
    params.replace(QStringLiteral("%BIG%"), QString(1024 * 1024, u'a'));
    p.diagnosis.parameters = nlohmann::json::parse(params.toStdString());
    p.diagnosis.confidence = confidence;
    p.diagnosis.diagnosis = QStringLiteral("test");
    p.target = target(spec);
    return p;
}

GuardContext buildContext(const QString &mode, const QByteArray &policyExtra, const QString &hist)
{
    const QString modeName = mode == QLatin1String("auto")      ? QStringLiteral("auto-within-policy")
                             : mode == QLatin1String("suggest") ? QStringLiteral("suggest-only")
                                                                : mode;
    const QByteArray yaml = "mode: " + modeName.toUtf8() + "\n" + policyExtra;
    const auto policy = parsePolicy(yaml, QStringLiteral("test.yaml"));
    if (!policy)
        qFatal("bad test policy: %s", qPrintable(policy.errorMessage()));
    GuardContext c;
    c.policy = *policy;
    c.now = hist == QLatin1String("clock=invalid") ? QDateTime() : kNow;
    if (c.now.isValid())
        c.recentExecutions = history(hist);
    return c;
}

} // namespace

class TestGuardrails final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void judge_data();
    void judge();
    void collectsEveryReason();
    void deterministic();
    void messagesShowUntrustedTextSafely();
    void neverListHasNoActionKind_data();
    void neverListHasNoActionKind();
    void targetKeys();
};

void TestGuardrails::judge_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("wire");
    QTest::addColumn<QString>("params");
    QTest::addColumn<double>("confidence");
    QTest::addColumn<QString>("target");
    QTest::addColumn<QString>("history");
    QTest::addColumn<QByteArray>("policy");
    QTest::addColumn<int>("decision");
    QTest::addColumn<QString>("code");

    using V = Verdict;
    // Modes.
    add("approve: restart needs a person", row("restart_pod"), V::NeedsApproval, "mode.approve");
    add("approve: scale needs a person", row("scale_deployment"), V::NeedsApproval, "mode.approve");
    add("approve: cordon needs a person", row("cordon_node"), V::NeedsApproval, "mode.approve");
    add("approve: alert needs a person", row("create_alert"), V::NeedsApproval, "mode.approve");
    add("auto: restart not auto-approved", row("restart_pod", "", "auto"), V::NeedsApproval,
        "mode.needs_approval");
    add("auto: scale not auto-approved", row("scale_deployment", "", "auto"), V::NeedsApproval,
        "mode.needs_approval");
    add("auto: cordon not auto-approved", row("cordon_node", "", "auto"), V::NeedsApproval,
        "mode.needs_approval");
    add("auto: alert runs alone", row("create_alert", "", "auto"), V::Allowed, "mode.auto_approved");
    add("auto: restart listed in autoApprove runs alone",
        withPolicy(row("restart_pod", "", "auto"), "autoApprove: [restart_pod]\n"), V::Allowed,
        "mode.auto_approved");
    add("auto: autoApprove emptied", withPolicy(row("create_alert", "", "auto"), "autoApprove: []\n"),
        V::NeedsApproval, "mode.needs_approval");
    add("suggest: restart blocked", row("restart_pod", "", "suggest"), V::Blocked, "mode.suggest_only");
    add("suggest: scale blocked", row("scale_deployment", "", "suggest"), V::Blocked, "mode.suggest_only");
    add("suggest: cordon blocked", row("cordon_node", "", "suggest"), V::Blocked, "mode.suggest_only");
    add("suggest: alert blocked", row("create_alert", "", "suggest"), V::Blocked, "mode.suggest_only");
    add("suggest: unknown action still names mode",
        withWire(row("restart_pod", "", "suggest"), QStringLiteral("delete_namespace")), V::Blocked,
        "mode.suggest_only");
    add("none allowed in approve", row("none"), V::Allowed, "action.none");
    add("none allowed in auto", row("none", "", "auto"), V::Allowed, "action.none");
    add("none allowed in suggest", row("none", "", "suggest"), V::Allowed, "action.none");
    add("none from rules with null params", withWire(row("none", "null"), QStringLiteral("-")), V::Allowed,
        "action.none");
    add("none with low confidence is still notify only", withConfidence(row("none"), 0.01), V::Allowed,
        "action.none");

    // The NEVER list and other names outside the catalog.
    const char *never[] = {"delete_namespace",
                           "delete_pvc",
                           "delete_pv",
                           "patch_rbac",
                           "create_clusterrolebinding",
                           "delete_networkpolicy",
                           "update_networkpolicy",
                           "delete_secret",
                           "kubectl delete ns prod",
                           "DELETE_NAMESPACE",
                           "delete_pod",
                           "patch_role"};
    for (const char *n : never) {
        add(qPrintable(QStringLiteral("never: ") + QString::fromLatin1(n)),
            withWire(row("restart_pod"), QString::fromLatin1(n)), V::Blocked, "action.never");
    }
    add("never name on a none diagnosis", withWire(row("none"), QStringLiteral("delete_namespace")),
        V::Blocked, "action.unknown");
    const QString unknown[] = {QStringLiteral("drain_node"),
                               QStringLiteral("exec_pod"),
                               QStringLiteral("RESTART_POD"),
                               QStringLiteral(" restart_pod"),
                               QStringLiteral("restart_pod "),
                               QStringLiteral("restart-pod"),
                               QString::fromUtf8("r\xD0\xB5start_pod"),
                               QString::fromUtf8("scale_deploym\xD0\xB5nt"),
                               QString::fromUtf8("\xEF\xBD\x92"
                                                 "estart_pod"),
                               QStringLiteral(""),
                               QStringLiteral("restart_pod\n"),
                               QString::fromUtf8("restart_pod\xE2\x80\x8B"),
                               QStringLiteral("restart_pods"),
                               QString(1024 * 1024, u'x')};
    const char *unknownNames[] = {"drain_node",
                                  "exec_pod",
                                  "upper case",
                                  "leading space",
                                  "trailing space",
                                  "dash not underscore",
                                  "cyrillic e look-alike",
                                  "cyrillic e in scale",
                                  "fullwidth r",
                                  "empty name",
                                  "trailing newline",
                                  "zero-width space",
                                  "plural",
                                  "1 MB name"};
    for (std::size_t i = 0; i < std::size(unknown); ++i) {
        add(qPrintable(QStringLiteral("unknown action: ") + QString::fromLatin1(unknownNames[i])),
            withWire(row("restart_pod"), unknown[i]), V::Blocked, "action.unknown");
    }
    add("wire names scale, proposal carries restart",
        withWire(row("restart_pod"), QStringLiteral("scale_deployment")), V::Blocked, "action.mismatch");
    add("wire names restart, proposal carries none", withWire(row("none"), QStringLiteral("restart_pod")),
        V::Blocked, "action.mismatch");
    add("enum value outside the catalog", withWire(row("#99"), QStringLiteral("-")), V::Blocked,
        "action.unknown");
    add("restart not in allowedActions", withPolicy(row("restart_pod"), "allowedActions: [create_alert]\n"),
        V::Blocked, "action.not_allowed");
    add("cordon not in allowedActions",
        withPolicy(row("cordon_node", "", "auto"), "allowedActions: [restart_pod]\n"), V::Blocked,
        "action.not_allowed");

    // Scale parameters.
    auto scale = [](const char *replicas) {
        return QStringLiteral(R"({"namespace":"shop","deployment":"api","replicas":%1})")
            .arg(QString::fromLatin1(replicas));
    };
    const char *outOfRange[] = {"0", "1", "21", "500", "-3", "18446744073709551615", "-9223372036854775808"};
    for (const char *n : outOfRange) {
        Row r = row("scale_deployment");
        r.params = scale(n);
        add(qPrintable(QStringLiteral("scale to ") + QString::fromLatin1(n)), r, V::Blocked, "params.range");
    }
    const char *wrongType[] = {"\"20\"", "2.5", "null", "1e9", "true", "4.0", "{\"n\":4}"};
    for (const char *n : wrongType) {
        Row r = row("scale_deployment");
        r.params = scale(n);
        add(qPrintable(QStringLiteral("scale with replicas ") + QString::fromLatin1(n)), r, V::Blocked,
            "params.type");
    }
    {
        Row r = row("scale_deployment");
        r.params = scale("[3,4]");
        add("scale with a list of replicas", r, V::Blocked, "params.multiple");
        r.params = scale("2");
        add("scale to the lower bound", r, V::NeedsApproval, "mode.approve");
        r.params = scale("20");
        add("scale to the upper bound", r, V::NeedsApproval, "mode.approve");
        r.params = scale("6");
        add("narrowed policy refuses 6", withPolicy(r, "scale: {minReplicas: 3, maxReplicas: 5}\n"),
            V::Blocked, "params.range");
        r.params = scale("1");
        add("policy lowered to 1 admits 1", withPolicy(r, "scale: {minReplicas: 1}\n"), V::NeedsApproval,
            "mode.approve");
        r.params = QStringLiteral(R"({"namespace":"shop","deployment":"api"})");
        add("scale without replicas", r, V::Blocked, "params.missing");
    }

    // The target must be the incident's own object.
    add("restart another pod", row("restart_pod", R"({"namespace":"shop","pod":"web-1"})"), V::Blocked,
        "target.mismatch");
    add("restart same pod name in another namespace",
        row("restart_pod", R"({"namespace":"billing","pod":"api-7d9f-abcde"})"), V::Blocked,
        "target.namespace_mismatch");
    add("restart a pod in kube-system from a shop incident",
        row("restart_pod", R"({"namespace":"kube-system","pod":"api-7d9f-abcde"})"), V::Blocked,
        "namespace.denied");
    add("restart on a node-only incident", withTarget(row("restart_pod"), "pod=;owner=/;ns="), V::Blocked,
        "target.mismatch");
    add("scale another deployment",
        row("scale_deployment", R"({"namespace":"shop","deployment":"web","replicas":4})"), V::Blocked,
        "target.mismatch");
    add("scale a deployment in another namespace",
        row("scale_deployment", R"({"namespace":"billing","deployment":"api","replicas":4})"), V::Blocked,
        "target.namespace_mismatch");
    add("scale when the owner is a StatefulSet", withTarget(row("scale_deployment"), "owner=StatefulSet/api"),
        V::Blocked, "target.not_owner");
    add("scale a bare pod", withTarget(row("scale_deployment"), "owner=/"), V::Blocked, "target.not_owner");
    add("cordon another node", row("cordon_node", R"({"node":"node-2"})"), V::Blocked, "target.mismatch");
    add("cordon when the incident has no node", withTarget(row("cordon_node"), "node="), V::Blocked,
        "target.mismatch");
    add("cordon the incident's node", withTarget(row("cordon_node"), "ns=;pod=;owner=/"), V::NeedsApproval,
        "mode.approve");

    // Several objects at once.
    add("parameters are a list of pods",
        row("restart_pod", R"([{"namespace":"shop","pod":"a"},{"namespace":"shop","pod":"b"}])"), V::Blocked,
        "params.multiple");
    add("pod is a list", row("restart_pod", R"({"namespace":"shop","pod":["api-7d9f-abcde","web-1"]})"),
        V::Blocked, "params.multiple");
    add("pod names joined by comma",
        row("restart_pod", R"({"namespace":"shop","pod":"api-7d9f-abcde,web-1"})"), V::Blocked,
        "params.multiple");
    add("pod names joined by space",
        row("restart_pod", R"({"namespace":"shop","pod":"api-7d9f-abcde web-1"})"), V::Blocked,
        "params.multiple");
    add("pod names joined by semicolon", row("restart_pod", R"({"namespace":"shop","pod":"a;b"})"),
        V::Blocked, "params.multiple");
    add("pod wildcard star", row("restart_pod", R"({"namespace":"shop","pod":"*"})"), V::Blocked,
        "params.multiple");
    add("pod glob prefix", row("restart_pod", R"({"namespace":"shop","pod":"api-*"})"), V::Blocked,
        "params.multiple");
    add("pod glob question mark", row("restart_pod", R"({"namespace":"shop","pod":"api-7d9f-abcd?"})"),
        V::Blocked, "params.multiple");
    add("namespace wildcard", row("restart_pod", R"({"namespace":"*","pod":"api-7d9f-abcde"})"), V::Blocked,
        "params.multiple");
    add("nodes joined by comma", row("cordon_node", R"({"node":"node-1,node-2"})"), V::Blocked,
        "params.multiple");
    add("deployments as a list",
        row("scale_deployment", R"({"namespace":"shop","deployment":["api","web"],"replicas":4})"),
        V::Blocked, "params.multiple");
    add("extra pods key",
        row("restart_pod", R"({"namespace":"shop","pod":"api-7d9f-abcde","pods":["web-1"]})"), V::Blocked,
        "params.extra");
    add("label selector instead of a name",
        row("restart_pod", R"({"namespace":"shop","selector":"app=api"})"), V::Blocked, "params.extra");

    // Parameter shapes.
    add("restart without pod", row("restart_pod", R"({"namespace":"shop"})"), V::Blocked, "params.missing");
    add("restart without namespace", row("restart_pod", R"({"pod":"api-7d9f-abcde"})"), V::Blocked,
        "params.missing");
    add("restart with force flag",
        row("restart_pod", R"({"namespace":"shop","pod":"api-7d9f-abcde","force":true})"), V::Blocked,
        "params.extra");
    add("restart with grace period",
        row("restart_pod", R"({"namespace":"shop","pod":"api-7d9f-abcde","gracePeriodSeconds":0})"),
        V::Blocked, "params.extra");
    add("restart with null parameters", row("restart_pod", "null"), V::Blocked, "params.not_object");
    add("restart with string parameters", row("restart_pod", R"("api-7d9f-abcde")"), V::Blocked,
        "params.not_object");
    add("pod name as number", row("restart_pod", R"({"namespace":"shop","pod":42})"), V::Blocked,
        "params.type");
    add("pod name as object", row("restart_pod", R"({"namespace":"shop","pod":{"name":"api-7d9f-abcde"}})"),
        V::Blocked, "params.type");
    add("pod name in upper case", row("restart_pod", R"({"namespace":"shop","pod":"API"})"), V::Blocked,
        "params.invalid_name");
    add("pod name path traversal", row("restart_pod", R"({"namespace":"shop","pod":"../etc"})"), V::Blocked,
        "params.invalid_name");
    add("pod name with cyrillic look-alike",
        row("restart_pod", "{\"namespace\":\"shop\",\"pod\":\"api-7d9f-abcd\xD0\xB5\"}"), V::Blocked,
        "params.invalid_name");
    add("1 MB pod name", row("restart_pod", R"({"namespace":"shop","pod":"%BIG%"})"), V::Blocked,
        "params.invalid_name");
    add("1 MB namespace", row("restart_pod", R"({"namespace":"%BIG%","pod":"api-7d9f-abcde"})"), V::Blocked,
        "params.invalid_name");
    add("namespace of 64 characters",
        row("restart_pod",
            qPrintable(
                QStringLiteral(R"({"namespace":"%1","pod":"api-7d9f-abcde"})").arg(QString(64, u'n')))),
        V::Blocked, "params.invalid_name");
    add("1 MB extra key", row("restart_pod", R"({"namespace":"shop","pod":"api-7d9f-abcde","%BIG%":1})"),
        V::Blocked, "params.extra");
    add("none with parameters", row("none", R"({"pod":"x"})"), V::Blocked, "params.extra");
    add("none with list parameters", row("none", R"([1,2])"), V::Blocked, "params.multiple");
    add("alert without summary", row("create_alert", R"({"severity":"warning"})"), V::Blocked,
        "params.missing");
    add("alert with unknown severity", row("create_alert", R"({"summary":"x","severity":"panic"})"),
        V::Blocked, "params.range");
    add("alert with 1 MB summary", row("create_alert", R"({"summary":"%BIG%","severity":"info"})"),
        V::Blocked, "params.range");
    add("alert with empty summary", row("create_alert", R"({"summary":"","severity":"info"})"), V::Blocked,
        "params.range");
    add("alert with numeric summary", row("create_alert", R"({"summary":7,"severity":"info"})"), V::Blocked,
        "params.type");
    add("alert with a channel", row("create_alert", R"({"summary":"x","severity":"info","channel":"#ops"})"),
        V::Blocked, "params.extra");
    add("alert without severity", row("create_alert", R"({"summary":"x"})", "auto"), V::Blocked,
        "params.missing");
    add("alert with severity list", row("create_alert", R"({"summary":"x","severity":["info","critical"]})"),
        V::Blocked, "params.type");
    add("critical alert runs alone", row("create_alert", R"({"summary":"x","severity":"critical"})", "auto"),
        V::Allowed, "mode.auto_approved");

    // Confidence.
    add("confidence NaN", withConfidence(row("restart_pod"), kNaN), V::Blocked, "confidence.invalid");
    add("confidence -1", withConfidence(row("restart_pod"), -1.0), V::Blocked, "confidence.invalid");
    add("confidence 2", withConfidence(row("restart_pod"), 2.0), V::Blocked, "confidence.invalid");
    add("confidence +inf", withConfidence(row("restart_pod"), kInf), V::Blocked, "confidence.invalid");
    add("confidence -inf", withConfidence(row("cordon_node"), -kInf), V::Blocked, "confidence.invalid");
    add("none with NaN confidence", withConfidence(row("none"), kNaN), V::Blocked, "confidence.invalid");
    add("restart just below 0.7", withConfidence(row("restart_pod"), 0.69), V::Blocked, "confidence.low");
    add("restart at 0.7", withConfidence(row("restart_pod"), 0.7), V::NeedsApproval, "mode.approve");
    add("scale below 0.8", withConfidence(row("scale_deployment"), 0.79), V::Blocked, "confidence.low");
    add("cordon below 0.9", withConfidence(row("cordon_node"), 0.85), V::Blocked, "confidence.low");
    add("alert below default 0.6", withConfidence(row("create_alert", "", "auto"), 0.59), V::Blocked,
        "confidence.low");
    add("alert at default 0.6", withConfidence(row("create_alert", "", "auto"), 0.6), V::Allowed,
        "mode.auto_approved");
    add("policy raises restart minimum",
        withPolicy(withConfidence(row("restart_pod"), 0.9), "minConfidence: {restart_pod: 0.95}\n"),
        V::Blocked, "confidence.low");

    // Namespaces.
    add("incident in kube-system",
        withTarget(row("restart_pod", R"({"namespace":"kube-system","pod":"api-7d9f-abcde"})"),
                   "ns=kube-system"),
        V::Blocked, "namespace.denied");
    add("deny glob",
        withPolicy(
            withTarget(row("restart_pod", R"({"namespace":"prod-eu","pod":"api-7d9f-abcde"})"), "ns=prod-eu"),
            "namespaces: {deny: [prod-*]}\n"),
        V::Blocked, "namespace.denied");
    add("outside the allow list", withPolicy(row("restart_pod"), "namespaces: {allow: [team-*]}\n"),
        V::Blocked, "namespace.denied");
    add("inside the allow list", withPolicy(row("restart_pod"), "namespaces: {allow: [sh*]}\n"),
        V::NeedsApproval, "mode.approve");
    add("cordon from a kube-system incident", withTarget(row("cordon_node"), "ns=kube-system"), V::Blocked,
        "namespace.denied");
    add("alert about kube-system is fine", withTarget(row("create_alert"), "ns=kube-system"),
        V::NeedsApproval, "mode.approve");

    // Protected labels.
    add("protected pod", withTarget(row("restart_pod"), "podLabels=vigil.dev/protected:true"), V::Blocked,
        "target.protected");
    add("protected deployment", withTarget(row("scale_deployment"), "ownerLabels=vigil.dev/protected:true"),
        V::Blocked, "target.protected");
    add("scale when its pod is protected",
        withTarget(row("scale_deployment"), "podLabels=vigil.dev/protected:true"), V::Blocked,
        "target.protected");
    add("protected node", withTarget(row("cordon_node"), "nodeLabels=vigil.dev/protected:true"), V::Blocked,
        "target.protected");
    add("policy's own protected label",
        withPolicy(withTarget(row("restart_pod"), "podLabels=tier:critical"),
                   "protectedLabels: {tier: critical}\n"),
        V::Blocked, "target.protected");
    add("protected label with another value",
        withTarget(row("restart_pod"), "podLabels=vigil.dev/protected:false"), V::NeedsApproval,
        "mode.approve");
    add("alert on a protected pod", withTarget(row("create_alert"), "podLabels=vigil.dev/protected:true"),
        V::NeedsApproval, "mode.approve");

    // Cooldown and rate cap.
    add("same pod restarted 5 min ago", withHistory(row("restart_pod"), "pod/shop/api-7d9f-abcde@-300s"),
        V::Blocked, "cooldown.active");
    add("same pod restarted 11 min ago", withHistory(row("restart_pod"), "pod/shop/api-7d9f-abcde@-660s"),
        V::NeedsApproval, "mode.approve");
    add("other pod restarted 1 min ago", withHistory(row("restart_pod"), "pod/shop/web-1@-60s"),
        V::NeedsApproval, "mode.approve");
    add("same deployment scaled 1 min ago", withHistory(row("scale_deployment"), "deployment/shop/api@-60s"),
        V::Blocked, "cooldown.active");
    add("same node cordoned 9m59s ago", withHistory(row("cordon_node"), "node/node-1@-599s"), V::Blocked,
        "cooldown.active");
    add("alert repeated within cooldown",
        withHistory(row("create_alert", "", "auto"), "alert/shop/api-7d9f-abcde@-30s"), V::Blocked,
        "cooldown.active");
    add("ten actions in the last hour", withHistory(row("restart_pod"), "pod/shop/other@-1000sx10"),
        V::Blocked, "rate.exceeded");
    add("nine actions in the last hour", withHistory(row("restart_pod"), "pod/shop/other@-1000sx9"),
        V::NeedsApproval, "mode.approve");
    add("ten actions 61 minutes ago", withHistory(row("restart_pod"), "pod/shop/other@-3660sx10"),
        V::NeedsApproval, "mode.approve");
    add("future records count", withHistory(row("restart_pod"), "pod/shop/other@120sx10"), V::Blocked,
        "rate.exceeded");
    add("rate cap zero", withPolicy(row("create_alert", "", "auto"), "maxActionsPerHour: 0\n"), V::Blocked,
        "rate.exceeded");
    add("cooldown zero admits repeat",
        withPolicy(withHistory(row("restart_pod"), "pod/shop/api-7d9f-abcde@-1s"),
                   "cooldown: {perTarget: \"0\"}\n"),
        V::NeedsApproval, "mode.approve");
    add("no clock", withHistory(row("restart_pod"), "clock=invalid"), V::Blocked, "clock.invalid");
}

void TestGuardrails::judge()
{
    QFETCH(QString, mode);
    QFETCH(QString, kind);
    QFETCH(QString, wire);
    QFETCH(QString, params);
    QFETCH(double, confidence);
    QFETCH(QString, target);
    QFETCH(QString, history);
    QFETCH(QByteArray, policy);
    QFETCH(int, decision);
    QFETCH(QString, code);

    const Proposal p = buildProposal(kind, wire, params, confidence, target);
    const GuardContext c = buildContext(mode, policy, history);
    const Verdict v = evaluate(p, c);
    const QString got = decisionName(v.decision) + QStringLiteral(" [") + v.codes().join(u',') + u']';
    QVERIFY2(v.decision == Verdict::Decision(decision), qPrintable(got));
    QVERIFY2(v.hasReason(code), qPrintable(got));
    // Blocked iff some reason blocks; messages stay readable even for 1 MB input.
    bool anyBlocking = false;
    for (const VerdictReason &r : v.reasons) {
        anyBlocking = anyBlocking || r.blocking;
        QVERIFY2(r.message.size() < 600, qPrintable(r.code));
        QVERIFY(!r.message.isEmpty());
    }
    QCOMPARE(anyBlocking, v.decision == Verdict::Blocked);
}

void TestGuardrails::collectsEveryReason()
{
    Proposal p =
        buildProposal(QStringLiteral("scale_deployment"), QStringLiteral("="),
                      QStringLiteral(R"({"namespace":"billing","deployment":"web","replicas":500,"why":1})"),
                      0.2, QStringLiteral("podLabels=vigil.dev/protected:true"));
    GuardContext c =
        buildContext(QStringLiteral("suggest"), QByteArray(), QStringLiteral("deployment/shop/api@-10sx10"));
    const Verdict v = evaluate(p, c);
    QCOMPARE(v.decision, Verdict::Blocked);
    const QStringList expected{
        QStringLiteral("confidence.low"),   QStringLiteral("params.range"),
        QStringLiteral("params.extra"),     QStringLiteral("target.namespace_mismatch"),
        QStringLiteral("target.mismatch"),  QStringLiteral("target.protected"),
        QStringLiteral("cooldown.active"),  QStringLiteral("rate.exceeded"),
        QStringLiteral("mode.suggest_only")};
    QCOMPARE(v.codes(), expected);
    const VerdictReason *mismatch = nullptr;
    for (const VerdictReason &r : v.reasons) {
        if (r.code == QLatin1String("target.mismatch"))
            mismatch = &r;
    }
    QVERIFY(mismatch);
    QCOMPARE(mismatch->message,
             QStringLiteral(
                 "the proposal names deployment 'web' but the incident's pod belongs to deployment 'api'"));
}

void TestGuardrails::deterministic()
{
    const Proposal p =
        buildProposal(QStringLiteral("restart_pod"), QStringLiteral("="), QString(), 0.9, QString());
    const GuardContext c =
        buildContext(QStringLiteral("approve"), QByteArray(), QStringLiteral("pod/shop/x@-10s"));
    const Verdict a = evaluate(p, c);
    const Verdict b = evaluate(p, c);
    QCOMPARE(a.decision, b.decision);
    QCOMPARE(a.reasons, b.reasons);
    QCOMPARE(a.codes(), QStringList{QStringLiteral("mode.approve")});
}

void TestGuardrails::messagesShowUntrustedTextSafely()
{
    const GuardContext c = buildContext(QStringLiteral("approve"), QByteArray(), QString());
    Proposal lookAlike = buildProposal(QStringLiteral("restart_pod"), QString::fromUtf8("r\xD0\xB5start_pod"),
                                       QString(), 0.9, QString());
    const Verdict v1 = evaluate(lookAlike, c);
    QCOMPARE(v1.reasons.first().message, QStringLiteral("'r\\u0435start_pod' is not an action Vigil can take "
                                                        "(it contains non-ASCII or control characters; "
                                                        "look-alike names are refused)"));
    Proposal bigKey = buildProposal(
        QStringLiteral("restart_pod"), QStringLiteral("="),
        QStringLiteral(R"({"namespace":"shop","pod":"api-7d9f-abcde","%BIG%":1})"), 0.9, QString());
    const Verdict v2 = evaluate(bigKey, c);
    QCOMPARE(v2.codes(), (QStringList{QStringLiteral("params.extra"), QStringLiteral("mode.approve")}));
    QCOMPARE(v2.reasons.first().message, QStringLiteral("restart_pod takes no parameter '") +
                                             QString(64, u'a') + QStringLiteral("'... (1048576 bytes)"));
}

void TestGuardrails::neverListHasNoActionKind_data()
{
    QTest::addColumn<QString>("wire");
    for (const char *n :
         {"delete_namespace", "delete_pv", "delete_pvc", "delete_persistentvolume", "patch_rbac",
          "create_rolebinding", "delete_clusterrole", "patch_networkpolicy", "delete_networkpolicy"})
        QTest::newRow(n) << QString::fromLatin1(n);
}

void TestGuardrails::neverListHasNoActionKind()
{
    QFETCH(QString, wire);
    ActionKind kind = ActionKind::RestartPod;
    QVERIFY(!vigil::parseActionName(wire, &kind));
    QCOMPARE(kind, ActionKind::RestartPod);
    for (ActionKind k : {ActionKind::None, ActionKind::RestartPod, ActionKind::ScaleDeployment,
                         ActionKind::CordonNode, ActionKind::CreateAlert})
        QVERIFY(vigil::actionName(k) != wire);
    const auto policy =
        parsePolicy(QStringLiteral("allowedActions: [%1]\n").arg(wire).toUtf8(), QStringLiteral("p.yaml"));
    QVERIFY(policy.errorMessage().contains(QStringLiteral("is not an action Vigil can take")));
    for (ActionKind carried : {ActionKind::None, ActionKind::RestartPod, ActionKind::CreateAlert}) {
        Proposal p = buildProposal(vigil::actionName(carried), wire, QString(), 0.99, QString());
        const Verdict v =
            evaluate(p, buildContext(QStringLiteral("auto"), "autoApprove: [create_alert]\n", QString()));
        QCOMPARE(v.decision, Verdict::Blocked);
        QVERIFY(v.hasReason(QStringLiteral("action.unknown")));
        QVERIFY(v.hasReason(QStringLiteral("action.never")));
    }
}

void TestGuardrails::targetKeys()
{
    const IncidentTarget t = defaultTarget();
    QCOMPARE(targetKey(ActionKind::RestartPod, t), QStringLiteral("pod/shop/api-7d9f-abcde"));
    QCOMPARE(targetKey(ActionKind::ScaleDeployment, t), QStringLiteral("deployment/shop/api"));
    QCOMPARE(targetKey(ActionKind::CordonNode, t), QStringLiteral("node/node-1"));
    QCOMPARE(targetKey(ActionKind::CreateAlert, t), QStringLiteral("alert/shop/api-7d9f-abcde"));
    QVERIFY(targetKey(ActionKind::None, t).isEmpty());
}

QTEST_GUILESS_MAIN(TestGuardrails)
#include "tst_guardrails.moc"
