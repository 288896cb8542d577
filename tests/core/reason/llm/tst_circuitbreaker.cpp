#include "core/reason/llm/circuitbreaker.h"

#include "llmtestutil.h"

#include <QTest>

using namespace vigil::llm;

class TestCircuitBreaker final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void transitions_data();
    void transitions();
};

// Script: f = failure, s = success, a = allow() must pass, x = allow() must be refused,
// + = advance the clock by the cool-down, c = abandoned probe.
void TestCircuitBreaker::transitions_data()
{
    QTest::addColumn<QString>("script");
    QTest::addColumn<int>("finalState");
    QTest::newRow("stays closed below the threshold")
        << QStringLiteral("afafa") << int(CircuitBreaker::State::Closed);
    QTest::newRow("a success resets the count")
        << QStringLiteral("afafasafafa") << int(CircuitBreaker::State::Closed);
    QTest::newRow("opens after three in a row")
        << QStringLiteral("afafafx") << int(CircuitBreaker::State::Open);
    QTest::newRow("one probe after the cool-down")
        << QStringLiteral("afafaf+ax") << int(CircuitBreaker::State::HalfOpen);
    QTest::newRow("probe success closes")
        << QStringLiteral("afafaf+asaa") << int(CircuitBreaker::State::Closed);
    QTest::newRow("probe failure reopens")
        << QStringLiteral("afafaf+afx") << int(CircuitBreaker::State::Open);
    QTest::newRow("abandoned probe frees the slot")
        << QStringLiteral("afafaf+acax") << int(CircuitBreaker::State::HalfOpen);
}

void TestCircuitBreaker::transitions()
{
    QFETCH(QString, script);
    QFETCH(int, finalState);
    vigil::test::FakeClock clock;
    CircuitBreaker breaker({3, 60000}, &clock);
    int failures = 0;
    for (const QChar c : script) {
        switch (c.toLatin1()) {
        case 'f':
            clock.advance(1000);
            breaker.recordFailure(
                QStringLiteral("openai: POST /v1/chat/completions returned HTTP 503: down #%1")
                    .arg(++failures));
            break;
        case 's':
            breaker.recordSuccess();
            break;
        case 'a':
            QVERIFY2(breaker.allow().ok(), qPrintable(script));
            break;
        case 'x': {
            const auto r = breaker.allow();
            QVERIFY(!r.ok());
            const QString since =
                QDateTime::fromMSecsSinceEpoch(breaker.openedAtMs(), Qt::UTC).toString(Qt::ISODate);
            QCOMPARE(
                r.errorMessage(),
                QStringLiteral(
                    "circuit open since %1: openai: POST /v1/chat/completions returned HTTP 503: down #%2")
                    .arg(since)
                    .arg(failures));
            break;
        }
        case '+':
            clock.advance(60000);
            break;
        case 'c':
            breaker.recordAbandoned();
            break;
        }
    }
    QCOMPARE(int(breaker.state()), finalState);
}

QTEST_GUILESS_MAIN(TestCircuitBreaker)
#include "tst_circuitbreaker.moc"
