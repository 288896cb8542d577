#include "core/reason/llm/costmeter.h"

#include "llmtestutil.h"

#include <QTemporaryDir>
#include <QTest>

using namespace vigil::llm;

class TestCostMeter final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void priceLookup_data();
    void priceLookup();
    void parse_data();
    void parse();
    void loadFileErrorsNameThePath();
    void budget_data();
    void budget();
    void dailyTotalsRollOver();
    void totalsSurviveAReopen();
    void twoMetersShareTodaysSpend();
    void storedDaysRollOver();
    void openStoreErrorNamesThePath();
};

void TestCostMeter::priceLookup_data()
{
    QTest::addColumn<QString>("model");
    QTest::addColumn<double>("cost"); // 1M in + 1M out
    QTest::newRow("exact") << QStringLiteral("gpt-4o") << 12.5;
    QTest::newRow("dated snapshot takes the longest prefix")
        << QStringLiteral("gpt-4o-mini-2024-07-18") << 0.75;
    QTest::newRow("anthropic dated") << QStringLiteral("claude-3-5-haiku-20241022") << 4.8;
    QTest::newRow("unknown is free") << QStringLiteral("qwen2.5:7b") << 0.0;
}

void TestCostMeter::priceLookup()
{
    QFETCH(QString, model);
    QFETCH(double, cost);
    vigil::test::FakeClock clock;
    CostMeter meter(PriceTable::defaults(), {}, &clock);
    QCOMPARE(meter.costOf(model, 1000000, 1000000), cost);
}

void TestCostMeter::parse_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QString>("error");
    QTest::addColumn<double>("miniCost");
    QTest::newRow("yaml") << QByteArrayLiteral(
                                 "models:\n  mini: {input: 1, output: 2}\n  '*': {input: 9, output: 9}\n")
                          << QString() << 3.0;
    QTest::newRow("json") << QByteArrayLiteral(R"({"models": {"mini": {"input": 0.5, "output": 0.5}}})")
                          << QString() << 1.0;
    QTest::newRow("negative price")
        << QByteArrayLiteral("models:\n  mini: {input: -1, output: 2}\n")
        << QStringLiteral("prices.yaml: models.mini.input (line 2): expected a non-negative number, got '-1'")
        << 0.0;
    QTest::newRow("missing output") << QByteArrayLiteral("models:\n  mini:\n    input: 1\n")
                                    << QStringLiteral("prices.yaml: models.mini.output (line 3): missing")
                                    << 0.0;
    QTest::newRow("not a number") << QByteArrayLiteral("models:\n  mini: {input: cheap, output: 2}\n")
                                  << QStringLiteral("got 'cheap'") << 0.0;
    QTest::newRow("no models key") << QByteArrayLiteral("prices: {}\n")
                                   << QStringLiteral("expected a top-level 'models' map") << 0.0;
    QTest::newRow("models is a list") << QByteArrayLiteral("models:\n  - mini\n")
                                      << QStringLiteral("'models' (line 2) must be a map") << 0.0;
    QTest::newRow("broken yaml") << QByteArrayLiteral("models: {mini: [\n")
                                 << QStringLiteral("price table prices.yaml: line") << 0.0;
}

void TestCostMeter::parse()
{
    QFETCH(QByteArray, text);
    QFETCH(QString, error);
    QFETCH(double, miniCost);
    const auto table = PriceTable::parse(text, QStringLiteral("prices.yaml"));
    QCOMPARE(table.ok(), error.isEmpty());
    if (!table.ok()) {
        QVERIFY2(table.errorMessage().contains(error), qPrintable(table.errorMessage()));
        return;
    }
    vigil::test::FakeClock clock;
    CostMeter meter(*table, {}, &clock);
    QCOMPARE(meter.costOf(QStringLiteral("mini"), 1000000, 1000000), miniCost);
}

void TestCostMeter::loadFileErrorsNameThePath()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("missing.yaml"));
    const auto table = PriceTable::loadFile(path);
    QVERIFY(!table.ok());
    QVERIFY2(table.errorMessage().startsWith(QStringLiteral("price table ") + path),
             qPrintable(table.errorMessage()));
}

void TestCostMeter::budget_data()
{
    QTest::addColumn<double>("daily");
    QTest::addColumn<double>("session");
    QTest::addColumn<int>("callsBefore"); // each 1M in + 0 out of gpt-4o = $2.50
    QTest::addColumn<QString>("error");
    QTest::newRow("no caps") << 0.0 << 0.0 << 10 << QString();
    QTest::newRow("within the daily cap") << 9.0 << 0.0 << 2 << QString();
    QTest::newRow("worst case would pass the daily cap")
        << 9.0 << 0.0 << 3
        << QStringLiteral("budget spent: $7.5000 of the $9.00 daily LLM budget used today");
    QTest::newRow("session cap") << 0.0 << 5.0 << 2
                                 << QStringLiteral(
                                        "budget spent: $5.0000 of the $5.00 session LLM budget used");
}

void TestCostMeter::budget()
{
    QFETCH(double, daily);
    QFETCH(double, session);
    QFETCH(int, callsBefore);
    QFETCH(QString, error);
    vigil::test::FakeClock clock;
    CostMeter meter(PriceTable::defaults(), {daily, session}, &clock);
    for (int i = 0; i < callsBefore; ++i)
        meter.record(QStringLiteral("gpt-4o"), 1000000, 0);
    // Next call: 100k prompt tokens, up to 200k output = $0.25 + $2.00 worst case.
    const auto r = meter.checkBudget(QStringLiteral("gpt-4o"), 100000, 200000);
    QCOMPARE(r.ok(), error.isEmpty());
    if (!r.ok())
        QVERIFY2(r.errorMessage().startsWith(error), qPrintable(r.errorMessage()));
}

