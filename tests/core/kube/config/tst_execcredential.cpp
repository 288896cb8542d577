#include "core/kube/config/execcredential.h"

#include "core/kube/config/kubeconfig.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace vigil::kube;

namespace {

// Prints an ExecCredential; behaviour chosen by the env the kubeconfig sets.
// Every run appends a line to $MARKER, so tests can count (or rule out) runs.
const char kPlugin[] =
    "#!/bin/sh\n"
    "[ -n \"$MARKER\" ] && echo run >> \"$MARKER\"\n"
    "n=$(cat \"$MARKER\" 2>/dev/null | wc -l | tr -d ' ')\n"
    "[ -n \"$INFO_OUT\" ] && printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$INFO_OUT\"\n"
    "api=${API:-client.authentication.k8s.io/v1beta1}\n"
    "exp=\"\"\n"
    "[ -n \"$EXPIRY\" ] && exp=\",\\\"expirationTimestamp\\\":\\\"$EXPIRY\\\"\"\n"
    "case \"$MODE\" in\n"
    "  fail) echo \"boom: credentials expired for $1\" >&2; exit 3;;\n"
    "  sleep) exec sleep 30;;\n"
    "  garbage) echo \"not json\"; exit 0;;\n"
    "  wrongapi) api=client.authentication.k8s.io/v1alpha1;;\n"
    "  empty) printf '{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\",\"status\":{}}' \"$api\"; exit 0;;\n"
    "  cert) c=$(awk '{printf \"%s\\\\n\", $0}' \"$CERT\"); k=$(awk '{printf \"%s\\\\n\", $0}' \"$KEY\")\n"
    "        printf "
    "'{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\",\"status\":{\"clientCertificateData\":\"%s\","
    "\"clientKeyData\":\"%s\"%s}}' \"$api\" \"$c\" \"$k\" \"$exp\"\n"
    "        exit 0;;\n"
    "esac\n"
    "printf '{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok-%s\"%s}}' "
    "\"$api\" \"$n\" \"$exp\"\n";

int lineCount(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    return int(f.readAll().count('\n'));
}

} // namespace

class TestExecCredential final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void run_data();
    void run();
    void invalidateReruns();
    void execInfoCarriesClusterWhenAsked();
    void lookup_data();
    void lookup();
    void consentFlowThroughKubeConfig();

private:
    ExecConfig baseConfig(const QString &mode, const QString &marker) const;

    QTemporaryDir m_dir;
    QString m_script;
};

void TestExecCredential::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_script = m_dir.filePath(QStringLiteral("plugin.sh"));
    QFile f(m_script);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(kPlugin);
    f.close();
    QVERIFY(f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));
    QProcess p;
    p.setWorkingDirectory(m_dir.path());
    p.start(QStringLiteral("openssl"),
            {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"), QStringLiteral("ec"),
             QStringLiteral("-pkeyopt"), QStringLiteral("ec_paramgen_curve:prime256v1"),
             QStringLiteral("-nodes"), QStringLiteral("-keyout"), QStringLiteral("u.key"),
             QStringLiteral("-out"), QStringLiteral("u.crt"), QStringLiteral("-subj"),
             QStringLiteral("/CN=exec-user"), QStringLiteral("-days"), QStringLiteral("1")});
    QVERIFY(p.waitForFinished(60000));
    QCOMPARE(p.exitCode(), 0);
}

ExecConfig TestExecCredential::baseConfig(const QString &mode, const QString &marker) const
{
    ExecConfig c;
    c.command = m_script;
    c.args = {QStringLiteral("--cluster"), QStringLiteral("two words")};
    c.env = {{QStringLiteral("MODE"), mode},
             {QStringLiteral("MARKER"), marker},
             {QStringLiteral("CERT"), m_dir.filePath(QStringLiteral("u.crt"))},
             {QStringLiteral("KEY"), m_dir.filePath(QStringLiteral("u.key"))}};
    c.apiVersion = QStringLiteral("client.authentication.k8s.io/v1beta1");
    c.sourceFile = m_dir.filePath(QStringLiteral("config"));
    c.userName = QStringLiteral("u1");
    c.homeDir = m_dir.path();
    return c;
}

