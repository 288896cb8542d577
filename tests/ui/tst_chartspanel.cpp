#include "ui/chartspanel.h"

#include "ui/podtablemodel.h"

#include <QApplication>
#include <QAreaSeries>
#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QElapsedTimer>
#include <QFontMetrics>
#include <QGraphicsScene>
#include <QGraphicsTextItem>
#include <QHorizontalStackedBarSeries>
#include <QLineSeries>
#include <QSignalSpy>
#include <QTest>
#include <QToolTip>

using vigil::ui::ChartsPanel;
using Health = QHash<QString, QPair<int, int>>;

namespace {

// 14:30 local time: the current bucket starts at 14:00.
QDateTime fixedNow()
{
    return QDateTime(QDate(2026, 11, 25), QTime(14, 30));
}

QDateTime at(int hour, int minute, int second = 0)
{
    return QDateTime(QDate(2026, 11, 25), QTime(hour, minute, second));
}

QHorizontalStackedBarSeries *podSeries(const ChartsPanel &panel)
{
    return qobject_cast<QHorizontalStackedBarSeries *>(panel.podHealthChart()->series().first());
}

// The text items the pod chart's scene draws, visible ones only.
QStringList drawnTexts(const ChartsPanel &panel)
{
    QStringList out;
    const auto *view = panel.findChild<QChartView *>("podHealthChart");
    for (QGraphicsItem *item : view->scene()->items()) {
        if (auto *text = qgraphicsitem_cast<QGraphicsTextItem *>(item); text && text->isVisible())
            out << text->toPlainText();
    }
    return out;
}

Health namespaces(int n, int podsEach)
{
    Health h;
    for (int i = 0; i < n; ++i)
        h.insert(QString("team-%1").arg(i, 2, 10, QChar('0')), {podsEach, i % 3 == 0 ? 1 : 0});
    return h;
}

QStringList namespaceCategories(const ChartsPanel &panel)
{
    const auto axes = panel.podHealthChart()->axes(Qt::Vertical);
    return qobject_cast<QBarCategoryAxis *>(axes.first())->categories();
}

} // namespace

class TestChartsPanel final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void hourBuckets_data();
    void hourBuckets();
    void llmCallsSumPerHour();
    void windowLength_data();
    void windowLength();
    void topNamespaces_data();
    void topNamespaces();
    void chartsShowTheData();
    void emptyPanelDrawsEmptyCharts();
    void refreshesAreCoalesced();
    void podHealthFromTheTable();
    void followsThePalette_data();
    void followsThePalette();
    void namespaceLabelsAreReadable_data();
    void namespaceLabelsAreReadable();
};

void TestChartsPanel::hourBuckets_data()
{
    QTest::addColumn<QList<QDateTime>>("incidents");
    QTest::addColumn<QList<int>>("lastThree"); // counts of 12:00, 13:00, 14:00
    QTest::addColumn<int>("total");

    QTest::newRow("empty: every hour is zero") << QList<QDateTime>{} << QList<int>{0, 0, 0} << 0;
    QTest::newRow("same hour counts together")
        << QList<QDateTime>{at(14, 5), at(14, 25), at(13, 50)} << QList<int>{0, 1, 2} << 3;
    QTest::newRow("a whole hour starts the next bucket")
        << QList<QDateTime>{at(13, 59, 59), at(14, 0, 0)} << QList<int>{0, 1, 1} << 2;
    QTest::newRow("older than the window is dropped")
        << QList<QDateTime>{fixedNow().addSecs(-24 * 3600), at(12, 0)} << QList<int>{1, 0, 0} << 1;
    QTest::newRow("the oldest hour of the window is kept")
        << QList<QDateTime>{at(14, 0).addSecs(-23 * 3600)} << QList<int>{0, 0, 0} << 1;
    QTest::newRow("a clock ahead of ours lands in the current hour")
        << QList<QDateTime>{at(16, 10)} << QList<int>{0, 0, 1} << 1;
    QTest::newRow("UTC timestamps bucket by local hour")
        << QList<QDateTime>{at(13, 10).toUTC(), at(14, 1).toUTC()} << QList<int>{0, 1, 1} << 2;
    QTest::newRow("invalid time is ignored") << QList<QDateTime>{QDateTime()} << QList<int>{0, 0, 0} << 0;
}

