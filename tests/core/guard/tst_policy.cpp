#include "core/guard/policy.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using vigil::ActionKind;
using namespace vigil::guard;

class TestPolicy final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void invalid_data();
    void invalid();
    void valid_data();
    void valid();
    void defaultsWhenOmitted();
    void resourceFileEqualsBuiltIn();
    void depthAndSizeCaps_data();
    void depthAndSizeCaps();
    void loadFileNamesPath();
    void namespaceRules_data();
    void namespaceRules();
};

void TestPolicy::invalid_data()
{
    QTest::addColumn<QByteArray>("yaml");
    QTest::addColumn<int>("line");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("phrase");

    QTest::newRow("unknown top-level key") << QByteArray("mode: approve\nallowActions: [restart_pod]\n") << 2
                                           << QStringLiteral("allowActions") << QStringLiteral("unknown key");
    QTest::newRow("unknown nested key") << QByteArray("scale:\n  minReplicas: 2\n  max: 5\n") << 3
                                        << QStringLiteral("scale.max") << QStringLiteral("unknown key");
    QTest::newRow("duplicate key") << QByteArray("mode: approve\nmode: approve\n") << 2
                                   << QStringLiteral("mode") << QStringLiteral("duplicate key");
    QTest::newRow("bad mode") << QByteArray("mode: yolo\n") << 1 << QStringLiteral("mode")
                              << QStringLiteral("'yolo' is not a mode");
    QTest::newRow("mode as list") << QByteArray("mode: [approve]\n") << 1 << QStringLiteral("mode")
                                  << QStringLiteral("expected a string, got a list");
    QTest::newRow("delete_namespace is not an action")
        << QByteArray("allowedActions:\n  - restart_pod\n  - delete_namespace\n") << 3
        << QStringLiteral("allowedActions[1]")
        << QStringLiteral("'delete_namespace' is not an action Vigil can take");
    QTest::newRow("patch_rbac is not an action")
        << QByteArray("allowedActions: [patch_rbac]\n") << 1 << QStringLiteral("allowedActions[0]")
        << QStringLiteral("is not an action Vigil can take");
    QTest::newRow("cyrillic look-alike action")
        << QByteArray("allowedActions: [r\xD0\xB5start_pod]\n") << 1 << QStringLiteral("allowedActions[0]")
        << QStringLiteral("is not an action Vigil can take");
    QTest::newRow("none cannot be listed")
        << QByteArray("allowedActions: [none]\n") << 1 << QStringLiteral("allowedActions[0]")
        << QStringLiteral("always allowed");
    QTest::newRow("action listed twice")
        << QByteArray("allowedActions: [cordon_node, cordon_node]\n") << 1
        << QStringLiteral("allowedActions[1]") << QStringLiteral("listed twice");
    QTest::newRow("allowedActions as string")
        << QByteArray("allowedActions: restart_pod\n") << 1 << QStringLiteral("allowedActions")
        << QStringLiteral("expected a list of actions");
    QTest::newRow("maxReplicas above hard cap")
        << QByteArray("scale:\n  maxReplicas: 500\n") << 2 << QStringLiteral("scale.maxReplicas")
        << QStringLiteral("500 is out of range 1..50");
    QTest::newRow("minReplicas zero")
        << QByteArray("scale:\n  minReplicas: 0\n") << 2 << QStringLiteral("scale.minReplicas")
        << QStringLiteral("0 is out of range 1..50");
    QTest::newRow("minReplicas negative")
        << QByteArray("scale: {minReplicas: -3}\n") << 1 << QStringLiteral("scale.minReplicas")
        << QStringLiteral("-3 is out of range");
    QTest::newRow("replicas quoted string")
        << QByteArray("scale:\n  maxReplicas: \"20\"\n") << 2 << QStringLiteral("scale.maxReplicas")
        << QStringLiteral("expected an integer, got the string '20'");
    QTest::newRow("replicas fractional")
        << QByteArray("scale:\n  maxReplicas: 2.5\n") << 2 << QStringLiteral("scale.maxReplicas")
        << QStringLiteral("expected an integer, got '2.5'");
    QTest::newRow("min above max") << QByteArray("scale:\n  minReplicas: 10\n  maxReplicas: 5\n") << 1
                                   << QStringLiteral("scale")
                                   << QStringLiteral("minReplicas 10 is above maxReplicas 5");
    QTest::newRow("kube-system cannot be allowed")
        << QByteArray("namespaces:\n  allow: [default, kube-system]\n") << 2
        << QStringLiteral("namespaces.allow[1]") << QStringLiteral("always denied");
    QTest::newRow("namespace glob with bad chars")
        << QByteArray("namespaces:\n  deny: [\"prod/*\"]\n") << 2 << QStringLiteral("namespaces.deny[0]")
        << QStringLiteral("not a namespace name or glob");
    QTest::newRow("namespaces unknown key")
        << QByteArray("namespaces:\n  allowed: [x]\n") << 2 << QStringLiteral("namespaces.allowed")
        << QStringLiteral("unknown key");
    QTest::newRow("protected label bad key")
        << QByteArray("protectedLabels:\n  \"bad key!\": x\n") << 2
        << QStringLiteral("protectedLabels.bad key!") << QStringLiteral("not a valid label key");
    QTest::newRow("protected label cannot be weakened")
        << QByteArray("protectedLabels:\n  vigil.dev/protected: \"false\"\n") << 2
        << QStringLiteral("protectedLabels.vigil.dev/protected") << QStringLiteral("always protects");
    QTest::newRow("protected label value as list")
        << QByteArray("protectedLabels:\n  team: [a]\n") << 2 << QStringLiteral("protectedLabels.team")
        << QStringLiteral("expected a string, got a list");
    QTest::newRow("confidence above 1")
        << QByteArray("minConfidence:\n  default: 0.6\n  restart_pod: 1.5\n") << 3
        << QStringLiteral("minConfidence.restart_pod") << QStringLiteral("1.5 is out of range 0..1");
    QTest::newRow("confidence negative")
        << QByteArray("minConfidence: {default: -0.1}\n") << 1 << QStringLiteral("minConfidence.default")
        << QStringLiteral("out of range 0..1");
    QTest::newRow("confidence nan") << QByteArray("minConfidence:\n  default: .nan\n") << 2
                                    << QStringLiteral("minConfidence.default")
                                    << QStringLiteral("expected a number");
    QTest::newRow("confidence for unknown action")
        << QByteArray("minConfidence:\n  delete_pvc: 0.9\n") << 2
        << QStringLiteral("minConfidence.delete_pvc") << QStringLiteral("is not an action Vigil can take");
    QTest::newRow("cooldown without unit")
        << QByteArray("cooldown:\n  perTarget: 600\n") << 2 << QStringLiteral("cooldown.perTarget")
        << QStringLiteral("expected a duration");
    QTest::newRow("cooldown too long")
        << QByteArray("cooldown:\n  perTarget: 25h\n") << 2 << QStringLiteral("cooldown.perTarget")
        << QStringLiteral("longer than 24h");
    QTest::newRow("cooldown unknown key")
        << QByteArray("cooldown:\n  perNode: 5m\n") << 2 << QStringLiteral("cooldown.perNode")
        << QStringLiteral("unknown key");
    QTest::newRow("rate cap as word")
        << QByteArray("maxActionsPerHour: ten\n") << 1 << QStringLiteral("maxActionsPerHour")
        << QStringLiteral("expected an integer, got 'ten'");
    QTest::newRow("rate cap out of range")
        << QByteArray("maxActionsPerHour: 100000\n") << 1 << QStringLiteral("maxActionsPerHour")
        << QStringLiteral("out of range 0..1000");
    QTest::newRow("protected label value null")
        << QByteArray("protectedLabels:\n  team:\nmode: approve\n") << 2
        << QStringLiteral("protectedLabels.team") << QStringLiteral("expected a string, got nothing");
    QTest::newRow("rate cap null") << QByteArray("maxActionsPerHour:\n") << 1
                                   << QStringLiteral("maxActionsPerHour")
                                   << QStringLiteral("got nothing (null)");
    QTest::newRow("autoApprove outside allowedActions")
        << QByteArray("allowedActions: [create_alert]\nautoApprove: [create_alert, restart_pod]\n") << 2
        << QStringLiteral("autoApprove[1]") << QStringLiteral("restart_pod is not in allowedActions");
    QTest::newRow("autoApprove unknown action")
        << QByteArray("autoApprove: [delete_namespace]\n") << 1 << QStringLiteral("autoApprove[0]")
        << QStringLiteral("is not an action Vigil can take");
    QTest::newRow("retention negative")
        << QByteArray("mode: approve\naudit:\n  retentionDays: -1\n") << 3
        << QStringLiteral("audit.retentionDays") << QStringLiteral("-1 is out of range 0..36500");
    QTest::newRow("retention with a unit")
        << QByteArray("audit:\n  retentionDays: 30d\n") << 2 << QStringLiteral("audit.retentionDays")
        << QStringLiteral("expected an integer, got '30d'");
    QTest::newRow("retention fractional")
        << QByteArray("audit: {retentionDays: 1.5}\n") << 1 << QStringLiteral("audit.retentionDays")
        << QStringLiteral("expected an integer, got '1.5'");
    QTest::newRow("retention quoted")
        << QByteArray("audit:\n  retentionDays: \"30\"\n") << 2 << QStringLiteral("audit.retentionDays")
        << QStringLiteral("expected an integer, got the string '30'");
    QTest::newRow("retention beyond a century")
        << QByteArray("audit:\n  retentionDays: 40000\n") << 2 << QStringLiteral("audit.retentionDays")
        << QStringLiteral("out of range 0..36500");
    QTest::newRow("retention null") << QByteArray("audit:\n  retentionDays:\n") << 2
                                    << QStringLiteral("audit.retentionDays")
                                    << QStringLiteral("got nothing (null)");
    QTest::newRow("audit unknown key")
        << QByteArray("audit:\n  keepDays: 30\n") << 2 << QStringLiteral("audit.keepDays")
        << QStringLiteral("unknown key (expected one of: retentionDays)");
    QTest::newRow("audit as a number")
        << QByteArray("audit: 30\n") << 1 << QStringLiteral("audit") << QStringLiteral("expected a mapping");
    QTest::newRow("alert url with another scheme")
        << QByteArray("alerts:\n  slackWebhookUrl: ftp://hooks.example/T/B\n") << 2
        << QStringLiteral("alerts.slackWebhookUrl") << QStringLiteral("is not an http:// or https:// URL");
    QTest::newRow("alert url without a host")
        << QByteArray("alerts:\n  alertmanagerUrl: \"http://\"\n") << 2
        << QStringLiteral("alerts.alertmanagerUrl") << QStringLiteral("with a host");
    QTest::newRow("alert url with a password is refused")
        << QByteArray("mode: approve\nalerts:\n  webhookUrl: https://bot:s3cret@hooks.example/x\n") << 3
        << QStringLiteral("alerts.webhookUrl")
        << QStringLiteral("'https://hooks.example/x' carries a user name or password");
    QTest::newRow("alert token key is not a setting")
        << QByteArray("alerts:\n  webhookToken: abc\n") << 2 << QStringLiteral("alerts.webhookToken")
        << QStringLiteral("unknown key");
    QTest::newRow("alert url as list")
        << QByteArray("alerts:\n  webhookUrl: [http://a]\n") << 2 << QStringLiteral("alerts.webhookUrl")
        << QStringLiteral("expected a string, got a list");
}

