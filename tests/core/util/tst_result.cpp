#include "core/util/result.h"

#include <QTest>

using vigil::Error;
using vigil::Result;

class TestResult final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void valueOrError_data();
    void valueOrError();
    void voidResult();
};

void TestResult::valueOrError_data()
{
    QTest::addColumn<bool>("fail");
    QTest::addColumn<QString>("message");
    QTest::newRow("value") << false << QString();
    QTest::newRow("error names its cause") << true << QStringLiteral("kubeconfig /x: no such file");
}

void TestResult::valueOrError()
{
    QFETCH(bool, fail);
    QFETCH(QString, message);
    const Result<int> r = fail ? Result<int>(Error(message, 404)) : Result<int>(42);
    QCOMPARE(r.ok(), !fail);
    QCOMPARE(r.errorMessage(), message);
    if (fail)
        QCOMPARE(r.error().code, 404);
    else
        QCOMPARE(*r, 42);
}

void TestResult::voidResult()
{
    Result<void> fine;
    QVERIFY(fine.ok());
    Result<void> bad(Error(QStringLiteral("nope")));
    QVERIFY(!bad);
    QCOMPARE(bad.errorMessage(), QStringLiteral("nope"));
}

QTEST_GUILESS_MAIN(TestResult)
#include "tst_result.moc"
