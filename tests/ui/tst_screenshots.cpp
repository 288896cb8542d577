// Renders the main window (light and dark, with the charts dock), the
// diagnosis panel (proposed, blocked, waiting for a model), the audit view and
// the Agent decisions tab to PNG files under the build tree for a reviewer to
// look at; docs/screenshots holds copies for the README.

#include "fakecluster.h"

#include "core/audit/auditlog.h"
#include "ui/agentdecisionmodel.h"
#include "ui/agentdecisionview.h"
#include "ui/auditview.h"
#include "ui/chartspanel.h"
#include "ui/diagnosispanel.h"
#include "ui/incidentmodel.h"
#include "ui/mainwindow.h"
#include "ui/podtablemodel.h"

#include <QApplication>
#include <QDir>
#include <QImage>
#include <QSet>
#include <QSettings>
#include <QStandardPaths>
#include <QStyleFactory>
#include <QTabWidget>
#include <QTableView>
#include <QTest>

using vigil::ui::DiagnosisPanel;
using vigil::ui::MainWindow;

namespace {

/// Saves the widget and checks the picture is not blank.
bool save(QWidget *w, const QString &name, QString *why)
{
    const QString dir = QStringLiteral(VIGIL_SCREENSHOT_DIR);
    QDir().mkpath(dir);
    const QImage image = w->grab().toImage();
    if (image.isNull() || image.width() < 200 || image.height() < 150) {
        *why = name + ": image too small";
        return false;
    }
    QSet<QRgb> colors;
    for (int y = 0; y < image.height(); y += 7)
        for (int x = 0; x < image.width(); x += 7)
            colors.insert(image.pixel(x, y));
    if (colors.size() < 8) {
        *why = name + ": image looks blank";
        return false;
    }
    const QString path = dir + u'/' + name;
    if (!image.save(path)) {
        *why = path + ": could not write";
        return false;
    }
    qInfo("screenshot: %s", qPrintable(path));
    return true;
}

void fillAudit(const QString &path)
{
    auto log = vigil::audit::AuditLog::open(path);
    if (!log)
        return;
    const qint64 t0 = QDateTime::currentMSecsSinceEpoch() - 3600 * 1000;
    struct Row {
        const char *kind, *actor, *ns, *target, *action, *outcome;
    };
    const Row rows[] = {
        {"observed", "agent", "demo", "pod/demo/web-5d4f8-crash", "", "CrashLoopBackOff"},
        {"diagnosed", "agent", "demo", "pod/demo/web-5d4f8-crash", "restart_pod", "rules"},
        {"verdict", "agent", "demo", "pod/demo/web-5d4f8-crash", "restart_pod", "needs-approval"},
        {"approved", "os:alice", "demo", "pod/demo/web-5d4f8-crash", "restart_pod", "approved"},
        {"executed", "os:alice", "demo", "pod/demo/web-5d4f8-crash", "restart_pod", "success"},
        {"verified", "agent", "demo", "pod/demo/web-5d4f8-crash", "restart_pod", "success"},
        {"proposed", "agent", "shop", "deployment/shop/cart", "scale_deployment", "blocked"},
        {"rejected", "os:bob", "payments", "node/kwok-node-2", "cordon_node", "rejected"},
    };
    int i = 0;
    for (const Row &r : rows) {
        vigil::audit::AuditEvent e;
        e.tsMs = t0 + i++ * 240 * 1000;
        e.decisionId = QString("dec-%1").arg(r.ns);
        e.kind = r.kind;
        e.actor = r.actor;
        e.namespaceName = r.ns;
        e.target = r.target;
        e.action = r.action;
        e.outcome = r.outcome;
        e.payload = {{"source", "rules"}, {"confidence", 0.85}, {"reasons", {"approval.required"}}};
        (void)(*log)->append(e);
    }
}

QPalette darkPalette()
{
    QPalette p;
    p.setColor(QPalette::Window, QColor(0x2b, 0x2d, 0x31));
    p.setColor(QPalette::WindowText, QColor(0xe6, 0xe6, 0xe6));
    p.setColor(QPalette::Base, QColor(0x1e, 0x1f, 0x22));
    p.setColor(QPalette::AlternateBase, QColor(0x26, 0x28, 0x2b));
    p.setColor(QPalette::Text, QColor(0xe6, 0xe6, 0xe6));
    p.setColor(QPalette::Button, QColor(0x33, 0x36, 0x3a));
    p.setColor(QPalette::ButtonText, QColor(0xe6, 0xe6, 0xe6));
    p.setColor(QPalette::Highlight, QColor(0x2f, 0x6f, 0xd6));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::ToolTipBase, QColor(0x33, 0x36, 0x3a));
    p.setColor(QPalette::ToolTipText, QColor(0xe6, 0xe6, 0xe6));
    p.setColor(QPalette::PlaceholderText, QColor(0x90, 0x90, 0x90));
    p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(0x90, 0x90, 0x90));
    p.setColor(QPalette::Disabled, QPalette::Text, QColor(0x90, 0x90, 0x90));
    p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(0x90, 0x90, 0x90));
    return p;
}

} // namespace

