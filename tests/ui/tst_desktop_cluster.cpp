// The desktop against the real local cluster, end to end: apply the
// CrashLoopBackOff scenario into a fresh namespace, see its row turn unhealthy
// and its incident diagnosed by the rules; with a policy that allows the
// rules' restart_pod, click Approve & Execute, see the pod replaced and the
// outcome verified, find the decision's rows in the audit view, and export
// them through the Export button into a file whose content is checked.

#include "core/audit/auditlog.h"
#include "core/kube/config/kubeconfig.h"
#include "ui/audittablemodel.h"
#include "ui/auditview.h"
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
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

using vigil::ui::DiagnosisPanel;
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

// The cluster tool's own kubectl, as tests/scenarios/apply finds it. Returns stdout, or "ERROR: ...".
QString kubectl(const QString &kubeconfig, const QStringList &args)
{
    QProcess p;
    QStringList argv{
        "-c", ". \"$VIGIL_SOURCE_DIR/tests/cluster/lib.sh\" && \"$KUBECTL\" --kubeconfig \"$0\" \"$@\"",
        kubeconfig};
    argv += args;
    p.start("bash", argv);
    if (!p.waitForFinished(60000)) {
        p.kill();
        return "ERROR: kubectl timed out";
    }
    if (p.exitCode() != 0)
        return "ERROR: " + QString::fromUtf8(p.readAllStandardError());
    return QString::fromUtf8(p.readAllStandardOutput()).trimmed();
}

const vigil::kube::PodView *podNamed(MainWindow &w, const QString &prefix, bool unhealthy)
{
    for (int r = 0; r < w.podModel()->rowCount(); ++r) {
        const vigil::kube::PodView *p = w.podModel()->pod(r);
        if (p->name.startsWith(prefix) &&
            w.podModel()->index(r, 0).data(PodTableModel::UnhealthyRole).toBool() == unhealthy)
            return p;
    }
    return nullptr;
}

} // namespace

class TestDesktopCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void crashloopApprovedEndToEnd();
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

