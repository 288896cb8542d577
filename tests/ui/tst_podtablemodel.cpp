#include "ui/podfilterproxymodel.h"
#include "ui/podtablemodel.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>
#include <QTimeZone>

using vigil::kube::ContainerStatusView;
using vigil::kube::PodView;
using vigil::ui::PodFilterProxyModel;
using vigil::ui::PodTableModel;

namespace {

const QDateTime kNow = QDateTime(QDate(2026, 11, 25), QTime(12, 0), Qt::UTC);

PodView makePod(const QString &ns, const QString &name, const QString &waitingReason = {}, int restarts = 0,
                int ageSeconds = 600)
{
    PodView p;
    p.uid = ns + u'/' + name;
    p.namespaceName = ns;
    p.name = name;
    p.phase = QStringLiteral("Running");
    p.created = kNow.addSecs(-ageSeconds);
    p.nodeName = QStringLiteral("kwok-node-0");
    ContainerStatusView c;
    c.name = QStringLiteral("app");
    c.restartCount = restarts;
    if (waitingReason.isEmpty()) {
        c.state = QStringLiteral("running");
        c.ready = true;
        p.ready = true;
    } else {
        c.state = QStringLiteral("waiting");
        c.reason = waitingReason;
    }
    p.containers.append(c);
    return p;
}

QStringList names(const QAbstractItemModel &m)
{
    QStringList out;
    for (int r = 0; r < m.rowCount(); ++r)
        out << m.index(r, PodTableModel::Name).data().toString();
    return out;
}

} // namespace

class TestPodTableModel final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void batches_data();
    void batches();
    void signalsPerBatch();
    void unhealthy_data();
    void unhealthy();
    void age_data();
    void age();
    void filter_data();
    void filter();
    void sortsNumerically();
    void usageColumns();
    void fastSortMatchesSortRole_data();
    void fastSortMatchesSortRole();
    void refreshAgesSignalsOnlyChangedRows_data();
    void refreshAgesSignalsOnlyChangedRows();
    void usageSignalsOnlyChangedRows();
    void scatteredChangesBecomeOneSpan_data();
    void scatteredChangesBecomeOneSpan();
    void largeUsageIsSliced_data();
    void largeUsageIsSliced();
    void unhealthyCountFollowsRows();
};

void TestPodTableModel::batches_data()
{
    QTest::addColumn<QStringList>("initial");
    QTest::addColumn<QStringList>("upserts");
    QTest::addColumn<QStringList>("deletes");
    QTest::addColumn<QStringList>("expected"); // sorted names after the batch

    QTest::newRow("insert into empty")
        << QStringList{} << QStringList{"a", "b"} << QStringList{} << QStringList{"a", "b"};
    QTest::newRow("modify keeps count")
        << QStringList{"a", "b"} << QStringList{"a"} << QStringList{} << QStringList{"a", "b"};
    QTest::newRow("delete middle") << QStringList{"a", "b", "c"} << QStringList{} << QStringList{"b"}
                                   << QStringList{"a", "c"};
    QTest::newRow("delete contiguous and scattered")
        << QStringList{"a", "b", "c", "d", "e", "f"} << QStringList{} << QStringList{"b", "c", "f"}
        << QStringList{"a", "d", "e"};
    QTest::newRow("delete unknown is ignored")
        << QStringList{"a"} << QStringList{} << QStringList{"zz"} << QStringList{"a"};
    QTest::newRow("duplicate new pod in one batch")
        << QStringList{} << QStringList{"a", "a", "b"} << QStringList{} << QStringList{"a", "b"};
    QTest::newRow("delete and re-add same batch")
        << QStringList{"a", "b"} << QStringList{"b", "c"} << QStringList{"b"} << QStringList{"a", "b", "c"};
    QTest::newRow("delete all") << QStringList{"a", "b"} << QStringList{} << QStringList{"a", "b"}
                                << QStringList{};
}

