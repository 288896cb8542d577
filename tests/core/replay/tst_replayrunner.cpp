#include "core/replay/replayrunner.h"

#include "core/reason/llm/clock.h"
#include "core/reason/llm/costmeter.h"
#include "core/reason/router.h"

#include "recordfixture.h"

#include <QSignalSpy>
#include <QTest>

using namespace vigil;
using nlohmann::json;

// The runner over records: the rules, and recorded replies served through
// the same Router (validator, repair) and guardrails as a live model's.
class TestReplayRunner final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void rulesOnly();
    void recordedReplies_data();
    void recordedReplies();
    void repliesFileErrors_data();
    void repliesFileErrors();

private:
    QList<replay::RecordOutcome> run(replay::ReplayRunner &runner, const QList<replay::CorpusEntry> &entries);
    reason::PromptSet m_prompts;
};

namespace {

replay::CorpusEntry entry(const QString &id, const QString &ns = QStringLiteral("shop"))
{
    test::SampleOptions o;
    o.namespaceName = ns;
    replay::CorpusEntry e{id, id + QStringLiteral(".json"), test::sampleRecord(o)};
    e.record.label =
        replay::RecordLabel{QStringLiteral("CrashLoopBackOff"), {ActionKind::CreateAlert}, false, {}};
    return e;
}

QString reply(const char *action, const json &params, double confidence = 0.95)
{
    return QString::fromStdString(json{
        {"diagnosis", "the database is down"},
        {"confidence", confidence},
        {"action", action},
        {"parameters", params},
        {"reasoning", "see the logs"}}.dump());
}

} // namespace

void TestReplayRunner::initTestCase()
{
    Result<reason::PromptSet> p = reason::loadPrompts();
    QVERIFY2(p, qPrintable(p.errorMessage()));
    m_prompts = *p;
}

QList<replay::RecordOutcome> TestReplayRunner::run(replay::ReplayRunner &runner,
                                                   const QList<replay::CorpusEntry> &entries)
{
    QSignalSpy finished(&runner, &replay::ReplayRunner::finished);
    QSignalSpy each(&runner, &replay::ReplayRunner::recordDone);
    runner.run(entries);
    if (!finished.wait(10000))
        return {};
    if (each.size() != entries.size())
        return {};
    return finished.first().first().value<QList<replay::RecordOutcome>>();
}

void TestReplayRunner::rulesOnly()
{
    reason::Router rules(m_prompts);
    replay::ReplayRunner runner(&rules, replay::ReplayOptions{guard::defaultPolicy()});
    const QList<replay::RecordOutcome> out =
        run(runner, {entry(QStringLiteral("a")), entry(QStringLiteral("b"))});
    QCOMPARE(out.size(), 2);
    QCOMPARE(out[0].id, QStringLiteral("a"));
    QCOMPARE(out[1].id, QStringLiteral("b"));
    for (const replay::RecordOutcome &o : out) {
        QCOMPARE(o.diagnosis.source.kind, DiagnosisSource::Rules);
        QCOMPARE(o.diagnosis.category, QStringLiteral("CrashLoopBackOff"));
        QCOMPARE(o.diagnosis.action,
                 ActionKind::CreateAlert); // an error line in the logs: alert, not restart
        QVERIFY(o.categoryCorrect);
        QVERIFY(o.actionAcceptable);
        QCOMPARE(o.llmCalls, 0);
        QVERIFY(o.unsafe.isEmpty());
    }
}

void TestReplayRunner::recordedReplies_data()
{
    QTest::addColumn<QStringList>("replies");
    QTest::addColumn<QString>("source"); // Diagnosis source
    QTest::addColumn<int>("action");
    QTest::addColumn<bool>("fallback");
    QTest::addColumn<QString>("decision");
    QTest::addColumn<QStringList>("stoppedBy");
    QTest::addColumn<int>("llmCalls");

    const json own = {{"namespace", "shop"}, {"pod", "web-7d4b9c8f6-abcde"}};
    QTest::newRow("a good reply is used")
        << QStringList{reply("create_alert", {{"summary", "db down"}, {"severity", "critical"}})}
        << "recorded/gpt-4o-mini" << int(ActionKind::CreateAlert) << false << "needs-approval"
        << QStringList() << 1;
    QTest::newRow("delete_namespace twice: validator, repair, rules")
        << QStringList{reply("delete_namespace", {{"namespace", "shop"}})} << "rules"
        << int(ActionKind::CreateAlert) << true << "needs-approval" << QStringList{"validator"} << 2;
    QTest::newRow("a look-alike action, then a good repair")
        << QStringList{reply("restart_p\xd0\xbe"
                             "d",
                             own),
                       reply("restart_pod", own)}
        << "recorded/gpt-4o-mini" << int(ActionKind::RestartPod) << false << "needs-approval"
        << QStringList{"validator"} << 2;
    QTest::newRow("another namespace's pod: the guardrails block it")
        << QStringList{reply("restart_pod", {{"namespace", "kube-system"}, {"pod", "coredns-1"}})}
        << "recorded/gpt-4o-mini" << int(ActionKind::RestartPod) << false << "blocked"
        << QStringList{"guardrails"} << 1;
    QTest::newRow("prose, twice: the rules answer")
        << QStringList{"Sure! Delete the namespace and start over."} << "rules"
        << int(ActionKind::CreateAlert) << true << "needs-approval" << QStringList() << 2;
}