void TestDesktopCluster::crashloopApprovedEndToEnd()
{
    // The default policy wants 0.7 for restart_pod; the rules give a lone crash loop without an
    // error in its logs 0.3. This test's policy lets that through (it still needs a person's click).
    const QString policy = m_dir.filePath("policy.yaml");
    {
        QFile f(policy);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("mode: approve\nminConfidence:\n  default: 0.1\n  restart_pod: 0.1\n");
    }
    vigil::ui::MainWindowOptions o;
    o.kubeconfig = m_kubeconfig;
    o.namespaceName = m_namespace;
    o.policyPath = policy;
    o.auditPath = m_dir.filePath("audit.sqlite");
    o.dataDir = m_dir.filePath("data");
    o.verifyTimeoutMs = 60000;
    o.env = QProcessEnvironment();
    o.env.insert("HOME", m_dir.path());
    MainWindow w(o);
    w.show();
    QTRY_COMPARE_WITH_TIMEOUT(int(w.health().kind), int(vigil::pipeline::SessionHealth::Kind::Connected),
                              30000);
    QCOMPARE(w.reasonerDescription(), QString("rules only"));

    const QString error =
        runScript({"--kubeconfig", m_kubeconfig, "--namespace", m_namespace, "--only", "crashloop"});
    QVERIFY2(error.isEmpty(), qPrintable(error));
    // Without its log files the crash shows no error line, so the rules propose restart_pod; with
    // the database error in the logs they would propose an alert, which replaces no pod.
    const QString deleted = kubectl(m_kubeconfig, {"delete", "clusterlogs.kwok.x-k8s.io",
                                                   "vigil-" + m_namespace + "-crashloop", "--wait=false"});
    QVERIFY2(!deleted.startsWith("ERROR"), qPrintable(deleted));

    // The pod appears and turns unhealthy (CrashLoopBackOff after kwok's stages run).
    QTRY_VERIFY_WITH_TIMEOUT(podNamed(w, "payments-api", true) != nullptr, 120000);
    const QString crashedUid = podNamed(w, "payments-api", true)->uid;
    const QString crashedName = podNamed(w, "payments-api", true)->name;

    // One incident for the Deployment, diagnosed by the rules and judged.
    auto crashIncident = [&w]() -> const vigil::pipeline::IncidentReport * {
        for (int r = 0; r < w.incidentModel()->rowCount(); ++r) {
            const vigil::pipeline::IncidentReport *i = w.incidentModel()->report(r);
            if (i->incident.workload.name == "payments-api" && i->diagnosed && !i->diagnosing)
                return i;
        }
        return nullptr;
    };
    QTRY_VERIFY_WITH_TIMEOUT(crashIncident() != nullptr, 120000);
    const QString fingerprint = crashIncident()->incident.fingerprint;
    QTableView *incidents = w.incidentView();
    for (int row = 0; row < incidents->model()->rowCount(); ++row) {
        const QModelIndex idx = incidents->model()->index(row, 0);
        if (idx.data(vigil::ui::IncidentModel::FingerprintRole).toString() == fingerprint)
            incidents->selectionModel()->setCurrentIndex(idx, QItemSelectionModel::ClearAndSelect |
                                                                  QItemSelectionModel::Rows);
    }
    QCOMPARE(w.diagnosisPanel()->state() == DiagnosisPanel::State::Empty, false);
    auto *approve = w.diagnosisPanel()->findChild<QPushButton *>("approve");
    auto *rediagnose = w.diagnosisPanel()->findChild<QPushButton *>("rediagnose");
    auto *verdict = w.diagnosisPanel()->findChild<QLabel *>("verdict");
    QVERIFY(approve && rediagnose && verdict);
    if (crashIncident()->diagnosis.action != vigil::ActionKind::RestartPod) {
        // The first fetch raced the log files' removal: diagnose again, now without logs.
        qInfo("first diagnosis saw logs (%s); re-diagnosing",
              qPrintable(vigil::actionName(crashIncident()->diagnosis.action)));
        QTRY_VERIFY_WITH_TIMEOUT(rediagnose->isEnabled(), 10000);
        rediagnose->click();
        QTRY_VERIFY_WITH_TIMEOUT(
            crashIncident() && crashIncident()->diagnosis.action == vigil::ActionKind::RestartPod, 60000);
    }
    const vigil::pipeline::IncidentReport *r = crashIncident();
    QCOMPARE(r->incident.namespaceName, m_namespace);
    QCOMPARE(r->diagnosis.source.kind, vigil::DiagnosisSource::Rules);
    QCOMPARE(r->diagnosis.action, vigil::ActionKind::RestartPod);
    QVERIFY(r->judged);
    QCOMPARE(int(r->verdict.decision), int(vigil::guard::Verdict::NeedsApproval));
    QVERIFY2(r->evidence.text.contains("payments-api"), qPrintable(r->evidence.text));
    const QString decisionId = r->decisionId;
    QVERIFY2(!decisionId.isEmpty(), "an actionable diagnosis has a decision");
    QVERIFY2(verdict->text().contains("Needs your approval"), qPrintable(verdict->text()));

    // The fix is in (the database is back): new pods of this ReplicaSet start healthy. The
    // Deployment is paused so that editing its ReplicaSet does not start a rollout.
    const QString rs = kubectl(m_kubeconfig, {"-n", m_namespace, "get", "rs", "-l", "app=payments-api", "-o",
                                              "jsonpath={.items[0].metadata.name}"});
    QVERIFY2(!rs.isEmpty() && !rs.startsWith("ERROR"), qPrintable(rs));
    QString out = kubectl(m_kubeconfig, {"-n", m_namespace, "patch", "deployment", "payments-api", "--type",
                                         "merge", "-p", R"({"spec":{"paused":true}})"});
    QVERIFY2(!out.startsWith("ERROR"), qPrintable(out));
    out = kubectl(
        m_kubeconfig,
        {"-n", m_namespace, "patch", "rs", rs, "--type", "json", "-p",
         R"([{"op":"remove","path":"/spec/template/metadata/labels/vigil.dev~1sim"},)"
         R"({"op":"remove","path":"/spec/template/metadata/annotations/pod-ready.stage.kwok.x-k8s.io~1weight"}])"});
    QVERIFY2(!out.startsWith("ERROR"), qPrintable(out));

    // One click: approve, evict, verify.
    QTRY_VERIFY_WITH_TIMEOUT(approve->isEnabled(), 20000);
    approve->click();
    QTRY_VERIFY_WITH_TIMEOUT(w.diagnosisPanel()->state() == DiagnosisPanel::State::Executed ||
                                 w.diagnosisPanel()->state() == DiagnosisPanel::State::Failed,
                             120000);
    QString shown;
    for (QLabel *l : w.diagnosisPanel()->findChildren<QLabel *>())
        shown += l->text() + '\n';
    QVERIFY2(w.diagnosisPanel()->state() == DiagnosisPanel::State::Executed, qPrintable(shown));
    QVERIFY2(shown.contains("Verified") && shown.contains("is Ready"), qPrintable(shown));

    // The pod was replaced: the crashed one left the table, a Ready one of the same Deployment came.
    QTRY_VERIFY_WITH_TIMEOUT(w.podModel()->rowOfUid(crashedUid) < 0, 30000);
    QTRY_VERIFY_WITH_TIMEOUT(podNamed(w, "payments-api", false) != nullptr, 30000);
    QVERIFY(podNamed(w, "payments-api", false)->name != crashedName);

    // The decision's rows in the audit view, found by its id.
    vigil::ui::AuditView *audit = w.auditView();
    w.tabs()->setCurrentWidget(audit);
    audit->setTextFilter(decisionId);
    QStringList kinds;
    for (int row = 0; row < audit->model()->rowCount(); ++row)
        kinds << audit->model()->event(row)->kind;
    for (const char *k : {"proposed", "approved", "executing", "executed", "verified"})
        QVERIFY2(kinds.contains(k), qPrintable(k + (" missing: " + kinds.join(','))));

    // Export through the Export button (the file dialog replaced by a fixed path): the filtered rows.
    const QString exported = m_dir.filePath("audit-export.jsonl");
    audit->setExportPrompt([exported](QWidget *) {
        return vigil::ui::AuditView::ExportChoice{exported, true};
    });
    auto *exportButton = audit->findChild<QPushButton *>("exportAudit");
    QVERIFY(exportButton && exportButton->isEnabled());
    exportButton->click();
    QVERIFY2(audit->statusText().startsWith(QString("Exported %1 rows").arg(kinds.size())),
             qPrintable(audit->statusText()));
    QFile file(exported);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QStringList fileKinds;
    QString targets;
    while (!file.atEnd()) {
        const QByteArray line = file.readLine().trimmed();
        if (line.isEmpty())
            continue;
        const nlohmann::json row = nlohmann::json::parse(line.toStdString(), nullptr, false);
        QVERIFY2(row.is_object(), line.constData());
        QCOMPARE(QString::fromStdString(row.value("decision_id", std::string())), decisionId);
        QVERIFY(!row.value("hash", std::string()).empty());
        fileKinds << QString::fromStdString(row.value("kind", std::string()));
        targets += QString::fromStdString(row.value("target", std::string())) + ' ';
    }
    QCOMPARE(fileKinds.size(), kinds.size());
    for (const char *k : {"proposed", "approved", "executing", "executed", "verified"})
        QVERIFY2(fileKinds.contains(k), qPrintable(fileKinds.join(',')));
    QVERIFY2(targets.contains(crashedName), qPrintable(targets));

    // The whole chain still verifies after all of this.
    QVERIFY2(audit->verify().ok, qPrintable(audit->verifyText()));
}

void TestDesktopCluster::cleanupTestCase()
{
    if (m_kubeconfig.isEmpty())
        return;
    kubectl(m_kubeconfig, {"delete", "namespace", m_namespace, "--wait=false"});
    kubectl(m_kubeconfig, {"delete", "clusterlogs.kwok.x-k8s.io", "vigil-" + m_namespace + "-crashloop",
                           "--ignore-not-found", "--wait=false"});
}

QTEST_MAIN(TestDesktopCluster)
#include "tst_desktop_cluster.moc"
