// AgentDecisionModel under QAbstractItemModelTester: batches insert, update,
// delete and resync; what the review column says; and the view's buttons
// follow whether a decision still awaits a person.

#include "ui/agentdecisionmodel.h"
#include "ui/agentdecisionview.h"

#include <QAbstractItemModelTester>
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
        << QList<AgentDecisionBatch>{batch({decision("a"), decision("b")}), batch({decision("b", "executed")})}
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
    rejected.rejectedBy = "os:bob";
    rejected.rejectReason = "not during the sale";
    QTest::newRow("rejected names who and why") << rejected << "rejected by os:bob: not during the sale" << false;
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
    QTest::newRow("already approved: nothing to click") << decision("a", "approved", true) << false << false << 0;
    QTest::newRow("failed: nothing to click") << decision("a", "failed") << false << false << 0;
    QTest::newRow("read-only: not offered") << decision("a") << true << false << 0;
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
    d.conditions << AgentDecisionInfo::Condition{"Executed", "False", "InProgress", "evicting shop/web-a", kNow};
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

QTEST_MAIN(TestAgentDecisionModel)
#include "tst_agentdecisionmodel.moc"
