#include "core/act/decision.h"
#include "core/act/decisionstore.h"

#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace vigil;
using namespace vigil::act;

Q_DECLARE_METATYPE(vigil::act::DecisionState)

namespace {

Decision sample()
{
    guard::IncidentTarget t;
    t.namespaceName = "shop";
    t.podName = "web-1";
    t.ownerKind = "Deployment";
    t.ownerName = "web";
    t.podLabels = {{"app", "web"}};
    Diagnosis g;
    g.diagnosis = "too few replicas";
    g.confidence = 0.9;
    g.action = ActionKind::ScaleDeployment;
    g.parameters = {{"namespace", "shop"}, {"deployment", "web"}, {"replicas", 4}};
    g.source = {DiagnosisSource::Llm, "openai", "gpt-4o-mini"};
    guard::Verdict v;
    v.decision = guard::Verdict::NeedsApproval;
    v.reasons.append({"mode.approve", "approve mode", false});
    return newDecision("fp-1", t, g, v);
}

} // namespace

class TestDecision final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void transitions_data();
    void transitions();
    void stateNamesRoundTrip();
    void jsonRoundTrip();
    void storeCompareAndSet_data();
    void storeCompareAndSet();
    void storeLoadByPrefix();
    void storeRefusesDeepRows_data();
    void storeRefusesDeepRows();
};

void TestDecision::transitions_data()
{
    using S = DecisionState;
    QTest::addColumn<S>("from");
    QTest::addColumn<S>("to");
    QTest::addColumn<bool>("allowed");
    QTest::newRow("proposed -> previewed") << S::Proposed << S::Previewed << true;
    QTest::newRow("proposed -> approved (preview optional)") << S::Proposed << S::Approved << true;
    QTest::newRow("proposed -> rejected") << S::Proposed << S::Rejected << true;
    QTest::newRow("proposed -> executing skips approval") << S::Proposed << S::Executing << false;
    QTest::newRow("proposed -> executed skips approval") << S::Proposed << S::Executed << false;
    QTest::newRow("previewed -> previewed (re-preview)") << S::Previewed << S::Previewed << true;
    QTest::newRow("previewed -> approved") << S::Previewed << S::Approved << true;
    QTest::newRow("previewed -> rejected") << S::Previewed << S::Rejected << true;
    QTest::newRow("previewed -> executing skips approval") << S::Previewed << S::Executing << false;
    QTest::newRow("approved -> executing") << S::Approved << S::Executing << true;
    QTest::newRow("approved -> failed (precondition)") << S::Approved << S::Failed << true;
    QTest::newRow("approved -> executed skips executing") << S::Approved << S::Executed << false;
    QTest::newRow("approved -> rejected after approval") << S::Approved << S::Rejected << false;
    QTest::newRow("executing -> executed") << S::Executing << S::Executed << true;
    QTest::newRow("executing -> failed") << S::Executing << S::Failed << true;
    QTest::newRow("executing -> approved (would re-run)") << S::Executing << S::Approved << false;
    QTest::newRow("executing -> executing (would re-run)") << S::Executing << S::Executing << false;
    QTest::newRow("executed -> verified") << S::Executed << S::Verified << true;
    QTest::newRow("executed -> verify-failed") << S::Executed << S::VerifyFailed << true;
    QTest::newRow("executed -> undone") << S::Executed << S::Undone << true;
    QTest::newRow("executed -> executing (second run)") << S::Executed << S::Executing << false;
    QTest::newRow("verified -> undone") << S::Verified << S::Undone << true;
    QTest::newRow("verify-failed -> undone") << S::VerifyFailed << S::Undone << true;
    QTest::newRow("verified -> executing") << S::Verified << S::Executing << false;
    QTest::newRow("rejected -> approved") << S::Rejected << S::Approved << false;
    QTest::newRow("failed -> executing") << S::Failed << S::Executing << false;
    QTest::newRow("undone -> executed") << S::Undone << S::Executed << false;
    QTest::newRow("undone -> undone") << S::Undone << S::Undone << false;
}

void TestDecision::transitions()
{
    QFETCH(DecisionState, from);
    QFETCH(DecisionState, to);
    QFETCH(bool, allowed);
    QCOMPARE(canTransition(from, to), allowed);
}

void TestDecision::stateNamesRoundTrip()
{
    QStringList seen;
    for (int i = 0; i <= int(DecisionState::Undone); ++i) {
        const DecisionState s = DecisionState(i);
        DecisionState back = DecisionState::Proposed;
        QVERIFY(parseStateName(stateName(s), &back));
        QCOMPARE(back, s);
        QVERIFY(!seen.contains(stateName(s)));
        seen << stateName(s);
    }
    DecisionState out = DecisionState::Proposed;
    QVERIFY(!parseStateName("Executing", &out));
}

