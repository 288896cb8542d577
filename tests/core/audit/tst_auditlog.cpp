#include "core/audit/auditlog.h"

#include "core/audit/retention.h"

#include <QBuffer>
#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QFile>
#include <QProcess>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include <cstdio>

using namespace vigil::audit;
using json = nlohmann::json;

Q_DECLARE_METATYPE(vigil::audit::AuditFilter)

namespace {

const qint64 kDay = 86400000;
const QDateTime kNow = QDateTime(QDate(2026, 3, 1), QTime(12, 0), Qt::UTC);

AuditEvent makeEvent(const QString &kind, const QString &ns, const QString &action, const QString &outcome,
                     const QString &decision, qint64 ts, json payload = json::object())
{
    AuditEvent e;
    e.kind = kind;
    e.namespaceName = ns;
    e.action = action;
    e.outcome = outcome;
    e.decisionId = decision;
    e.tsMs = ts;
    e.actor = QStringLiteral("os:alice");
    e.target = QStringLiteral("pod/") + ns + QStringLiteral("/api-1");
    e.payload = std::move(payload);
    return e;
}

// Six rows: two decisions over two namespaces, one hour apart.
void fill(AuditLog &log)
{
    const qint64 t0 = kNow.toMSecsSinceEpoch() - 6 * 3600000;
    const AuditEvent rows[] = {
        makeEvent(QStringLiteral("observed"), QStringLiteral("shop"), QString(), QString(),
                  QStringLiteral("d-1"), t0, json{{"reason", "CrashLoopBackOff"}}),
        makeEvent(QStringLiteral("diagnosed"), QStringLiteral("shop"), QStringLiteral("restart_pod"),
                  QString(), QStringLiteral("d-1"), t0 + 3600000,
                  json{{"model", "gpt-4o-mini"}, {"confidence", 0.87}, {"tokens", 1234}}),
        makeEvent(QStringLiteral("executed"), QStringLiteral("shop"), QStringLiteral("restart_pod"),
                  QStringLiteral("success"), QStringLiteral("d-1"), t0 + 2 * 3600000,
                  json{{"api", {{"status", 200}}}}),
        makeEvent(QStringLiteral("observed"), QStringLiteral("billing"), QString(), QString(),
                  QStringLiteral("d-2"), t0 + 3 * 3600000,
                  json{{"reason", "OOMKilled"}, {"note", "memory limit 128Mi"}}),
        makeEvent(QStringLiteral("verdict"), QStringLiteral("billing"), QStringLiteral("scale_deployment"),
                  QStringLiteral("blocked"), QStringLiteral("d-2"), t0 + 4 * 3600000,
                  json{{"reasons", {"params.range"}}}),
        makeEvent(QStringLiteral("executed"), QStringLiteral("billing"), QStringLiteral("create_alert"),
                  QStringLiteral("failure"), QStringLiteral("d-2"), t0 + 5 * 3600000,
                  json{{"api", {{"status", 503}}}, {"text", "100%_done"}}),
    };
    for (const AuditEvent &e : rows) {
        const auto id = log.append(e);
        QVERIFY2(id.ok(), qPrintable(id.errorMessage()));
    }
}

// A second connection that plays the attacker with raw SQL.
class RawDb final {
public:
    explicit RawDb(const QString &path)
        : m_name(QStringLiteral("raw-%1").arg(++s_count))
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_name);
        db.setDatabaseName(path);
        db.open();
    }
    ~RawDb()
    {
        {
            QSqlDatabase db = QSqlDatabase::database(m_name, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(m_name);
    }
    QString exec(const QString &sql)
    {
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        return q.exec(sql) ? QString() : q.lastError().text();
    }

private:
    QString m_name;
    static inline int s_count = 0;
};

QList<qint64> ids(const QList<AuditEvent> &events)
{
    QList<qint64> out;
    for (const AuditEvent &e : events)
        out << e.id;
    return out;
}

} // namespace

class TestAuditLog final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init();
    void appendAndVerify();
    void rejectsBadKind_data();
    void rejectsBadKind();
    void openErrors();
    void triggersRefuse_data();
    void triggersRefuse();
    void tamper_data();
    void tamper();
    void deepPayloadStaysText_data();
    void deepPayloadStaysText();
    void filters_data();
    void filters();
    void jsonlRoundTrip();
    void jsonlTamperAndErrors();
    void csvCells_data();
    void csvCells();
    void csvExport();
    void retention();
    void retentionRefusesBrokenChain();
    void retentionSchedule_data();
    void retentionSchedule();
    void survivesKill9();
    void osActor();

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    QString m_path;
};

void TestAuditLog::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_path = m_dir->filePath(QStringLiteral("audit.db"));
}