void TestPodTableModel::batches()
{
    QFETCH(QStringList, initial);
    QFETCH(QStringList, upserts);
    QFETCH(QStringList, deletes);
    QFETCH(QStringList, expected);

    PodTableModel model(nullptr, [] { return kNow; });
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QList<PodView> pods;
    for (const QString &n : initial)
        pods << makePod(QStringLiteral("ns"), n);
    model.resetPods(pods);

    QList<PodView> up;
    for (const QString &n : upserts)
        up << makePod(QStringLiteral("ns"), n, QStringLiteral("CrashLoopBackOff"), 3);
    QStringList del;
    for (const QString &n : deletes)
        del << QStringLiteral("ns/") + n;
    model.applyChanges(up, del);

    QStringList got = names(model);
    got.sort();
    QCOMPARE(got, expected);
    for (int r = 0; r < model.rowCount(); ++r)
        QCOMPARE(model.rowOfUid(model.pod(r)->uid), r);
    for (const QString &n : upserts) {
        const int row = model.rowOfUid(QStringLiteral("ns/") + n);
        QVERIFY(row >= 0);
        QCOMPARE(model.index(row, PodTableModel::Status).data().toString(),
                 QStringLiteral("CrashLoopBackOff"));
    }
}

void TestPodTableModel::signalsPerBatch()
{
    PodTableModel model(nullptr, [] { return kNow; });
    QList<PodView> pods;
    for (int i = 0; i < 10; ++i)
        pods << makePod(QStringLiteral("ns"), QStringLiteral("p%1").arg(i));
    model.resetPods(pods);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);

    // rows 2,3,4 modified (one range), 7 modified (second range), 3 new pods (one insert),
    // rows 8,9 deleted (one removal).
    QList<PodView> up{makePod(QStringLiteral("ns"), QStringLiteral("p2")),
                      makePod(QStringLiteral("ns"), QStringLiteral("p3")),
                      makePod(QStringLiteral("ns"), QStringLiteral("p4")),
                      makePod(QStringLiteral("ns"), QStringLiteral("p7"))};
    for (int i = 0; i < 3; ++i)
        up << makePod(QStringLiteral("ns"), QStringLiteral("new%1").arg(i));
    model.applyChanges(up, {QStringLiteral("ns/p8"), QStringLiteral("ns/p9")});
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(changed.count(), 2);
    QCOMPARE(removed.count(), 1);
    QCOMPARE(model.rowCount(), 11);
}

void TestPodTableModel::unhealthy_data()
{
    QTest::addColumn<QString>("waitingReason");
    QTest::addColumn<QString>("phase");
    QTest::addColumn<bool>("ready");
    QTest::addColumn<int>("ageSeconds");
    QTest::addColumn<bool>("unhealthy");
    QTest::newRow("running ready") << QString() << "Running" << true << 600 << false;
    QTest::newRow("crashloop") << "CrashLoopBackOff"
                               << "Running" << false << 600 << true;
    QTest::newRow("image pull") << "ImagePullBackOff"
                                << "Pending" << false << 600 << true;
    QTest::newRow("container creating is patience") << "ContainerCreating"
                                                    << "Pending" << false << 10 << false;
    QTest::newRow("running not ready during startup") << QString() << "Running" << false << 10 << false;
    QTest::newRow("running not ready after grace") << QString() << "Running" << false << 600 << true;
    QTest::newRow("pending after grace") << QString() << "Pending" << false << 600 << true;
    QTest::newRow("pending just created") << QString() << "Pending" << false << 5 << false;
}

void TestPodTableModel::unhealthy()
{
    QFETCH(QString, waitingReason);
    QFETCH(QString, phase);
    QFETCH(bool, ready);
    QFETCH(int, ageSeconds);
    QFETCH(bool, unhealthy);
    PodView p = makePod(QStringLiteral("ns"), QStringLiteral("x"), waitingReason, 0, ageSeconds);
    p.phase = phase;
    p.ready = ready;
    if (waitingReason.isEmpty()) {
        p.containers[0].ready = ready;
        if (phase == u"Pending")
            p.containers.clear();
    }
    QCOMPARE(PodTableModel::isUnhealthy(p, kNow), unhealthy);
}

void TestPodTableModel::age_data()
{
    QTest::addColumn<qint64>("seconds");
    QTest::addColumn<QString>("text");
    QTest::newRow("seconds") << qint64(45) << "45s";
    QTest::newRow("under two minutes stays seconds") << qint64(119) << "119s";
    QTest::newRow("minutes") << qint64(12 * 60) << "12m";
    QTest::newRow("hours") << qint64(5 * 3600) << "5h";
    QTest::newRow("days") << qint64(3 * 86400) << "3d";
    QTest::newRow("years") << qint64(800LL * 86400) << "2y";
    QTest::newRow("clock skew is zero") << qint64(-5) << "0s";
}