void TestPolicy::invalid()
{
    QFETCH(QByteArray, yaml);
    QFETCH(int, line);
    QFETCH(QString, field);
    QFETCH(QString, phrase);
    const auto p = parsePolicy(yaml, QStringLiteral("test.yaml"));
    QVERIFY2(!p.ok(), yaml.constData());
    const QString prefix = QStringLiteral("test.yaml:%1: field '%2': ").arg(line).arg(field);
    QVERIFY2(p.errorMessage().startsWith(prefix),
             qPrintable(p.errorMessage() + QStringLiteral(" / expected prefix ") + prefix));
    QVERIFY2(p.errorMessage().contains(phrase), qPrintable(p.errorMessage()));
}

void TestPolicy::valid_data()
{
    QTest::addColumn<QByteArray>("yaml");
    QTest::addColumn<QString>("check");

    QTest::newRow("suggest-only") << QByteArray("mode: suggest-only\n")
                                  << QStringLiteral("mode=suggest-only");
    QTest::newRow("auto-within-policy")
        << QByteArray("mode: auto-within-policy\n") << QStringLiteral("mode=auto-within-policy");
    QTest::newRow("narrowed scale bounds")
        << QByteArray("scale: {minReplicas: 3, maxReplicas: 6}\n") << QStringLiteral("scale=3..6");
    QTest::newRow("hard caps themselves")
        << QByteArray("scale: {minReplicas: 1, maxReplicas: 50}\n") << QStringLiteral("scale=1..50");
    QTest::newRow("deny list keeps kube-system")
        << QByteArray("namespaces:\n  deny: [prod-*]\n") << QStringLiteral("deny=kube-system,prod-*");
    QTest::newRow("allow globs") << QByteArray("namespaces:\n  allow: [\"team-?\", dev-*]\n")
                                 << QStringLiteral("allow=team-?,dev-*");
    QTest::newRow("extra protected label merges")
        << QByteArray("protectedLabels:\n  tier: critical\n")
        << QStringLiteral("protected=tier:critical,vigil.dev/protected:true");
    QTest::newRow("per-action confidence")
        << QByteArray("minConfidence:\n  default: 0.5\n  create_alert: 0.1\n")
        << QStringLiteral("confidence=0.5,create_alert:0.1,restart_pod:0.5");
    QTest::newRow("composite duration")
        << QByteArray("cooldown: {perTarget: 1h30m}\n") << QStringLiteral("cooldownMs=5400000");
    QTest::newRow("zero cooldown") << QByteArray("cooldown: {perTarget: \"0\"}\n")
                                   << QStringLiteral("cooldownMs=0");
    QTest::newRow("rate cap zero") << QByteArray("maxActionsPerHour: 0\n") << QStringLiteral("rate=0");
    QTest::newRow("narrowed actions drop their auto approval")
        << QByteArray("allowedActions: [restart_pod]\n") << QStringLiteral("allowed=restart_pod;auto=");
    QTest::newRow("action order is catalog order")
        << QByteArray("allowedActions: [create_alert, restart_pod]\nautoApprove: []\n")
        << QStringLiteral("allowed=restart_pod,create_alert;auto=");
    QTest::newRow("retention days") << QByteArray("audit:\n  retentionDays: 90\n")
                                    << QStringLiteral("retention=90");
    QTest::newRow("retention zero keeps all")
        << QByteArray("audit: {retentionDays: 0}\n") << QStringLiteral("retention=0");
    QTest::newRow("alert destinations")
        << QByteArray("alerts:\n  alertmanagerUrl: http://alertmanager.monitoring:9093\n"
                      "  slackWebhookUrl: https://hooks.example/services/T/B\n"
                      "  webhookUrl: https://ops.example/vigil?team=web\n")
        << QStringLiteral("alerts=http://alertmanager.monitoring:9093 https://hooks.example/services/T/B "
                          "https://ops.example/vigil?team=web");
    QTest::newRow("one alert destination")
        << QByteArray("alerts: {webhookUrl: \"http://127.0.0.1:8080/h\"}\n")
        << QStringLiteral("alerts=- - http://127.0.0.1:8080/h");
}

