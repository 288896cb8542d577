#include "core/audit/auditlog.h"
#include "core/cli/cli.h"

#include <QFile>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QTextStream>

using namespace vigil;
using json = nlohmann::json;

// vigilctl audit list|show|export|verify over a log written in a temporary data directory.
class TestAuditCli final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init();
    void exportRoundTrip_data();
    void exportRoundTrip();
    void verifyNamesFirstBadRow_data();
    void verifyNamesFirstBadRow();
    void listAndShow();
    void badArguments_data();
    void badArguments();
    void prune_data();
    void prune();

private:
    int run(QStringList args, QString *out, QString *err = nullptr);
    std::unique_ptr<QTemporaryDir> m_dir;
};

int TestAuditCli::run(QStringList args, QString *outText, QString *errText)
{
    QString e;
    QTextStream out(outText), err(errText ? errText : &e);
    args.prepend("audit");
    args.prepend("vigilctl");
    args << "--db" << m_dir->path();
    const int code = cli::run(args, out, err);
    out.flush();
    err.flush();
    return code;
}

void TestAuditCli::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    auto log = audit::AuditLog::open(m_dir->filePath("audit.db"));
    QVERIFY2(log.ok(), qPrintable(log.errorMessage()));
    const struct {
        const char *kind, *ns, *action, *outcome;
    } rows[] = {{"proposed", "shop", "scale_deployment", "needs-approval"},
                {"approved", "shop", "scale_deployment", "approved"},
                {"executed", "shop", "scale_deployment", "done"},
                {"proposed", "web", "restart_pod", "needs-approval"},
                {"executed", "web", "restart_pod", "blocked"},
                {"proposed", "web", "cordon_node", "blocked"}};
    qint64 ts = 1'760'000'000'000;
    for (const auto &r : rows) {
        audit::AuditEvent e;
        e.tsMs = ts += 1000;
        e.decisionId = "d-" + QString::fromLatin1(r.ns);
        e.kind = r.kind;
        e.actor = "os:alice";
        e.namespaceName = r.ns;
        e.target = "pod/" + QString::fromLatin1(r.ns) + "/x";
        e.action = r.action;
        e.outcome = r.outcome;
        e.payload = {{"reason", "=HYPERLINK(\"evil\")"}, {"n", int(ts % 7)}};
        QVERIFY((*log)->append(e).ok());
    }
}

void TestAuditCli::exportRoundTrip_data()
{
    QTest::addColumn<QStringList>("filter");
    QTest::addColumn<int>("rows");
    QTest::newRow("whole log") << QStringList{} << 6;
    QTest::newRow("one namespace") << QStringList{"-n", "web"} << 3;
    QTest::newRow("one action") << QStringList{"--action", "scale_deployment"} << 3;
    QTest::newRow("one outcome") << QStringList{"--outcome", "blocked"} << 2;
    QTest::newRow("time window") << QStringList{"--since", "2025-10-09T08:53:22Z", "--until",
                                                "2025-10-09T08:53:24Z"}
                                 << 2;
}

void TestAuditCli::exportRoundTrip()
{
    QFETCH(QStringList, filter);
    QFETCH(int, rows);
    const QString jsonl = m_dir->filePath("out.jsonl");
    QString out, err;
    QCOMPARE(run(QStringList{"export", "--format", "jsonl", "-o", jsonl} + filter, &out, &err), 0);
    QVERIFY2(err.contains(QString::number(rows) + " rows exported"), qPrintable(err));
    QFile f(jsonl);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll().count('\n'), rows);
    // The export re-verifies on its own, filtered or not.
    QCOMPARE(run({"verify", "--input", jsonl}, &out, &err), 0);
    QVERIFY2(out.contains(QString("ok: %1 rows").arg(rows)), qPrintable(out));

    const QString csv = m_dir->filePath("out.csv");
    QCOMPARE(run(QStringList{"export", "--format", "csv", "-o", csv} + filter, &out, &err), 0);
    QFile c(csv);
    QVERIFY(c.open(QIODevice::ReadOnly));
    const QByteArray text = c.readAll();
    QCOMPARE(text.count("\r\n"), rows + 1); // header + rows
    QVERIFY(!text.contains(",=HYPERLINK")); // formula cells are defused
}

void TestAuditCli::verifyNamesFirstBadRow_data()
{
    QTest::addColumn<QString>("tamper");
    QTest::addColumn<QString>("expected");
    QTest::newRow("edited outcome in row 3") << "UPDATE events SET outcome = 'verified' WHERE id = 3"
                                             << "first bad row 3";
    QTest::newRow("deleted row 4") << "DELETE FROM events WHERE id = 4"
                                   << "first bad row 5";
    QTest::newRow("edited payload in row 2") << "UPDATE events SET payload = '{}' WHERE id = 2"
                                             << "first bad row 2";
}

