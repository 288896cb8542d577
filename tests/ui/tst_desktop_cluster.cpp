// The desktop against the real local cluster: apply the CrashLoopBackOff
// scenario into a fresh namespace, see its row turn unhealthy and its
// incident diagnosed by the rules and judged by the guardrails.

#include "core/kube/config/kubeconfig.h"
#include "ui/incidentmodel.h"
#include "ui/mainwindow.h"
#include "ui/podtablemodel.h"

#include <QApplication>
#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using vigil::ui::MainWindow;
using vigil::ui::PodTableModel;

namespace {

QString clusterKubeconfig()
{
    QFile f(qEnvironmentVariable("VIGIL_TEST_CLUSTER_FILE"));
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll().trimmed()) : QString();
}

QString runScript(const QStringList &args)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(qEnvironmentVariable("VIGIL_SOURCE_DIR") + "/tests/scenarios/apply", args);
    if (!p.waitForFinished(90000)) {
        p.kill();
        return "timed out";
    }
    return p.exitCode() == 0 ? QString() : QString::fromUtf8(p.readAll());
}

} // namespace

class TestDesktopCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void crashloopBecomesAnIncident();
    void cleanupTestCase();

private:
    QString m_kubeconfig;
    QString m_namespace;
    QTemporaryDir m_dir;
};

void TestDesktopCluster::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QApplication::setOrganizationName("VigilTest");
    QApplication::setApplicationName("tst_desktop_cluster");
    QSettings().clear();
    m_kubeconfig = clusterKubeconfig();
    QVERIFY2(!m_kubeconfig.isEmpty(), "VIGIL_TEST_CLUSTER_FILE does not name a kubeconfig; run through ctest -L integration");
    m_namespace = QString("desktop-%1").arg(QRandomGenerator::global()->bounded(100000, 999999));
}

void TestDesktopCluster::crashloopBecomesAnIncident()
{
    vigil::ui::MainWindowOptions o;
    o.kubeconfig = m_kubeconfig;
    o.namespaceName = m_namespace;
    o.auditPath = m_dir.filePath("audit.sqlite");
    o.env = QProcessEnvironment();
    o.env.insert("HOME", m_dir.path());
    MainWindow w(o);
    w.show();
    QTRY_COMPARE_WITH_TIMEOUT(int(w.health().kind), int(vigil::pipeline::SessionHealth::Kind::Connected), 30000);

    const QString error = runScript({"--kubeconfig", m_kubeconfig, "--namespace", m_namespace, "--only", "crashloop"});
    QVERIFY2(error.isEmpty(), qPrintable(error));

    // The pod appears and turns unhealthy (CrashLoopBackOff after kwok's stages run).
    auto unhealthyRow = [&w] {
        for (int r = 0; r < w.podModel()->rowCount(); ++r) {
            const vigil::kube::PodView *p = w.podModel()->pod(r);
            if (p->name.startsWith("payments-api") && w.podModel()->index(r, 0).data(PodTableModel::UnhealthyRole).toBool())
                return r;
        }
        return -1;
    };
    QTRY_VERIFY_WITH_TIMEOUT(unhealthyRow() >= 0, 120000);

    // One incident for the Deployment, diagnosed by the rules and judged.
    auto crashIncident = [&w]() -> const vigil::pipeline::IncidentReport * {
        for (int r = 0; r < w.incidentModel()->rowCount(); ++r) {
            const vigil::pipeline::IncidentReport *i = w.incidentModel()->report(r);
            if (i->incident.workload.name == "payments-api" && i->diagnosed)
                return i;
        }
        return nullptr;
    };
    QTRY_VERIFY_WITH_TIMEOUT(crashIncident() != nullptr, 120000);
    const vigil::pipeline::IncidentReport *r = crashIncident();
    QCOMPARE(r->incident.namespaceName, m_namespace);
    QCOMPARE(r->diagnosis.source.kind, vigil::DiagnosisSource::Rules);
    QVERIFY(r->judged);
    QVERIFY(r->evidenceText.contains("payments-api"));
}

void TestDesktopCluster::cleanupTestCase()
{
    if (m_kubeconfig.isEmpty())
        return;
    // The cluster tool's own kubectl, as tests/scenarios/apply finds it.
    QProcess p;
    p.start("bash", {"-c", ". \"$VIGIL_SOURCE_DIR/tests/cluster/lib.sh\" && \"$KUBECTL\" --kubeconfig \"$1\" delete namespace \"$2\" --wait=false",
                     "cleanup", m_kubeconfig, m_namespace});
    p.waitForFinished(30000);
}

QTEST_MAIN(TestDesktopCluster)
#include "tst_desktop_cluster.moc"
