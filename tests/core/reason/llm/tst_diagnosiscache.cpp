#include "core/reason/llm/diagnosiscache.h"

#include "llmtestutil.h"

#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace vigil;
using namespace vigil::llm;

namespace {

Diagnosis sample()
{
    Diagnosis d;
    d.category = QStringLiteral("CrashLoopBackOff");
    d.diagnosis = QStringLiteral("nil map write in handler");
    d.confidence = 0.82;
    d.action = ActionKind::RestartPod;
    d.parameters = {{"namespace", "shop"}, {"pod", "web-1"}};
    d.reasoning = QStringLiteral("panic in logs");
    d.source = {DiagnosisSource::Llm, QStringLiteral("openai"), QStringLiteral("gpt-4o-mini")};
    d.promptVersion = QStringLiteral("abc123");
    d.promptTokens = 900;
    d.completionTokens = 80;
    d.costUsd = 0.000183;
    d.rawReply = QStringLiteral("{\"diagnosis\":\"nil map write in handler\"}");
    return d;
}

} // namespace

class TestDiagnosisCache final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void persistsAcrossInstances();
    void twoOpenInstancesShareTheFile();
    void ttl_data();
    void ttl();
    void openErrorNamesThePath();
    void refusesDeepPayloads_data();
    void refusesDeepPayloads();
};

void TestDiagnosisCache::persistsAcrossInstances()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("cache.db"));
    test::FakeClock clock;
    {
        auto cache = DiagnosisCache::open(path, 3600000, &clock);
        QVERIFY2(cache.ok(), qPrintable(cache.errorMessage()));
        QVERIFY((*cache)->put(QStringLiteral("fp-1"), sample()).ok());
    }
    auto cache = DiagnosisCache::open(path, 3600000, &clock);
    QVERIFY2(cache.ok(), qPrintable(cache.errorMessage()));
    auto &c = **cache;
    const auto got = c.get(QStringLiteral("fp-1"));
    QVERIFY2(got.ok(), qPrintable(got.errorMessage()));
    QVERIFY(got->has_value());
    const Diagnosis &d = **got;
    const Diagnosis want = sample();
    QCOMPARE(d.category, want.category);
    QCOMPARE(d.diagnosis, want.diagnosis);
    QCOMPARE(d.confidence, want.confidence);
    QCOMPARE(d.action, want.action);
    QVERIFY(d.parameters == want.parameters);
    QCOMPARE(d.reasoning, want.reasoning);
    QCOMPARE(d.source.kind, DiagnosisSource::Cache);
    QCOMPARE(d.source.describe(), QStringLiteral("cache (openai/gpt-4o-mini)"));
    QCOMPARE(d.promptVersion, want.promptVersion);
    QCOMPARE(d.promptTokens, want.promptTokens);
    QCOMPARE(d.costUsd, want.costUsd);
    QCOMPARE(d.rawReply, want.rawReply);
    QCOMPARE(c.hits(), 1);
    QCOMPARE(c.misses(), 0);
    QVERIFY(!c.get(QStringLiteral("fp-2"))->has_value());
    QCOMPARE(c.misses(), 1);
    QCOMPARE(*c.hitCount(QStringLiteral("fp-1")), 1);
}

void TestDiagnosisCache::twoOpenInstancesShareTheFile()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("cache.db"));
    test::FakeClock clock;
    auto a = DiagnosisCache::open(path, 60000, &clock);
    auto b = DiagnosisCache::open(path, 60000, &clock);
    QVERIFY(a.ok() && b.ok());
    QVERIFY((*a)->put(QStringLiteral("fp"), sample()).ok());
    QVERIFY((*b)->get(QStringLiteral("fp"))->has_value());
    QVERIFY((*a)->get(QStringLiteral("fp"))->has_value());
    QCOMPARE(*(*a)->hitCount(QStringLiteral("fp")), 2); // counted in the file, across instances
    QCOMPARE((*a)->hits(), 1);
}