void TestAuditLog::appendAndVerify()
{
    auto log = AuditLog::open(m_path);
    QVERIFY2(log.ok(), qPrintable(log.errorMessage()));
    fill(**log);
    auto events = (*log)->query();
    QVERIFY(events.ok());
    QCOMPARE(ids(*events), (QList<qint64>{1, 2, 3, 4, 5, 6}));
    QCOMPARE(events->at(0).prevHash, genesisHash());
    for (qsizetype i = 1; i < events->size(); ++i)
        QCOMPARE(events->at(i).prevHash, events->at(i - 1).hash);
    for (const AuditEvent &e : *events)
        QCOMPARE(e.hash, computeHash(e));
    QCOMPARE(events->at(1).payload.at("confidence").get<double>(), 0.87);
    auto report = (*log)->verify();
    QVERIFY(report.ok());
    QVERIFY2(report->ok, qPrintable(report->message));
    QCOMPARE(report->rowsChecked, qint64(6));

    // Reopening continues the same chain; ts 0 means now.
    log = AuditLog::open(m_path);
    QVERIFY(log.ok());
    AuditEvent later;
    later.kind = QStringLiteral("error");
    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    const auto id = (*log)->append(later);
    QCOMPARE(*id, qint64(7));
    AuditFilter errors;
    errors.kind = QStringLiteral("error");
    const auto last = (*log)->query(errors);
    QCOMPARE(last->size(), 1);
    QVERIFY(last->at(0).tsMs >= before);
    QCOMPARE(last->at(0).prevHash, events->at(5).hash);
    QVERIFY((*log)->verify()->ok);
}

void TestAuditLog::rejectsBadKind_data()
{
    QTest::addColumn<QString>("kind");
    QTest::newRow("empty") << QString();
    QTest::newRow("capitalised") << QStringLiteral("Observed");
    QTest::newRow("sql") << QStringLiteral("x'); DROP TABLE events; --");
}

void TestAuditLog::rejectsBadKind()
{
    QFETCH(QString, kind);
    auto log = AuditLog::open(m_path);
    QVERIFY(log.ok());
    AuditEvent e;
    e.kind = kind;
    const auto id = (*log)->append(e);
    QVERIFY(!id.ok());
    QVERIFY2(id.errorMessage().contains(m_path), qPrintable(id.errorMessage()));
    QCOMPARE((*log)->query()->size(), 0);
}

void TestAuditLog::openErrors()
{
    const QString garbage = m_dir->filePath(QStringLiteral("garbage.db"));
    QFile f(garbage);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QByteArray(4096, 'x'));
    f.close();
    const auto notDb = AuditLog::open(garbage);
    QVERIFY(!notDb.ok());
    QVERIFY2(notDb.errorMessage().startsWith(QStringLiteral("audit log ") + garbage),
             qPrintable(notDb.errorMessage()));
    const auto dir = AuditLog::open(m_dir->path());
    QVERIFY(!dir.ok());
    QVERIFY2(dir.errorMessage().contains(m_dir->path()), qPrintable(dir.errorMessage()));
}

void TestAuditLog::triggersRefuse_data()
{
    QTest::addColumn<QString>("sql");
    QTest::newRow("update") << QStringLiteral("UPDATE events SET outcome = 'success' WHERE id = 5");
    QTest::newRow("delete one") << QStringLiteral("DELETE FROM events WHERE id = 3");
    QTest::newRow("delete all") << QStringLiteral("DELETE FROM events");
}

void TestAuditLog::triggersRefuse()
{
    QFETCH(QString, sql);
    auto log = AuditLog::open(m_path);
    QVERIFY(log.ok());
    fill(**log);
    RawDb raw(m_path);
    const QString error = raw.exec(sql);
    QVERIFY2(error.contains(QStringLiteral("append-only")), qPrintable(error));
    QCOMPARE((*log)->query()->size(), 6);
    QVERIFY((*log)->verify()->ok);
}