static QString describe(const Policy &p, const QString &what)
{
    auto actions = [](const QList<ActionKind> &l) {
        QStringList s;
        for (ActionKind k : l)
            s << vigil::actionName(k);
        return s.join(u',');
    };
    if (what == QLatin1String("mode"))
        return policyModeName(p.mode);
    if (what == QLatin1String("scale"))
        return QStringLiteral("%1..%2").arg(p.minReplicas).arg(p.maxReplicas);
    if (what == QLatin1String("deny"))
        return p.namespaceDeny.join(u',');
    if (what == QLatin1String("allow"))
        return p.namespaceAllow.join(u',');
    if (what == QLatin1String("protected")) {
        QStringList s;
        for (auto it = p.protectedLabels.begin(); it != p.protectedLabels.end(); ++it)
            s << it.key() + u':' + it.value();
        return s.join(u',');
    }
    if (what == QLatin1String("confidence"))
        return QString::number(p.defaultMinConfidence) + QStringLiteral(",create_alert:") +
               QString::number(p.minConfidenceFor(ActionKind::CreateAlert)) +
               QStringLiteral(",restart_pod:") + QString::number(p.minConfidenceFor(ActionKind::RestartPod));
    if (what == QLatin1String("cooldownMs"))
        return QString::number(p.cooldownPerTargetMs);
    if (what == QLatin1String("rate"))
        return QString::number(p.maxActionsPerHour);
    if (what == QLatin1String("allowed"))
        return actions(p.allowedActions) + QStringLiteral(";auto=") + actions(p.autoApprove);
    if (what == QLatin1String("retention"))
        return QString::number(p.auditRetentionDays);
    if (what == QLatin1String("alerts")) {
        auto url = [](const QUrl &u) { return u.isEmpty() ? QStringLiteral("-") : u.toString(); };
        return url(p.alerts.alertmanagerUrl) + u' ' + url(p.alerts.slackWebhookUrl) + u' ' +
               url(p.alerts.webhookUrl);
    }
    return QString();
}

