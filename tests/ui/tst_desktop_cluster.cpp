// The desktop against the real local cluster: apply the CrashLoopBackOff
// scenario into a fresh namespace, see its row turn unhealthy and its
// incident diagnosed by the rules and judged by the guardrails; then Approve &
// Execute (or, when the guardrails block it, the reason shown) and the
// decision's rows in the audit log.

#include "core/audit/auditlog.h"
#include "core/kube/config/kubeconfig.h"
#include "ui/diagnosispanel.h"
#include "ui/incidentmodel.h"
#include "ui/mainwindow.h"
#include "ui/podtablemodel.h"

#include <QApplication>
#include <QFile>
#include <QLabel>
#include <QProcess>
#include <QPushButton>
#include <QRandomGenerator>
#include <QSettings>
#include <QStandardPaths>
#include <QTableView>
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
    QVERIFY2(!m_kubeconfig.isEmpty(),
             "VIGIL_TEST_CLUSTER_FILE does not name a kubeconfig; run through ctest -L integration");
    m_namespace = QString("desktop-%1").arg(QRandomGenerator::global()->bounded(100000, 999999));
}

void TestDesktopCluster::crashloopBecomesAnIncident()
{
    vigil::ui::MainWindowOptions o;
    o.kubeconfig = m_kubeconfig;
    o.namespaceName = m_namespace;
    o.auditPath = m_dir.filePath("audit.sqlite");
    o.dataDir = m_dir.filePath("data");
    o.env = QProcessEnvironment();
    o.env.insert("HOME", m_dir.path());
    MainWindow w(o);
    w.show();
    QTRY_COMPARE_WITH_TIMEOUT(int(w.health().kind), int(vigil::pipeline::SessionHealth::Kind::Connected),
                              30000);

    const QString error =
        runScript({"--kubeconfig", m_kubeconfig, "--namespace", m_namespace, "--only", "crashloop"});
    QVERIFY2(error.isEmpty(), qPrintable(error));

    // The pod appears and turns unhealthy (CrashLoopBackOff after kwok's stages run).
    auto unhealthyRow = [&w] {
        for (int r = 0; r < w.podModel()->rowCount(); ++r) {
            const vigil::kube::PodView *p = w.podModel()->pod(r);
            if (p->name.startsWith("payments-api") &&
                w.podModel()->index(r, 0).data(PodTableModel::UnhealthyRole).toBool())
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

    // Select it; Approve & Execute when the guardrails allow it, else the blocked reason shows.
    const QString fingerprint = r->incident.fingerprint;
    const QString decisionId = r->decisionId;
    const bool blocked = r->verdict.decision == vigil::guard::Verdict::Blocked;
    QStringList blockedReasons;
    for (const vigil::guard::VerdictReason &reason : r->verdict.reasons) {
        if (reason.blocking)
            blockedReasons << reason.message;
    }
    const bool actionable = r->diagnosis.action != vigil::ActionKind::None;
    QTableView *incidents = w.incidentView();
    bool selected = false;
    for (int row = 0; row < incidents->model()->rowCount() && !selected; ++row) {
        const QModelIndex idx = incidents->model()->index(row, 0);
        if (idx.data(vigil::ui::IncidentModel::FingerprintRole).toString() != fingerprint)
            continue;
        incidents->selectionModel()->setCurrentIndex(idx, QItemSelectionModel::ClearAndSelect |
                                                              QItemSelectionModel::Rows);
        selected = true;
    }
    QVERIFY(selected);
    auto *approve = w.diagnosisPanel()->findChild<QPushButton *>("approve");
    auto *verdict = w.diagnosisPanel()->findChild<QLabel *>("verdict");
    QVERIFY(approve && verdict);
    QVERIFY(actionable);
    QVERIFY2(!decisionId.isEmpty(), "an actionable diagnosis has a decision");
    if (blocked) {
        QVERIFY(!blockedReasons.isEmpty());
        qInfo("guardrails blocked %s: %s", qPrintable(vigil::actionName(r->diagnosis.action)),
              qPrintable(blockedReasons.join("; ")));
        QVERIFY(!approve->isEnabled());
        QVERIFY2(verdict->text().contains("Blocked"), qPrintable(verdict->text()));
        QVERIFY2(verdict->text().contains(blockedReasons.first().toHtmlEscaped()),
                 qPrintable(verdict->text()));
    } else {
        QTRY_VERIFY_WITH_TIMEOUT(approve->isEnabled(), 10000);
        approve->click();
        QTRY_VERIFY_WITH_TIMEOUT(w.diagnosisPanel()->state() == vigil::ui::DiagnosisPanel::State::Executed ||
                                     w.diagnosisPanel()->state() == vigil::ui::DiagnosisPanel::State::Failed,
                                 150000);
        qInfo("approved and executed: state %d", int(w.diagnosisPanel()->state()));
    }

    // The decision's rows are in the audit log.
    auto log = vigil::audit::AuditLog::open(m_dir.filePath("audit.sqlite"));
    QVERIFY2(log, qPrintable(log.errorMessage()));
    vigil::audit::AuditFilter filter;
    filter.decisionId = decisionId;
    auto rows = (*log)->query(filter);
    QVERIFY2(rows, qPrintable(rows.errorMessage()));
    QStringList kinds;
    for (const vigil::audit::AuditEvent &e : *rows)
        kinds << e.kind;
    QVERIFY2(kinds.contains("proposed"), qPrintable(kinds.join(',')));
    if (!blocked)
        QVERIFY2(kinds.contains("approved") && kinds.contains("executing"), qPrintable(kinds.join(',')));
}

void TestDesktopCluster::cleanupTestCase()
{
    if (m_kubeconfig.isEmpty())
        return;
    // The cluster tool's own kubectl, as tests/scenarios/apply finds it.
    QProcess p;
    p.start("bash", {"-c",
                     ". \"$VIGIL_SOURCE_DIR/tests/cluster/lib.sh\" && \"$KUBECTL\" --kubeconfig \"$1\" "
                     "delete namespace \"$2\" --wait=false",
                     "cleanup", m_kubeconfig, m_namespace});
    p.waitForFinished(30000);
}

QTEST_MAIN(TestDesktopCluster)
#include "tst_desktop_cluster.moc"
