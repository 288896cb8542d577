// AgentDecisionModel under QAbstractItemModelTester: batches insert, update,
// delete and resync; what the review column says; and the view's buttons
// follow whether a decision still awaits a person.

#include "ui/agentdecisionmodel.h"
#include "ui/agentdecisionview.h"

#include <QAbstractItemModelTester>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableView>
#include <QTest>

using vigil::pipeline::AgentDecisionBatch;
using vigil::pipeline::AgentDecisionInfo;
using vigil::ui::AgentDecisionModel;
using vigil::ui::AgentDecisionView;

namespace {

const QDateTime kNow(QDate(2026, 11, 25), QTime(12, 0), Qt::UTC);

AgentDecisionInfo decision(const QString &uid, const QString &phase = "proposed", bool approved = false)
{
    AgentDecisionInfo d;
    d.uid = uid;
    d.namespaceName = "shop";
    d.name = "vigil-" + uid;
    d.decisionId = uid;
    d.action = "restart_pod";
    d.target = "pod/shop/web-" + uid;
    d.diagnosis = "crash loop in " + uid;
    d.confidence = 0.82;
    d.phase = phase;
    d.approved = approved;
    d.created = kNow.addSecs(-120);
    return d;
}

AgentDecisionBatch batch(QList<AgentDecisionInfo> upserted, QStringList deleted = {}, bool resynced = false)
{
    AgentDecisionBatch b;
    b.upserted = std::move(upserted);
    b.deletedUids = std::move(deleted);
    b.resynced = resynced;
    return b;
}

QStringList uids(const AgentDecisionModel &m)
{
    QStringList out;
    for (int r = 0; r < m.rowCount(); ++r)
        out << m.index(r, 0).data(AgentDecisionModel::UidRole).toString();
    return out;
}

} // namespace

class TestAgentDecisionModel final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void batches_data();
    void batches();
    void display_data();
    void display();
    void viewOffersApproveOnlyWhileAwaiting_data();
    void viewOffersApproveOnlyWhileAwaiting();
    void rejectNeedsAReason();
    void rejectionShownInDetails();
    void mirrorState_data();
    void mirrorState();
};

void TestAgentDecisionModel::batches_data()
{
    QTest::addColumn<QList<AgentDecisionBatch>>("batches");
    QTest::addColumn<QStringList>("rows");
    QTest::addColumn<QString>("phaseOfB");

    QTest::newRow("inserts keep arrival order")
        << QList<AgentDecisionBatch>{batch({decision("a"), decision("b")}), batch({decision("c")})}
        << QStringList{"a", "b", "c"} << "proposed";
    QTest::newRow("an update changes the row in place")
        << QList<AgentDecisionBatch>{batch({decision("a"), decision("b")}),
                                     batch({decision("b", "executed")})}
        << QStringList{"a", "b"} << "executed";
    QTest::newRow("the same uid twice in one batch is one row, the later wins")
        << QList<AgentDecisionBatch>{batch({decision("b"), decision("b", "approved", true)})}
        << QStringList{"b"} << "approved";
    QTest::newRow("deletes remove contiguous and scattered rows")
        << QList<AgentDecisionBatch>{batch({decision("a"), decision("b"), decision("c"), decision("d"),
                                            decision("e")}),
                                     batch({}, {"a", "c", "d"})}
        << QStringList{"b", "e"} << "proposed";
    QTest::newRow("delete and insert in one batch")
        << QList<AgentDecisionBatch>{batch({decision("a"), decision("b")}), batch({decision("c")}, {"a"})}
        << QStringList{"b", "c"} << "proposed";
    QTest::newRow("deleting an unknown uid changes nothing")
        << QList<AgentDecisionBatch>{batch({decision("b")}), batch({}, {"zzz"})} << QStringList{"b"}
        << "proposed";
    QTest::newRow("a resync replaces everything")
        << QList<AgentDecisionBatch>{batch({decision("a"), decision("c")}),
                                     batch({decision("b", "verified"), decision("d")}, {}, true)}
        << QStringList{"b", "d"} << "verified";
}

void TestAgentDecisionModel::batches()
{
    QFETCH(QList<AgentDecisionBatch>, batches);
    QFETCH(QStringList, rows);
    QFETCH(QString, phaseOfB);
    AgentDecisionModel model(nullptr, [] { return kNow; });
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    for (const AgentDecisionBatch &b : batches)
        model.apply(b);
    QCOMPARE(uids(model), rows);
    for (int r = 0; r < model.rowCount(); ++r)
        QCOMPARE(model.rowOfUid(rows[r]), r);
    if (const int b = model.rowOfUid("b"); b >= 0)
        QCOMPARE(model.decision(b)->phase, phaseOfB);
}

