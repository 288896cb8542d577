#include "ui/incidentmodel.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

using vigil::ActionKind;
using vigil::guard::Verdict;
using vigil::pipeline::IncidentReport;
using vigil::ui::IncidentModel;

namespace {

const QDateTime kNow = QDateTime(QDate(2026, 11, 25), QTime(12, 0), Qt::UTC);

IncidentReport makeReport(const QString &fp, int ageSeconds, int count = 1, bool blocked = false)
{
    IncidentReport r;
    r.incident.fingerprint = fp;
    r.incident.reason = "CrashLoopBackOff";
    r.incident.namespaceName = "demo";
    r.incident.workload = {"Deployment", "web-" + fp};
    r.incident.count = count;
    r.incident.lastSeen = kNow.addSecs(-ageSeconds);
    r.incident.firstSeen = r.incident.lastSeen.addSecs(-60);
    r.diagnosed = true;
    r.diagnosis.action = ActionKind::RestartPod;
    r.diagnosis.diagnosis = "The container keeps crashing.";
    r.judged = true;
    r.verdict.decision = blocked ? Verdict::Blocked : Verdict::NeedsApproval;
    return r;
}

QList<IncidentReport> reports(const QStringList &specs)
{
    QList<IncidentReport> out;
    for (const QString &s : specs) {
        const QStringList p = s.split(':');
        out << makeReport(p[0], p[1].toInt(), p.size() > 2 ? p[2].toInt() : 1);
    }
    return out;
}

QStringList fingerprints(const IncidentModel &m)
{
    QStringList out;
    for (int r = 0; r < m.rowCount(); ++r)
        out << m.index(r, 0).data(IncidentModel::FingerprintRole).toString();
    return out;
}

} // namespace

class TestIncidentModel final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void upsert_data();
    void upsert();
    void proposalText_data();
    void proposalText();
    void blockedRole();
};

void TestIncidentModel::upsert_data()
{
    QTest::addColumn<QStringList>("first");
    QTest::addColumn<QStringList>("second");
    QTest::addColumn<QStringList>("expectedOrder");
    QTest::addColumn<QStringList>("expectedNew"); // returned by the second upsert
    QTest::addColumn<int>("countOfFirstRow");

    QTest::newRow("newest first") << QStringList{"a:30", "b:10"} << QStringList{} << QStringList{"b", "a"}
                                  << QStringList{} << 1;
    QTest::newRow("new incident goes on top")
        << QStringList{"a:30"} << QStringList{"b:1"} << QStringList{"b", "a"} << QStringList{"b"} << 1;
    QTest::newRow("known incident updates in place, not new")
        << QStringList{"a:30", "b:10"} << QStringList{"b:5:4"} << QStringList{"b", "a"} << QStringList{} << 4;
    QTest::newRow("same incident twice in a batch is one row")
        << QStringList{} << QStringList{"a:30", "a:2:3"} << QStringList{"a"} << QStringList{"a"} << 3;
}

void TestIncidentModel::upsert()
{
    QFETCH(QStringList, first);
    QFETCH(QStringList, second);
    QFETCH(QStringList, expectedOrder);
    QFETCH(QStringList, expectedNew);
    QFETCH(int, countOfFirstRow);
    IncidentModel model(nullptr, [] { return kNow; });
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.upsert(reports(first));
    QCOMPARE(model.upsert(reports(second)), expectedNew);
    QCOMPARE(fingerprints(model), expectedOrder);
    QCOMPARE(model.index(0, IncidentModel::Count).data().toInt(), countOfFirstRow);
    QCOMPARE(model.rowOf(expectedOrder.first()), 0);
}

void TestIncidentModel::proposalText_data()
{
    QTest::addColumn<bool>("diagnosed");
    QTest::addColumn<bool>("judged");
    QTest::addColumn<int>("decision");
    QTest::addColumn<QString>("expected");
    QTest::newRow("needs approval") << true << true << int(Verdict::NeedsApproval)
                                    << "restart_pod · needs-approval";
    QTest::newRow("blocked") << true << true << int(Verdict::Blocked) << "restart_pod · blocked";
    QTest::newRow("not judged") << true << false << 0 << "restart_pod";
    QTest::newRow("no diagnosis") << false << false << 0 << "no diagnosis";
}

void TestIncidentModel::proposalText()
{
    QFETCH(bool, diagnosed);
    QFETCH(bool, judged);
    QFETCH(int, decision);
    QFETCH(QString, expected);
    IncidentReport r = makeReport("a", 0);
    r.diagnosed = diagnosed;
    r.judged = judged;
    r.verdict.decision = Verdict::Decision(decision);
    QCOMPARE(IncidentModel::proposalText(r), expected);
}

void TestIncidentModel::blockedRole()
{
    IncidentModel model(nullptr, [] { return kNow; });
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.upsert({makeReport("a", 10, 1, true), makeReport("b", 20)});
    QCOMPARE(model.index(model.rowOf("a"), 0).data(IncidentModel::BlockedRole).toBool(), true);
    QCOMPARE(model.index(model.rowOf("b"), 0).data(IncidentModel::BlockedRole).toBool(), false);
    QCOMPARE(model.index(model.rowOf("a"), IncidentModel::Workload).data().toString(),
             QString("Deployment/web-a"));
}

QTEST_MAIN(TestIncidentModel)
#include "tst_incidentmodel.moc"