void TestChartsPanel::hourBuckets()
{
    QFETCH(QList<QDateTime>, incidents);
    QFETCH(QList<int>, lastThree);
    QFETCH(int, total);
    ChartsPanel panel(nullptr, fixedNow);
    for (const QDateTime &t : incidents)
        panel.addIncident(t);
    const QList<ChartsPanel::HourBucket> buckets = panel.hourly();
    QCOMPARE(buckets.size(), 24);
    QCOMPARE(buckets.last().start, at(14, 0));
    QCOMPARE(buckets.first().start, at(14, 0).addSecs(-23 * 3600));
    for (int i = 1; i < buckets.size(); ++i)
        QCOMPARE(buckets[i - 1].start.secsTo(buckets[i].start), 3600);
    QList<int> last;
    int sum = 0;
    for (const ChartsPanel::HourBucket &b : buckets) {
        sum += b.incidents;
        QCOMPARE(b.llmCalls, 0);
    }
    for (qsizetype i = buckets.size() - 3; i < buckets.size(); ++i)
        last.append(buckets[i].incidents);
    QCOMPARE(last, lastThree);
    QCOMPARE(sum, total);
}

void TestChartsPanel::llmCallsSumPerHour()
{
    ChartsPanel panel(nullptr, fixedNow);
    panel.addLlmCall(at(14, 1), 0.012, 1800);
    panel.addLlmCall(at(14, 29), 0.003, 700);
    panel.addLlmCall(at(13, 0), 0.5, 20000);
    panel.addLlmCall(at(13, 30), -1.0, -5); // nonsense from a broken meter adds a call, no cost
    const QList<ChartsPanel::HourBucket> b = panel.hourly();
    QCOMPARE(b.last().llmCalls, 2);
    QCOMPARE(b.last().tokens, 2500);
    QVERIFY(qFuzzyCompare(b.last().costUsd, 0.015));
    QCOMPARE(b[22].llmCalls, 2);
    QCOMPARE(b[22].tokens, 20000);
    QVERIFY(qFuzzyCompare(b[22].costUsd, 0.5));
    QCOMPARE(b.last().incidents, 0);
}

void TestChartsPanel::windowLength_data()
{
    QTest::addColumn<int>("hours");
    QTest::addColumn<int>("expected");
    QTest::newRow("one hour") << 1 << 1;
    QTest::newRow("a week") << 168 << 168;
    QTest::newRow("zero means at least the current hour") << 0 << 1;
}

void TestChartsPanel::windowLength()
{
    QFETCH(int, hours);
    QFETCH(int, expected);
    ChartsPanel panel(nullptr, fixedNow);
    panel.setHours(hours);
    panel.addIncident(at(13, 59)); // outside a one-hour window
    panel.addIncident(at(14, 10));
    const QList<ChartsPanel::HourBucket> b = panel.hourly();
    QCOMPARE(b.size(), expected);
    QCOMPARE(b.last().start, at(14, 0));
    int sum = 0;
    for (const ChartsPanel::HourBucket &x : b)
        sum += x.incidents;
    QCOMPARE(sum, expected == 1 ? 1 : 2);
}

void TestChartsPanel::topNamespaces_data()
{
    QTest::addColumn<Health>("health");
    QTest::addColumn<int>("top");
    QTest::addColumn<QStringList>("names"); // most unhealthy first; "+N" stands for the others bar
    QTest::addColumn<QList<int>>("unhealthy");
    QTest::addColumn<QList<int>>("healthy");

    QTest::newRow("empty: no bars") << Health{} << 8 << QStringList{} << QList<int>{} << QList<int>{};
    QTest::newRow("fewer than N: all, most unhealthy first")
        << Health{{"a", {10, 0}}, {"b", {1, 3}}, {"c", {5, 1}}} << 8 << QStringList{"b", "c", "a"}
        << QList<int>{3, 1, 0} << QList<int>{1, 5, 10};
    QTest::newRow("ties on unhealthy: larger namespace first, then by name")
        << Health{{"z", {2, 1}}, {"y", {9, 1}}, {"x", {2, 1}}} << 8 << QStringList{"y", "x", "z"}
        << QList<int>{1, 1, 1} << QList<int>{9, 2, 2};
    QTest::newRow("beyond N: the rest summed into one bar")
        << Health{{"a", {1, 5}}, {"b", {1, 4}}, {"c", {7, 0}}, {"d", {3, 1}}, {"e", {2, 0}}} << 2
        << QStringList{"a", "b", "+3"} << QList<int>{5, 4, 1} << QList<int>{1, 1, 12};
    QTest::newRow("one beyond N: '1 other namespace', singular")
        << Health{{"a", {1, 2}}, {"b", {1, 1}}, {"c", {4, 0}}} << 2 << QStringList{"a", "b", "+1"}
        << QList<int>{2, 1, 0} << QList<int>{1, 1, 4};
    QTest::newRow("exactly N: no others bar")
        << Health{{"a", {1, 0}}, {"b", {2, 0}}} << 2 << QStringList{"b", "a"} << QList<int>{0, 0}
        << QList<int>{2, 1};
    QTest::newRow("namespaces without pods are left out")
        << Health{{"a", {0, 0}}, {"b", {2, 0}}} << 8 << QStringList{"b"} << QList<int>{0} << QList<int>{2};
}

