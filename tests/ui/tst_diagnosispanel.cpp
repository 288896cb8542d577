#include "ui/diagnosispanel.h"

#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTest>

using vigil::ActionKind;
using vigil::guard::Verdict;
using vigil::ui::DiagnosisPanel;
using vigil::ui::DiagnosisPanelData;

namespace {

DiagnosisPanelData makeData(Verdict::Decision decision, ActionKind action = ActionKind::RestartPod,
                            bool undo = false)
{
    DiagnosisPanelData d;
    d.title = "CrashLoopBackOff · Deployment/web";
    d.subtitle = "demo · 3 pods";
    d.hasDiagnosis = true;
    d.diagnosis.diagnosis = "The container exits with code 1 at start-up.";
    d.diagnosis.confidence = 0.82;
    d.diagnosis.action = action;
    d.diagnosis.parameters = {{"namespace", "demo"}, {"pod", "web-1"}};
    d.diagnosis.reasoning = "Three restarts in five minutes with the same exit code.";
    d.hasVerdict = true;
    d.verdict.decision = decision;
    if (decision == Verdict::Blocked)
        d.verdict.reasons << vigil::guard::VerdictReason{"namespace.denied", "kube-system is always denied.",
                                                         true};
    d.verdict.reasons << vigil::guard::VerdictReason{"approval.required",
                                                     "restart_pod needs a person's approval.", false};
    d.evidenceText = "reason: CrashLoopBackOff\nsecret: «REDACTED:token:1»";
    d.undoAvailable = undo;
    return d;
}

QPushButton *button(DiagnosisPanel &p, const char *name)
{
    return p.findChild<QPushButton *>(QString::fromLatin1(name));
}

} // namespace

class TestDiagnosisPanel final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void states_data();
    void states();
    void rejectNeedsAReason();
    void intents();
    void showsEveryVerdictReasonAndTheContext();
    void pendingShowsElapsedTime();
    void pendingNamesTheModel_data();
    void pendingNamesTheModel();
    void failedShowsItsReasonAndOffersRediagnose();
    void fallbackReasonIsShown();
};

void TestDiagnosisPanel::states_data()
{
    QTest::addColumn<int>("state");
    QTest::addColumn<int>("decision");
    QTest::addColumn<bool>("suggestOnly");
    QTest::addColumn<bool>("approveVisible");
    QTest::addColumn<bool>("approveEnabled");
    QTest::addColumn<bool>("rejectEnabled");
    QTest::addColumn<bool>("cancelVisible");
    QTest::addColumn<QString>("badge");

    QTest::newRow("LLM pending: cancel offered, nothing to approve")
        << int(DiagnosisPanel::State::Pending) << int(Verdict::NeedsApproval) << false << true << false
        << false << true << "Diagnosing";
    QTest::newRow("needs approval: approve and reject")
        << int(DiagnosisPanel::State::Proposed) << int(Verdict::NeedsApproval) << false << true << true
        << true << false << "Needs approval";
    QTest::newRow("allowed by policy: approve still one click")
        << int(DiagnosisPanel::State::Proposed) << int(Verdict::Allowed) << false << true << true << true
        << false << "Needs approval";
    QTest::newRow("blocked by guardrail: approve disabled")
        << int(DiagnosisPanel::State::Proposed) << int(Verdict::Blocked) << false << true << false << true
        << false << "Blocked by guardrails";
    QTest::newRow("suggest-only: execute not offered")
        << int(DiagnosisPanel::State::Proposed) << int(Verdict::NeedsApproval) << true << false << false
        << true << false << "Suggestion";
    QTest::newRow("executing: nothing to click")
        << int(DiagnosisPanel::State::Executing) << int(Verdict::NeedsApproval) << false << true << false
        << false << false << "Executing";
    QTest::newRow("executed: outcome shown")
        << int(DiagnosisPanel::State::Executed) << int(Verdict::NeedsApproval) << false << true << false
        << false << false << "Executed";
    QTest::newRow("failed") << int(DiagnosisPanel::State::Failed) << int(Verdict::NeedsApproval) << false
                            << true << false << false << false << "Failed";
}

void TestDiagnosisPanel::states()
{
    QFETCH(int, state);
    QFETCH(int, decision);
    QFETCH(bool, suggestOnly);
    QFETCH(bool, approveVisible);
    QFETCH(bool, approveEnabled);
    QFETCH(bool, rejectEnabled);
    QFETCH(bool, cancelVisible);
    QFETCH(QString, badge);

    DiagnosisPanel panel;
    panel.setSuggestOnly(suggestOnly);
    panel.setData(makeData(Verdict::Decision(decision)));
    panel.setState(DiagnosisPanel::State(state), "Pod web-1 replaced; new pod Ready in 4 s.");
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));

    QCOMPARE(button(panel, "approve")->isVisible(), approveVisible);
    QCOMPARE(button(panel, "approve")->isEnabled(), approveEnabled);
    QCOMPARE(button(panel, "reject")->isEnabled(), rejectEnabled);
    QCOMPARE(button(panel, "cancel")->isVisible(), cancelVisible);
    QVERIFY2(panel.findChild<QLabel *>("stateBadge")->text().contains(badge),
             qPrintable(panel.findChild<QLabel *>("stateBadge")->text()));
}

void TestDiagnosisPanel::rejectNeedsAReason()
{
    DiagnosisPanel panel;
    panel.setData(makeData(Verdict::NeedsApproval));
    panel.setState(DiagnosisPanel::State::Proposed);
    panel.show();
    QSignalSpy rejected(&panel, &DiagnosisPanel::rejectRequested);
    button(panel, "reject")->click();
    auto *reason = panel.findChild<QLineEdit *>();
    QVERIFY(reason && reason->isVisible());
    QTest::keyClick(reason, Qt::Key_Return); // empty: nothing happens
    QCOMPARE(rejected.count(), 0);
    QTest::keyClicks(reason, "wrong pod");
    QTest::keyClick(reason, Qt::Key_Return);
    QCOMPARE(rejected.count(), 1);
    QCOMPARE(rejected.first().first().toString(), QString("wrong pod"));
    QVERIFY(!reason->isVisible());
}

