#include "core/cli/cli.h"

#include <QTest>
#include <QTextStream>

class TestCli final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void exitCodes_data();
    void exitCodes();
};

void TestCli::exitCodes_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("exitCode");
    QTest::addColumn<QString>("stdoutHas");
    QTest::addColumn<QString>("stderrHas");
    QTest::newRow("no command is a usage error")
        << QStringList{} << 2 << QStringLiteral("usage:") << QString();
    QTest::newRow("help") << QStringList{QStringLiteral("help")} << 0 << QStringLiteral("commands:")
                          << QString();
    QTest::newRow("version") << QStringList{QStringLiteral("version")} << 0 << QStringLiteral("vigilctl 0.")
                             << QString();
    QTest::newRow("unknown command names it") << QStringList{QStringLiteral("frobnicate")} << 2 << QString()
                                              << QStringLiteral("unknown command 'frobnicate'");
}

void TestCli::exitCodes()
{
    QFETCH(QStringList, args);
    QFETCH(int, exitCode);
    QFETCH(QString, stdoutHas);
    QFETCH(QString, stderrHas);
    QString outText, errText;
    QTextStream out(&outText), err(&errText);
    args.prepend(QStringLiteral("vigilctl"));
    QCOMPARE(vigil::cli::run(args, out, err), exitCode);
    out.flush();
    err.flush();
    QVERIFY2(outText.contains(stdoutHas), qPrintable(outText));
    QVERIFY2(errText.contains(stderrHas), qPrintable(errText));
}

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