void TestPodTableModel::age()
{
    QFETCH(qint64, seconds);
    QFETCH(QString, text);
    QCOMPARE(PodTableModel::formatAge(seconds), text);
}

void TestPodTableModel::filter_data()
{
    QTest::addColumn<QString>("search");
    QTest::addColumn<QString>("ns");
    QTest::addColumn<bool>("unhealthyOnly");
    QTest::addColumn<QStringList>("expected");
    QTest::newRow("everything") << QString() << QString() << false
                                << QStringList{"api", "db", "web", "worker"};
    QTest::newRow("by name") << "wor" << QString() << false << QStringList{"worker"};
    QTest::newRow("by status, any case") << "crashloop" << QString() << false << QStringList{"worker"};
    QTest::newRow("by namespace text") << "shop" << QString() << false << QStringList{"db", "web"};
    QTest::newRow("namespace filter") << QString() << "infra" << false << QStringList{"api", "worker"};
    QTest::newRow("all words must match") << "shop web" << QString() << false << QStringList{"web"};
    QTest::newRow("unhealthy only") << QString() << QString() << true << QStringList{"db", "worker"};
    QTest::newRow("nothing matches") << "zzz" << QString() << false << QStringList{};
}

void TestPodTableModel::filter()
{
    QFETCH(QString, search);
    QFETCH(QString, ns);
    QFETCH(bool, unhealthyOnly);
    QFETCH(QStringList, expected);
    PodTableModel model(nullptr, [] { return kNow; });
    PodFilterProxyModel proxy;
    proxy.setSourceModel(&model);
    QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.resetPods(
        {makePod(QStringLiteral("shop"), QStringLiteral("web")),
         makePod(QStringLiteral("shop"), QStringLiteral("db"), QStringLiteral("ImagePullBackOff")),
         makePod(QStringLiteral("infra"), QStringLiteral("worker"), QStringLiteral("CrashLoopBackOff"), 7),
         makePod(QStringLiteral("infra"), QStringLiteral("api"))});
    proxy.setSearchText(search);
    proxy.setNamespace(ns);
    proxy.setUnhealthyOnly(unhealthyOnly);
    QStringList got = names(proxy);
    got.sort();
    QCOMPARE(got, expected);
}

void TestPodTableModel::sortsNumerically()
{
    PodTableModel model(nullptr, [] { return kNow; });
    PodFilterProxyModel proxy;
    proxy.setSourceModel(&model);
    model.resetPods(
        {makePod(QStringLiteral("ns"), QStringLiteral("nine"), QStringLiteral("CrashLoopBackOff"), 9),
         makePod(QStringLiteral("ns"), QStringLiteral("ten"), QStringLiteral("CrashLoopBackOff"), 10),
         makePod(QStringLiteral("ns"), QStringLiteral("one"), QStringLiteral("CrashLoopBackOff"), 1)});
    proxy.sort(PodTableModel::Restarts, Qt::DescendingOrder);
    QCOMPARE(names(proxy), (QStringList{"ten", "nine", "one"})); // "10" < "9" as text; numbers sort right
    // A batch that changes a restart count re-sorts without a reset.
    QSignalSpy reset(&proxy, &QAbstractItemModel::modelReset);
    model.applyChanges(
        {makePod(QStringLiteral("ns"), QStringLiteral("one"), QStringLiteral("CrashLoopBackOff"), 50)}, {});
    QCOMPARE(names(proxy), (QStringList{"one", "ten", "nine"}));
    QCOMPARE(reset.count(), 0);
}