void TestPolicy::valid()
{
    QFETCH(QByteArray, yaml);
    QFETCH(QString, check);
    const auto p = parsePolicy(yaml, QStringLiteral("test.yaml"));
    QVERIFY2(p.ok(), qPrintable(p.errorMessage()));
    const QString what = check.section(u'=', 0, 0);
    const QString expected = check.section(u'=', 1);
    QCOMPARE(describe(*p, what), expected);
}

void TestPolicy::defaultsWhenOmitted()
{
    const auto p = parsePolicy(QByteArray("mode: approve\n"), QStringLiteral("test.yaml"));
    QVERIFY(p.ok());
    QCOMPARE(*p, Policy{});
    const Policy d;
    QCOMPARE(d.minReplicas, 2);
    QCOMPARE(d.maxReplicas, 20);
    QCOMPARE(d.maxActionsPerHour, 10);
    QCOMPARE(d.auditRetentionDays, 0); // an audit log keeps everything unless told otherwise
    QVERIFY(d.alerts.alertmanagerUrl.isEmpty() && d.alerts.slackWebhookUrl.isEmpty() &&
            d.alerts.webhookUrl.isEmpty());
    QCOMPARE(d.cooldownPerTargetMs, qint64(600000));
    QCOMPARE(d.defaultMinConfidence, 0.6);
    QCOMPARE(d.minConfidenceFor(ActionKind::RestartPod), 0.7);
    QCOMPARE(d.minConfidenceFor(ActionKind::CreateAlert), 0.6);
    QVERIFY(d.namespaceDeny.contains(QStringLiteral("kube-system")));
    QCOMPARE(d.protectedLabels.value(QStringLiteral("vigil.dev/protected")), QStringLiteral("true"));
    QVERIFY(d.autoApproves(ActionKind::CreateAlert));
    QVERIFY(!d.autoApproves(ActionKind::RestartPod));
    QVERIFY(d.allows(ActionKind::None));
    QVERIFY(!parsePolicy(QByteArray(), QStringLiteral("test.yaml")).ok());
    QCOMPARE(parsePolicy(QByteArray("mode: approve\n---\nmode: approve\n"), QStringLiteral("t.yaml"))
                 .errorMessage(),
             QStringLiteral("t.yaml:2: policy must be a single YAML document"));
}

