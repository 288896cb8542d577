// The main window against a scripted API server on 127.0.0.1: the live
// table, health sentences for 401/403, namespaces, metrics, pod details and
// the exec-plugin consent dialog; approve, reject and read-only through the
// session's executor.

#include "fakecluster.h"
#include "scriptedprovider.h"

#include "core/act/datapaths.h"
#include "core/act/decisionstore.h"
#include "core/audit/auditlog.h"
#include "core/kube/config/execallowlistfile.h"
#include "core/replay/incidentrecord.h"
#include "ui/agentdecisionview.h"
#include "ui/chartspanel.h"
#include "ui/diagnosispanel.h"
#include "ui/eventtablemodel.h"
#include "ui/incidentmodel.h"
#include "ui/mainwindow.h"
#include "ui/poddetailsdialog.h"
#include "ui/podfilterproxymodel.h"
#include "ui/podtablemodel.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDockWidget>
#include <QFile>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

using nlohmann::json;
using vigil::pipeline::SessionHealth;
using vigil::ui::MainWindow;
using vigil::ui::MainWindowOptions;
using vigil::ui::PodTableModel;

namespace {

using namespace vigil::test::fake;

MainWindowOptions optionsFor(const QTemporaryDir &dir, const QString &kubeconfig)
{
    MainWindowOptions o;
    o.kubeconfig = kubeconfig;
    o.auditPath = dir.filePath("audit.sqlite");
    o.dataDir = dir.filePath("data");
    o.env = QProcessEnvironment();
    o.env.insert("HOME", dir.path());
    return o;
}

} // namespace

class TestMainWindow final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void liveTable();
    void healthSentences_data();
    void healthSentences();
    void podDetails();
    void execConsent();
    void readOnlyHidesExecute();
    void decisions_data();
    void decisions();
    void failedDecisionStaysFailedUntilANewProposal();
    void rediagnoseAsksTheStrongModel();
    void cancelEndsThePendingDiagnosis();
    void interruptedDecisionIsReconciledAtStart();
    void providerSettingsFileBuildsTheReasoner_data();
    void providerSettingsFileBuildsTheReasoner();
    void recordIncidentWritesAReplayableRecord();
    void chartsFollowTheSession();
    void agentTabSaysWhyDecisionsAreNotMirrored();
};

void TestMainWindow::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QApplication::setOrganizationName("VigilTest");
    QApplication::setApplicationName("tst_mainwindow");
}

void TestMainWindow::init()
{
    QSettings().clear();
    QFile::remove(vigil::kube::defaultExecAllowlistPath());
}