void TestExecCredential::run_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<QString>("apiVersion");
    QTest::addColumn<int>("expirySecs"); // 0 = no expirationTimestamp
    QTest::addColumn<QString>("interactiveMode");
    QTest::addColumn<bool>("allow");
    QTest::addColumn<int>("timeoutMs");
    QTest::addColumn<QStringList>("expectError"); // substrings; empty = success
    QTest::addColumn<int>("expectCode");
    QTest::addColumn<int>("runsAfterTwoCalls");
    QTest::addColumn<QString>("expectToken");

    const QString beta = QStringLiteral("client.authentication.k8s.io/v1beta1");
    const QString v1 = QStringLiteral("client.authentication.k8s.io/v1");
    const QString never = QStringLiteral("Never");
    const QString ifAvail = QStringLiteral("IfAvailable");
    QTest::newRow("not run without consent; message shows the command line")
        << QStringLiteral("token") << beta << 0 << ifAvail << false << 5000
        << QStringList{QStringLiteral("needs your permission"),
                       QStringLiteral("/plugin.sh --cluster 'two words'"), QStringLiteral("--allow-exec"),
                       QStringLiteral("user \"u1\"")}
        << kExecConsentRequired << 0 << QString();
    QTest::newRow("v1beta1 token cached without expiry")
        << QStringLiteral("token") << beta << 0 << ifAvail << true << 5000 << QStringList() << 0 << 1
        << QStringLiteral("tok-1");
    QTest::newRow("v1 token") << QStringLiteral("token") << v1 << 0 << never << true << 5000 << QStringList()
                              << 0 << 1 << QStringLiteral("tok-1");
    QTest::newRow("cached until a future expiry")
        << QStringLiteral("token") << beta << 3600 << ifAvail << true << 5000 << QStringList() << 0 << 1
        << QStringLiteral("tok-1");
    QTest::newRow("expired credential runs again")
        << QStringLiteral("token") << v1 << -10 << never << true << 5000 << QStringList() << 0 << 2
        << QStringLiteral("tok-1");
    QTest::newRow("client certificate returned") << QStringLiteral("cert") << beta << 0 << ifAvail << true
                                                 << 5000 << QStringList() << 0 << 1 << QString();
    QTest::newRow("exit code and stderr surfaced")
        << QStringLiteral("fail") << beta << 0 << ifAvail << true << 5000
        << QStringList{QStringLiteral("exit code 3"),
                       QStringLiteral("boom: credentials expired for --cluster"),
                       QStringLiteral("config: user \"u1\"")}
        << 0 << 2 << QString();
    QTest::newRow("timeout kills the plugin")
        << QStringLiteral("sleep") << beta << 0 << ifAvail << true << 700
        << QStringList{QStringLiteral("timed out after 700 ms")} << 0 << 2 << QString();
    QTest::newRow("plugin answers another apiVersion")
        << QStringLiteral("wrongapi") << beta << 0 << ifAvail << true << 5000
        << QStringList{QStringLiteral("returned \"client.authentication.k8s.io/v1alpha1\"")} << 0 << 2
        << QString();
    QTest::newRow("output is not JSON")
        << QStringLiteral("garbage") << beta << 0 << ifAvail << true << 5000
        << QStringList{QStringLiteral("did not print an ExecCredential")} << 0 << 2 << QString();
    QTest::newRow("status without credentials")
        << QStringLiteral("empty") << beta << 0 << ifAvail << true << 5000
        << QStringList{QStringLiteral("status")} << 0 << 2 << QString();
    QTest::newRow("interactiveMode Always refused before running")
        << QStringLiteral("token") << v1 << 0 << QStringLiteral("Always") << true << 5000
        << QStringList{QStringLiteral("no terminal")} << 0 << 0 << QString();
}