void TestDiagnosisPanel::intents()
{
    DiagnosisPanel panel;
    panel.setData(makeData(Verdict::NeedsApproval, ActionKind::RestartPod, true));
    panel.setState(DiagnosisPanel::State::Proposed);
    panel.show();
    QSignalSpy approve(&panel, &DiagnosisPanel::approveRequested);
    QSignalSpy rediagnose(&panel, &DiagnosisPanel::rediagnoseRequested);
    QSignalSpy undo(&panel, &DiagnosisPanel::undoRequested);
    QSignalSpy cancel(&panel, &DiagnosisPanel::cancelRequested);
    button(panel, "approve")->click();
    button(panel, "rediagnose")->click();
    QCOMPARE(approve.count(), 1);
    QCOMPARE(rediagnose.count(), 1);
    QVERIFY(!button(panel, "undo")->isEnabled()); // nothing executed yet
    panel.setState(DiagnosisPanel::State::Executed, "done");
    QVERIFY(button(panel, "undo")->isEnabled());
    button(panel, "undo")->click();
    QCOMPARE(undo.count(), 1);
    panel.setState(DiagnosisPanel::State::Pending);
    button(panel, "cancel")->click();
    QCOMPARE(cancel.count(), 1);
}

void TestDiagnosisPanel::showsEveryVerdictReasonAndTheContext()
{
    DiagnosisPanel panel;
    panel.setData(makeData(Verdict::Blocked));
    panel.setState(DiagnosisPanel::State::Proposed);
    auto *reasons = panel.findChild<QLabel *>("verdict");
    QVERIFY(reasons);
    QVERIFY(reasons->text().contains("<code>namespace.denied</code> — kube-system is always denied."));
    QVERIFY(
        reasons->text().contains(
            "<code>approval.required</code> — restart_pod needs a person&#x27;s approval.") ||
        reasons->text().contains("<code>approval.required</code> — restart_pod needs a person's approval."));
    bool sawContext = false;
    for (QPlainTextEdit *edit : panel.findChildren<QPlainTextEdit *>())
        sawContext = sawContext || edit->toPlainText().contains("«REDACTED:token:1»");
    QVERIFY(sawContext);
}

void TestDiagnosisPanel::pendingShowsElapsedTime()
{
    DiagnosisPanel panel;
    panel.setData(makeData(Verdict::NeedsApproval));
    panel.setPendingSince(QDateTime::currentDateTimeUtc().addSecs(-12));
    panel.setState(DiagnosisPanel::State::Pending);
    QCOMPARE(panel.pendingText(), QString("Diagnosing… 12 s"));
    panel.setState(DiagnosisPanel::State::Proposed);
    panel.setPendingSince(QDateTime::currentDateTimeUtc().addSecs(-3));
    QCOMPARE(panel.pendingText(), QString("Diagnosing… 3 s"));
}

void TestDiagnosisPanel::pendingNamesTheModel_data()
{
    QTest::addColumn<QString>("with");
    QTest::addColumn<QString>("text");
    QTest::newRow("gathering: no model yet") << "" << "Diagnosing… 7 s";
    QTest::newRow("a model request in flight names the model") << "openai/gpt-4o" << "Asking openai/gpt-4o… 7 s";
}

void TestDiagnosisPanel::pendingNamesTheModel()
{
    QFETCH(QString, with);
    QFETCH(QString, text);
    DiagnosisPanel panel;
    DiagnosisPanelData d = makeData(Verdict::NeedsApproval);
    d.pendingWith = with;
    panel.setData(d);
    panel.setPendingSince(QDateTime::currentDateTimeUtc().addSecs(-7));
    panel.setState(DiagnosisPanel::State::Pending);
    QCOMPARE(panel.pendingText(), text);
    QVERIFY(!button(panel, "rediagnose")->isEnabled()); // one diagnosis at a time
}

void TestDiagnosisPanel::failedShowsItsReasonAndOffersRediagnose()
{
    DiagnosisPanel panel;
    panel.setData(makeData(Verdict::NeedsApproval));
    panel.setState(DiagnosisPanel::State::Failed, "blocked by PodDisruptionBudget web-pdb");
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    bool shown = false;
    for (QLabel *l : panel.findChildren<QLabel *>())
        shown = shown || l->text() == "blocked by PodDisruptionBudget web-pdb";
    QVERIFY(shown);
    QVERIFY(panel.findChild<QLabel *>("stateBadge")->text().contains("Failed"));
    QVERIFY(!button(panel, "approve")->isEnabled()); // a failed decision is not run again
    QVERIFY(button(panel, "rediagnose")->isEnabled()); // a new diagnosis gives a new proposal
}

void TestDiagnosisPanel::fallbackReasonIsShown()
{
    DiagnosisPanel panel;
    DiagnosisPanelData d = makeData(Verdict::NeedsApproval);
    d.diagnosis.fallbackReason = "cancelled by the user";
    panel.setData(d);
    panel.setState(DiagnosisPanel::State::Proposed);
    bool shown = false;
    for (QLabel *l : panel.findChildren<QLabel *>())
        shown = shown || l->text().contains("no model answer used: cancelled by the user");
    QVERIFY(shown);
}

QTEST_MAIN(TestDiagnosisPanel)
#include "tst_diagnosispanel.moc"