void TestAuditLog::tamper_data()
{
    QTest::addColumn<QStringList>("statements");
    QTest::addColumn<bool>("recomputeRow3");
    QTest::addColumn<qint64>("firstBad");
    QTest::addColumn<int>("problem");
    const QString noUpdate = QStringLiteral("DROP TRIGGER events_no_update");
    const QString noDelete = QStringLiteral("DROP TRIGGER events_no_delete");
    QTest::newRow("edit outcome of row 3")
        << QStringList{noUpdate, QStringLiteral("UPDATE events SET outcome='ok' WHERE id=3")} << false
        << qint64(3) << int(VerifyReport::Edited);
    QTest::newRow("edit payload of row 2")
        << QStringList{noUpdate,
                       QStringLiteral("UPDATE events SET payload='{\"confidence\":0.99}' WHERE id=2")}
        << false << qint64(2) << int(VerifyReport::Edited);
    QTest::newRow("edit timestamp of row 5")
        << QStringList{noUpdate, QStringLiteral("UPDATE events SET ts=ts+1 WHERE id=5")} << false << qint64(5)
        << int(VerifyReport::Edited);
    QTest::newRow("payload made invalid JSON")
        << QStringList{noUpdate, QStringLiteral("UPDATE events SET payload='{' WHERE id=4")} << false
        << qint64(4) << int(VerifyReport::Edited);
    QTest::newRow("edit row 3 and recompute its hash")
        << QStringList{noUpdate} << true << qint64(3) << int(VerifyReport::Edited);
    QTest::newRow("delete row 3") << QStringList{noDelete, QStringLiteral("DELETE FROM events WHERE id=3")}
                                  << false << qint64(4) << int(VerifyReport::Missing);
    QTest::newRow("delete rows 2 to 4")
        << QStringList{noDelete, QStringLiteral("DELETE FROM events WHERE id BETWEEN 2 AND 4")} << false
        << qint64(5) << int(VerifyReport::Missing);
    QTest::newRow("delete the first row")
        << QStringList{noDelete, QStringLiteral("DELETE FROM events WHERE id=1")} << false << qint64(2)
        << int(VerifyReport::Missing);
    QTest::newRow("delete the last row")
        << QStringList{noDelete, QStringLiteral("DELETE FROM events WHERE id=6")} << false << qint64(6)
        << int(VerifyReport::Missing);
    QTest::newRow("swap rows 2 and 3")
        << QStringList{noUpdate, QStringLiteral("UPDATE events SET id=-2 WHERE id=2"),
                       QStringLiteral("UPDATE events SET id=2 WHERE id=3"),
                       QStringLiteral("UPDATE events SET id=3 WHERE id=-2")}
        << false << qint64(2) << int(VerifyReport::Reordered);
    QTest::newRow("swap rows 4 and 6")
        << QStringList{noUpdate, QStringLiteral("UPDATE events SET id=-4 WHERE id=4"),
                       QStringLiteral("UPDATE events SET id=4 WHERE id=6"),
                       QStringLiteral("UPDATE events SET id=6 WHERE id=-4")}
        << false << qint64(4) << int(VerifyReport::Reordered);
}

void TestAuditLog::tamper()
{
    QFETCH(QStringList, statements);
    QFETCH(bool, recomputeRow3);
    QFETCH(qint64, firstBad);
    QFETCH(int, problem);
    auto log = AuditLog::open(m_path);
    QVERIFY(log.ok());
    fill(**log);
    {
        RawDb raw(m_path);
        for (const QString &sql : statements)
            QVERIFY2(raw.exec(sql).isEmpty(), qPrintable(sql));
        if (recomputeRow3) {
            AuditEvent e = (*log)->query()->at(2);
            e.outcome = QStringLiteral("success (edited)");
            const QString hash = computeHash(e);
            QVERIFY(raw.exec(QStringLiteral("UPDATE events SET outcome='%1', hash='%2' WHERE id=3")
                                 .arg(e.outcome, hash))
                        .isEmpty());
        }
    }
    const auto report = (*log)->verify();
    QVERIFY(report.ok());
    QVERIFY(!report->ok);
    QVERIFY2(report->firstBadId == firstBad, qPrintable(report->message));
    QVERIFY2(report->problem == VerifyReport::Problem(problem), qPrintable(report->message));
    QVERIFY2(report->message.contains(QString::number(firstBad)), qPrintable(report->message));
}

void TestAuditLog::deepPayloadStaysText_data()
{
    QTest::addColumn<QString>("payloadSql"); // SQLite builds the 100,000-deep text
    QTest::newRow("100,000-deep [[[") << QStringLiteral(
        "replace(hex(zeroblob(100000)), '00', '[') || replace(hex(zeroblob(100000)), '00', ']')");
    QTest::newRow("100,000-deep {\"a\":")
        << QStringLiteral("replace(hex(zeroblob(100000)), '00', '{\"a\":') || '1' || "
                          "replace(hex(zeroblob(100000)), '00', '}')");
}

