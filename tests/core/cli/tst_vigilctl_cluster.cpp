#include "core/cli/cli.h"

#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <QTextStream>

#include <nlohmann/json.hpp>

// vigilctl doctor and get against the real local cluster, compared with its own kubectl.
class TestVigilctlCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void doctorOnline();
    void getMatchesKubectl_data();
    void getMatchesKubectl();
    void unreachableServer();

private:
    int run(QStringList args, QString *out, QString *err = nullptr);
    QString m_kubeconfig;
};

int TestVigilctlCluster::run(QStringList args, QString *outText, QString *errText)
{
    QString e;
    QTextStream out(outText), err(errText ? errText : &e);
    args.prepend(QStringLiteral("vigilctl"));
    args << QStringLiteral("--kubeconfig") << m_kubeconfig;
    const int code = vigil::cli::run(args, out, err);
    out.flush();
    err.flush();
    return code;
}

void TestVigilctlCluster::initTestCase()
{
    QFile f(qEnvironmentVariable("VIGIL_TEST_CLUSTER_FILE"));
    QVERIFY2(f.open(QIODevice::ReadOnly),
             "VIGIL_TEST_CLUSTER_FILE must name the file with the kubeconfig path");
    m_kubeconfig = QString::fromUtf8(f.readAll()).trimmed();
    QVERIFY(QFile::exists(m_kubeconfig));
}

void TestVigilctlCluster::doctorOnline()
{
    QString out;
    QCOMPARE(run({"doctor", "-o", "json"}, &out), 0);
    const nlohmann::json r = nlohmann::json::parse(out.toStdString());
    QCOMPARE(r["auth"].get<std::string>(), std::string("client-certificate"));
    QVERIFY(r["reachable"] == true);
    QVERIFY(r["serverVersion"].get<std::string>().starts_with("v1."));
    QVERIFY(r["insecure"] == false);
    QVERIFY(r["error"].is_null());
    QVERIFY(r["permissions"].size() >= 4);
    for (const auto &p : r["permissions"])
        QVERIFY2(p["allowed"] == true, p.dump().c_str()); // the admin certificate may do everything
}

void TestVigilctlCluster::getMatchesKubectl_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::newRow("nodes") << QStringList{"get", "nodes", "-o", "name"};
    QTest::newRow("pods in all namespaces") << QStringList{"get", "pods", "-A", "-o", "name"};
    QTest::newRow("pods in kube-system") << QStringList{"get", "pods", "-n", "kube-system", "-o", "name"};
}

void TestVigilctlCluster::getMatchesKubectl()
{
    QFETCH(QStringList, args);
    QString ours;
    QCOMPARE(run(args, &ours), 0);
    QProcess kubectl;
    const QString kubectlPath =
        QString::fromUtf8(qgetenv("HOME")) + QStringLiteral("/.cache/vigil/k8s-v1.35.4/bin/kubectl");
    QStringList kargs = args;
    kargs << QStringLiteral("--kubeconfig") << m_kubeconfig;
    kubectl.start(QFile::exists(kubectlPath) ? kubectlPath : QStringLiteral("kubectl"), kargs);
    QVERIFY(kubectl.waitForFinished(30000));
    QCOMPARE(kubectl.exitCode(), 0);
    QStringList theirs = QString::fromUtf8(kubectl.readAllStandardOutput()).split(u'\n', Qt::SkipEmptyParts);
    QStringList mine = ours.split(u'\n', Qt::SkipEmptyParts);
    theirs.sort();
    mine.sort();
    QCOMPARE(mine, theirs);
    if (args.contains(QStringLiteral("nodes")))
        QVERIFY(mine.size() >= 3);
}

void TestVigilctlCluster::unreachableServer()
{
    // A kubeconfig whose server is a closed local port: a clear error, a non-zero exit, no hang.
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("dead.yaml"));
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(
        "current-context: a\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
        "users:\n- name: u\n  user: {token: t}\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n");
    f.close();
    QString out, err;
    QTextStream o(&out), e(&err);
    QCOMPARE(vigil::cli::run({"vigilctl", "doctor", "--kubeconfig", path}, o, e), 1);
    e.flush();
    QVERIFY2(err.contains(QStringLiteral("cannot reach https://127.0.0.1:1")), qPrintable(err));
}

QTEST_GUILESS_MAIN(TestVigilctlCluster)
#include "tst_vigilctl_cluster.moc"
