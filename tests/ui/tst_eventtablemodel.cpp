#include "ui/eventtablemodel.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

using vigil::kube::EventView;
using vigil::ui::EventTableModel;

namespace {

const QDateTime kNow = QDateTime(QDate(2026, 11, 25), QTime(12, 0), Qt::UTC);

EventView makeEvent(const QString &uid, int ageSeconds, const QString &reason = "BackOff")
{
    EventView e;
    e.uid = uid;
    e.namespaceName = "demo";
    e.name = uid;
    e.type = "Warning";
    e.reason = reason;
    e.message = "Back-off restarting failed container " + uid;
    e.involved.kind = "Pod";
    e.involved.name = "web-" + uid;
    e.lastSeen = kNow.addSecs(-ageSeconds);
    return e;
}

// Each spec "uid:age" or "uid:age:reason".
QList<EventView> events(const QStringList &specs)
{
    QList<EventView> out;
    for (const QString &s : specs) {
        const QStringList p = s.split(':');
        out << makeEvent(p[0], p[1].toInt(), p.size() > 2 ? p[2] : QString("BackOff"));
    }
    return out;
}

QStringList uids(const EventTableModel &m)
{
    QStringList out;
    for (int r = 0; r < m.rowCount(); ++r)
        out << m.event(r)->uid;
    return out;
}

} // namespace

class TestEventTableModel final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void batches_data();
    void batches();
    void updateInPlaceEmitsNoInsert();
    void columns();
};

void TestEventTableModel::batches_data()
{
    QTest::addColumn<int>("capacity");
    QTest::addColumn<QStringList>("first");
    QTest::addColumn<QStringList>("second");
    QTest::addColumn<QStringList>("expected");

    QTest::newRow("newest first within a batch")
        << 10 << QStringList{"a:30", "b:10", "c:20"} << QStringList{} << QStringList{"b", "c", "a"};
    QTest::newRow("a later batch goes on top")
        << 10 << QStringList{"a:30"} << QStringList{"b:5"} << QStringList{"b", "a"};
    QTest::newRow("same uid updates in place")
        << 10 << QStringList{"a:30", "b:20"} << QStringList{"a:1"} << QStringList{"b", "a"};
    QTest::newRow("duplicate uid within a batch keeps one row")
        << 10 << QStringList{"a:30", "a:5"} << QStringList{} << QStringList{"a"};
    QTest::newRow("capacity drops the oldest")
        << 3 << QStringList{"a:30", "b:20", "c:10"} << QStringList{"d:1"} << QStringList{"d", "c", "b"};
    QTest::newRow("oversized batch keeps its newest")
        << 2 << QStringList{"a:30", "b:20", "c:10"} << QStringList{} << QStringList{"c", "b"};
}

void TestEventTableModel::batches()
{
    QFETCH(int, capacity);
    QFETCH(QStringList, first);
    QFETCH(QStringList, second);
    QFETCH(QStringList, expected);
    EventTableModel model(nullptr, capacity, [] { return kNow; });
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.addEvents(events(first));
    model.addEvents(events(second));
    QCOMPARE(uids(model), expected);
}

void TestEventTableModel::updateInPlaceEmitsNoInsert()
{
    EventTableModel model(nullptr, 10, [] { return kNow; });
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.addEvents(events({"a:30", "b:20"}));
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    EventView a = makeEvent("a", 30);
    a.count = 7;
    model.addEvents({a});
    QCOMPARE(inserted.count(), 0);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(model.index(1, EventTableModel::Count).data().toInt(), 7);
}

void TestEventTableModel::columns()
{
    EventTableModel model(nullptr, 10, [] { return kNow; });
    model.addEvents(events({"a:300:FailedScheduling"}));
    QCOMPARE(model.index(0, EventTableModel::LastSeen).data().toString(), QString("5m"));
    QCOMPARE(model.index(0, EventTableModel::Object).data().toString(), QString("pod/web-a"));
    QCOMPARE(model.index(0, EventTableModel::Reason).data().toString(), QString("FailedScheduling"));
    QCOMPARE(model.headerData(EventTableModel::Message, Qt::Horizontal).toString(), QString("Message"));
}

QTEST_MAIN(TestEventTableModel)
#include "tst_eventtablemodel.moc"