void TestExecCredential::run()
{
    QFETCH(QString, mode);
    QFETCH(QString, apiVersion);
    QFETCH(int, expirySecs);
    QFETCH(QString, interactiveMode);
    QFETCH(bool, allow);
    QFETCH(int, timeoutMs);
    QFETCH(QStringList, expectError);
    QFETCH(int, expectCode);
    QFETCH(int, runsAfterTwoCalls);
    QFETCH(QString, expectToken);

    QTemporaryDir work;
    const QString marker = work.filePath(QStringLiteral("marker"));
    ExecConfig config = baseConfig(mode, marker);
    config.apiVersion = apiVersion;
    config.interactiveMode = interactiveMode;
    config.timeoutMs = timeoutMs;
    config.env.append({QStringLiteral("API"), apiVersion});
    if (expirySecs != 0)
        config.env.append({QStringLiteral("EXPIRY"),
                           QDateTime::currentDateTimeUtc().addSecs(expirySecs).toString(Qt::ISODate)});
    ExecAllowlist allowlist;
    if (allow)
        allowlist.allow(ExecAllowlist::commandLine(m_script, config.args));
    ExecCredentialSource source(config, allowlist);
    QCOMPARE(source.method(), QStringLiteral("exec"));

    QElapsedTimer clock;
    clock.start();
    const auto first = source.credentials();
    const auto second = source.credentials();
    QVERIFY(clock.elapsed() < 10000);
    QCOMPARE(lineCount(marker), runsAfterTwoCalls);
    QCOMPARE(source.runCount(), runsAfterTwoCalls);
    if (runsAfterTwoCalls == 0)
        QVERIFY(!QFile::exists(marker));

    if (!expectError.isEmpty()) {
        QVERIFY(!first.ok());
        for (const QString &part : expectError)
            QVERIFY2(first.errorMessage().contains(part), qPrintable(first.errorMessage()));
        QCOMPARE(first.error().code, expectCode);
        return;
    }
    QVERIFY2(first.ok(), qPrintable(first.errorMessage()));
    QVERIFY(second.ok());
    if (mode == QLatin1String("cert")) {
        QVERIFY(!first->clientCertificate.isNull());
        QCOMPARE(first->clientCertificate.subjectInfo(QSslCertificate::CommonName),
                 QStringList{QStringLiteral("exec-user")});
        QCOMPARE(first->clientKey.algorithm(), QSsl::Ec);
        QVERIFY(first->bearerToken.isEmpty());
    } else {
        QCOMPARE(first->bearerToken, expectToken);
        QCOMPARE(second->bearerToken, runsAfterTwoCalls == 2 ? QStringLiteral("tok-2") : expectToken);
    }
}

void TestExecCredential::invalidateReruns()
{
    QTemporaryDir work;
    const QString marker = work.filePath(QStringLiteral("marker"));
    ExecConfig config = baseConfig(QStringLiteral("token"), marker);
    config.env.append(
        {QStringLiteral("EXPIRY"), QDateTime::currentDateTimeUtc().addSecs(3600).toString(Qt::ISODate)});
    ExecAllowlist allowlist;
    allowlist.allow(ExecAllowlist::commandLine(m_script, config.args));
    ExecCredentialSource source(config, allowlist);
    QCOMPARE(source.credentials()->bearerToken, QStringLiteral("tok-1"));
    QCOMPARE(source.credentials()->bearerToken, QStringLiteral("tok-1"));
    source.invalidate();
    QCOMPARE(source.credentials()->bearerToken, QStringLiteral("tok-2"));
    QCOMPARE(lineCount(marker), 2);
}

void TestExecCredential::execInfoCarriesClusterWhenAsked()
{
    QTemporaryDir work;
    ExecConfig config = baseConfig(QStringLiteral("token"), work.filePath(QStringLiteral("marker")));
    const QString infoFile = work.filePath(QStringLiteral("info.json"));
    config.env.append({QStringLiteral("INFO_OUT"), infoFile});
    config.env.append({QStringLiteral("PATH"), QStringLiteral("/usr/bin:/bin")}); // kubeconfig env overrides
    config.provideClusterInfo = true;
    config.clusterInfoJson = R"({"server":"https://k1:6443","tls-server-name":"api"})";
    ExecAllowlist allowlist;
    allowlist.allow(ExecAllowlist::commandLine(m_script, config.args));
    ExecCredentialSource source(config, allowlist);
    QVERIFY(source.credentials().ok());
    QFile f(infoFile);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QJsonObject info = QJsonDocument::fromJson(f.readAll()).object();
    QCOMPARE(info.value(QStringLiteral("kind")).toString(), QStringLiteral("ExecCredential"));
    QCOMPARE(info.value(QStringLiteral("apiVersion")).toString(), config.apiVersion);
    const QJsonObject spec = info.value(QStringLiteral("spec")).toObject();
    QCOMPARE(spec.value(QStringLiteral("interactive")).toBool(true), false);
    QCOMPARE(spec.value(QStringLiteral("cluster")).toObject().value(QStringLiteral("server")).toString(),
             QStringLiteral("https://k1:6443"));
}

