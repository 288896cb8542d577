#include "core/kube/config/execallowlistfile.h"

#include "core/cli/kubeoptions.h"

#include <QDir>
#include <QFile>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace vigil;

class TestExecAllowlistFile final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void load_data();
    void load();
    void roundTrip();
    void saveRefusesLinesThatWouldSplit();
    void errorsNameTheFile();
    void vigilctlReadsTheSharedFile();

private:
    QTemporaryDir m_dir;
};

void TestExecAllowlistFile::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
}

void TestExecAllowlistFile::load_data()
{
    QTest::addColumn<QByteArray>("text"); // null: no file
    QTest::addColumn<QStringList>("allowed");

    QTest::newRow("no file: nothing allowed") << QByteArray() << QStringList{};
    QTest::newRow("one command line a line")
        << QByteArray("aws eks get-token --cluster-name prod\ngke-gcloud-auth-plugin\n")
        << QStringList{"aws eks get-token --cluster-name prod", "gke-gcloud-auth-plugin"};
    QTest::newRow("comments and blank lines skipped, spaces trimmed")
        << QByteArray("# mine\n\n   kubelogin get-token  \r\n#kubectl oidc-login\n")
        << QStringList{"kubelogin get-token"};
    QTest::newRow("quoted arguments kept as written") << QByteArray("'/opt/my tools/auth' --profile 'a b'\n")
                                                      << QStringList{"'/opt/my tools/auth' --profile 'a b'"};
}

void TestExecAllowlistFile::load()
{
    QFETCH(QByteArray, text);
    QFETCH(QStringList, allowed);
    const QString path = m_dir.filePath(QString("load-%1").arg(QTest::currentDataTag()).replace(' ', '_'));
    if (!text.isNull()) {
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(text);
    }
    Result<kube::ExecAllowlist> list = kube::loadExecAllowlistFile(path);
    QVERIFY2(list.ok(), qPrintable(list.errorMessage()));
    QCOMPARE(list->commandLines.size(), allowed.size());
    for (const QString &line : allowed)
        QVERIFY2(list->allows(line), qPrintable(line));
}

void TestExecAllowlistFile::roundTrip()
{
    const QString path = m_dir.filePath("nested/folder/exec-allowlist");
    kube::ExecAllowlist allow;
    allow.allow(kube::ExecAllowlist::commandLine("/usr/bin/aws",
                                                 {"eks", "get-token", "--cluster-name", "my cluster"}));
    allow.allow("gke-gcloud-auth-plugin");
    QVERIFY(kube::saveExecAllowlistFile(path, allow).ok());
    QFile f(path);
    QCOMPARE(f.permissions() & (QFileDevice::ReadGroup | QFileDevice::ReadOther), QFileDevice::Permissions());
    Result<kube::ExecAllowlist> back = kube::loadExecAllowlistFile(path);
    QVERIFY(back.ok());
    QCOMPARE(back->commandLines, allow.commandLines);
    // Saving an emptied list leaves nothing allowed.
    QVERIFY(kube::saveExecAllowlistFile(path, {}).ok());
    QVERIFY(kube::loadExecAllowlistFile(path)->commandLines.isEmpty());
}

void TestExecAllowlistFile::saveRefusesLinesThatWouldSplit()
{
    // A command line with a newline would come back as two allowed commands.
    const QString path = m_dir.filePath("split");
    kube::ExecAllowlist allow;
    allow.allow("good-plugin");
    allow.allow("evil\nrm -rf /");
    QVERIFY(kube::saveExecAllowlistFile(path, allow).ok());
    Result<kube::ExecAllowlist> back = kube::loadExecAllowlistFile(path);
    QCOMPARE(back->commandLines, QSet<QString>{"good-plugin"});
}

void TestExecAllowlistFile::errorsNameTheFile()
{
    const QString dirAsFile = m_dir.filePath("a-directory");
    QVERIFY(QDir().mkpath(dirAsFile));
    Result<kube::ExecAllowlist> list = kube::loadExecAllowlistFile(dirAsFile);
    QVERIFY(!list.ok());
    QVERIFY2(list.errorMessage().contains(dirAsFile), qPrintable(list.errorMessage()));
    Result<void> blocked = kube::saveExecAllowlistFile(dirAsFile, {});
    QVERIFY(!blocked.ok());
    QVERIFY2(blocked.errorMessage().contains(dirAsFile), qPrintable(blocked.errorMessage()));
}

void TestExecAllowlistFile::vigilctlReadsTheSharedFile()
{
    const QString path = kube::defaultExecAllowlistPath();
    QVERIFY2(path.endsWith("/vigil/exec-allowlist"), qPrintable(path));
    kube::ExecAllowlist allow;
    allow.allow("saved-by-the-desktop --flag");
    QVERIFY(kube::saveExecAllowlistFile(path, allow).ok());
    QProcessEnvironment env;
    env.insert("HOME", m_dir.path());
    env.insert("VIGIL_ALLOW_EXEC", "from-the-environment");
    cli::KubeFlags flags;
    flags.allowExec = {"from-a-flag"};
    const kube::LoadOptions o = cli::loadOptions(flags, env);
    QVERIFY(o.allowExec.allows("saved-by-the-desktop --flag"));
    QVERIFY(o.allowExec.allows("from-the-environment"));
    QVERIFY(o.allowExec.allows("from-a-flag"));

    // A file vigilctl cannot read is an error naming it, not a silently shorter list.
    QVERIFY(QFile::remove(path));
    QVERIFY(QDir().mkpath(path));
    flags.kubeconfig = m_dir.filePath("absent-kubeconfig");
    Result<cli::ResolvedKube> r = cli::resolveKube(flags, env);
    QVERIFY(!r.ok());
    QVERIFY2(r.errorMessage().contains(path), qPrintable(r.errorMessage()));
    QVERIFY(QDir(path).removeRecursively());
}

QTEST_GUILESS_MAIN(TestExecAllowlistFile)
#include "tst_execallowlistfile.moc"