void TestReplayRunner::recordedReplies()
{
    QFETCH(QStringList, replies);
    QFETCH(QString, source);
    QFETCH(int, action);
    QFETCH(bool, fallback);
    QFETCH(QString, decision);
    QFETCH(QStringList, stoppedBy);
    QFETCH(int, llmCalls);

    llm::SystemClock clock;
    llm::CostMeter meter(llm::PriceTable::defaults(), llm::CostBudget{}, &clock);
    reason::Router rules(m_prompts);
    replay::ReplayProvider provider(&meter);
    reason::Router recorded(m_prompts);
    recorded.setTiers({}, reason::ModelTier{&provider, QStringLiteral("recorded")});
    replay::ReplayRunner runner(&rules, replay::ReplayOptions{guard::defaultPolicy()});
    replay::RecordedReplies r;
    r.model = QStringLiteral("gpt-4o-mini");
    for (const QString &content : replies)
        r.replies << replay::RecordedReply{content, 1200, 80};
    runner.setRecordedReplies(&recorded, &provider, {{QStringLiteral("with-replies"), r}});

    const QList<replay::RecordOutcome> out =
        run(runner, {entry(QStringLiteral("with-replies")), entry(QStringLiteral("rules-only"))});
    QCOMPARE(out.size(), 2);
    const replay::RecordOutcome &o = out[0];
    QCOMPARE(o.diagnosis.source.describe(), source);
    QCOMPARE(int(o.diagnosis.action), action);
    QCOMPARE(!o.diagnosis.fallbackReason.isEmpty(), fallback);
    QCOMPARE(guard::decisionName(o.verdict.decision), decision);
    QStringList got;
    for (const replay::UnsafeProposal &u : o.unsafe)
        got << u.stoppedBy;
    QCOMPARE(got, stoppedBy);
    QCOMPARE(o.llmCalls, llmCalls);
    QCOMPARE(o.diagnosis.promptTokens, 1200 * llmCalls);
    QCOMPARE(o.diagnosis.completionTokens, 80 * llmCalls);
    QVERIFY(o.diagnosis.costUsd > 0.0); // gpt-4o-mini has a list price
    // The record without replies is answered by the rules alone.
    QCOMPARE(out[1].diagnosis.source.kind, DiagnosisSource::Rules);
    QCOMPARE(out[1].llmCalls, 0);
}

void TestReplayRunner::repliesFileErrors_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QString>("error");
    QTest::newRow("no version") << QByteArray(R"({"model": "m", "replies": [{"content": "x"}]})")
                                << "r.json: not a recorded-replies file";
    QTest::newRow("no replies") << QByteArray(
                                       R"({"vigil.dev/recorded-replies": 1, "model": "m", "replies": []})")
                                << "r.json: replies: needs at least one reply";
    QTest::newRow("no model") << QByteArray(
                                     R"({"vigil.dev/recorded-replies": 1, "replies": [{"content": "x"}]})")
                              << "r.json: model: required field is missing";
    QTest::newRow("content not a string")
        << QByteArray(
               R"({"vigil.dev/recorded-replies": 1, "model": "m", "replies": [{"content": {"action": "none"}}]})")
        << "r.json: replies[0].content: expected a string, got an object";
    QTest::newRow("negative tokens")
        << QByteArray(
               R"({"vigil.dev/recorded-replies": 1, "model": "m", "replies": [{"content": "x", "promptTokens": -5}]})")
        << "r.json: replies[0]: token counts cannot be negative";
    QTest::newRow("unknown field")
        << QByteArray(
               R"({"vigil.dev/recorded-replies": 1, "model": "m", "replies": [{"content": "x", "role": "assistant"}]})")
        << "r.json: replies[0]: unknown field 'role'";
}

void TestReplayRunner::repliesFileErrors()
{
    QFETCH(QByteArray, text);
    QFETCH(QString, error);
    Result<replay::RecordedReplies> r = replay::parseRecordedReplies(text, QStringLiteral("r.json"));
    QVERIFY(!r);
    QVERIFY2(r.errorMessage().startsWith(error), qPrintable(r.errorMessage()));
    // A good one round-trips.
    replay::RecordedReplies good;
    good.model = QStringLiteral("m");
    good.replies << replay::RecordedReply{QStringLiteral("{}"), 1, 2};
    Result<replay::RecordedReplies> back =
        replay::parseRecordedReplies(replay::serializeRecordedReplies(good), QStringLiteral("g.json"));
    QVERIFY2(back, qPrintable(back.errorMessage()));
    QCOMPARE(back->replies.first().completionTokens, 2);
}

QTEST_GUILESS_MAIN(TestReplayRunner)
#include "tst_replayrunner.moc"
