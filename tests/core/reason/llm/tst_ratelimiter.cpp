#include "core/reason/llm/ratelimiter.h"

#include "llmtestutil.h"

#include <QTest>

using namespace vigil::llm;
using Headers = QHash<QByteArray, QByteArray>;

class TestRateLimiter final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void serverDelay_data();
    void serverDelay();
    void resetDuration_data();
    void resetDuration();
    void backoff_data();
    void backoff();
    void requestBucket();
    void tokenBucketAndCorrection();
    void concurrencyCap();
    void pauseUntil();
};

void TestRateLimiter::serverDelay_data()
{
    QTest::addColumn<Headers>("headers");
    QTest::addColumn<int>("status");
    QTest::addColumn<qint64>("expected");
    // now = 2023-11-14T22:13:20Z
    QTest::newRow("Retry-After seconds") << Headers{{"retry-after", "20"}} << 429 << qint64(20000);
    QTest::newRow("Retry-After fractional seconds") << Headers{{"retry-after", "0.25"}} << 503 << qint64(250);
    QTest::newRow("Retry-After HTTP-date")
        << Headers{{"retry-after", "Tue, 14 Nov 2023 22:13:50 GMT"}} << 429 << qint64(30000);
    QTest::newRow("HTTP-date in the past is zero")
        << Headers{{"retry-after", "Tue, 14 Nov 2023 22:00:00 GMT"}} << 429 << qint64(0);
    QTest::newRow("retry-after-ms wins")
        << Headers{{"retry-after-ms", "1500.5"}, {"retry-after", "9"}} << 429 << qint64(1501);
    QTest::newRow("reset headers on 429, the larger")
        << Headers{{"x-ratelimit-reset-requests", "1s"}, {"x-ratelimit-reset-tokens", "6m0s"}} << 429
        << qint64(360000);
    QTest::newRow("reset header counts only when exhausted (200)")
        << Headers{{"x-ratelimit-remaining-requests", "0"},
                   {"x-ratelimit-reset-requests", "20ms"},
                   {"x-ratelimit-remaining-tokens", "900"},
                   {"x-ratelimit-reset-tokens", "9s"}}
        << 200 << qint64(20);
    QTest::newRow("anthropic reset timestamp")
        << Headers{{"anthropic-ratelimit-requests-remaining", "0"},
                   {"anthropic-ratelimit-requests-reset", "2023-11-14T22:13:25Z"}}
        << 200 << qint64(5000);
    // Found by fuzz_reply: a huge number was converted to qint64 out of range (undefined behaviour).
    QTest::newRow("Retry-After past qint64 is a day")
        << Headers{{"retry-after", "888888888888888888888888888888888888888888"}} << 429 << qint64(86400000);
    QTest::newRow("retry-after-ms 1e300 is a day")
        << Headers{{"retry-after-ms", "1e300"}} << 429 << qint64(86400000);
    QTest::newRow("reset duration past qint64 is a day")
        << Headers{{"x-ratelimit-reset-tokens", "99999999999999999999999999h"}} << 429 << qint64(86400000);
    QTest::newRow("Retry-After inf is ignored") << Headers{{"retry-after", "inf"}} << 429 << qint64(-1);
    QTest::newRow("Retry-After nan is ignored") << Headers{{"retry-after", "nan"}} << 429 << qint64(-1);
    QTest::newRow("garbage Retry-After is ignored") << Headers{{"retry-after", "soon"}} << 500 << qint64(-1);
    QTest::newRow("nothing") << Headers{} << 500 << qint64(-1);
}

void TestRateLimiter::serverDelay()
{
    QFETCH(Headers, headers);
    QFETCH(int, status);
    QFETCH(qint64, expected);
    QCOMPARE(serverRetryDelayMs(headers, 1700000000000, status), expected);
}