void TestPodTableModel::usageColumns()
{
    PodTableModel model(nullptr, [] { return kNow; });
    model.resetPods({makePod(QStringLiteral("ns"), QStringLiteral("a")),
                     makePod(QStringLiteral("ns"), QStringLiteral("b"))});
    QVERIFY(model.index(0, PodTableModel::Cpu).data().toString().isEmpty());
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.setUsage({{QStringLiteral("ns/a"), {250, 64LL * 1024 * 1024}}});
    QCOMPARE(changed.count(), 1);
    const int a = model.rowOfUid(QStringLiteral("ns/a"));
    QCOMPARE(model.index(a, PodTableModel::Cpu).data().toString(), QStringLiteral("250m"));
    QCOMPARE(model.index(a, PodTableModel::Memory).data().toString(), QStringLiteral("64Mi"));
    QVERIFY(model.index(1 - a, PodTableModel::Cpu).data().toString().isEmpty());
}

void TestPodTableModel::fastSortMatchesSortRole_data()
{
    QTest::addColumn<int>("column");
    QTest::newRow("namespace") << int(PodTableModel::Namespace);
    QTest::newRow("name, case aside") << int(PodTableModel::Name);
    QTest::newRow("ready") << int(PodTableModel::Ready);
    QTest::newRow("status") << int(PodTableModel::Status);
    QTest::newRow("restarts") << int(PodTableModel::Restarts);
    QTest::newRow("age, unknown creation last") << int(PodTableModel::Age);
    QTest::newRow("node") << int(PodTableModel::Node);
    QTest::newRow("owner") << int(PodTableModel::Owner);
    QTest::newRow("cpu, no metrics first") << int(PodTableModel::Cpu);
    QTest::newRow("memory") << int(PodTableModel::Memory);
}

void TestPodTableModel::fastSortMatchesSortRole()
{
    // The proxy compares rows without QVariants; the order must be the one SortRole describes.
    QFETCH(int, column);
    PodTableModel model(nullptr, [] { return kNow; });
    PodFilterProxyModel proxy;
    proxy.setSourceModel(&model);
    QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QList<PodView> pods;
    const QStringList reasons{QString(), "CrashLoopBackOff", "ImagePullBackOff", QString(), "Error"};
    for (int i = 0; i < 40; ++i) {
        PodView p =
            makePod(QString("ns-%1").arg(i % 7), QString(i % 3 ? "pod-%1" : "Pod-%1").arg((i * 37) % 41),
                    reasons[i % reasons.size()], (i * 13) % 9, 100 + (i * 997) % 5000);
        p.nodeName = QString("node-%1").arg(i % 4);
        p.owner = {i % 2 ? "ReplicaSet" : "StatefulSet", QString("owner-%1").arg(i % 5), "uid", true};
        if (i % 11 == 0)
            p.created = QDateTime();
        pods << p;
    }
    model.resetPods(pods);
    QHash<QString, vigil::ui::PodUsage> usage;
    for (int i = 0; i < 40; i += 3)
        usage.insert(QString("ns-%1/").arg(i % 7) + pods[i].name, {i * 10, i * 1000000LL});
    model.setUsage(usage);
    for (Qt::SortOrder order : {Qt::AscendingOrder, Qt::DescendingOrder}) {
        proxy.sort(column, order);
        for (int r = 1; r < proxy.rowCount(); ++r) {
            const QVariant a = proxy.index(r - 1, column).data(PodTableModel::SortRole);
            const QVariant b = proxy.index(r, column).data(PodTableModel::SortRole);
            const int c = a.typeId() == QMetaType::QString
                              ? a.toString().compare(b.toString(), Qt::CaseInsensitive)
                              : (QVariant::compare(a, b) == QPartialOrdering::Less      ? -1
                                 : QVariant::compare(a, b) == QPartialOrdering::Greater ? 1
                                                                                        : 0);
            QVERIFY2(order == Qt::AscendingOrder ? c <= 0 : c >= 0,
                     qPrintable(QString("row %1: %2 then %3").arg(r).arg(a.toString(), b.toString())));
        }
    }
}