void TestDecision::jsonRoundTrip()
{
    Decision d = sample();
    d.state = DecisionState::Executed;
    d.approver = {"alice", "system:admin", "vigilctl"};
    d.facts = {{"previousReplicas", 2}};
    Result<Decision> back = Decision::fromJson(d.toJson());
    QVERIFY2(back.ok(), qPrintable(back.errorMessage()));
    QVERIFY(back->toJson() == d.toJson());
    QCOMPARE(back->targetKey(), QString("deployment/shop/web"));
    QCOMPARE(back->approver.actor(), QString("os:alice k8s:system:admin"));
    QCOMPARE(back->diagnosis.tier, d.diagnosis.tier);

    // Every tier survives the round trip; a record from before the router named it reads as its source says.
    for (const RouteTier tier :
         {RouteTier::Rules, RouteTier::Fallback, RouteTier::Small, RouteTier::Strong, RouteTier::Cache}) {
        Decision t = d;
        t.diagnosis.tier = tier;
        QCOMPARE(Decision::fromJson(t.toJson())->diagnosis.tier, tier);
    }
    nlohmann::json legacy = d.toJson();
    legacy["diagnosis"].erase("tier");
    legacy["diagnosis"]["source"] = int(DiagnosisSource::Llm);
    QCOMPARE(Decision::fromJson(legacy)->diagnosis.tier, RouteTier::Small);
    legacy["diagnosis"]["source"] = int(DiagnosisSource::Cache);
    QCOMPARE(Decision::fromJson(legacy)->diagnosis.tier, RouteTier::Cache);

    nlohmann::json bad = d.toJson();
    bad["diagnosis"]["action"] = "delete_namespace";
    QVERIFY(!Decision::fromJson(bad).ok());
    QVERIFY(Decision::fromJson(bad).errorMessage().contains("delete_namespace"));
}

void TestDecision::storeCompareAndSet_data()
{
    using S = DecisionState;
    QTest::addColumn<S>("stored");
    QTest::addColumn<S>("expected");
    QTest::addColumn<S>("to");
    QTest::addColumn<bool>("ok");
    QTest::newRow("approved -> executing once") << S::Approved << S::Approved << S::Executing << true;
    QTest::newRow("a second executor sees executing") << S::Executing << S::Approved << S::Executing << false;
    QTest::newRow("stale proposed view cannot approve a rejected one")
        << S::Rejected << S::Proposed << S::Approved << false;
    QTest::newRow("illegal edge refused even if stored matches")
        << S::Proposed << S::Proposed << S::Executed << false;
}

void TestDecision::storeCompareAndSet()
{
    QFETCH(DecisionState, stored);
    QFETCH(DecisionState, expected);
    QFETCH(DecisionState, to);
    QFETCH(bool, ok);
    QTemporaryDir dir;
    auto store = DecisionStore::open(dir.filePath("d.db"));
    QVERIFY2(store.ok(), qPrintable(store.errorMessage()));
    Decision d = sample();
    d.state = stored;
    QVERIFY((*store)->insert(d).ok());
    QVERIFY(!(*store)->insert(d).ok()); // ids are unique
    d.state = to;
    const Result<void> r = (*store)->transition(d, expected);
    QCOMPARE(r.ok(), ok);
    QCOMPARE((*store)->load(d.id)->state, ok ? to : stored);
    auto inState = (*store)->list(ok ? to : stored);
    QCOMPARE(inState->size(), 1);
}

void TestDecision::storeLoadByPrefix()
{
    QTemporaryDir dir;
    const QString path = dir.filePath("d.db");
    Decision a = sample();
    {
        auto store = DecisionStore::open(path);
        QVERIFY(store.ok());
        QVERIFY((*store)->insert(a).ok());
    }
    auto store = DecisionStore::open(path); // survives reopening
    QCOMPARE((*store)->load(a.id.left(8))->id, a.id);
    QCOMPARE((*store)->load(a.id.left(3)).ok(), false);
    QCOMPARE((*store)->load("nope").error().code, 404);
}

void TestDecision::storeRefusesDeepRows_data()
{
    QTest::addColumn<QByteArray>("doc");
    // 100,000 levels parse, but Decision::fromJson copies them recursively, past the stack.
    QTest::newRow("100,000-deep [[[") << QByteArray(100000, '[') + QByteArray(100000, ']');
    QTest::newRow("100,000-deep {\"a\":")
        << QByteArray("{\"a\":").repeated(100000) + "1" + QByteArray(100000, '}');
}

// A row is only as trustworthy as the file: a deep one is an error from load() and list(), not a crash.
void TestDecision::storeRefusesDeepRows()
{
    QFETCH(QByteArray, doc);
    QTemporaryDir dir;
    const QString path = dir.filePath("d.db");
    auto store = DecisionStore::open(path);
    QVERIFY2(store.ok(), qPrintable(store.errorMessage()));
    const Decision d = sample();
    QVERIFY((*store)->insert(d).ok());
    {
        QSqlDatabase db = QSqlDatabase::addDatabase("QSQLITE", "tamper");
        db.setDatabaseName(path);
        QVERIFY(db.open());
        QSqlQuery q(db);
        q.prepare("UPDATE decisions SET doc = ? WHERE id = ?");
        q.addBindValue(QString::fromUtf8(doc));
        q.addBindValue(d.id);
        QVERIFY(q.exec());
        QCOMPARE(q.numRowsAffected(), 1);
    }
    QSqlDatabase::removeDatabase("tamper");
    const QString expected = "decision store " + path + ": a row is nested deeper than 512 levels";
    QCOMPARE((*store)->load(d.id).errorMessage(), expected);
    QCOMPARE((*store)->list().errorMessage(), expected);
}

QTEST_GUILESS_MAIN(TestDecision)
#include "tst_decision.moc"