void TestRateLimiter::resetDuration_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<qint64>("ms");
    QTest::newRow("seconds") << QByteArrayLiteral("1s") << qint64(1000);
    QTest::newRow("minutes and seconds") << QByteArrayLiteral("6m0s") << qint64(360000);
    QTest::newRow("milliseconds") << QByteArrayLiteral("20ms") << qint64(20);
    QTest::newRow("hours with fraction") << QByteArrayLiteral("1h2m3.5s") << qint64(3723500);
    QTest::newRow("junk") << QByteArrayLiteral("3 days") << qint64(-1);
    QTest::newRow("empty") << QByteArray() << qint64(-1);
}

void TestRateLimiter::resetDuration()
{
    QFETCH(QByteArray, text);
    QFETCH(qint64, ms);
    QCOMPARE(parseResetDuration(text), ms);
}

void TestRateLimiter::backoff_data()
{
    QTest::addColumn<int>("failed");
    QTest::addColumn<double>("random");
    QTest::addColumn<qint64>("expected");
    // base 500, max 8000: delay = full/2 + random*full/2
    QTest::newRow("first retry, no jitter") << 1 << 0.0 << qint64(250);
    QTest::newRow("first retry, full jitter") << 1 << 0.999 << qint64(499);
    QTest::newRow("doubles") << 3 << 0.5 << qint64(1500);
    QTest::newRow("capped") << 10 << 1.0 << qint64(8000);
}

void TestRateLimiter::backoff()
{
    QFETCH(int, failed);
    QFETCH(double, random);
    QFETCH(qint64, expected);
    RetryPolicy policy;
    policy.baseDelayMs = 500;
    policy.maxDelayMs = 8000;
    QCOMPARE(backoffDelayMs(policy, failed, random), expected);
}

void TestRateLimiter::requestBucket()
{
    vigil::test::FakeClock clock;
    RateLimiter limiter({60, 0, 0}, &clock); // one request per second sustained
    for (int i = 0; i < 60; ++i) {
        QCOMPARE(limiter.tryAcquire(0), qint64(0));
        limiter.release(0, 0);
    }
    QCOMPARE(limiter.tryAcquire(0), qint64(1000));
    clock.advance(400);
    QCOMPARE(limiter.tryAcquire(0), qint64(600));
    clock.advance(600);
    QCOMPARE(limiter.tryAcquire(0), qint64(0));
}

void TestRateLimiter::tokenBucketAndCorrection()
{
    vigil::test::FakeClock clock;
    RateLimiter limiter({0, 6000, 0}, &clock); // 100 tokens per second
    QCOMPARE(limiter.tryAcquire(5000), qint64(0));
    QCOMPARE(limiter.tryAcquire(2000), qint64(10000)); // needs 1000 more = 10 s
    // The first call used only 1000 of its 5000: 4000 come back.
    limiter.release(5000, 1000);
    QCOMPARE(limiter.availableTokens(), 5000.0);
    QCOMPARE(limiter.tryAcquire(2000), qint64(0));
    // A request larger than the bucket waits for a full bucket, not forever.
    limiter.release(2000, 2000);
    QCOMPARE(limiter.tryAcquire(100000), qint64(30000));
    clock.advance(30000);
    QCOMPARE(limiter.tryAcquire(100000), qint64(0));
}

void TestRateLimiter::concurrencyCap()
{
    vigil::test::FakeClock clock;
    RateLimiter limiter({0, 0, 2}, &clock);
    QCOMPARE(limiter.tryAcquire(10), qint64(0));
    QCOMPARE(limiter.tryAcquire(10), qint64(0));
    QVERIFY(limiter.tryAcquire(10) > 0);
    QCOMPARE(limiter.inFlight(), 2);
    limiter.release(10, 10);
    QCOMPARE(limiter.tryAcquire(10), qint64(0));
}

void TestRateLimiter::pauseUntil()
{
    vigil::test::FakeClock clock;
    RateLimiter limiter({}, &clock);
    limiter.pauseUntil(clock.nowMs() + 7000);
    limiter.pauseUntil(clock.nowMs() + 1000); // an earlier pause never shortens a later one
    QCOMPARE(limiter.tryAcquire(1), qint64(7000));
    clock.advance(7000);
    QCOMPARE(limiter.tryAcquire(1), qint64(0));
}

QTEST_GUILESS_MAIN(TestRateLimiter)
#include "tst_ratelimiter.moc"