void TestPodTableModel::refreshAgesSignalsOnlyChangedRows_data()
{
    QTest::addColumn<int>("ageSeconds"); // at the first refresh
    QTest::addColumn<int>("advance");    // seconds until the second
    QTest::addColumn<QString>("signal"); // none | age | row
    QTest::addColumn<bool>("ready");

    QTest::newRow("seconds tick") << 45 << 5 << "age" << false;
    QTest::newRow("three days stay three days") << 3 * 86400 << 5 << "none" << false;
    QTest::newRow("minutes within the same minute") << 10 * 60 << 5 << "none" << false;
    QTest::newRow("minutes roll over") << 10 * 60 + 58 << 5 << "age" << false;
    QTest::newRow("119s becomes 2m") << 118 << 5 << "age" << false;
    QTest::newRow("leaving the startup grace re-judges the whole row") << 58 << 5 << "row" << false;
    // Its health does not change, so only the age: whole rows cost the proxy a re-sort each.
    QTest::newRow("a ready pod leaving the grace signals its age only") << 58 << 5 << "age" << true;
}

void TestPodTableModel::refreshAgesSignalsOnlyChangedRows()
{
    QFETCH(int, ageSeconds);
    QFETCH(int, advance);
    QFETCH(QString, signal);
    QFETCH(bool, ready);
    QDateTime now = kNow;
    PodTableModel model(nullptr, [&now] { return now; });
    PodView p = makePod("ns", "young", QString(), 0, ageSeconds);
    p.ready = ready; // not ready: unhealthy once the grace is over
    p.containers[0].ready = ready;
    model.resetPods({makePod("ns", "old", QString(), 0, 400 * 86400), p});
    const int row = model.rowOfUid("ns/young");
    const QString before = model.index(row, PodTableModel::Age).data().toString();
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    now = now.addSecs(advance);
    model.refreshAges();
    const QString after = model.index(row, PodTableModel::Age).data().toString();
    QCOMPARE(changed.count(), signal == "none" ? 0 : 1);
    QCOMPARE(before != after || signal == "row", signal != "none");
    if (signal == "none")
        return;
    const QModelIndex tl = changed.first().at(0).toModelIndex();
    const QModelIndex br = changed.first().at(1).toModelIndex();
    QCOMPARE(tl.row(), row);
    QCOMPARE(br.row(), row);
    QCOMPARE(tl.column(), signal == "row" ? 0 : int(PodTableModel::Age));
    QCOMPARE(br.column(), signal == "row" ? int(PodTableModel::ColumnCount) - 1 : int(PodTableModel::Age));
}

void TestPodTableModel::usageSignalsOnlyChangedRows()
{
    PodTableModel model(nullptr, [] { return kNow; });
    QList<PodView> pods;
    for (int i = 0; i < 6; ++i)
        pods << makePod("ns", QString("p%1").arg(i));
    model.resetPods(pods);
    model.setUsage({{"ns/p0", {1, 1}}, {"ns/p1", {1, 1}}, {"ns/p4", {1, 1}}});
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    // p1 unchanged, p0 and p4 change, p2 gains numbers, p5 still has none.
    model.setUsage({{"ns/p0", {2, 1}}, {"ns/p1", {1, 1}}, {"ns/p2", {7, 7}}, {"ns/p4", {1, 9}}});
    QCOMPARE(changed.count(), 3); // rows 0, 2 and 4: three ranges, only the usage columns
    for (const QList<QVariant> &args : std::as_const(changed)) {
        QCOMPARE(args.at(0).toModelIndex().column(), int(PodTableModel::Cpu));
        QCOMPARE(args.at(1).toModelIndex().column(), int(PodTableModel::Memory));
        QVERIFY(args.at(0).toModelIndex().row() != model.rowOfUid("ns/p1"));
    }
    changed.clear();
    model.setUsage({{"ns/p0", {2, 1}}, {"ns/p1", {1, 1}}, {"ns/p2", {7, 7}}, {"ns/p4", {1, 9}}});
    QCOMPARE(changed.count(), 0);
}

void TestPodTableModel::scatteredChangesBecomeOneSpan_data()
{
    QTest::addColumn<int>("pods");
    QTest::addColumn<int>("every");   // every n-th row's age rolls over
    QTest::addColumn<int>("signals"); // dataChanged signals expected

    QTest::newRow("a few scattered rows: one signal each") << 1000 << 100 << 10;
    QTest::newRow("thousands of scattered rows: one span per 512 rows") << 10000 << 2 << 20;
    QTest::newRow("every row: one range per window") << 1000 << 1 << 2;
}