void TestCostMeter::dailyTotalsRollOver()
{
    vigil::test::FakeClock clock(86400000LL * 19000 + 3600000LL * 23); // 23:00 UTC
    CostMeter meter(PriceTable::defaults(), {3.0, 0.0}, &clock);
    QCOMPARE(meter.record(QStringLiteral("gpt-4o"), 1000000, 0), 2.5);
    QVERIFY(!meter.checkBudget(QStringLiteral("gpt-4o"), 400000, 0).ok());
    clock.advance(3600000LL * 2); // 01:00 next day
    QCOMPARE(meter.todayTotal(), 0.0);
    QCOMPARE(meter.sessionTotal(), 2.5);
    QVERIFY(meter.checkBudget(QStringLiteral("gpt-4o"), 400000, 0).ok());
}

void TestCostMeter::totalsSurviveAReopen()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("reasoning.sqlite"));
    vigil::test::FakeClock clock;
    {
        CostMeter first(PriceTable::defaults(), {3.0, 0.0}, &clock);
        QVERIFY(first.openStore(path, QStringLiteral("run-1")).ok());
        QCOMPARE(first.record(QStringLiteral("gpt-4o"), 1000000, 0), 2.5);
        QCOMPARE(first.record(QStringLiteral("gpt-4o-mini"), 0, 1000000), 0.6);
        QVERIFY(first.lastStoreError().isEmpty());
    }
    CostMeter second(PriceTable::defaults(), {3.5, 0.0}, &clock);
    QCOMPARE(second.todayTotal(), 0.0); // no store yet: only its own calls
    QVERIFY(second.openStore(path, QStringLiteral("run-2")).ok());
    QCOMPARE(second.sessionId(), QStringLiteral("run-2"));
    QCOMPARE(second.sessionTotal(), 0.0);
    QCOMPARE(second.todayTotal(), 3.1);
    QCOMPARE(*second.storedSessionTotal(QStringLiteral("run-1")), 3.1);
    QCOMPARE(*second.storedSessionTotal(QStringLiteral("run-2")), 0.0);
    // The cap counts what the earlier run spent today: $3.10 + up to $1.00 > $3.50.
    const auto refused = second.checkBudget(QStringLiteral("gpt-4o"), 400000, 0);
    QVERIFY(!refused.ok());
    QVERIFY2(refused.errorMessage().startsWith(
                 QStringLiteral("budget spent: $3.1000 of the $3.50 daily LLM budget used today")),
             qPrintable(refused.errorMessage()));
    QVERIFY(second.checkBudget(QStringLiteral("gpt-4o"), 100000, 0).ok()); // $0.25 fits
    second.record(QStringLiteral("gpt-4o"), 100000, 0);
    QCOMPARE(second.sessionTotal(), 0.25);
    QCOMPARE(second.todayTotal(), 3.35);
    QCOMPARE(*second.storedSessionTotal(QStringLiteral("run-2")), 0.25);
    QCOMPARE(*second.storedDayTotal(clock.nowMs()), 3.35);
}

void TestCostMeter::twoMetersShareTodaysSpend()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("reasoning.sqlite"));
    vigil::test::FakeClock clock;
    CostMeter desktop(PriceTable::defaults(), {}, &clock);
    CostMeter cli(PriceTable::defaults(), {}, &clock);
    QVERIFY(desktop.openStore(path, QStringLiteral("desktop")).ok());
    QVERIFY(cli.openStore(path, QStringLiteral("cli")).ok());
    desktop.record(QStringLiteral("gpt-4o"), 1000000, 0);
    cli.record(QStringLiteral("gpt-4o"), 0, 100000);
    QCOMPARE(desktop.todayTotal(), 3.5);
    QCOMPARE(cli.todayTotal(), 3.5);
    QCOMPARE(desktop.sessionTotal(), 2.5);
    QCOMPARE(cli.sessionTotal(), 1.0);
}

void TestCostMeter::storedDaysRollOver()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("reasoning.sqlite"));
    vigil::test::FakeClock clock(86400000LL * 19000 + 3600000LL * 23); // 23:00 UTC
    const qint64 yesterday = clock.nowMs();
    CostMeter meter(PriceTable::defaults(), {3.0, 0.0}, &clock);
    QVERIFY(meter.openStore(path, QStringLiteral("night")).ok());
    meter.record(QStringLiteral("gpt-4o"), 1000000, 0);
    clock.advance(3600000LL * 2); // 01:00 the next day
    QCOMPARE(meter.todayTotal(), 0.0);
    QCOMPARE(*meter.storedDayTotal(yesterday), 2.5);
    QCOMPARE(meter.sessionTotal(), 2.5);
    QVERIFY(meter.checkBudget(QStringLiteral("gpt-4o"), 400000, 0).ok());
}

void TestCostMeter::openStoreErrorNamesThePath()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("no/such/folder/reasoning.sqlite"));
    vigil::test::FakeClock clock;
    CostMeter meter(PriceTable::defaults(), {}, &clock);
    const auto opened = meter.openStore(path, QStringLiteral("s"));
    QVERIFY(!opened.ok());
    QVERIFY2(opened.errorMessage().startsWith(QStringLiteral("cost store ") + path +
                                              QStringLiteral(": cannot open")),
             qPrintable(opened.errorMessage()));
    QVERIFY(!meter.hasStore());
    QVERIFY(!meter.storedDayTotal(clock.nowMs()).ok());
    QCOMPARE(meter.record(QStringLiteral("gpt-4o"), 1000000, 0), 2.5); // still counts in memory
    QCOMPARE(meter.todayTotal(), 2.5);
}

QTEST_GUILESS_MAIN(TestCostMeter)
#include "tst_costmeter.moc"
