#include "core/audit/auditlog.h"
#include "ui/audittablemodel.h"
#include "ui/auditview.h"

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QFile>
#include <QLineEdit>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

using vigil::audit::AuditEvent;
using vigil::audit::AuditLog;
using vigil::ui::AuditTableModel;
using vigil::ui::AuditView;

namespace {

AuditEvent makeEvent(const QString &kind, const QString &ns, const QString &action, const QString &outcome,
                     const QString &target)
{
    AuditEvent e;
    e.decisionId = "d-" + target;
    e.kind = kind;
    e.actor = "os:tester";
    e.namespaceName = ns;
    e.target = target;
    e.action = action;
    e.outcome = outcome;
    e.payload = {{"evidence", "reason: CrashLoopBackOff"}, {"target", target.toStdString()}};
    return e;
}

std::unique_ptr<AuditLog> filledLog(const QString &path)
{
    auto log = AuditLog::open(path);
    if (!log)
        return nullptr;
    std::unique_ptr<AuditLog> l = std::move(*log);
    (void)l->append(makeEvent("proposed", "demo", "restart_pod", "pending", "pod/demo/web-1"));
    (void)l->append(makeEvent("executed", "demo", "restart_pod", "success", "pod/demo/web-1"));
    (void)l->append(makeEvent("proposed", "shop", "scale_deployment", "blocked", "deployment/shop/cart"));
    (void)l->append(makeEvent("rejected", "shop", "cordon_node", "rejected", "node/kwok-node-1"));
    return l;
}

int lineCount(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    return int(f.readAll().count('\n'));
}

} // namespace

class TestAuditView final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void filters_data();
    void filters();
    void exports_data();
    void exports();
    void detailsShowTheFullPayload();
    void verifyReportsIntactAndBrokenChains();
};

void TestAuditView::filters_data()
{
    QTest::addColumn<QString>("ns");
    QTest::addColumn<QString>("action");
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("rows");
    QTest::newRow("no filter shows all") << ""
                                         << ""
                                         << "" << 4;
    QTest::newRow("namespace") << "shop"
                               << ""
                               << "" << 2;
    QTest::newRow("action") << ""
                            << "restart_pod"
                            << "" << 2;
    QTest::newRow("namespace and action") << "shop"
                                          << "cordon_node"
                                          << "" << 1;
    QTest::newRow("text in the target") << ""
                                        << ""
                                        << "kwok-node" << 1;
    QTest::newRow("nothing matches") << "nowhere"
                                     << ""
                                     << "" << 0;
}

void TestAuditView::filters()
{
    QFETCH(QString, ns);
    QFETCH(QString, action);
    QFETCH(QString, text);
    QFETCH(int, rows);
    QTemporaryDir dir;
    auto log = filledLog(dir.filePath("audit.sqlite"));
    QVERIFY(log);
    AuditView view(log.get());
    QAbstractItemModelTester tester(view.model(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QList<QLineEdit *> edits = view.findChildren<QLineEdit *>();
    for (QLineEdit *e : edits) {
        if (e->placeholderText() == "Namespace")
            e->setText(ns);
        else if (e->placeholderText().startsWith("Search"))
            e->setText(text);
    }
    auto *actions = view.findChildren<QComboBox *>().first();
    actions->setCurrentIndex(action.isEmpty() ? 0 : actions->findData(action));
    view.refresh();
    QCOMPARE(view.model()->rowCount(), rows);
}

void TestAuditView::exports_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<bool>("filtered");
    QTest::addColumn<int>("lines");
    QTest::newRow("jsonl whole") << "out.jsonl" << false << 4;
    QTest::newRow("jsonl filtered") << "out.jsonl" << true << 2;
    QTest::newRow("csv whole has a header") << "out.csv" << false << 5;
    QTest::newRow("csv filtered") << "out.csv" << true << 3;
}

void TestAuditView::exports()
{
    QFETCH(QString, file);
    QFETCH(bool, filtered);
    QFETCH(int, lines);
    QTemporaryDir dir;
    auto log = filledLog(dir.filePath("audit.sqlite"));
    QVERIFY(log);
    AuditView view(log.get());
    for (QLineEdit *e : view.findChildren<QLineEdit *>()) {
        if (e->placeholderText() == "Namespace")
            e->setText("demo");
    }
    const QString path = dir.filePath(file);
    vigil::Result<qint64> n = view.exportTo(path, filtered);
    QVERIFY2(n.ok(), qPrintable(n.errorMessage()));
    QCOMPARE(lineCount(path), lines);
    if (file.endsWith(".jsonl")) {
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        vigil::Result<QList<AuditEvent>> back = vigil::audit::readJsonl(&f);
        QVERIFY(back.ok());
        QVERIFY(vigil::audit::verifyChain(*back, true).ok);
    }
}

void TestAuditView::detailsShowTheFullPayload()
{
    QTemporaryDir dir;
    auto log = filledLog(dir.filePath("audit.sqlite"));
    QVERIFY(log);
    AuditView view(log.get());
    view.view()->selectRow(0);
    QVERIFY(view.detailsText().contains("\"evidence\": \"reason: CrashLoopBackOff\""));
    QVERIFY(view.detailsText().contains("\"hash\""));
}

void TestAuditView::verifyReportsIntactAndBrokenChains()
{
    QTemporaryDir dir;
    const QString path = dir.filePath("audit.sqlite");
    {
        auto log = filledLog(path);
        QVERIFY(log);
        AuditView view(log.get());
        QVERIFY(view.verify().ok);
        QVERIFY2(view.verifyText().contains("Chain intact: 4 rows verified."), qPrintable(view.verifyText()));
    }
    {
        QSqlDatabase db = QSqlDatabase::addDatabase("QSQLITE", "tamper");
        db.setDatabaseName(path);
        QVERIFY(db.open());
        QSqlQuery q(db);
        QVERIFY(q.exec("DROP TRIGGER events_no_update"));
        QVERIFY(q.exec("UPDATE events SET outcome = 'success' WHERE id = 3"));
        db.close();
    }
    QSqlDatabase::removeDatabase("tamper");
    auto reopened = AuditLog::open(path);
    QVERIFY(reopened.ok());
    AuditView view(reopened->get());
    QVERIFY(!view.verify().ok);
    QVERIFY2(view.verifyText().contains("Chain broken at row 3"), qPrintable(view.verifyText()));
}

QTEST_MAIN(TestAuditView)
#include "tst_auditview.moc"