void TestPodTableModel::scatteredChangesBecomeOneSpan()
{
    QFETCH(int, pods);
    QFETCH(int, every);
    QFETCH(int, signals);
    QDateTime now = kNow;
    PodTableModel model(nullptr, [&now] { return now; });
    QList<PodView> list;
    for (int i = 0; i < pods; ++i) // 10m58s old rolls over to 11m in 5 s; 10m00s stays 10m
        list << makePod("ns", QString("p%1").arg(i), QString(), 0, i % every == 0 ? 658 : 600);
    model.resetPods(list);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    now = now.addSecs(5);
    model.refreshAges();
    QTRY_VERIFY(!model.agesPending());
    QCOMPARE(changed.count(), signals);
    for (const QList<QVariant> &args : std::as_const(changed))
        QVERIFY(args.at(1).toModelIndex().row() - args.at(0).toModelIndex().row() < 512);
    // Whatever the signals, every row whose text changed is inside one of them.
    for (int r = 0; r < pods; r += every) {
        bool covered = false;
        for (const QList<QVariant> &args : std::as_const(changed))
            covered |= args.at(0).toModelIndex().row() <= r && r <= args.at(1).toModelIndex().row();
        QVERIFY2(covered, qPrintable(QString::number(r)));
    }
}

void TestPodTableModel::largeUsageIsSliced_data()
{
    QTest::addColumn<int>("removeDuringPass"); // rows removed right after setUsage
    QTest::newRow("one pass over 30,000 rows") << 0;
    QTest::newRow("rows removed mid-pass: the pass starts over") << 100;
}

void TestPodTableModel::largeUsageIsSliced()
{
    QFETCH(int, removeDuringPass);
    constexpr int kPods = 30000;
    PodTableModel model(nullptr, [] { return kNow; });
    QList<PodView> pods;
    QHash<QString, vigil::ui::PodUsage> usage;
    for (int i = 0; i < kPods; ++i) {
        pods << makePod("ns", QString("p%1").arg(i));
        usage.insert(QString("ns/p%1").arg(i), {i, 2LL * i});
    }
    model.resetPods(pods);
    model.setUsage(usage);
    QStringList gone;
    for (int i = 0; i < removeDuringPass; ++i)
        gone << QString("ns/p%1").arg(i * 7);
    model.applyChanges({}, gone);
    QTRY_VERIFY(!model.usagePending());
    QCOMPARE(model.rowCount(), kPods - removeDuringPass);
    for (int r = 0; r < model.rowCount(); ++r) {
        const int i = model.pod(r)->name.mid(1).toInt();
        QCOMPARE(model.index(r, PodTableModel::Cpu).data(PodTableModel::SortRole).toLongLong(), qlonglong(i));
    }
}

void TestPodTableModel::unhealthyCountFollowsRows()
{
    QDateTime now = kNow;
    PodTableModel model(nullptr, [&now] { return now; });
    const auto counted = [&model] {
        int n = 0;
        for (int r = 0; r < model.rowCount(); ++r)
            n += model.index(r, 0).data(PodTableModel::UnhealthyRole).toBool();
        return n;
    };
    PodView starting = makePod("ns", "starting", QString(), 0, 30);
    starting.ready = false;
    starting.containers[0].ready = false;
    model.resetPods({makePod("ns", "ok"), makePod("ns", "crash", "CrashLoopBackOff", 4), starting});
    QCOMPARE(model.unhealthyCount(), 1);
    QCOMPARE(model.unhealthyCount(), counted());
    // A healthy pod starts crash-looping, the crash-looping one is deleted, a new failing one arrives.
    model.applyChanges({makePod("ns", "ok", "CrashLoopBackOff", 1), makePod("ns", "new", "ImagePullBackOff")},
                       {"ns/crash"});
    QCOMPARE(model.unhealthyCount(), 2);
    QCOMPARE(model.unhealthyCount(), counted());
    // The starting pod is still not ready after its grace: refreshAges re-judges it.
    now = now.addSecs(60);
    model.refreshAges();
    QCOMPARE(model.unhealthyCount(), 3);
    QCOMPARE(model.unhealthyCount(), counted());
    model.resetPods({});
    QCOMPARE(model.unhealthyCount(), 0);
}

QTEST_MAIN(TestPodTableModel)
#include "tst_podtablemodel.moc"