void TestAgentDecisionModel::display_data()
{
    QTest::addColumn<AgentDecisionInfo>("info");
    QTest::addColumn<QString>("review");
    QTest::addColumn<bool>("awaiting");

    QTest::newRow("proposed and unreviewed awaits approval") << decision("a") << "awaiting approval" << true;
    AgentDecisionInfo approved = decision("a", "approved", true);
    approved.approvedBy = "os:alice k8s:admin via desktop";
    QTest::newRow("approved names who") << approved << "approved by os:alice k8s:admin via desktop" << false;
    AgentDecisionInfo rejected = decision("a");
    rejected.rejected = true;
    rejected.rejectedBy = "os:bob via desktop";
    rejected.rejectReason = "not during the sale";
    QTest::newRow("rejected on the desktop names who and why")
        << rejected << "rejected by os:bob via desktop: not during the sale" << false;
    AgentDecisionInfo byKubectl = decision("a");
    byKubectl.rejected = true;
    byKubectl.rejectedBy = "field-manager:kubectl-patch";
    byKubectl.rejectReason = "the database is down; a restart will not help";
    QTest::newRow("spec.rejected by kubectl names its field manager and the reason")
        << byKubectl
        << "rejected by kubectl-patch (field manager): the database is down; a restart will not help"
        << false;
    AgentDecisionInfo nobody = decision("a");
    nobody.rejected = true;
    nobody.rejectedBy = "field-manager:unknown";
    QTest::newRow("spec.rejected without a reason or a known manager is still rejected")
        << nobody << "rejected" << false;
    AgentDecisionInfo approvedThenRejected = decision("a", "approved", true);
    approvedThenRejected.rejected = true;
    approvedThenRejected.rejectedBy = "field-manager:kubectl-patch";
    approvedThenRejected.rejectReason = "changed my mind";
    QTest::newRow("rejected wins over approved, as the agent never runs it")
        << approvedThenRejected << "rejected by kubectl-patch (field manager): changed my mind" << false;
    QTest::newRow("executed without approval (auto mode) awaits nothing")
        << decision("a", "verified") << "not approved" << false;
    QTest::newRow("approved through kubectl has no annotation")
        << decision("a", "approved", true) << "approved" << false;
}

void TestAgentDecisionModel::display()
{
    QFETCH(AgentDecisionInfo, info);
    QFETCH(QString, review);
    QFETCH(bool, awaiting);
    AgentDecisionModel model(nullptr, [] { return kNow; });
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.apply(batch({info}));
    QCOMPARE(model.index(0, AgentDecisionModel::Review).data().toString(), review);
    QCOMPARE(model.index(0, 0).data(AgentDecisionModel::AwaitingRole).toBool(), awaiting);
    QCOMPARE(model.index(0, AgentDecisionModel::Confidence).data().toString(), QString("82 %"));
    QCOMPARE(model.index(0, AgentDecisionModel::Age).data().toString(), QString("2m"));
    QCOMPARE(model.index(0, AgentDecisionModel::Target).data().toString(), QString("pod/shop/web-a"));
}

void TestAgentDecisionModel::viewOffersApproveOnlyWhileAwaiting_data()
{
    QTest::addColumn<AgentDecisionInfo>("info");
    QTest::addColumn<bool>("readOnly");
    QTest::addColumn<bool>("approveEnabled");
    QTest::addColumn<int>("approvals");
    QTest::newRow("awaiting: one click approves") << decision("a") << false << true << 1;
    QTest::newRow("already approved: nothing to click")
        << decision("a", "approved", true) << false << false << 0;
    QTest::newRow("failed: nothing to click") << decision("a", "failed") << false << false << 0;
    QTest::newRow("read-only: not offered") << decision("a") << true << false << 0;
    AgentDecisionInfo rejected = decision("a");
    rejected.rejected = true;
    rejected.rejectedBy = "field-manager:kubectl-patch";
    QTest::newRow("rejected through spec.rejected: nothing to click") << rejected << false << false << 0;
}

void TestAgentDecisionModel::viewOffersApproveOnlyWhileAwaiting()
{
    QFETCH(AgentDecisionInfo, info);
    QFETCH(bool, readOnly);
    QFETCH(bool, approveEnabled);
    QFETCH(int, approvals);
    AgentDecisionView view;
    view.setReadOnly(readOnly);
    view.setAvailability(true, {});
    view.apply(batch({info}));
    QVERIFY(view.select(info.uid));
    auto *approve = view.findChild<QPushButton *>("approveAgentDecision");
    QVERIFY(approve);
    QCOMPARE(approve->isEnabled(), approveEnabled);
    QSignalSpy spy(&view, &AgentDecisionView::approveRequested);
    approve->click();
    QCOMPARE(spy.count(), approvals);
    if (approvals) {
        QCOMPARE(spy.first().at(0).toString(), QString("shop"));
        QCOMPARE(spy.first().at(1).toString(), QString("vigil-a"));
    }
    QVERIFY2(view.detailsText().contains("crash loop in a"), qPrintable(view.detailsText()));
}