void TestPolicy::resourceFileEqualsBuiltIn()
{
    const QString path =
        qEnvironmentVariable("VIGIL_SOURCE_DIR") + QStringLiteral("/resources/policy/default-policy.yaml");
    QFile f(path);
    QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(path));
    const QByteArray onDisk = f.readAll();
    QCOMPARE(onDisk, defaultPolicyYaml());
    const auto parsed = loadPolicyFile(path);
    QVERIFY2(parsed.ok(), qPrintable(parsed.errorMessage()));
    QCOMPARE(*parsed, defaultPolicy());
    QCOMPARE(defaultPolicy(), Policy{});
}

void TestPolicy::depthAndSizeCaps_data()
{
    QTest::addColumn<QByteArray>("yaml");
    QTest::addColumn<QString>("phrase");
    QTest::newRow("deep flow nesting")
        << (QByteArray("mode: ") + QByteArray(5000, '[') + QByteArray(5000, ']')) << QStringLiteral("nests");
    QTest::newRow("deep block sequences")
        << (QByteArray("allowedActions:\n") + QByteArray("- ").repeated(100) + "x\n")
        << QStringLiteral("nests");
    QByteArray indented("a:\n");
    for (int i = 1; i < 80; ++i)
        indented += QByteArray(i, ' ') + "b:\n";
    QTest::newRow("deep block mappings") << indented << QStringLiteral("nests");
    QTest::newRow("oversized") << (QByteArray("# ") + QByteArray(kMaxPolicyBytes, 'x'))
                               << QStringLiteral("bytes");
    QTest::newRow("NUL byte") << QByteArray("mode: approve\0\n", 15) << QStringLiteral("NUL");
    QTest::newRow("syntax error names the line")
        << QByteArray("mode: approve\nscale: {minReplicas: 2\n") << QStringLiteral("invalid YAML");
    // Found by tests/fuzz/fuzz_policy: yaml-cpp's LoadAll loops forever on these.
    QTest::newRow("document starting with a comma")
        << QByteArray(", :Nt") << QStringLiteral("deep.yaml:1: invalid YAML");
    QTest::newRow("second document starting with a comma")
        << QByteArray("mode: approve\n---\n# c\n  ,x\n")
        << QStringLiteral("deep.yaml:2: policy must be a single");
    QTest::newRow("tag with a comma, then an alias")
        << QByteArray("!ao,pprove*coold\xf4") << QStringLiteral("deep.yaml:1: invalid YAML");
    QTest::newRow("short tag with a comma, then an alias")
        << QByteArray("!a,b*c") << QStringLiteral("invalid YAML");
    QTest::newRow("comma line after a plain scalar")
        << QByteArray("sca\n\x92\n\n# Rep,i1\n,i1\n") << QStringLiteral("deep.yaml:5: invalid YAML");
}