class TestScreenshots final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void mainWindowPanelAndAudit();
    void llmDiagnosisPanel();
    void pendingDiagnosisPanel();
    void agentDecisions();

private:
    QTemporaryDir m_dir;
};

void TestScreenshots::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QApplication::setOrganizationName("VigilTest");
    QApplication::setApplicationName("tst_screenshots");
    QSettings().clear();
    QApplication::setStyle(QStyleFactory::create("Fusion"));
}

void TestScreenshots::mainWindowPanelAndAudit()
{
    vigil::test::fake::FakeCluster cluster(0, true);
    QVERIFY(cluster.listen());
    vigil::ui::MainWindowOptions o;
    o.kubeconfig = vigil::test::fake::writeKubeconfig(m_dir, cluster.url());
    o.auditPath = m_dir.filePath("audit.sqlite");
    o.env = QProcessEnvironment();
    o.env.insert("HOME", m_dir.path());
    fillAudit(o.auditPath);

    MainWindow w(o);
    w.resize(1480, 1040);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QTRY_VERIFY_WITH_TIMEOUT(w.podModel()->rowCount() >= 20, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(w.incidentModel()->rowCount() >= 1, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(
        !w.podModel()->index(0, vigil::ui::PodTableModel::Cpu).data().toString().isEmpty() ||
            !w.podModel()->index(1, vigil::ui::PodTableModel::Cpu).data().toString().isEmpty(),
        10000);
    // The rules' diagnosis and a charts refresh with the pods' health, so the picture shows both.
    QTRY_VERIFY_WITH_TIMEOUT(w.incidentModel()->report(0) && !w.incidentModel()->report(0)->diagnosing,
                             20000);
    QTRY_VERIFY_WITH_TIMEOUT(!w.chartsPanel()->namespaceHealth().isEmpty(), 10000);
    const int refreshes = w.chartsPanel()->refreshCount();
    QTRY_VERIFY_WITH_TIMEOUT(w.chartsPanel()->refreshCount() > refreshes, 5000);
    w.incidentView()->selectRow(0);
    const QModelIndex crash =
        w.podView()->model()->index(3, 0); // a healthy row: the unhealthy tint stays visible
    w.podView()->selectionModel()->setCurrentIndex(crash, QItemSelectionModel::ClearAndSelect |
                                                              QItemSelectionModel::Rows);
    QTest::qWait(200);

    QString why;
    QVERIFY2(save(&w, "mainwindow.png", &why), qPrintable(why));
    QVERIFY2(save(w.diagnosisPanel(), "diagnosis-panel.png", &why), qPrintable(why));

    w.tabs()->setCurrentWidget(w.auditView());
    w.auditView()->refresh();
    w.auditView()->view()->selectRow(3);
    w.auditView()->verify();
    QTest::qWait(100);
    QVERIFY2(save(&w, "audit-view.png", &why), qPrintable(why));

    const QPalette light = QApplication::palette();
    QApplication::setPalette(darkPalette());
    w.tabs()->setCurrentIndex(0);
    QTest::qWait(100);
    QVERIFY2(save(&w, "mainwindow-dark.png", &why), qPrintable(why));
    QApplication::setPalette(light);
}

void TestScreenshots::llmDiagnosisPanel()
{
    DiagnosisPanel panel;
    vigil::ui::DiagnosisPanelData d;
    d.title = "OOMKilled · Deployment/checkout";
    d.subtitle = "shop · 3 pods · 7 occurrences · first seen 14m ago";
    d.hasDiagnosis = true;
    d.diagnosis.diagnosis =
        "The checkout container is killed for exceeding its 256Mi memory limit under the evening load.";
    d.diagnosis.confidence = 0.74;
    d.diagnosis.action = vigil::ActionKind::ScaleDeployment;
    d.diagnosis.parameters = {{"namespace", "shop"}, {"deployment", "checkout"}, {"replicas", 6}};
    d.diagnosis.reasoning =
        "Each replica reaches its limit within minutes of start; spreading the load over more replicas "
        "lowers the per-pod working set until the limit is raised.";
    d.diagnosis.source.kind = vigil::DiagnosisSource::Llm;
    d.diagnosis.source.provider = "openai";
    d.diagnosis.source.model = "gpt-4o-mini";
    d.diagnosis.promptVersion = "3f9c2a7d51e0b8aa";
    d.diagnosis.promptTokens = 1840;
    d.diagnosis.completionTokens = 212;
    d.diagnosis.costUsd = 0.0004;
    d.hasVerdict = true;
    d.verdict.decision = vigil::guard::Verdict::Blocked;
    d.verdict.reasons
        << vigil::guard::VerdictReason{"confidence.low",
                                       "Confidence 0.74 is below the 0.80 scale_deployment needs.", true}
        << vigil::guard::VerdictReason{"approval.required", "scale_deployment needs a person's approval.",
                                       false};
    d.evidenceText =
        "incident: OOMKilled in shop/Deployment checkout (7 times, 3 pods)\ncontainer: app image "
        "shop/checkout:2.4.1\n"
        "limits: memory 256Mi\nlast termination: OOMKilled exit 137\nenv: DB_PASSWORD=«REDACTED:secret:1»\n";
    d.evidenceTokens = 1840;
    panel.setData(d);
    panel.setState(DiagnosisPanel::State::Proposed);
    panel.resize(640, 720);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QString why;
    QVERIFY2(save(&panel, "diagnosis-panel-blocked.png", &why), qPrintable(why));
}

void TestScreenshots::pendingDiagnosisPanel()
{
    DiagnosisPanel panel;
    vigil::ui::DiagnosisPanelData d;
    d.title = "CrashLoopBackOff · Deployment/payments-api";
    d.subtitle = "payments · 1 pod · 4 occurrences · first seen 3m ago";
    d.pendingWith = "openai/gpt-4o";
    d.evidenceText = "incident: CrashLoopBackOff in payments/Deployment payments-api (4 times, 1 pod)\n"
                     "previous log: panic: dial tcp 10.0.0.12:5432: connect: connection refused\n";
    d.evidenceTokens = 1210;
    panel.setData(d);
    panel.setPendingSince(QDateTime::currentDateTimeUtc().addSecs(-9));
    panel.setState(DiagnosisPanel::State::Pending);
    panel.resize(640, 560);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QString why;
    QVERIFY2(save(&panel, "diagnosis-panel-pending.png", &why), qPrintable(why));
}

void TestScreenshots::agentDecisions()
{
    vigil::ui::AgentDecisionView view;
    const QDateTime now = QDateTime::currentDateTimeUtc();
    auto make = [&now](const char *uid, const char *ns, const char *action, const char *target,
                       double confidence, const char *phase, int minutesAgo) {
        vigil::pipeline::AgentDecisionInfo d;
        d.uid = uid;
        d.namespaceName = ns;
        d.name = QString("vigil-%1").arg(uid);
        d.decisionId = uid;
        d.action = action;
        d.target = target;
        d.confidence = confidence;
        d.phase = phase;
        d.provider = "anthropic";
        d.model = "claude-sonnet-4-5";
        d.created = now.addSecs(-60 * minutesAgo);
        return d;
    };
    auto pending =
        make("5b1e0c2a-77d4", "shop", "scale_deployment", "deployment/shop/checkout", 0.86, "previewed", 2);
    pending.diagnosis = "checkout runs out of memory under the evening load; more replicas spread it.";
    pending.reasoning =
        "Every replica reaches its 256Mi limit within minutes; load per pod halves at 6 replicas.";
    pending.conditions << vigil::pipeline::AgentDecisionInfo::Condition{
        "Previewed", "True", "DryRunAccepted", "the server accepted scaling deployment shop/checkout to 6",
        now.addSecs(-100)};
    auto done = make("9c4f1d0e-1a2b", "payments", "restart_pod", "pod/payments/payments-api-7d9f-x2k9p", 0.78,
                     "verified", 41);
    done.approved = true;
    done.executed = true;
    done.approvedBy = "os:alice k8s:alice@example.com via desktop";
    done.conditions << vigil::pipeline::AgentDecisionInfo::Condition{"Executed", "True", "Evicted",
                                                                     "pod evicted", now.addSecs(-2400)}
                    << vigil::pipeline::AgentDecisionInfo::Condition{
                           "Verified", "True", "ReplacementReady",
                           "replacement pod payments-api-7d9f-q8m3z is Ready", now.addSecs(-2380)};
    auto rejected = make("2d8a6b3c-4e5f", "batch", "cordon_node", "node/kwok-node-2", 0.91, "rejected", 95);
    rejected.rejected = true;
    rejected.rejectedBy = "os:bob via desktop";
    rejected.rejectReason = "node is being drained by the platform team";
    // Rejected with kubectl patch ... -p '{"spec":{"rejected":true,"rejectReason":...}}'.
    auto byKubectl =
        make("7e3b9f41-c0d8", "shop", "restart_pod", "pod/shop/cart-6f7c9-m2x4q", 0.64, "rejected", 12);
    byKubectl.rejected = true;
    byKubectl.rejectedBy = "field-manager:kubectl-patch";
    byKubectl.rejectReason = "the database is down; a restart will not help";
    vigil::pipeline::AgentDecisionBatch b;
    b.upserted = {pending, done, rejected, byKubectl};
    view.setAvailability(true, {});
    view.setMirrorState(true, {});
    view.apply(b);
    view.select(pending.uid);
    view.resize(1280, 640);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QString why;
    QVERIFY2(save(&view, "agent-decisions.png", &why), qPrintable(why));
}

QTEST_MAIN(TestScreenshots)
#include "tst_screenshots.moc"