// A tampered row nested 100,000 deep is kept as text: query, verify and both exports answer, none overflows.
void TestAuditLog::deepPayloadStaysText()
{
    QFETCH(QString, payloadSql);
    auto log = AuditLog::open(m_path);
    QVERIFY(log.ok());
    fill(**log);
    {
        RawDb raw(m_path);
        QVERIFY(raw.exec(QStringLiteral("DROP TRIGGER events_no_update")).isEmpty());
        const QString sql = QStringLiteral("UPDATE events SET payload = %1 WHERE id=4").arg(payloadSql);
        QVERIFY2(raw.exec(sql).isEmpty(), qPrintable(raw.exec(sql)));
    }
    const auto events = (*log)->query();
    QVERIFY2(events.ok(), qPrintable(events.errorMessage()));
    const nlohmann::json &payload = events->at(3).payload;
    QVERIFY(payload.is_string());
    QCOMPARE(payload.get_ref<const std::string &>().size(),
             size_t(payloadSql.contains("\"a\"") ? 600001 : 200000));
    const auto report = (*log)->verify();
    QVERIFY(report.ok());
    QCOMPARE(report->firstBadId, qint64(4));
    QCOMPARE(report->problem, VerifyReport::Edited);
    QBuffer jsonl;
    QVERIFY(jsonl.open(QIODevice::WriteOnly));
    QCOMPARE(*(*log)->exportJsonl(&jsonl), qint64(6));
    QBuffer csv;
    QVERIFY(csv.open(QIODevice::WriteOnly));
    QCOMPARE(*(*log)->exportCsv(&csv), qint64(6));
}

void TestAuditLog::filters_data()
{
    QTest::addColumn<AuditFilter>("filter");
    QTest::addColumn<QList<qint64>>("expected");
    const qint64 t0 = kNow.toMSecsSinceEpoch() - 6 * 3600000;
    AuditFilter f;
    QTest::newRow("everything") << f << QList<qint64>{1, 2, 3, 4, 5, 6};
    f = {};
    f.namespaceName = QStringLiteral("billing");
    QTest::newRow("namespace") << f << QList<qint64>{4, 5, 6};
    f = {};
    f.action = QStringLiteral("restart_pod");
    QTest::newRow("action") << f << QList<qint64>{2, 3};
    f = {};
    f.outcome = QStringLiteral("failure");
    QTest::newRow("outcome") << f << QList<qint64>{6};
    f = {};
    f.decisionId = QStringLiteral("d-1");
    QTest::newRow("decision id") << f << QList<qint64>{1, 2, 3};
    f = {};
    f.kind = QStringLiteral("executed");
    QTest::newRow("kind") << f << QList<qint64>{3, 6};
    f = {};
    f.fromMs = t0 + 3600000;
    f.toMs = t0 + 3 * 3600000;
    QTest::newRow("time range is half open") << f << QList<qint64>{2, 3};
    f = {};
    f.text = QStringLiteral("OOMKilled");
    QTest::newRow("text in payload") << f << QList<qint64>{4};
    f = {};
    f.text = QStringLiteral("100%_");
    QTest::newRow("text with LIKE wildcards is literal") << f << QList<qint64>{6};
    f = {};
    f.text = QStringLiteral("%");
    QTest::newRow("lone percent matches only a percent") << f << QList<qint64>{6};
    f = {};
    f.text = QStringLiteral("pod/shop");
    QTest::newRow("text in target") << f << QList<qint64>{1, 2, 3};
    f = {};
    f.namespaceName = QStringLiteral("shop");
    f.kind = QStringLiteral("executed");
    QTest::newRow("filters combine") << f << QList<qint64>{3};
    f = {};
    f.limit = 2;
    QTest::newRow("limit") << f << QList<qint64>{1, 2};
    f = {};
    f.namespaceName = QStringLiteral("' OR 1=1 --");
    QTest::newRow("injection matches nothing") << f << QList<qint64>{};
}

void TestAuditLog::filters()
{
    QFETCH(AuditFilter, filter);
    QFETCH(QList<qint64>, expected);
    auto log = AuditLog::open(m_path);
    QVERIFY(log.ok());
    fill(**log);
    const auto events = (*log)->query(filter);
    QVERIFY2(events.ok(), qPrintable(events.errorMessage()));
    QCOMPARE(ids(*events), expected);
}