void TestChartsPanel::topNamespaces()
{
    QFETCH(Health, health);
    QFETCH(int, top);
    QFETCH(QStringList, names);
    QFETCH(QList<int>, unhealthy);
    QFETCH(QList<int>, healthy);
    ChartsPanel panel(nullptr, fixedNow);
    panel.setTopNamespaces(top);
    panel.setPodHealth(health);
    const QList<ChartsPanel::NamespaceHealth> rows = panel.namespaceHealth();
    QCOMPARE(rows.size(), names.size());
    for (qsizetype i = 0; i < rows.size(); ++i) {
        const bool others = names[i].startsWith('+');
        QCOMPARE(rows[i].others, others);
        if (others)
            QCOMPARE(rows[i].name,
                     QString("%1 other namespace%2").arg(names[i].mid(1), names[i] == "+1" ? "" : "s"));
        else
            QCOMPARE(rows[i].name, names[i]);
        QCOMPARE(rows[i].unhealthy, unhealthy[i]);
        QCOMPARE(rows[i].healthy, healthy[i]);
    }
}

void TestChartsPanel::chartsShowTheData()
{
    ChartsPanel panel(nullptr, fixedNow);
    panel.setRefreshIntervalMs(0);
    panel.setTopNamespaces(2);
    QSignalSpy spy(&panel, &ChartsPanel::refreshed);
    panel.addIncident(at(14, 5));
    panel.addIncident(at(14, 6));
    panel.addIncident(at(13, 6));
    panel.addLlmCall(at(14, 7), 0.25, 100);
    panel.setPodHealth({{"prod", {8, 2}}, {"dev", {3, 0}}, {"ci", {1, 0}}});
    QVERIFY(spy.wait(2000));

    // The incident line is a step per hour: two points per bucket, flat across it.
    auto *area = qobject_cast<QAreaSeries *>(panel.incidentChart()->series().first());
    const QList<QPointF> points = area->upperSeries()->points();
    QCOMPARE(points.size(), 48);
    QCOMPARE(points[46].y(), 2.0);
    QCOMPARE(points[47].y(), 2.0);
    QCOMPARE(points[44].y(), 1.0);
    QCOMPARE(qint64(points[46].x()), at(14, 0).toMSecsSinceEpoch());
    QCOMPARE(qint64(points[47].x()), at(15, 0).toMSecsSinceEpoch());

    const QList<QAbstractSeries *> llm = panel.llmChart()->series();
    QCOMPARE(llm.size(), 2);
    auto *cost = qobject_cast<QLineSeries *>(llm[1]);
    QCOMPARE(cost->points().last().y(), 0.25);

    // Bars run bottom-up: the most unhealthy namespace is the last category, drawn on top.
    QHorizontalStackedBarSeries *bars = podSeries(panel);
    const QStringList categories = namespaceCategories(panel);
    QCOMPARE(categories.size(), 3);
    QCOMPARE(categories.last(), QString("prod"));
    QCOMPARE(categories[1], QString("dev"));
    QVERIFY(categories.first().contains('1'));
    QBarSet *healthy = bars->barSets()[0];
    QBarSet *unhealthy = bars->barSets()[1];
    QCOMPARE(healthy->count(), 3);
    QCOMPARE(healthy->at(2), 8.0);
    QCOMPARE(unhealthy->at(2), 2.0);
    QCOMPARE(healthy->at(0), 1.0);
}

void TestChartsPanel::emptyPanelDrawsEmptyCharts()
{
    ChartsPanel panel(nullptr, fixedNow);
    QSignalSpy spy(&panel, &ChartsPanel::refreshed);
    QVERIFY(spy.wait(2000));
    auto *area = qobject_cast<QAreaSeries *>(panel.incidentChart()->series().first());
    const QList<QPointF> points = area->upperSeries()->points();
    QCOMPARE(points.size(), 48);
    for (const QPointF &p : points)
        QCOMPARE(p.y(), 0.0);
    QVERIFY(namespaceCategories(panel).isEmpty());
    QCOMPARE(podSeries(panel)->barSets()[0]->count(), 0);
    panel.resize(900, 240);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QVERIFY(!panel.grab().isNull());
}