void TestMainWindow::liveTable()
{
    FakeCluster cluster;
    QVERIFY(cluster.listen());
    QTemporaryDir dir;
    MainWindow w(optionsFor(dir, writeKubeconfig(dir, cluster.url())));
    w.show();

    QTRY_COMPARE_WITH_TIMEOUT(w.podModel()->rowCount(), 2, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(int(w.health().kind), int(SessionHealth::Kind::Connected), 10000);
    QVERIFY2(w.healthSentence().startsWith("Connected"), qPrintable(w.healthSentence()));

    const int crash = w.podModel()->rowOfUid("uid-web-5d4f8-crash");
    const int ok = w.podModel()->rowOfUid("uid-web-5d4f8-ok");
    QVERIFY(w.podModel()->index(crash, 0).data(PodTableModel::UnhealthyRole).toBool());
    QVERIFY(!w.podModel()->index(ok, 0).data(PodTableModel::UnhealthyRole).toBool());
    QCOMPARE(w.podModel()->index(crash, PodTableModel::Status).data().toString(),
             QString("CrashLoopBackOff"));

    // Warning events, metrics and namespaces arrive too.
    QTRY_COMPARE_WITH_TIMEOUT(w.eventModel()->rowCount(), 1, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(w.podModel()->index(ok, PodTableModel::Cpu).data().toString(), QString("250m"),
                              10000);
    auto *namespaces = w.findChild<QComboBox *>("namespaceBox");
    QTRY_VERIFY_WITH_TIMEOUT(namespaces->findData("demo") > 0, 10000);

    // The crashing Deployment became one incident, diagnosed by the rules and judged.
    QTRY_VERIFY_WITH_TIMEOUT(w.incidentModel()->rowCount() >= 1 && w.incidentModel()->report(0)->diagnosed,
                             10000);
    const vigil::pipeline::IncidentReport *r = w.incidentModel()->report(0);
    QCOMPARE(r->incident.reason, QString("CrashLoopBackOff"));
    QVERIFY2(r->diagnosed, qPrintable(r->diagnosisError));
    QCOMPARE(r->diagnosis.source.kind, vigil::DiagnosisSource::Rules);
    QVERIFY(r->judged);
    QVERIFY(!r->evidence.text.isEmpty());

    // Selection survives a later batch that modifies the selected pod.
    const QModelIndex proxyOk = w.podProxy()->mapFromSource(w.podModel()->index(ok, 0));
    w.podView()->selectionModel()->setCurrentIndex(proxyOk, QItemSelectionModel::ClearAndSelect |
                                                                QItemSelectionModel::Rows);
    QTRY_VERIFY_WITH_TIMEOUT(w.podModel()->pod(ok) && w.podModel()->pod(ok)->resourceVersion == "11", 10000);
    QCOMPARE(w.podView()->selectionModel()->currentIndex().data(PodTableModel::UidRole).toString(),
             QString("uid-web-5d4f8-ok"));

    // Search narrows the table.
    w.podProxy()->setSearchText("crash");
    QCOMPARE(w.podProxy()->rowCount(), 1);
}

void TestMainWindow::healthSentences_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<int>("kind");
    QTest::addColumn<QString>("sentence");
    QTest::newRow("403 is RBAC missing")
        << 403 << int(SessionHealth::Kind::Forbidden) << "RBAC missing (403)";
    QTest::newRow("401 is expired credentials")
        << 401 << int(SessionHealth::Kind::CredentialsExpired) << "Credentials expired (401)";
    QTest::newRow("500 is a retry with backoff")
        << 500 << int(SessionHealth::Kind::Reconnecting) << "retrying in";
}

void TestMainWindow::healthSentences()
{
    QFETCH(int, status);
    QFETCH(int, kind);
    QFETCH(QString, sentence);
    FakeCluster cluster(status);
    QVERIFY(cluster.listen());
    QTemporaryDir dir;
    MainWindow w(optionsFor(dir, writeKubeconfig(dir, cluster.url())));
    QTRY_COMPARE_WITH_TIMEOUT(int(w.health().kind), kind, 15000);
    QVERIFY2(w.healthSentence().contains(sentence), qPrintable(w.healthSentence()));
}

void TestMainWindow::podDetails()
{
    FakeCluster cluster;
    QVERIFY(cluster.listen());
    QTemporaryDir dir;
    MainWindow w(optionsFor(dir, writeKubeconfig(dir, cluster.url())));
    w.show();
    QTRY_COMPARE_WITH_TIMEOUT(w.podModel()->rowCount(), 2, 10000);
    const QModelIndex idx =
        w.podProxy()->mapFromSource(w.podModel()->index(w.podModel()->rowOfUid("uid-web-5d4f8-crash"), 1));
    QMetaObject::invokeMethod(w.podView(), "doubleClicked", Q_ARG(QModelIndex, idx));
    vigil::ui::PodDetailsDialog *dialog = nullptr;
    QTRY_VERIFY((dialog = w.findChild<vigil::ui::PodDetailsDialog *>()) != nullptr);
    auto *yaml = dialog->findChild<QPlainTextEdit *>("yaml");
    auto *log = dialog->findChild<QPlainTextEdit *>("log");
    QVERIFY(yaml && log);
    QTRY_VERIFY_WITH_TIMEOUT(yaml->toPlainText().contains("  name: web-5d4f8-crash\n"), 10000);
    // Strings that look like other YAML types stay strings.
    QVERIFY2(yaml->toPlainText().contains("status: \"False\""), qPrintable(yaml->toPlainText()));
    QVERIFY(yaml->toPlainText().contains("resourceVersion: \"5\""));
    QVERIFY(yaml->toPlainText().contains("restartCount: 6"));
    QTRY_COMPARE_WITH_TIMEOUT(log->toPlainText(), QString("starting\n"), 10000);
    dialog->findChild<QCheckBox *>()->setChecked(true); // previous container
    QTRY_COMPARE_WITH_TIMEOUT(log->toPlainText(), QString("panic: boom\n"), 10000);
}

void TestMainWindow::execConsent()
{
    FakeCluster cluster;
    QVERIFY(cluster.listen());
    QTemporaryDir dir;
    MainWindowOptions o = optionsFor(dir, writeKubeconfig(dir, cluster.url()));
    o.context = "exec-ctx";
    MainWindow w(o);
    w.show();
    QMessageBox *box = nullptr;
    QTRY_VERIFY2_WITH_TIMEOUT((box = w.findChild<QMessageBox *>("execConsent")) != nullptr,
                              qPrintable(w.healthSentence()), 10000);
    const QString expected = "/bin/echo get-token --cluster fake";
    QVERIFY2(box->informativeText().contains(expected), qPrintable(box->informativeText()));
    QVERIFY(MainWindow::loadExecAllowlist().commandLines.isEmpty());
    for (QAbstractButton *b : box->buttons()) {
        if (b->text() == "Allow and Connect")
            b->click();
    }
    QTRY_VERIFY(MainWindow::loadExecAllowlist().allows(expected));
}

void TestMainWindow::readOnlyHidesExecute()
{
    QTemporaryDir dir;
    MainWindowOptions o = optionsFor(dir, writeKubeconfig(dir, QUrl("http://127.0.0.1:9")));
    o.readOnly = true;
    o.connectOnStart = false;
    MainWindow w(o);
    QVERIFY(w.suggestOnly());
}

namespace {

// Requests that change the cluster: not reads, not server-side dry runs, not SelfSubjectReviews.
QStringList mutations(const FakeCluster &cluster)
{
    QStringList out;
    for (const vigil::test::HttpRequest &r : cluster.requests()) {
        if (r.method == "GET" || r.queryValue("dryRun") == "All" || r.path.endsWith("/selfsubjectreviews"))
            continue;
        out << QString::fromLatin1(r.method) + ' ' + r.path;
    }
    return out;
}

int dryRuns(const FakeCluster &cluster)
{
    int n = 0;
    for (const vigil::test::HttpRequest &r : cluster.requests())
        n += r.queryValue("dryRun") == "All" ? 1 : 0;
    return n;
}

} // namespace

void TestMainWindow::decisions_data()
{
    using State = vigil::ui::DiagnosisPanel::State;
    QTest::addColumn<QString>("intent");
    QTest::addColumn<bool>("readOnly");
    QTest::addColumn<int>("evictions");
    QTest::addColumn<int>("state");
    QTest::addColumn<QString>("auditKind");
    QTest::newRow("approve evicts the pod once and ends verified")
        << "approve" << false << 1 << int(State::Executed) << "verified";
    QTest::newRow("reject sends no mutation and ends rejected")
        << "reject" << false << 0 << int(State::Rejected) << "rejected";
    QTest::newRow("read-only approve sends no mutation and fails")
        << "approve" << true << 0 << int(State::Failed) << "proposed";
}

void TestMainWindow::decisions()
{
    QFETCH(QString, intent);
    QFETCH(bool, readOnly);
    QFETCH(int, evictions);
    QFETCH(int, state);
    QFETCH(QString, auditKind);

    FakeCluster cluster;
    cluster.setQuietLogs(true);
    QVERIFY(cluster.listen());
    QTemporaryDir dir;
    // The rules give the crash loop (no error in its logs) low confidence: a policy that lets it through.
    const QString policy = dir.filePath("policy.yaml");
    QFile f(policy);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("minConfidence:\n  default: 0.1\n  restart_pod: 0.1\n");
    f.close();
    MainWindowOptions o = optionsFor(dir, writeKubeconfig(dir, cluster.url()));
    o.policyPath = policy;
    o.readOnly = readOnly;
    MainWindow w(o);
    w.show();

    QTRY_VERIFY_WITH_TIMEOUT(w.incidentModel()->rowCount() >= 1 && w.incidentModel()->report(0)->diagnosed,
                             10000);
    const vigil::pipeline::IncidentReport *r = w.incidentModel()->report(0);
    QCOMPARE(r->diagnosis.action, vigil::ActionKind::RestartPod);
    QCOMPARE(int(r->verdict.decision), int(vigil::guard::Verdict::NeedsApproval));
    const QString decisionId = r->decisionId; // r may move when later batches arrive
    QVERIFY(!decisionId.isEmpty());
    w.incidentView()->selectionModel()->setCurrentIndex(w.incidentView()->model()->index(0, 0),
                                                        QItemSelectionModel::ClearAndSelect |
                                                            QItemSelectionModel::Rows);
    // The dry run reached the server before anyone decided.
    QTRY_VERIFY_WITH_TIMEOUT(dryRuns(cluster) >= 1, 10000);
    QTest::qWait(200);

    vigil::ui::DiagnosisPanel *panel = w.diagnosisPanel();
    if (intent == "approve")
        Q_EMIT panel->approveRequested();
    else
        Q_EMIT panel->rejectRequested("not during the release");
    QTRY_COMPARE_WITH_TIMEOUT(int(panel->state()), state, 15000);
    QTest::qWait(300); // nothing else may follow

    const QStringList changed = mutations(cluster);
    QCOMPARE(changed.size(), evictions);
    if (evictions)
        QCOMPARE(changed.first(), QString("POST /api/v1/namespaces/demo/pods/web-5d4f8-crash/eviction"));

    // The decision's steps are in the audit log the window shows.
    auto log = vigil::audit::AuditLog::open(dir.filePath("audit.sqlite"));
    QVERIFY2(log, qPrintable(log.errorMessage()));
    vigil::audit::AuditFilter filter;
    filter.decisionId = decisionId;
    auto rows = (*log)->query(filter);
    QVERIFY2(rows, qPrintable(rows.errorMessage()));
    QStringList kinds;
    for (const vigil::audit::AuditEvent &e : *rows)
        kinds << e.kind;
    QVERIFY2(kinds.contains(auditKind), qPrintable(kinds.join(',')));
    QVERIFY2(kinds.contains("proposed"), qPrintable(kinds.join(',')));
    if (readOnly)
        QVERIFY2(!kinds.contains("approved"), qPrintable(kinds.join(',')));
}

namespace {

QString writePolicy(const QTemporaryDir &dir)
{
    // The rules give the crash loop (no logs) low confidence: a policy that lets it through.
    const QString policy = dir.filePath("policy.yaml");
    QFile f(policy);
    if (!f.open(QIODevice::WriteOnly))
        return {};
    // No cooldown: the eviction a PodDisruptionBudget refused counts as an attempt on the target.
    f.write("minConfidence:\n  default: 0.1\n  restart_pod: 0.1\ncooldown:\n  perTarget: 0s\n");
    return policy;
}

void selectFirstIncident(MainWindow &w)
{
    w.incidentView()->selectionModel()->setCurrentIndex(w.incidentView()->model()->index(0, 0),
                                                        QItemSelectionModel::ClearAndSelect |
                                                            QItemSelectionModel::Rows);
}

QPushButton *panelButton(MainWindow &w, const char *name)
{
    return w.diagnosisPanel()->findChild<QPushButton *>(QString::fromLatin1(name));
}

QString outcomeText(MainWindow &w)
{
    QStringList texts;
    for (QLabel *l : w.diagnosisPanel()->findChildren<QLabel *>())
        texts << l->text();
    return texts.join('\n');
}

} // namespace

void TestMainWindow::failedDecisionStaysFailedUntilANewProposal()
{
    using State = vigil::ui::DiagnosisPanel::State;
    FakeCluster cluster;
    cluster.setQuietLogs(true);
    cluster.refuseEvictions(true);
    QVERIFY(cluster.listen());
    QTemporaryDir dir;
    MainWindowOptions o = optionsFor(dir, writeKubeconfig(dir, cluster.url()));
    o.policyPath = writePolicy(dir);
    MainWindow w(o);
    w.show();
    QTRY_VERIFY_WITH_TIMEOUT(w.incidentModel()->rowCount() >= 1, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(w.incidentModel()->report(0)->diagnosed, 10000);
    const QString firstDecision = w.incidentModel()->report(0)->decisionId;
    QVERIFY(!firstDecision.isEmpty());
    selectFirstIncident(w);
    QTRY_VERIFY_WITH_TIMEOUT(panelButton(w, "approve")->isEnabled(), 10000);
    panelButton(w, "approve")->click();

    // The PodDisruptionBudget refusal is a Failed decision that says why.
    QTRY_COMPARE_WITH_TIMEOUT(int(w.diagnosisPanel()->state()), int(State::Failed), 15000);
    QVERIFY2(outcomeText(w).contains("PodDisruptionBudget"), qPrintable(outcomeText(w)));
    QVERIFY(!panelButton(w, "approve")->isEnabled());

    // The incident grows (another restart): its report arrives again and the decision still shows Failed.
    const int count = w.incidentModel()->report(0)->incident.count;
    cluster.pushPod(pod("web-5d4f8-crash", true, "14", "demo", "web-5d4f8", 900, 9));
    QTRY_VERIFY_WITH_TIMEOUT(w.incidentModel()->report(0)->incident.count > count, 10000);
    QTest::qWait(300);
    QCOMPARE(int(w.diagnosisPanel()->state()), int(State::Failed));
    QCOMPARE(int(w.incidentModel()->report(0)->decisionState), int(vigil::act::DecisionState::Failed));
    QVERIFY2(outcomeText(w).contains("PodDisruptionBudget"), qPrintable(outcomeText(w)));

    // Re-diagnose gives a new proposal that can be approved; this time the eviction goes through.
    QVERIFY(panelButton(w, "rediagnose")->isEnabled());
    panelButton(w, "rediagnose")->click();
    QTRY_VERIFY_WITH_TIMEOUT(!w.incidentModel()->report(0)->decisionId.isEmpty() &&
                                 w.incidentModel()->report(0)->decisionId != firstDecision,
                             10000);
    // No strong model is configured: the rules answered and the panel says so.
    QVERIFY2(w.incidentModel()->report(0)->diagnosis.fallbackReason.contains("none is configured"),
             qPrintable(w.incidentModel()->report(0)->diagnosis.fallbackReason));
    QTRY_COMPARE_WITH_TIMEOUT(int(w.diagnosisPanel()->state()), int(State::Proposed), 10000);
    cluster.refuseEvictions(false);
    QTRY_VERIFY_WITH_TIMEOUT(panelButton(w, "approve")->isEnabled(), 10000);
    panelButton(w, "approve")->click();
    QTRY_VERIFY2_WITH_TIMEOUT(w.diagnosisPanel()->state() == State::Executed, qPrintable(outcomeText(w)),
                              15000);
}

void TestMainWindow::rediagnoseAsksTheStrongModel()
{
    using State = vigil::ui::DiagnosisPanel::State;
    FakeCluster cluster;
    QVERIFY(cluster.listen());
    QTemporaryDir dir;
    auto log = std::make_shared<vigil::test::ProviderLog>();
    MainWindowOptions o = optionsFor(dir, writeKubeconfig(dir, cluster.url()));
    // The small model is sure enough (above the 0.75 threshold): the strong one is asked only on request.
    o.reasoner = vigil::test::scriptedReasoner(
        {{"small-model",
          vigil::test::restartReply("small: the app crashes at start", 0.8, "demo", "web-5d4f8-crash")},
         {"strong-model",
          vigil::test::restartReply("strong: a bad config map key", 0.93, "demo", "web-5d4f8-crash")}},
        log);
    MainWindow w(o);
    w.show();
    QTRY_VERIFY_WITH_TIMEOUT(w.incidentModel()->rowCount() >= 1 && w.incidentModel()->report(0)->diagnosed,
                             10000);
    QCOMPARE(w.reasonerDescription(), QString("scripted: small-model → strong-model"));
    QCOMPARE(w.incidentModel()->report(0)->diagnosis.source.describe(), QString("scripted/small-model"));
    QCOMPARE(log->askedCopy(), QStringList{"small-model"});
    selectFirstIncident(w);
    QTRY_COMPARE_WITH_TIMEOUT(int(w.diagnosisPanel()->state()), int(State::Proposed), 10000);
    QVERIFY2(outcomeText(w).contains("small: the app crashes at start"), qPrintable(outcomeText(w)));

    panelButton(w, "rediagnose")->click();
    QTRY_VERIFY_WITH_TIMEOUT(
        w.incidentModel()->report(0)->diagnosis.source.describe() == "scripted/strong-model", 10000);
    QCOMPARE(log->askedCopy(), (QStringList{"small-model", "strong-model"}));
    const vigil::pipeline::IncidentReport *r = w.incidentModel()->report(0);
    QVERIFY(r->strongRequested);
    QCOMPARE(r->diagnosis.diagnosis, QString("strong: a bad config map key"));
    QTRY_COMPARE_WITH_TIMEOUT(int(w.diagnosisPanel()->state()), int(State::Proposed), 10000);
    QVERIFY2(outcomeText(w).contains("strong: a bad config map key"), qPrintable(outcomeText(w)));
    QVERIFY2(outcomeText(w).contains("scripted/strong-model"), qPrintable(outcomeText(w)));
}

void TestMainWindow::cancelEndsThePendingDiagnosis()
{
    using State = vigil::ui::DiagnosisPanel::State;
    FakeCluster cluster;
    QVERIFY(cluster.listen());
    QTemporaryDir dir;
    auto log = std::make_shared<vigil::test::ProviderLog>();
    MainWindowOptions o = optionsFor(dir, writeKubeconfig(dir, cluster.url()));
    o.reasoner = vigil::test::scriptedReasoner({}, log); // no model ever answers
    MainWindow w(o);
    w.show();
    QTRY_VERIFY_WITH_TIMEOUT(w.incidentModel()->rowCount() >= 1, 10000);
    selectFirstIncident(w);
    // In flight: Pending, the model named with the elapsed time, Cancel offered.
    QTRY_VERIFY_WITH_TIMEOUT(log->askedCopy() == QStringList{"small-model"}, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(w.diagnosisPanel()->pendingText().startsWith("Asking scripted/small-model… "),
                             10000);
    QCOMPARE(int(w.diagnosisPanel()->state()), int(State::Pending));
    QVERIFY(panelButton(w, "cancel")->isVisible());
    QVERIFY(!panelButton(w, "approve")->isEnabled());
    QVERIFY(!w.incidentModel()->report(0)->diagnosed);

    panelButton(w, "cancel")->click();
    QTRY_VERIFY_WITH_TIMEOUT(w.incidentModel()->report(0)->diagnosed, 5000);
    QCOMPARE(log->abortedCopy(), QStringList{"small-model"});
    QCOMPARE(log->askedCopy(), QStringList{"small-model"}); // no escalation after a cancel
    const vigil::pipeline::IncidentReport *r = w.incidentModel()->report(0);
    QCOMPARE(r->diagnosis.source.kind, vigil::DiagnosisSource::Rules);
    QCOMPARE(r->diagnosis.fallbackReason, QString("cancelled by the user"));
    QTRY_COMPARE_WITH_TIMEOUT(int(w.diagnosisPanel()->state()), int(State::Proposed), 5000);
    QVERIFY(!panelButton(w, "cancel")->isVisible());
    QVERIFY2(outcomeText(w).contains("cancelled by the user"), qPrintable(outcomeText(w)));
}

void TestMainWindow::interruptedDecisionIsReconciledAtStart()
{
    FakeCluster cluster;
    QVERIFY(cluster.listen());
    QTemporaryDir dir;
    MainWindowOptions o = optionsFor(dir, writeKubeconfig(dir, cluster.url()));
    // A decision the last run left in Executing: the eviction may or may not have reached the server.
    QString id;
    {
        QDir().mkpath(o.dataDir);
        auto store = vigil::act::DecisionStore::open(vigil::act::decisionsPath(o.dataDir));
        QVERIFY2(store, qPrintable(store.errorMessage()));
        vigil::guard::IncidentTarget target;
        target.namespaceName = "demo";
        target.podName = "web-5d4f8-crash";
        vigil::Diagnosis d;
        d.action = vigil::ActionKind::RestartPod;
        d.confidence = 0.9;
        d.parameters = {{"namespace", "demo"}, {"pod", "web-5d4f8-crash"}};
        vigil::guard::Verdict v;
        v.decision = vigil::guard::Verdict::NeedsApproval;
        vigil::act::Decision decision = vigil::act::newDecision("fp-interrupted", target, d, v);
        decision.state = vigil::act::DecisionState::Executing;
        decision.facts = {
            {"namespace", "demo"}, {"pod", "web-5d4f8-crash"}, {"podUid", "uid-web-5d4f8-crash"}};
        QVERIFY((*store)->insert(decision));
        id = decision.id;
    }
    MainWindow w(o);
    w.show();
    // The pod still runs with the same uid: the eviction never happened, so the decision failed.
    QTRY_VERIFY2_WITH_TIMEOUT(w.statusBar()->currentMessage().contains("Reconciled 1 action"),
                              qPrintable(w.statusBar()->currentMessage()), 10000);
    auto store = vigil::act::DecisionStore::open(vigil::act::decisionsPath(o.dataDir));
    QVERIFY(store);
    auto d = (*store)->load(id);
    QVERIFY2(d, qPrintable(d.errorMessage()));
    QCOMPARE(int(d->state), int(vigil::act::DecisionState::Failed));
    QVERIFY(mutations(cluster).isEmpty()); // nothing was evicted again
}

void TestMainWindow::providerSettingsFileBuildsTheReasoner_data()
{
    QTest::addColumn<QByteArray>("yaml"); // empty: no file
    QTest::addColumn<QString>("description");
    QTest::addColumn<QString>("fallback");
    QTest::newRow("no file: rules only") << QByteArray() << "rules only"
                                         << "";
    QTest::newRow("rules provider: rules only") << QByteArray("provider: rules\n") << "rules only"
                                                << "";
    QTest::newRow("ollama (no key needed) that cannot be reached: the rules answer and say why")
        << QByteArray("provider: ollama\nbaseUrl: http://127.0.0.1:9\nmodels: {small: tiny, strong: big}\n"
                      "timeoutMs: 2000\nretry: {maxAttempts: 1}\n")
        << "ollama: tiny → big"
        << "ollama";
    QTest::newRow("a broken file: rules only, the error named")
        << QByteArray("provider: openai\napiKey: sk-nope\n") << "rules only ("
        << "";
}

void TestMainWindow::providerSettingsFileBuildsTheReasoner()
{
    QFETCH(QByteArray, yaml);
    QFETCH(QString, description);
    QFETCH(QString, fallback);
    FakeCluster cluster;
    QVERIFY(cluster.listen());
    QTemporaryDir dir;
    MainWindowOptions o = optionsFor(dir, writeKubeconfig(dir, cluster.url()));
    o.providerFile = dir.filePath("providers.yaml");
    if (!yaml.isEmpty()) {
        QFile f(o.providerFile);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(yaml);
    }
    MainWindow w(o);
    w.show();
    QTRY_VERIFY_WITH_TIMEOUT(!w.reasonerDescription().isEmpty(), 10000);
    QVERIFY2(w.reasonerDescription().startsWith(description), qPrintable(w.reasonerDescription()));
    QVERIFY2(w.findChild<QLabel *>("reasonerLabel")->text().contains(w.reasonerDescription()),
             qPrintable(w.findChild<QLabel *>("reasonerLabel")->text()));
    if (description.startsWith("rules only ("))
        QVERIFY2(w.reasonerDescription().contains("apiKey"), qPrintable(w.reasonerDescription()));
    QTRY_VERIFY_WITH_TIMEOUT(w.incidentModel()->rowCount() >= 1 && w.incidentModel()->report(0)->diagnosed,
                             15000);
    const vigil::pipeline::IncidentReport *r = w.incidentModel()->report(0);
    QCOMPARE(r->diagnosis.source.kind, vigil::DiagnosisSource::Rules);
    QVERIFY2(fallback.isEmpty() ? r->diagnosis.fallbackReason.isEmpty()
                                : r->diagnosis.fallbackReason.contains(fallback),
             qPrintable(r->diagnosis.fallbackReason));
}

void TestMainWindow::recordIncidentWritesAReplayableRecord()
{
    FakeCluster cluster;
    QVERIFY(cluster.listen());
    QTemporaryDir dir;
    MainWindow w(optionsFor(dir, writeKubeconfig(dir, cluster.url())));
    w.show();
    auto *record = w.findChild<QAction *>("recordIncident");
    QVERIFY(record);
    QSignalSpy recorded(&w, &MainWindow::incidentRecorded);
    // Nothing selected: nothing written, and the reason said.
    record->trigger();
    QCOMPARE(recorded.count(), 1);
    QCOMPARE(recorded.first().at(1).toBool(), false);

    QTRY_VERIFY_WITH_TIMEOUT(w.incidentModel()->rowCount() >= 1 && w.incidentModel()->report(0)->diagnosed,
                             10000);
    selectFirstIncident(w);
    const vigil::pipeline::IncidentReport report = *w.incidentModel()->report(0);
    QString suggested;
    const QString path = dir.filePath("crash.json");
    w.setRecordPathPrompt([&suggested, path](const QString &s) {
        suggested = s;
        return path;
    });
    record->trigger();
    QTRY_COMPARE_WITH_TIMEOUT(recorded.count(), 2, 10000);
    QVERIFY2(recorded.last().at(1).toBool(), qPrintable(recorded.last().at(2).toString()));
    QCOMPARE(suggested, QString("crashloopbackoff-web.json"));
    // The file is the replay format: it reads back with the same incident and exactly the context shown.
    auto back = vigil::replay::readRecordFile(path);
    QVERIFY2(back, qPrintable(back.errorMessage()));
    QCOMPARE(back->fingerprint, report.incident.fingerprint);
    QCOMPARE(back->reason, QString("CrashLoopBackOff"));
    QCOMPARE(back->evidence.text, report.evidence.text);
    QCOMPARE(back->target.podName, QString("web-5d4f8-crash"));
    QVERIFY2(back->recordedBy.startsWith("vigil "), qPrintable(back->recordedBy));
}

void TestMainWindow::chartsFollowTheSession()
{
    FakeCluster cluster;
    QVERIFY(cluster.listen());
    QTemporaryDir dir;
    auto log = std::make_shared<vigil::test::ProviderLog>();
    MainWindowOptions o = optionsFor(dir, writeKubeconfig(dir, cluster.url()));
    o.reasoner = vigil::test::scriptedReasoner(
        {{"small-model", vigil::test::restartReply("small: crash", 0.8, "demo", "web-5d4f8-crash")}}, log);
    MainWindow w(o);
    w.show();
    QVERIFY(w.chartsDock()->isVisible());
    auto totals = [&w] {
        int incidents = 0, calls = 0, tokens = 0;
        for (const vigil::ui::ChartsPanel::HourBucket &b : w.chartsPanel()->hourly()) {
            incidents += b.incidents;
            calls += b.llmCalls;
            tokens += b.tokens;
        }
        return QList<int>{incidents, calls, tokens};
    };
    // One incident opened, one model answer (900 + 60 tokens), pods by namespace: demo 1 healthy, 1 not.
    QTRY_COMPARE_WITH_TIMEOUT(totals(), (QList<int>{1, 1, 960}), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(!w.chartsPanel()->namespaceHealth().isEmpty(), 5000);
    const vigil::ui::ChartsPanel::NamespaceHealth demo = w.chartsPanel()->namespaceHealth().first();
    QCOMPARE(demo.name, QString("demo"));
    QCOMPARE(demo.healthy, 1);
    QCOMPARE(demo.unhealthy, 1);
    // Later reports of the same incident add nothing.
    cluster.pushPod(pod("web-5d4f8-crash", true, "14", "demo", "web-5d4f8", 900, 9));
    QTRY_VERIFY_WITH_TIMEOUT(w.incidentModel()->report(0)->incident.count > 1, 10000);
    QCOMPARE(totals(), (QList<int>{1, 1, 960}));
}

void TestMainWindow::agentTabSaysWhyDecisionsAreNotMirrored()
{
    // The fake API server serves ai.vigil.dev/v1alpha1 without agentdecisions: the session's
    // decisionsMirrored(false, why) reaches the Agent decisions tab as a sentence.
    FakeCluster cluster;
    QVERIFY(cluster.listen());
    QTemporaryDir dir;
    MainWindow w(optionsFor(dir, writeKubeconfig(dir, cluster.url())));
    w.show();
    w.tabs()->setCurrentWidget(w.agentDecisionView());
    auto *label = w.agentDecisionView()->findChild<QLabel *>("agentDecisionMirrorState");
    QVERIFY(label);
    QTRY_VERIFY_WITH_TIMEOUT(label->isVisible(), 10000);
    const QString text = w.agentDecisionView()->mirrorText();
    QVERIFY2(text.startsWith("This desktop's own decisions are not mirrored into the cluster because "
                             "ai.vigil.dev/v1alpha1 is served without agentdecisions"),
             qPrintable(text));
    QVERIFY2(text.endsWith("They stay in the decision store and audit log on this computer."),
             qPrintable(text));
    // A reconnect starts unknown again, then says it anew.
    w.reconnect();
    QVERIFY(!label->isVisible());
    QTRY_VERIFY_WITH_TIMEOUT(label->isVisible(), 10000);
    QCOMPARE(w.agentDecisionView()->mirrorText(), text);
}

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