void TestAuditLog::jsonlRoundTrip()
{
    auto log = AuditLog::open(m_path);
    QVERIFY(log.ok());
    fill(**log);
    // Payloads that tempt a serializer: floats, big integers, unicode, invalid UTF-8, nesting, empty.
    json tricky{{"float", 0.1},
                {"tiny", 1e-7},
                {"neg0", -0.0},
                {"big", 18446744073709551615ULL},
                {"min", -9223372036854775807LL - 1},
                {"text", "caf\xc3\xa9 \xe2\x9c\x93 \"quoted\"\n\ttab"},
                {"bad", std::string("\xff\xfe")},
                {"nested", {{"z", 1}, {"a", json::array({1, "x", nullptr, true})}}},
                {"empty", json::object()}};
    QVERIFY((*log)
                ->append(makeEvent(QStringLiteral("diagnosed"), QStringLiteral("shop"), QString(), QString(),
                                   QStringLiteral("d-3"), kNow.toMSecsSinceEpoch(), tricky))
                .ok());
    QVERIFY((*log)->verify()->ok);

    QBuffer buffer;
    buffer.open(QIODevice::ReadWrite);
    const auto written = (*log)->exportJsonl(&buffer);
    QCOMPARE(*written, qint64(7));
    QCOMPARE(buffer.data().count('\n'), 7);
    buffer.seek(0);
    const auto read = readJsonl(&buffer);
    QVERIFY2(read.ok(), qPrintable(read.errorMessage()));
    QCOMPARE(read->size(), 7);
    const VerifyReport report = verifyChain(*read);
    QVERIFY2(report.ok, qPrintable(report.message));
    const auto stored = (*log)->query();
    for (qsizetype i = 0; i < stored->size(); ++i) {
        QCOMPARE(read->at(i).hash, stored->at(i).hash);
        QVERIFY(read->at(i).payload == stored->at(i).payload);
    }

    // A filtered export verifies row by row, not as a whole chain.
    QBuffer filtered;
    filtered.open(QIODevice::ReadWrite);
    AuditFilter f;
    f.namespaceName = QStringLiteral("billing");
    QCOMPARE(*(*log)->exportJsonl(&filtered, f), qint64(3));
    filtered.seek(0);
    const auto part = readJsonl(&filtered);
    QVERIFY(part.ok());
    QVERIFY(verifyChain(*part, true).ok);
    QVERIFY(!verifyChain(*part, false).ok);
}

void TestAuditLog::jsonlTamperAndErrors()
{
    auto log = AuditLog::open(m_path);
    QVERIFY(log.ok());
    fill(**log);
    QBuffer buffer;
    buffer.open(QIODevice::ReadWrite);
    QVERIFY((*log)->exportJsonl(&buffer).ok());
    QByteArray text = buffer.data();
    QVERIFY(text.contains("\"outcome\":\"blocked\""));
    text.replace("\"outcome\":\"blocked\"", "\"outcome\":\"allowed\"");
    QBuffer edited(&text);
    edited.open(QIODevice::ReadOnly);
    const auto read = readJsonl(&edited);
    QVERIFY(read.ok());
    const VerifyReport report = verifyChain(*read);
    QVERIFY(!report.ok);
    QCOMPARE(report.firstBadId, qint64(5));
    QCOMPARE(report.problem, VerifyReport::Edited);

    // Dropping a line from the export shows as a gap.
    QList<QByteArray> lines = buffer.data().split('\n');
    lines.removeAt(2);
    QByteArray shorter = lines.join('\n');
    QBuffer gap(&shorter);
    gap.open(QIODevice::ReadOnly);
    const VerifyReport gapReport = verifyChain(*readJsonl(&gap));
    QCOMPARE(gapReport.firstBadId, qint64(4));
    QCOMPARE(gapReport.problem, VerifyReport::Missing);

    QByteArray broken("{\"id\":1}\nnot json\n");
    QBuffer bad(&broken);
    bad.open(QIODevice::ReadOnly);
    const auto err = readJsonl(&bad);
    QVERIFY(!err.ok());
    QCOMPARE(err.errorMessage(), QStringLiteral("line 1: field 'ts' is missing or has the wrong type"));
    QByteArray notJson("\n[1,2]\n");
    QBuffer bad2(&notJson);
    bad2.open(QIODevice::ReadOnly);
    QCOMPARE(readJsonl(&bad2).errorMessage(), QStringLiteral("line 2: expected a JSON object"));
    // Found by tests/fuzz/fuzz_audit: copying a 100,000-deep payload overflowed the stack.
    QByteArray deep = buffer.data().split('\n').first();
    QVERIFY(deep.contains("\"payload\":"));
    const QByteArray deepPayload =
        "\"payload\":" + QByteArray(100000, '[') + QByteArray(100000, ']') + ",\"p\":";
    deep.replace("\"payload\":", deepPayload);
    QBuffer bad3(&deep);
    bad3.open(QIODevice::ReadOnly);
    QCOMPARE(readJsonl(&bad3).errorMessage(), QStringLiteral("line 1: JSON nested deeper than 512 levels"));
}