void TestChartsPanel::refreshesAreCoalesced()
{
    ChartsPanel panel(nullptr, fixedNow);
    panel.setRefreshIntervalMs(300);
    QSignalSpy spy(&panel, &ChartsPanel::refreshed);
    QVERIFY(spy.wait(2000)); // the first refresh goes out at once
    QElapsedTimer clock;
    clock.start();
    QList<qint64> times;
    connect(&panel, &ChartsPanel::refreshed, this, [&] { times.append(clock.elapsed()); });
    // 1,000 updates over about a second.
    for (int i = 0; i < 50; ++i) {
        for (int j = 0; j < 20; ++j)
            panel.addIncident(at(14, 10));
        panel.setPodHealth({{"ns", {i, 1}}});
        QTest::qWait(20);
    }
    QTest::qWait(400);
    QVERIFY2(times.size() >= 2 && times.size() <= 6, qPrintable(QString::number(times.size())));
    for (qsizetype i = 1; i < times.size(); ++i)
        QVERIFY2(times[i] - times[i - 1] >= 290, qPrintable(QString::number(times[i] - times[i - 1])));
    // The last refresh carries everything.
    QCOMPARE(panel.hourly().last().incidents, 1000);
    QCOMPARE(podSeries(panel)->barSets()[0]->at(0), 49.0);
}

void TestChartsPanel::podHealthFromTheTable()
{
    const QDateTime now = QDateTime::currentDateTimeUtc();
    vigil::ui::PodTableModel model(nullptr, [now] { return now; });
    auto pod = [&](const QString &ns, const QString &name, const QString &phase, bool ready) {
        vigil::kube::PodView p;
        p.uid = ns + '/' + name;
        p.namespaceName = ns;
        p.name = name;
        p.phase = phase;
        p.ready = ready;
        p.scheduled = true;
        p.created = now.addSecs(-3600);
        return p;
    };
    model.resetPods({pod("a", "1", "Running", true), pod("a", "2", "Running", false),
                     pod("b", "1", "Failed", false), pod("b", "2", "Succeeded", false)});
    const Health h = ChartsPanel::podHealthOf(model, now);
    QCOMPARE(h.size(), 2);
    QCOMPARE(h.value("a"), qMakePair(1, 1));
    QCOMPARE(h.value("b"), qMakePair(1, 1));
}

void TestChartsPanel::followsThePalette_data()
{
    QTest::addColumn<QColor>("window");
    QTest::addColumn<int>("theme");
    QTest::newRow("dark palette: dark theme") << QColor(0x22, 0x22, 0x22) << int(QChart::ChartThemeDark);
    QTest::newRow("light palette: light theme") << QColor(0xf6, 0xf6, 0xf6) << int(QChart::ChartThemeLight);
}

void TestChartsPanel::followsThePalette()
{
    QFETCH(QColor, window);
    QFETCH(int, theme);
    ChartsPanel panel(nullptr, fixedNow);
    QPalette pal = panel.palette();
    pal.setColor(QPalette::Window, window);
    pal.setColor(QPalette::WindowText, window.lightness() < 128 ? Qt::white : Qt::black);
    panel.setPalette(pal);
    for (QChart *chart : {panel.incidentChart(), panel.llmChart(), panel.podHealthChart()}) {
        QCOMPARE(int(chart->theme()), theme);
        QCOMPARE(chart->backgroundBrush().color(), window);
        QCOMPARE(chart->titleBrush().color(), pal.color(QPalette::WindowText));
    }
    // The healthy and unhealthy bars stay told apart on either background.
    QHorizontalStackedBarSeries *bars = podSeries(panel);
    QVERIFY(bars->barSets()[0]->color() != bars->barSets()[1]->color());
}