void TestPolicy::depthAndSizeCaps()
{
    QFETCH(QByteArray, yaml);
    QFETCH(QString, phrase);
    const auto p = parsePolicy(yaml, QStringLiteral("deep.yaml"));
    QVERIFY(!p.ok());
    QVERIFY2(p.errorMessage().startsWith(QStringLiteral("deep.yaml")), qPrintable(p.errorMessage()));
    QVERIFY2(p.errorMessage().contains(phrase), qPrintable(p.errorMessage()));
}

void TestPolicy::loadFileNamesPath()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("p.yaml"));
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("mode: approve\nscale:\n  maxReplicas: 99\n");
    f.close();
    const auto p = loadPolicyFile(path);
    QCOMPARE(p.errorMessage(),
             path + QStringLiteral(":3: field 'scale.maxReplicas': 99 is out of range 1..50"));
    const auto missing = loadPolicyFile(dir.filePath(QStringLiteral("absent.yaml")));
    QVERIFY(missing.errorMessage().startsWith(dir.filePath(QStringLiteral("absent.yaml"))));
}

void TestPolicy::namespaceRules_data()
{
    QTest::addColumn<QByteArray>("yaml");
    QTest::addColumn<QString>("ns");
    QTest::addColumn<bool>("allowed");
    QTest::newRow("default allows app ns") << QByteArray("mode: approve\n") << QStringLiteral("shop") << true;
    QTest::newRow("default denies kube-system")
        << QByteArray("mode: approve\n") << QStringLiteral("kube-system") << false;
    QTest::newRow("star allow still denies kube-system")
        << QByteArray("namespaces: {allow: [\"*\"], deny: []}\n") << QStringLiteral("kube-system") << false;
    QTest::newRow("allow list excludes others")
        << QByteArray("namespaces: {allow: [team-*]}\n") << QStringLiteral("shop") << false;
    QTest::newRow("allow glob matches")
        << QByteArray("namespaces: {allow: [team-*]}\n") << QStringLiteral("team-a") << true;
    QTest::newRow("deny wins over allow")
        << QByteArray("namespaces: {allow: [team-*], deny: [team-b]}\n") << QStringLiteral("team-b") << false;
    QTest::newRow("question mark is one char")
        << QByteArray("namespaces: {allow: [\"ns?\"]}\n") << QStringLiteral("ns12") << false;
}

void TestPolicy::namespaceRules()
{
    QFETCH(QByteArray, yaml);
    QFETCH(QString, ns);
    QFETCH(bool, allowed);
    const auto p = parsePolicy(yaml, QStringLiteral("t.yaml"));
    QVERIFY2(p.ok(), qPrintable(p.errorMessage()));
    QCOMPARE(p->namespaceAllowed(ns), allowed);
}

QTEST_GUILESS_MAIN(TestPolicy)
#include "tst_policy.moc"