void TestAuditLog::csvCells_data()
{
    QTest::addColumn<QString>("in");
    QTest::addColumn<QString>("out");
    QTest::newRow("plain") << QStringLiteral("restart_pod") << QStringLiteral("restart_pod");
    QTest::newRow("empty") << QString() << QString();
    QTest::newRow("comma quoted") << QStringLiteral("a,b") << QStringLiteral("\"a,b\"");
    QTest::newRow("quote doubled") << QStringLiteral("say \"hi\"") << QStringLiteral("\"say \"\"hi\"\"\"");
    QTest::newRow("newline quoted") << QStringLiteral("a\nb") << QStringLiteral("\"a\nb\"");
    QTest::newRow("formula =") << QStringLiteral("=cmd|' /C calc'!A0")
                               << QStringLiteral("\"'=cmd|' /C calc'!A0\"");
    QTest::newRow("formula +") << QStringLiteral("+1+1") << QStringLiteral("\"'+1+1\"");
    QTest::newRow("formula -") << QStringLiteral("-2+3") << QStringLiteral("\"'-2+3\"");
    QTest::newRow("formula @") << QStringLiteral("@SUM(A1)") << QStringLiteral("\"'@SUM(A1)\"");
    QTest::newRow("formula tab") << QStringLiteral("\t=1") << QStringLiteral("\"'\t=1\"");
    QTest::newRow("formula with comma") << QStringLiteral("=HYPERLINK(\"x\",\"y\")")
                                        << QStringLiteral("\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
    QTest::newRow("equals later is fine") << QStringLiteral("a=b") << QStringLiteral("a=b");
}

void TestAuditLog::csvCells()
{
    QFETCH(QString, in);
    QFETCH(QString, out);
    QCOMPARE(csvCell(in), out);
}

void TestAuditLog::csvExport()
{
    auto log = AuditLog::open(m_path);
    QVERIFY(log.ok());
    AuditEvent e = makeEvent(QStringLiteral("executed"), QStringLiteral("shop"),
                             QStringLiteral("create_alert"), QStringLiteral("=1+1"), QStringLiteral("d-9"),
                             kNow.toMSecsSinceEpoch(), json{{"k", "v,w"}});
    e.target = QStringLiteral("@evil");
    QVERIFY((*log)->append(e).ok());
    QBuffer buffer;
    buffer.open(QIODevice::ReadWrite);
    QCOMPARE(*(*log)->exportCsv(&buffer), qint64(1));
    const QList<QByteArray> lines = buffer.data().split('\n');
    QCOMPARE(lines.size(), 3); // header, row, empty after the final CRLF
    QCOMPARE(lines[0],
             QByteArray(
                 "id,time,decision_id,kind,actor,namespace,target,action,outcome,payload,prev_hash,hash\r"));
    const QString row = QString::fromUtf8(lines[1]);
    QVERIFY(row.startsWith(QStringLiteral(
        "1,2026-03-01T12:00:00.000Z,d-9,executed,os:alice,shop,\"'@evil\",create_alert,\"'=1+1\",")));
    QVERIFY2(row.contains(QStringLiteral("\"{\"\"k\"\":\"\"v,w\"\"}\"")), qPrintable(row));
    QVERIFY(row.endsWith(u'\r'));
    AuditFilter none;
    none.namespaceName = QStringLiteral("nowhere");
    QBuffer empty;
    empty.open(QIODevice::ReadWrite);
    QCOMPARE(*(*log)->exportCsv(&empty, none), qint64(0));
    QCOMPARE(empty.data().count('\n'), 1);
}

void TestAuditLog::retention()
{
    auto log = AuditLog::open(m_path);
    QVERIFY(log.ok());
    // Rows 10, 9, ... 1 days old, then one from now.
    for (int age = 10; age >= 1; --age) {
        QVERIFY((*log)
                    ->append(makeEvent(QStringLiteral("observed"), QStringLiteral("shop"), QString(),
                                       QString(), QStringLiteral("d-%1").arg(age),
                                       kNow.toMSecsSinceEpoch() - age * kDay - 1000))
                    .ok());
    }
    QCOMPARE(*(*log)->applyRetention(30, kNow, QStringLiteral("os:alice")), qint64(0));
    QCOMPARE((*log)->query()->size(), 10);

    // Rows 1..6 are 10..5 days (and a second) old: older than 5 days.
    QCOMPARE(*(*log)->applyRetention(5, kNow, QStringLiteral("os:alice")), qint64(6));
    auto events = (*log)->query();
    QCOMPARE(ids(*events), (QList<qint64>{7, 8, 9, 10, 11}));
    const AuditEvent checkpoint = events->last();
    QCOMPARE(checkpoint.kind, QStringLiteral("retention"));
    QCOMPARE(checkpoint.actor, QStringLiteral("os:alice"));
    QCOMPARE(checkpoint.payload.at("droppedThroughId").get<qint64>(), qint64(6));
    QCOMPARE(checkpoint.payload.at("droppedCount").get<qint64>(), qint64(6));
    QCOMPARE(QString::fromStdString(checkpoint.payload.at("lastDroppedHash").get<std::string>()),
             events->first().prevHash);
    auto report = (*log)->verify();
    QVERIFY2(report->ok, qPrintable(report->message));

    // The delete guard is back, and the chain keeps growing from the checkpoint.
    RawDb raw(m_path);
    QVERIFY(
        raw.exec(QStringLiteral("DELETE FROM events WHERE id=7")).contains(QStringLiteral("append-only")));
    QVERIFY((*log)
                ->append(makeEvent(QStringLiteral("observed"), QStringLiteral("shop"), QString(), QString(),
                                   QStringLiteral("d-0"), kNow.toMSecsSinceEpoch()))
                .ok());
    QVERIFY((*log)->verify()->ok);

    // A JSONL export of the shortened log verifies too.
    QBuffer buffer;
    buffer.open(QIODevice::ReadWrite);
    QVERIFY((*log)->exportJsonl(&buffer).ok());
    buffer.seek(0);
    QVERIFY(verifyChain(*readJsonl(&buffer)).ok);

    // A second retention a week later drops the first checkpoint too; the new one carries on.
    QVERIFY((*log)->applyRetention(1, kNow.addDays(7), QStringLiteral("agent")).ok());
    events = (*log)->query();
    QCOMPARE(events->size(), 1);
    QCOMPARE(events->first().kind, QStringLiteral("retention"));
    report = (*log)->verify();
    QVERIFY2(report->ok, qPrintable(report->message));

    QVERIFY(!(*log)->applyRetention(0, kNow, QStringLiteral("agent")).ok());
}

void TestAuditLog::retentionRefusesBrokenChain()
{
    auto log = AuditLog::open(m_path);
    QVERIFY(log.ok());
    fill(**log);
    {
        RawDb raw(m_path);
        QVERIFY(raw.exec(QStringLiteral("DROP TRIGGER events_no_update")).isEmpty());
        QVERIFY(raw.exec(QStringLiteral("UPDATE events SET outcome='fine' WHERE id=2")).isEmpty());
    }
    const auto dropped = (*log)->applyRetention(1, kNow.addDays(30), QStringLiteral("agent"));
    QVERIFY(!dropped.ok());
    QVERIFY2(dropped.errorMessage().contains(QStringLiteral("row 2 was edited")),
             qPrintable(dropped.errorMessage()));
    QCOMPARE((*log)->query()->size(), 6);
}

void TestAuditLog::retentionSchedule_data()
{
    QTest::addColumn<int>("days");
    QTest::addColumn<int>("keptAtStart"); // rows left after start(), the checkpoint included
    QTest::addColumn<int>("keptNextDay"); // after the daily pass, a day later

    // Rows 10..1 days old (less a second). 4 days: the 6 rows 10..5 days old go at once (4 rows and
    // the checkpoint stay), the 4-day-old one the next day (with a second checkpoint).
    QTest::newRow("4 days: old rows go on open, one more the next day") << 4 << 5 << 5;
    QTest::newRow("30 days: nothing old enough, no checkpoint") << 30 << 10 << 10;
    QTest::newRow("0 keeps every row, never runs") << 0 << 10 << 10;
}

void TestAuditLog::retentionSchedule()
{
    QFETCH(int, days);
    QFETCH(int, keptAtStart);
    QFETCH(int, keptNextDay);
    auto log = AuditLog::open(m_path);
    QVERIFY(log.ok());
    for (int age = 10; age >= 1; --age) {
        QVERIFY((*log)
                    ->append(makeEvent(QStringLiteral("observed"), QStringLiteral("shop"), QString(),
                                       QString(), QStringLiteral("d-%1").arg(age),
                                       kNow.toMSecsSinceEpoch() - age * kDay + 1000))
                    .ok());
    }
    QDateTime now = kNow;
    // A short interval stands in for the day; the injected clock says a day passed.
    RetentionSchedule schedule(
        log->get(), days, QStringLiteral("agent"), nullptr, [&now] { return now; }, 50);
    QList<qint64> applied;
    QStringList failed;
    connect(&schedule, &RetentionSchedule::applied, this, [&](qint64 n) { applied << n; });
    connect(&schedule, &RetentionSchedule::failed, this, [&](const QString &why) { failed << why; });

    const vigil::Result<qint64> first = schedule.start();
    QVERIFY2(first.ok(), qPrintable(first.errorMessage()));
    QCOMPARE((*log)->query()->size(), keptAtStart);
    auto report = (*log)->verify();
    QVERIFY2(report->ok, qPrintable(report->message));

    now = kNow.addDays(1);
    QTest::qWait(200); // several passes: only the first one a day later finds rows to drop
    QCOMPARE((*log)->query()->size(), keptNextDay);
    report = (*log)->verify();
    QVERIFY2(report->ok, qPrintable(report->message));
    QVERIFY2(failed.isEmpty(), qPrintable(failed.join(u'\n')));
    if (days == 4) {
        QCOMPARE(applied, (QList<qint64>{6, 1}));
        const auto events = (*log)->query();
        QCOMPARE(events->last().kind, QStringLiteral("retention"));
        QCOMPARE(events->last().actor, QStringLiteral("agent"));
    } else {
        QVERIFY(applied.isEmpty());
        QCOMPARE(*first, qint64(0));
        AuditFilter checkpoints;
        checkpoints.kind = QStringLiteral("retention");
        QVERIFY((*log)->query(checkpoints)->isEmpty());
    }

    // A chain that stops verifying is reported on the next pass, and nothing is dropped.
    if (days == 4) {
        {
            RawDb raw(m_path);
            QVERIFY(raw.exec(QStringLiteral("DROP TRIGGER events_no_update")).isEmpty());
            QVERIFY(raw.exec(QStringLiteral("UPDATE events SET outcome='fine' WHERE id=9")).isEmpty());
        }
        now = kNow.addDays(30);
        QTRY_VERIFY(!failed.isEmpty());
        QVERIFY2(failed.first().contains(QStringLiteral("refusing retention")), qPrintable(failed.first()));
        QCOMPARE((*log)->query()->size(), keptNextDay);
    }
}

void TestAuditLog::survivesKill9()
{
    QProcess child;
    child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    child.start(QCoreApplication::applicationFilePath(), {QStringLiteral("--append-until-killed"), m_path});
    QVERIFY2(child.waitForStarted(10000), qPrintable(child.errorString()));
    QList<qint64> committed;
    QByteArray pending;
    QDeadlineTimer deadline(30000);
    while (committed.size() < 40 && !deadline.hasExpired()) {
        if (!child.waitForReadyRead(1000) && child.state() != QProcess::Running)
            break;
        pending += child.readAllStandardOutput();
        qsizetype nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
            committed << pending.left(nl).toLongLong();
            pending.remove(0, nl + 1);
        }
    }
    child.kill(); // SIGKILL on Unix: no destructors, no flush, possibly mid-transaction
    QVERIFY(child.waitForFinished(10000));
    QCOMPARE(child.exitStatus(), QProcess::CrashExit);
    QVERIFY2(committed.size() >= 40, qPrintable(QString::number(committed.size())));

    auto log = AuditLog::open(m_path);
    QVERIFY2(log.ok(), qPrintable(log.errorMessage()));
    const auto report = (*log)->verify();
    QVERIFY(report.ok());
    QVERIFY2(report->ok, qPrintable(report->message));
    const QList<qint64> stored = ids(*(*log)->query());
    for (qint64 id : committed)
        QVERIFY2(stored.contains(id), qPrintable(QString::number(id)));
    QVERIFY(stored.size() >= committed.size());
    QVERIFY((*log)
                ->append(makeEvent(QStringLiteral("observed"), QStringLiteral("shop"), QString(), QString(),
                                   QStringLiteral("after"), kNow.toMSecsSinceEpoch()))
                .ok());
    QVERIFY((*log)->verify()->ok);
}