void TestExecCredential::lookup_data()
{
    QTest::addColumn<QString>("command");
    QTest::addColumn<QString>("installIn"); // relative to the temp home; empty = nowhere
    QTest::addColumn<bool>("onPath");
    QTest::addColumn<QString>("expectFound"); // relative to home; empty = error
    QTest::addColumn<QStringList>("expectLooked");

    QTest::newRow("bare name on PATH") << QStringLiteral("kplug") << QStringLiteral("pathbin") << true
                                       << QStringLiteral("pathbin/kplug") << QStringList();
    QTest::newRow("bare name in ~/bin though PATH lacks it")
        << QStringLiteral("kplug") << QStringLiteral("bin") << false << QStringLiteral("bin/kplug")
        << QStringList();
    QTest::newRow("bare name in ~/go/bin") << QStringLiteral("kplug") << QStringLiteral("go/bin") << false
                                           << QStringLiteral("go/bin/kplug") << QStringList();
    QTest::newRow("relative with slash from kubeconfig dir")
        << QStringLiteral("tools/kplug") << QStringLiteral("kc/tools") << false
        << QStringLiteral("kc/tools/kplug") << QStringList();
    QTest::newRow("not found lists where it looked")
        << QStringLiteral("kplug-missing") << QString() << true << QString()
        << QStringList{QStringLiteral("pathbin"),
                       QStringLiteral("/usr/local/bin"),
                       QStringLiteral("/.local/bin"),
                       QStringLiteral("/go/bin"),
                       QStringLiteral("/snap/bin"),
                       QStringLiteral("google-cloud-sdk/bin"),
                       QStringLiteral("\"kplug-missing\" was not found")};
}

void TestExecCredential::lookup()
{
    QFETCH(QString, command);
    QFETCH(QString, installIn);
    QFETCH(bool, onPath);
    QFETCH(QString, expectFound);
    QFETCH(QStringList, expectLooked);

    QTemporaryDir home;
    const QString h = home.path();
    if (!installIn.isEmpty()) {
        QVERIFY(QDir().mkpath(QDir(h).filePath(installIn)));
        const QString target = QDir(h).filePath(installIn + QStringLiteral("/kplug"));
        QVERIFY(QFile::copy(m_script, target));
        QVERIFY(QFile::setPermissions(target, QFile::ReadOwner | QFile::ExeOwner));
    }
    const QString pathEnv =
        onPath ? QDir(h).filePath(QStringLiteral("pathbin")) + QStringLiteral(":/nonexistent")
               : QStringLiteral("/nonexistent");
    const auto found =
        ExecCredentialSource::findProgram(command, QDir(h).filePath(QStringLiteral("kc")), h, pathEnv);
    if (expectFound.isEmpty()) {
        QVERIFY(!found.ok());
        for (const QString &part : expectLooked)
            QVERIFY2(found.errorMessage().contains(part), qPrintable(found.errorMessage()));
        return;
    }
    QVERIFY2(found.ok(), qPrintable(found.errorMessage()));
    QCOMPARE(*found, QDir(h).filePath(expectFound));
}

void TestExecCredential::consentFlowThroughKubeConfig()
{
    QTemporaryDir work;
    const QString marker = work.filePath(QStringLiteral("marker"));
    QVERIFY(QFile::copy(m_script, work.filePath(QStringLiteral("plugin"))));
    QVERIFY(
        QFile::setPermissions(work.filePath(QStringLiteral("plugin")), QFile::ReadOwner | QFile::ExeOwner));
    QFile f(work.filePath(QStringLiteral("config")));
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(
        QStringLiteral(
            "current-context: c\nclusters:\n- name: k\n  cluster: {server: 'https://k:1'}\n"
            "users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
            "      interactiveMode: Never\n      command: ./plugin\n      args: [get-token]\n"
            "      env: [{name: MARKER, value: '%1'}, {name: API, value: client.authentication.k8s.io/v1}]\n"
            "contexts:\n- name: c\n  context: {cluster: k, user: u}\n")
            .arg(marker)
            .toUtf8());
    f.close();

    LoadOptions opts;
    opts.explicitPath = f.fileName();
    auto config = KubeConfig::load(opts);
    QVERIFY2(config.ok(), qPrintable(config.errorMessage()));
    auto conn = config->resolve();
    QVERIFY2(conn.ok(), qPrintable(conn.errorMessage()));
    const auto denied = conn->credentials->credentials();
    QVERIFY(!denied.ok());
    QCOMPARE(denied.error().code, kExecConsentRequired);
    QVERIFY(!QFile::exists(marker));

    const QString line = work.filePath(QStringLiteral("plugin")) + QStringLiteral(" get-token");
    QVERIFY2(denied.errorMessage().contains(line), qPrintable(denied.errorMessage()));
    const auto *exec = dynamic_cast<ExecCredentialSource *>(conn->credentials.get());
    QVERIFY(exec);
    QCOMPARE(*exec->commandLine(), line);

    opts.allowExec.allow(line);
    config = KubeConfig::load(opts);
    conn = config->resolve();
    const auto allowed = conn->credentials->credentials();
    QVERIFY2(allowed.ok(), qPrintable(allowed.errorMessage()));
    QCOMPARE(allowed->bearerToken, QStringLiteral("tok-1"));
    QCOMPARE(lineCount(marker), 1);
}

QTEST_GUILESS_MAIN(TestExecCredential)
#include "tst_execcredential.moc"
