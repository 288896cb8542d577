#include "core/cli/cli.h"
#include "core/replay/incidentrecord.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>
#include <QTextStream>

using namespace vigil;

// vigilctl record against the real cluster: the crash-loop scenario in a
// namespace of its own becomes a record that reads back strictly, carries the
// redacted evidence and the guardrails' target, and replays.
class TestRecordCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void recordsCrashLoop();
    void errors_data();
    void errors();

private:
    int vigilctl(QStringList args, QString *out, QString *err);
    bool scenarios(const QStringList &extra);

    QString m_kubeconfig;
    QString m_namespace;
    QTemporaryDir m_dir;
};

int TestRecordCluster::vigilctl(QStringList args, QString *outText, QString *errText)
{
    QTextStream out(outText), err(errText);
    args.prepend(QStringLiteral("vigilctl"));
    args << QStringLiteral("--kubeconfig") << m_kubeconfig;
    const int code = cli::run(args, out, err);
    out.flush();
    err.flush();
    return code;
}

bool TestRecordCluster::scenarios(const QStringList &extra)
{
    QProcess p;
    p.start(qEnvironmentVariable("VIGIL_SOURCE_DIR") + QStringLiteral("/tests/scenarios/apply"),
            QStringList{QStringLiteral("--kubeconfig"), m_kubeconfig, QStringLiteral("--namespace"),
                        m_namespace, QStringLiteral("--only"), QStringLiteral("crashloop")} +
                extra);
    if (!p.waitForFinished(120000)) {
        p.kill();
        p.waitForFinished(5000);
        return false;
    }
    if (p.exitCode() != 0)
        qWarning("%s", p.readAllStandardError().constData());
    return p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
}

void TestRecordCluster::initTestCase()
{
    QFile f(qEnvironmentVariable("VIGIL_TEST_CLUSTER_FILE"));
    QVERIFY2(f.open(QIODevice::ReadOnly),
             "VIGIL_TEST_CLUSTER_FILE must name the file with the kubeconfig path");
    m_kubeconfig = QString::fromUtf8(f.readAll()).trimmed();
    QVERIFY(m_dir.isValid());
    m_namespace = QStringLiteral("vigil-record-%1").arg(QRandomGenerator::global()->bounded(1000000));
    QVERIFY(scenarios({}));
}

void TestRecordCluster::cleanupTestCase()
{
    if (m_namespace.isEmpty())
        return;
    scenarios({QStringLiteral("--delete")}); // the cluster-scoped ClusterLogs too
    QProcess kubectl;
    kubectl.start(QDir::homePath() + QStringLiteral("/.cache/vigil/k8s-v1.35.4/bin/kubectl"),
                  {QStringLiteral("--kubeconfig"), m_kubeconfig, QStringLiteral("delete"),
                   QStringLiteral("namespace"), m_namespace, QStringLiteral("--wait=false")});
    kubectl.waitForFinished(30000);
}