void TestAgentDecisionModel::rejectNeedsAReason()
{
    AgentDecisionView view;
    AgentDecisionInfo d = decision("a", "executing");
    d.conditions << AgentDecisionInfo::Condition{"Executed", "False", "InProgress", "evicting shop/web-a",
                                                 kNow};
    view.apply(batch({decision("b"), d}));
    QVERIFY(view.select("b"));
    auto *reject = view.findChild<QPushButton *>("rejectAgentDecision");
    auto *reason = view.findChild<QLineEdit *>("agentRejectReason");
    QVERIFY(reject && reason);
    QVERIFY(!reject->isEnabled());
    QSignalSpy spy(&view, &AgentDecisionView::rejectRequested);
    reason->setText("wrong pod");
    QVERIFY(reject->isEnabled());
    reject->click();
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.first().at(2).toString(), QString("wrong pod"));
    // What the agent did: the phase and every condition.
    QVERIFY(view.select("a"));
    QVERIFY2(view.detailsText().contains("executing"), qPrintable(view.detailsText()));
    QVERIFY2(view.detailsText().contains("evicting shop/web-a"), qPrintable(view.detailsText()));
    QVERIFY2(view.detailsText().contains("InProgress"), qPrintable(view.detailsText()));
}

void TestAgentDecisionModel::rejectionShownInDetails()
{
    AgentDecisionView view;
    AgentDecisionInfo d = decision("a", "rejected");
    d.rejected = true;
    d.rejectedBy = "field-manager:kubectl-patch";
    d.rejectReason = "the database is down";
    view.apply(batch({d}));
    QVERIFY(view.select("a"));
    QVERIFY2(view.detailsText().contains("rejected by kubectl-patch (field manager): the database is down"),
             qPrintable(view.detailsText()));
    QVERIFY(!view.findChild<QPushButton *>("rejectAgentDecision")->isEnabled());
    QVERIFY(!view.findChild<QLineEdit *>("agentRejectReason")->isEnabled());
}

void TestAgentDecisionModel::mirrorState_data()
{
    QTest::addColumn<bool>("mirrored");
    QTest::addColumn<QString>("message");
    QTest::addColumn<QString>("sentence");

    QTest::newRow("mirrored: kubectl and the agent see them")
        << true << "Decisions are mirrored into the cluster as AgentDecisions; spec.approved: true approves."
        << "This desktop's own decisions are mirrored into the cluster as AgentDecisions, so kubectl and the "
           "in-cluster agent see them too.";
    QTest::newRow("CRD missing: the reason reads as part of the sentence")
        << false
        << "not mirrored because the AgentDecision CRD is not installed (ai.vigil.dev/v1alpha1 is not "
           "served; "
           "apply resources/crd/agentdecision.yaml)"
        << "This desktop's own decisions are not mirrored into the cluster because the AgentDecision CRD is "
           "not "
           "installed (ai.vigil.dev/v1alpha1 is not served; apply resources/crd/agentdecision.yaml). They "
           "stay "
           "in the decision store and audit log on this computer.";
    QTest::newRow("RBAC denies: names what is denied")
        << false << "not mirrored because RBAC denies create agentdecisions in namespace shop"
        << "This desktop's own decisions are not mirrored into the cluster because RBAC denies create "
           "agentdecisions in namespace shop. They stay in the decision store and audit log on this "
           "computer.";
    QTest::newRow("no reason given: still a sentence")
        << false << ""
        << "This desktop's own decisions are not mirrored into the cluster; they stay in the decision store "
           "and "
           "audit log on this computer.";
}

void TestAgentDecisionModel::mirrorState()
{
    QFETCH(bool, mirrored);
    QFETCH(QString, message);
    QFETCH(QString, sentence);
    AgentDecisionView view;
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    auto *label = view.findChild<QLabel *>("agentDecisionMirrorState");
    QVERIFY(label);
    QVERIFY(!label->isVisible()); // unknown until the session says
    QCOMPARE(view.mirrorText(), QString());
    view.setMirrorState(mirrored, message);
    QVERIFY(label->isVisible());
    QCOMPARE(view.mirrorText(), sentence);
    QCOMPARE(label->text(), sentence);
    // A new session starts unknown again.
    view.clear();
    QVERIFY(!label->isVisible());
    QCOMPARE(view.mirrorText(), QString());
}

QTEST_MAIN(TestAgentDecisionModel)
#include "tst_agentdecisionmodel.moc"