void TestAuditCli::verifyNamesFirstBadRow()
{
    QFETCH(QString, tamper);
    QFETCH(QString, expected);
    QString out, err;
    QCOMPARE(run({"verify"}, &out, &err), 0);
    QVERIFY2(out.contains("ok: 6 rows"), qPrintable(out));
    {
        QSqlDatabase db = QSqlDatabase::addDatabase("QSQLITE", "tamper");
        db.setDatabaseName(m_dir->filePath("audit.db"));
        QVERIFY(db.open());
        QSqlQuery q(db);
        QVERIFY(q.exec("DROP TRIGGER events_no_update"));
        QVERIFY(q.exec("DROP TRIGGER events_no_delete"));
        QVERIFY(q.exec(tamper));
        db.close();
    }
    QSqlDatabase::removeDatabase("tamper");
    out.clear();
    err.clear();
    QCOMPARE(run({"verify"}, &out, &err), 1);
    QVERIFY2(err.contains(expected), qPrintable(err));
}

void TestAuditCli::listAndShow()
{
    QString out, err;
    QCOMPARE(run({"list", "-n", "web"}, &out, &err), 0);
    QCOMPARE(out.count('\n'), 4); // header + 3
    QVERIFY(out.contains("restart_pod"));
    QVERIFY(!out.contains("scale_deployment"));
    out.clear();
    QCOMPARE(run({"show", "5"}, &out, &err), 0);
    const json row = json::parse(out.toStdString());
    QVERIFY(row["id"] == 5);
    QVERIFY(row["outcome"] == "blocked");
    QVERIFY(row["hash"].get<std::string>().size() == 64);
    // show prints exactly what the export writes for the row (one audit::toJson, one spelling).
    QVERIFY(row.contains("prev_hash") && row.contains("decision_id"));
    const QString file = m_dir->filePath("all.jsonl");
    QString ignored;
    QCOMPARE(run({"export", "--format", "jsonl", "-o", file}, &ignored, &err), 0);
    QFile f(file);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = f.readAll().split('\n');
    QVERIFY(lines.size() > 5);
    QCOMPARE(QString::fromStdString(json::parse(lines[4].toStdString()).dump()),
             QString::fromStdString(row.dump()));
    QCOMPARE(run({"show", "99"}, &out, &err), 1);
}

void TestAuditCli::badArguments_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("message");
    QTest::newRow("unknown verb") << QStringList{"purge"} << "expected list";
    QTest::newRow("unknown format") << QStringList{"export", "--format", "xml"} << "jsonl or csv";
    QTest::newRow("bad time") << QStringList{"list", "--since", "yesterday"} << "--since 'yesterday'";
    QTest::newRow("prune without days") << QStringList{"prune"} << "give either --days N or --policy FILE";
    QTest::newRow("prune with both") << QStringList{"prune", "--days", "3", "--policy", "p.yaml"}
                                     << "give either --days N or --policy FILE";
    QTest::newRow("prune zero days") << QStringList{"prune", "--days", "0"}
                                     << "--days '0' is not a whole number of days in 1..36500";
    QTest::newRow("prune days with a unit") << QStringList{"prune", "--days", "7d"} << "--days '7d'";
}

void TestAuditCli::prune_data()
{
    QTest::addColumn<QString>("policy"); // written to policy.yaml; empty: --days 30 instead
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("said");
    QTest::addColumn<int>("rowsAfter"); // rows verify reports afterwards

    // The six rows are from October 2025: older than any retention below.
    QTest::newRow("--days drops old rows, verify still passes")
        << "" << 0 << "dropped 6 rows older than 30 days" << 1;
    QTest::newRow("--policy takes audit.retentionDays") << "mode: approve\naudit:\n  retentionDays: 365\n"
                                                        << 0 << "dropped 6 rows older than 365 days" << 1;
    QTest::newRow("--policy without retention keeps every row") << "mode: approve\n"
                                                                << 0 << "nothing to prune" << 6;
    QTest::newRow("--policy with a bad value names file, line and field")
        << "mode: approve\naudit:\n  retentionDays: a month\n"
        << 1 << "policy.yaml:3: field 'audit.retentionDays': expected an integer, got 'a month'" << 6;
}

void TestAuditCli::prune()
{
    QFETCH(QString, policy);
    QFETCH(int, code);
    QFETCH(QString, said);
    QFETCH(int, rowsAfter);
    QStringList args{"prune"};
    if (policy.isEmpty()) {
        args << "--days"
             << "30";
    } else {
        QFile f(m_dir->filePath("policy.yaml"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(policy.toUtf8());
        f.close();
        args << "--policy" << f.fileName();
    }
    QString out, err;
    QCOMPARE(run(args, &out, &err), code);
    QVERIFY2(QString(out + err).contains(said), qPrintable(out + err));

    // vigilctl audit verify passes over what is left: the retention checkpoint accounts for the gap.
    out.clear();
    err.clear();
    QCOMPARE(run({"verify"}, &out, &err), 0);
    QVERIFY2(out.startsWith(QString("ok: %1 rows verify").arg(rowsAfter)), qPrintable(out + err));
    if (rowsAfter == 1) {
        out.clear();
        QCOMPARE(run({"list"}, &out), 0);
        QVERIFY2(out.contains("retention"), qPrintable(out));
    }
}

void TestAuditCli::badArguments()
{
    QFETCH(QStringList, args);
    QFETCH(QString, message);
    QString out, err;
    QCOMPARE(run(args, &out, &err), 2);
    QVERIFY2(err.contains(message), qPrintable(err));
}

QTEST_GUILESS_MAIN(TestAuditCli)
#include "tst_audit_cli.moc"
