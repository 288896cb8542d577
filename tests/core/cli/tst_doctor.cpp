#include "core/cli/cli.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>
#include <QTextStream>

#include <nlohmann/json.hpp>

// `vigilctl doctor --offline`: what a person sees about a kubeconfig before any network.
class TestDoctor final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void offline_data();
    void offline();
};

void TestDoctor::offline_data()
{
    QTest::addColumn<QByteArray>("kubeconfig");
    QTest::addColumn<QStringList>("extraArgs");
    QTest::addColumn<int>("exitCode");
    QTest::addColumn<QString>("field");    // JSON field to check
    QTest::addColumn<QString>("expected"); // substring expected in that field

    const QByteArray good =
        "apiVersion: v1\nkind: Config\ncurrent-context: a\n"
        "clusters:\n- name: c1\n  cluster:\n    server: https://127.0.0.1:6443\n"
        "- name: c2\n  cluster:\n    server: https://10.0.0.1:6443\n    insecure-skip-tls-verify: true\n"
        "users:\n- name: u1\n  user:\n    token: abc\n"
        "contexts:\n- name: a\n  context: {cluster: c1, user: u1, namespace: shop}\n"
        "- name: b\n  context: {cluster: c2, user: u1}\n";
    QTest::newRow("current context") << good << QStringList{} << 0 << "context"
                                     << "a";
    QTest::newRow("namespace from context") << good << QStringList{} << 0 << "namespace"
                                            << "shop";
    QTest::newRow("token auth") << good << QStringList{} << 0 << "auth"
                                << "token";
    QTest::newRow("context override") << good << QStringList{"--context", "b"} << 0 << "server"
                                      << "10.0.0.1";
    QTest::newRow("namespace defaults") << good << QStringList{"--context", "b"} << 0 << "namespace"
                                        << "default";
    QTest::newRow("insecure is flagged") << good << QStringList{"--context", "b"} << 0 << "insecure"
                                         << "true";
    QTest::newRow("insecure is a warning") << good << QStringList{"--context", "b"} << 0 << "warnings"
                                           << "insecure";
    QTest::newRow("unknown context names it") << good << QStringList{"--context", "nope"} << 1 << "error"
                                              << "nope";
    QTest::newRow("malformed yaml names the file")
        << QByteArray("clusters: [\n  - {") << QStringList{} << 1 << "error"
        << "config.yaml";
    QTest::newRow("cluster without server")
        << QByteArray("current-context: a\nclusters:\n- name: c\n  cluster: {}\n"
                      "users:\n- name: u\n  user: {}\n"
                      "contexts:\n- name: a\n  context: {cluster: c, user: u}\n")
        << QStringList{} << 1 << "error"
        << "server";
}

void TestDoctor::offline()
{
    QFETCH(QByteArray, kubeconfig);
    QFETCH(QStringList, extraArgs);
    QFETCH(int, exitCode);
    QFETCH(QString, field);
    QFETCH(QString, expected);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("config.yaml"));
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(kubeconfig);
    f.close();

    QString outText, errText;
    QTextStream out(&outText), err(&errText);
    QStringList args{"vigilctl", "doctor", "--offline", "-o", "json", "--kubeconfig", path};
    args += extraArgs;
    QCOMPARE(vigil::cli::run(args, out, err), exitCode);
    out.flush();
    const nlohmann::json report = nlohmann::json::parse(outText.toStdString(), nullptr, false);
    QVERIFY2(report.is_object(), qPrintable(outText + errText));
    for (const char *key :
         {"context", "cluster", "server", "namespace", "auth", "insecure", "proxy", "warnings", "error"})
        QVERIFY2(report.contains(key), key);
    QCOMPARE(report["error"].is_null(), exitCode == 0);
    const QString value = QString::fromStdString(report[field.toStdString()].dump());
    QVERIFY2(value.contains(expected), qPrintable(field + QStringLiteral(" = ") + value));
}

QTEST_GUILESS_MAIN(TestDoctor)
#include "tst_doctor.moc"