void TestChartsPanel::namespaceLabelsAreReadable_data()
{
    QTest::addColumn<QSize>("size");
    QTest::addColumn<Health>("health");
    QTest::addColumn<QStringList>("labels"); // bottom bar first; empty: whatever fits, checked generically

    const QString longName = "payments-settlement-reconciliation-batch-jobs-europe-west-prod";
    QTest::newRow("the screenshot's namespaces in the main window's dock, all named")
        << QSize(1300, 170)
        << Health{{"demo", {1, 1}}, {"monitoring", {6, 0}}, {"payments", {6, 0}}, {"shop", {6, 0}}}
        << QStringList{"shop", "payments", "monitoring", "demo"};
    QTest::newRow("twelve namespaces in the dock: as many labelled bars as fit, the rest summed")
        << QSize(1300, 170) << namespaces(12, 3) << QStringList{};
    QTest::newRow("twelve namespaces in a tall dock: the top eight and the others bar")
        << QSize(1300, 700) << namespaces(12, 3) << QStringList{};
    QTest::newRow("a 63-character namespace is cut in the middle, not to dots")
        << QSize(1000, 200) << Health{{longName, {2, 1}}, {"shop", {6, 0}}} << QStringList{};
    QTest::newRow("a narrower window still names kube-system whole")
        << QSize(900, 240) << Health{{"demo", {1, 1}}, {"kube-system", {9, 0}}, {"monitoring", {6, 0}}}
        << QStringList{"monitoring", "kube-system", "demo"};
}

void TestChartsPanel::namespaceLabelsAreReadable()
{
    QFETCH(QSize, size);
    QFETCH(Health, health);
    QFETCH(QStringList, labels);
    ChartsPanel panel(nullptr, fixedNow);
    panel.setRefreshIntervalMs(0);
    panel.setPodHealth(health);
    panel.resize(size);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QTRY_VERIFY(panel.namespaceRowsThatFit() > 0);

    // Laid out, refreshed for the rows that fit, and every label drawn as its whole text.
    auto allDrawn = [&panel] {
        const QStringList drawn = drawnTexts(panel);
        const QStringList shown = panel.namespaceLabels();
        if (shown.isEmpty() || shown.size() != panel.namespaceHealth().size())
            return false;
        for (const QString &l : shown) {
            if (!drawn.contains(l))
                return false;
        }
        return true;
    };
    QTRY_VERIFY2(allDrawn(),
                 qPrintable(QString("labels %1; drawn %2")
                                .arg(panel.namespaceLabels().join(", "), drawnTexts(panel).join(", "))));
    const QStringList shown = panel.namespaceLabels();
    QVERIFY(!drawnTexts(panel).contains("..."));
    QVERIFY2(shown.size() <= panel.namespaceRowsThatFit(),
             qPrintable(QString("%1 bars, room for %2").arg(shown.size()).arg(panel.namespaceRowsThatFit())));
    if (!labels.isEmpty())
        QCOMPARE(shown, labels);

    // Bars, labels and tooltips agree; a cut label keeps both ends of the name and the tooltip has it whole.
    const QList<ChartsPanel::NamespaceHealth> rows = panel.namespaceHealth();
    int others = 0;
    for (int i = 0; i < shown.size(); ++i) {
        const ChartsPanel::NamespaceHealth &row = rows[rows.size() - 1 - i];
        const QString tip = panel.namespaceToolTip(i);
        QVERIFY2(tip.startsWith(row.name + ": "), qPrintable(tip));
        QVERIFY2(tip.contains(QString("%1 healthy, %2 unhealthy").arg(row.healthy).arg(row.unhealthy)),
                 qPrintable(tip));
        others += row.others ? 1 : 0;
        if (shown[i] != row.name) {
            QVERIFY2(shown[i].contains(QChar(0x2026)), qPrintable(shown[i]));
            QVERIFY(row.name.startsWith(shown[i].section(QChar(0x2026), 0, 0)));
            QVERIFY(row.name.endsWith(shown[i].section(QChar(0x2026), 1)));
            QVERIFY(shown[i].size() >= 14);
        }
    }
    // Summing only what does not fit: every row of room is used, up to the top eight and the others bar.
    const int total = int(health.size());
    QCOMPARE(others, total > shown.size() ? 1 : 0);
    if (total > shown.size())
        QCOMPARE(int(shown.size()), std::min(9, panel.namespaceRowsThatFit()));
    QCOMPARE(panel.namespaceToolTip(int(shown.size())), QString());

    // Hovering a bar shows its tooltip.
    auto *series = qobject_cast<QHorizontalStackedBarSeries *>(panel.podHealthChart()->series().first());
    Q_EMIT series->hovered(true, 0, series->barSets().first());
    QTRY_COMPARE(QToolTip::text(), panel.namespaceToolTip(0));
    Q_EMIT series->hovered(false, 0, series->barSets().first());
}

QTEST_MAIN(TestChartsPanel)
#include "tst_chartspanel.moc"