void TestRecordCluster::recordsCrashLoop()
{
    const QString file = m_dir.filePath(QStringLiteral("crashloop.json"));
    QString out, err, pod;
    QElapsedTimer waited;
    waited.start();
    int code = -1;
    // The pod crash-loops after ~15 s; record as soon as it shows.
    while (waited.elapsed() < 90000) {
        QString names, ignored;
        if (vigilctl({QStringLiteral("get"), QStringLiteral("pods"), QStringLiteral("-n"), m_namespace,
                      QStringLiteral("-o"), QStringLiteral("name")},
                     &names, &ignored) == 0) {
            for (const QString &line : names.split(u'\n', Qt::SkipEmptyParts)) {
                if (line.contains(QStringLiteral("payments-api")))
                    pod = line.section(u'/', -1).trimmed();
            }
        }
        if (!pod.isEmpty()) {
            out.clear();
            err.clear();
            code = vigilctl({QStringLiteral("record"), m_namespace + u'/' + pod, QStringLiteral("-o"), file,
                             QStringLiteral("--reason"), QStringLiteral("CrashLoopBackOff"),
                             QStringLiteral("--label-category"), QStringLiteral("CrashLoopBackOff"),
                             QStringLiteral("--label-actions"), QStringLiteral("create_alert")},
                            &out, &err);
            if (code == 0)
                break;
        }
        QTest::qWait(2000);
    }
    QVERIFY2(code == 0, qPrintable(err));
    QVERIFY2(out.startsWith(QStringLiteral("recorded CrashLoopBackOff (")), qPrintable(out));

    Result<replay::IncidentRecord> r = replay::readRecordFile(file);
    QVERIFY2(r, qPrintable(r.errorMessage()));
    QCOMPARE(r->reason, QStringLiteral("CrashLoopBackOff"));
    QVERIFY(r->clusterVersion.startsWith(QStringLiteral("v1.")));
    QCOMPARE(r->target.namespaceName, m_namespace);
    QVERIFY(r->target.podName.startsWith(QStringLiteral("payments-api-")));
    QCOMPARE(r->target.ownerKind, QStringLiteral("Deployment"));
    QCOMPARE(r->target.ownerName, QStringLiteral("payments-api"));
    QVERIFY(!r->target.nodeName.isEmpty());
    QVERIFY(r->evidence.pod.has_value());
    QVERIFY(r->evidence.pod->containers.first().restartCount >= 1);
    QVERIFY(r->evidence.previousLog.join(u'\n').contains(QStringLiteral("connection refused")));
    QVERIFY(r->evidence.text.contains(QStringLiteral("## Previous logs")));
    QVERIFY(r->label.has_value());
    QCOMPARE(r->label->acceptableActions, QList<ActionKind>{ActionKind::CreateAlert});
    QVERIFY(qAbs(r->recordedAt.secsTo(QDateTime::currentDateTimeUtc())) < 600);

    // And it replays: the rules alert, as the label expects.
    QString table, replayErr;
    QTextStream o(&table), e(&replayErr);
    QCOMPARE(cli::run({QStringLiteral("vigilctl"), QStringLiteral("replay"), m_dir.path()}, o, e), 0);
    o.flush();
    QVERIFY2(table.contains(QStringLiteral("create_alert ok")), qPrintable(table));
}

void TestRecordCluster::errors_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("error");
    QTest::newRow("no such pod") << QStringList{"record", "NS/no-such-pod", "-o", "FILE"} << 1
                                 << "vigilctl record: pod NS/no-such-pod not found";
    QTest::newRow("no output file") << QStringList{"record", "NS/x"} << 2
                                    << "vigilctl record: -o FILE is required";
    QTest::newRow("a reason the pod does not have")
        << QStringList{"record", "NS/PAYMENTS", "-o", "FILE", "--reason", "OOMKilled"} << 1
        << "has no OOMKilled incident";
    QTest::newRow("an action outside the catalog")
        << QStringList{"record", "NS/x", "-o", "FILE", "--label-actions", "delete_namespace"} << 2
        << "--label-actions: 'delete_namespace' is not an action";
}

void TestRecordCluster::errors()
{
    QFETCH(QStringList, args);
    QFETCH(int, code);
    QFETCH(QString, error);
    QString payments;
    {
        QString names, ignored;
        vigilctl({"get", "pods", "-n", m_namespace, "-o", "name"}, &names, &ignored);
        for (const QString &line : names.split(u'\n', Qt::SkipEmptyParts))
            if (line.contains("payments-api"))
                payments = line.section(u'/', -1).trimmed();
    }
    for (QString &a : args) {
        a.replace("NS", m_namespace);
        a.replace("PAYMENTS", payments);
        a.replace("FILE", m_dir.filePath("error.json"));
    }
    error.replace("NS", m_namespace);
    QString out, err;
    QCOMPARE(vigilctl(args, &out, &err), code);
    QVERIFY2(err.contains(error), qPrintable(err));
    QVERIFY(!QFile::exists(m_dir.filePath("error.json")));
}

QTEST_GUILESS_MAIN(TestRecordCluster)
#include "tst_record_cluster.moc"