void TestDiagnosisCache::ttl_data()
{
    QTest::addColumn<qint64>("age");
    QTest::addColumn<bool>("served");
    QTest::newRow("fresh") << qint64(0) << true;
    QTest::newRow("just before expiry") << qint64(59999) << true;
    QTest::newRow("at expiry") << qint64(60000) << false;
    QTest::newRow("long expired") << qint64(86400000) << false;
}

void TestDiagnosisCache::ttl()
{
    QFETCH(qint64, age);
    QFETCH(bool, served);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("cache.db"));
    test::FakeClock clock;
    auto cache = DiagnosisCache::open(path, 60000, &clock);
    QVERIFY(cache.ok());
    auto &c = **cache;
    QVERIFY(c.put(QStringLiteral("fp"), sample()).ok());
    clock.advance(age);
    QCOMPARE(c.get(QStringLiteral("fp"))->has_value(), served);
    QCOMPARE(c.hits(), served ? 1 : 0);
    QCOMPARE(c.misses(), served ? 0 : 1);
    QCOMPARE(*c.count(), served ? 1 : 0);
    QCOMPARE(*c.purgeExpired(), served ? 0 : 1);
    // Reopening purges too: nothing expired survives.
    cache = DiagnosisCache::open(path, 60000, &clock);
    QVERIFY(cache.ok());
    QCOMPARE(*(*cache)->hitCount(QStringLiteral("fp")), served ? 1 : 0);
}

void TestDiagnosisCache::openErrorNamesThePath()
{
    test::FakeClock clock;
    const QString path = QStringLiteral("/nonexistent-dir-vigil/cache.db");
    const auto cache = DiagnosisCache::open(path, 1000, &clock);
    QVERIFY(!cache.ok());
    QVERIFY2(cache.errorMessage().startsWith(QStringLiteral("diagnosis cache ") + path),
             qPrintable(cache.errorMessage()));
}

void TestDiagnosisCache::refusesDeepPayloads_data()
{
    QTest::addColumn<QByteArray>("payload");
    // 100,000 levels parse, but copying the parameters out recurses past the stack.
    QTest::newRow("100,000-deep [[[") << QByteArray(100000, '[') + QByteArray(100000, ']');
    QTest::newRow("100,000-deep {\"a\": in parameters")
        << QByteArray(R"({"action":"restart_pod","parameters":)") + QByteArray("{\"a\":").repeated(100000) +
               "1" + QByteArray(100000, '}') + "}";
}

// The file is only as trustworthy as whoever can write it: a deep payload is an error and a miss, not a
// crash.
void TestDiagnosisCache::refusesDeepPayloads()
{
    QFETCH(QByteArray, payload);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("cache.db"));
    test::FakeClock clock;
    auto cache = DiagnosisCache::open(path, 60000, &clock);
    QVERIFY2(cache.ok(), qPrintable(cache.errorMessage()));
    QVERIFY((*cache)->put(QStringLiteral("fp"), sample()).ok());
    {
        QSqlDatabase db = QSqlDatabase::addDatabase("QSQLITE", "tamper");
        db.setDatabaseName(path);
        QVERIFY(db.open());
        QSqlQuery q(db);
        q.prepare("UPDATE diagnosis_cache SET payload = ? WHERE fingerprint = 'fp'");
        q.addBindValue(QString::fromUtf8(payload));
        QVERIFY(q.exec());
        QCOMPARE(q.numRowsAffected(), 1);
    }
    QSqlDatabase::removeDatabase("tamper");
    const auto got = (*cache)->get(QStringLiteral("fp"));
    QVERIFY(!got.ok());
    QCOMPARE(got.errorMessage(),
             "diagnosis cache " + path + ": fp: stored diagnosis is nested deeper than 512 levels");
    QCOMPARE((*cache)->misses(), 1);
}

QTEST_GUILESS_MAIN(TestDiagnosisCache)
#include "tst_diagnosiscache.moc"