void TestAuditLog::osActor()
{
    const QByteArray user = qgetenv("USER");
    const QByteArray logname = qgetenv("LOGNAME");
    qputenv("USER", "alice");
    QCOMPARE(osUserActor(), QStringLiteral("os:alice"));
    qunsetenv("USER");
    qputenv("LOGNAME", "bob");
    QCOMPARE(osUserActor(), QStringLiteral("os:bob"));
    qunsetenv("LOGNAME");
    QCOMPARE(osUserActor(), QStringLiteral("os:unknown"));
    if (!user.isNull())
        qputenv("USER", user);
    if (!logname.isNull())
        qputenv("LOGNAME", logname);
}

// The child half of survivesKill9: appends until killed, printing each committed id.
static int appendUntilKilled(const QString &path)
{
    auto log = AuditLog::open(path);
    if (!log)
        return 2;
    for (qint64 i = 0;; ++i) {
        AuditEvent e;
        e.kind = QStringLiteral("observed");
        e.decisionId = QStringLiteral("child-%1").arg(i);
        e.payload = json{{"i", i}, {"padding", std::string(512, 'p')}};
        const auto id = (*log)->append(e);
        if (!id)
            return 3;
        std::printf("%lld\n", static_cast<long long>(*id));
        std::fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc == 3 && qstrcmp(argv[1], "--append-until-killed") == 0)
        return appendUntilKilled(QString::fromLocal8Bit(argv[2]));
    TestAuditLog test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_auditlog.moc"
