// DecisionLedger against an in-process API server: what an AgentDecision
// entry reads as, the claim's optimistic concurrency (the resourceVersion it
// read travels in the patch; a claimed or finished object is refused before
// any write; a 409 is a refusal; a rejected object is never claimed), writes
// for one decision kept in order, rejections read from spec.rejected or the
// desktop's annotations, the status conditions the agent writes, and which
// finished decisions expire.

#include "core/agent/decisionledger.h"

#include "core/kube/restclient.h"
#include "httptestserver.h"

#include <QSignalSpy>
#include <QTest>

using namespace vigil;
using namespace vigil::agent;
using json = nlohmann::json;
using vigil::test::HttpExchange;
using vigil::test::HttpRequest;
using vigil::test::HttpTestServer;

namespace {

class NoCredentials final : public kube::CredentialSource {
public:
    Result<kube::Credentials> credentials() override { return kube::Credentials(); }
    void invalidate() override {}
    QString method() const override { return QStringLiteral("none"); }
};

act::Decision sampleDecision()
{
    Diagnosis g;
    g.diagnosis = "crash loop";
    g.confidence = 0.7;
    g.action = ActionKind::CreateAlert;
    g.parameters = {{"severity", "warning"}, {"summary", "payments-api crash-looping"}};
    guard::IncidentTarget t;
    t.namespaceName = "shop";
    t.podName = "payments-api-1";
    guard::Verdict v;
    v.decision = guard::Verdict::NeedsApproval;
    return act::newDecision("b755e5715c192c10", t, g, v);
}

json agentDecision(const act::Decision &d, const QString &phase, const QString &claimedBy,
                   const std::string &rv)
{
    json annotations = {{"vigil.dev/decision", d.toJson().dump()}};
    if (!claimedBy.isEmpty())
        annotations["vigil.dev/claimed-by"] = claimedBy.toStdString();
    return {
        {"apiVersion", "ai.vigil.dev/v1alpha1"},
        {"kind", "AgentDecision"},
        {"metadata",
         {{"name", "vigil-" + d.id.toStdString()},
          {"namespace", "shop"},
          {"uid", "u-1"},
          {"resourceVersion", rv},
          {"labels", {{"vigil.dev/decision", d.id.toStdString()}, {"vigil.dev/agent", "vigil-agent"}}},
          {"annotations", annotations},
          {"managedFields",
           json::array({{{"manager", "vigil"}, {"fieldsV1", {{"f:spec", {{"f:action", json::object()}}}}}},
                        {{"manager", "kubectl-patch"},
                         {"fieldsV1", {{"f:spec", {{"f:approved", json::object()}}}}}}})}}},
        {"spec", {{"action", "create_alert"}, {"target", "alert/shop/payments-api-1"}, {"approved", true}}},
        {"status", {{"phase", phase.toStdString()}}}};
}

std::unique_ptr<kube::RestClient> clientFor(const HttpTestServer &server)
{
    kube::Connection c;
    c.server = server.url();
    c.credentials = std::make_shared<NoCredentials>();
    kube::RestClientOptions o;
    o.qps = 0;
    o.maxRetries = 0;
    return std::make_unique<kube::RestClient>(c, o);
}

} // namespace

class TestDecisionLedger final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void entry_data();
    void entry();
    void labelValues_data();
    void labelValues();
    void claim_data();
    void claim();
    void recordsOneDecisionInOrder();
    void rejection_data();
    void rejection();
    void claimRefusesARejectedDecision();
    void expiry_data();
    void expiry();
    void conditions_data();
    void conditions();
    void setConditionKeepsTheAgentsOtherConditions();
    void removeIsGuardedByTheResourceVersion();
};

void TestDecisionLedger::entry_data()
{
    QTest::addColumn<QString>("variant");
    QTest::addColumn<QString>("approvedBy");
    QTest::addColumn<bool>("hasDecision");
    QTest::addColumn<QString>("error");
    QTest::newRow("approved by a person's kubectl patch: the field manager is named")
        << "full"
        << "kubectl-patch" << true << QString();
    QTest::newRow("a decision annotation for another id is ignored") << "otherId"
                                                                     << "kubectl-patch" << false << QString();
    QTest::newRow("unreadable decision annotation: the entry stays, without a decision")
        << "garbage"
        << "kubectl-patch" << false << QString();
    // 100,000 levels parse, but reading a Decision out of them copies recursively, past the stack.
    QTest::newRow("100,000-deep [[[ decision annotation: the entry stays, without a decision")
        << "deepArrays"
        << "kubectl-patch" << false << QString();
    QTest::newRow("100,000-deep {\"a\": decision annotation: the entry stays, without a decision")
        << "deepObjects"
        << "kubectl-patch" << false << QString();
    QTest::newRow("only Vigil's own managers touched spec: nobody approved")
        << "vigilOnly" << QString() << true << QString();
    QTest::newRow("no decision label: not one of the agent's objects")
        << "noLabel" << QString() << false << "no label vigil.dev/decision";
}

void TestDecisionLedger::entry()
{
    QFETCH(QString, variant);
    QFETCH(QString, approvedBy);
    QFETCH(bool, hasDecision);
    QFETCH(QString, error);
    const act::Decision d = sampleDecision();
    json o = agentDecision(d, "proposed", "agent-a", "42");
    if (variant == "otherId") {
        act::Decision other = d;
        other.id = "00000000-0000-0000-0000-000000000000";
        o["metadata"]["annotations"]["vigil.dev/decision"] = other.toJson().dump();
    } else if (variant == "garbage") {
        o["metadata"]["annotations"]["vigil.dev/decision"] = "{not json";
    } else if (variant == "deepArrays") {
        o["metadata"]["annotations"]["vigil.dev/decision"] =
            std::string(100000, '[') + std::string(100000, ']');
    } else if (variant == "deepObjects") {
        std::string deep;
        for (int i = 0; i < 100000; ++i)
            deep += "{\"a\":";
        o["metadata"]["annotations"]["vigil.dev/decision"] = deep + "1" + std::string(100000, '}');
    } else if (variant == "vigilOnly") {
        o["metadata"]["managedFields"][1]["manager"] = "vigil-agent";
    } else if (variant == "noLabel") {
        o["metadata"]["labels"].erase("vigil.dev/decision");
    }
    const Result<LedgerEntry> e = LedgerEntry::fromObject(o);
    QCOMPARE(e.ok(), error.isEmpty());
    if (!e) {
        QVERIFY2(e.errorMessage().contains(error), qPrintable(e.errorMessage()));
        QVERIFY2(e.errorMessage().contains("shop/vigil-" + d.id), qPrintable(e.errorMessage()));
        return;
    }
    QCOMPARE(e->decisionId, d.id);
    QCOMPARE(e->resourceVersion, QString("42"));
    QCOMPARE(e->phase, QString("proposed"));
    QCOMPARE(e->claimedBy, QString("agent-a"));
    QVERIFY(e->approved);
    QCOMPARE(e->approvedBy, approvedBy);
    QCOMPARE(e->decision.has_value(), hasDecision);
    if (hasDecision) {
        QCOMPARE(e->decision->incidentFingerprint, d.incidentFingerprint);
        QCOMPARE(e->decision->diagnosis.action, ActionKind::CreateAlert);
    }
    if (variant.startsWith("deep"))
        return; // the projection below cuts objects this big
    // The informer's projection keeps what the entry needs, managedFields' verdict included.
    Result<kube::KubeObject> projected = DecisionLedger::projector()(o);
    QVERIFY(projected);
    const auto *view = std::get_if<kube::GenericView>(&*projected);
    QVERIFY(view && !view->truncated);
    QVERIFY(!view->json.contains("managedFields"));
    const Result<LedgerEntry> again =
        LedgerEntry::fromObject(json::parse(view->json.toStdString(), nullptr, false));
    QVERIFY(again);
    QCOMPARE(again->approvedBy, approvedBy);
}

void TestDecisionLedger::labelValues_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("label");
    QTest::newRow("hex fingerprint as is") << "b755e5715c192c10"
                                           << "b755e5715c192c10";
    QTest::newRow("slashes and spaces dropped") << "ns/web pod"
                                                << "nswebpod";
    QTest::newRow("must start and end alphanumeric") << "-_.a.b_-"
                                                     << "a.b";
    QTest::newRow("at most 63 characters") << QString(80, 'a') << QString(63, 'a');
    QTest::newRow("non-ASCII letters dropped") << "é-x"
                                               << "x";
}

void TestDecisionLedger::labelValues()
{
    QFETCH(QString, text);
    QFETCH(QString, label);
    QCOMPARE(labelValue(text), label);
}

void TestDecisionLedger::claim_data()
{
    QTest::addColumn<QString>("phase");
    QTest::addColumn<QString>("claimedBy");
    QTest::addColumn<int>("patchStatus");
    QTest::addColumn<QString>("error");
    QTest::newRow("unclaimed and approved: patched with the resourceVersion it read")
        << "approved" << QString() << 200 << QString();
    QTest::newRow("claimed by another replica: refused before any write")
        << "approved"
        << "agent-b" << 0 << "already claimed by agent-b";
    QTest::newRow("already executed: refused before any write")
        << "executed" << QString() << 0 << "already executed";
    QTest::newRow("changed between read and write: the server's 409 is a refusal")
        << "proposed" << QString() << 409 << "409";
}

void TestDecisionLedger::claim()
{
    QFETCH(QString, phase);
    QFETCH(QString, claimedBy);
    QFETCH(int, patchStatus);
    QFETCH(QString, error);
    act::Decision d = sampleDecision();
    QList<HttpRequest> patches;
    HttpTestServer server([&](HttpExchange *ex) {
        if (ex->request().method == "GET")
            return ex->respondJson(
                200, QByteArray::fromStdString(agentDecision(d, phase, claimedBy, "77").dump()));
        patches << ex->request();
        if (patchStatus == 409)
            return ex->respondJson(409, R"({"kind":"Status","reason":"Conflict","code":409})");
        ex->respondJson(200, "{}");
    });
    QVERIFY(server.listen());
    auto client = clientFor(server);
    DecisionLedger ledger(client.get(), nullptr, "vigil-agent", "agent-a", "shop");
    act::Decision executing = d;
    executing.state = act::DecisionState::Executing;
    executing.facts = {{"event", "vigil-alert-" + d.id.toStdString()}, {"eventNamespace", "shop"}};
    std::optional<Result<void>> result;
    ledger.claim(executing, nullptr, [&](Result<void> r) { result = r; });
    QTRY_VERIFY_WITH_TIMEOUT(result.has_value(), 5000);
    QCOMPARE(result->ok(), error.isEmpty());
    if (!error.isEmpty()) {
        QVERIFY2(result->errorMessage().contains(error), qPrintable(result->errorMessage()));
        QCOMPARE(result->error().code, 409);
        QCOMPARE(patches.size(), patchStatus == 0 ? 0 : 1);
        return;
    }
    QCOMPARE(patches.size(), 1);
    const HttpRequest &p = patches.first();
    QCOMPARE(p.method, QByteArray("PATCH"));
    QCOMPARE(p.path, "/apis/ai.vigil.dev/v1alpha1/namespaces/shop/agentdecisions/vigil-" + d.id);
    QCOMPARE(p.header("content-type"), QByteArray("application/merge-patch+json"));
    QCOMPARE(p.queryValue("fieldManager"), QString("vigil-agent"));
    const json body = json::parse(p.body.toStdString());
    QCOMPARE(body["metadata"]["resourceVersion"].get<std::string>(), std::string("77"));
    QCOMPARE(body["metadata"]["annotations"]["vigil.dev/claimed-by"].get<std::string>(),
             std::string("agent-a"));
    QCOMPARE(body["metadata"]["labels"]["vigil.dev/incident"].get<std::string>(),
             std::string("b755e5715c192c10"));
    const Result<act::Decision> stored = act::Decision::fromJson(
        json::parse(body["metadata"]["annotations"]["vigil.dev/decision"].get<std::string>()));
    QVERIFY(stored);
    QCOMPARE(stored->state, act::DecisionState::Executing);
    QCOMPARE(stored->facts["eventNamespace"].get<std::string>(), std::string("shop"));
}

void TestDecisionLedger::recordsOneDecisionInOrder()
{
    act::Decision d = sampleDecision();
    QList<QByteArray> trail; // "<method> <content-type> <phase or state>"
    HttpTestServer server([&](HttpExchange *ex) {
        const HttpRequest &r = ex->request();
        const json body = json::parse(r.body.toStdString(), nullptr, false);
        QByteArray what = r.header("content-type");
        if (body.contains("status"))
            what += ' ' + QByteArray::fromStdString(body["status"].value("phase", std::string()));
        else if (body.contains("metadata") && body["metadata"].contains("annotations"))
            what += ' ' +
                    QByteArray::fromStdString(
                        json::parse(body["metadata"]["annotations"]["vigil.dev/decision"].get<std::string>())
                            .value("state", std::string()));
        trail << what;
        // Slow answers: a second record must still wait for the first to finish.
        ex->later(30, [ex] { ex->respondJson(200, "{}"); });
    });
    QVERIFY(server.listen());
    auto client = clientFor(server);
    DecisionLedger ledger(client.get(), nullptr, "vigil-agent", "agent-a", "shop");
    int done = 0;
    QStringList errors;
    act::Decision approved = d;
    approved.state = act::DecisionState::Approved;
    for (const act::Decision &x : {d, approved}) {
        ledger.record(x, nullptr, [&](Result<void> r) {
            ++done;
            if (!r)
                errors << r.errorMessage();
        });
    }
    QTRY_COMPARE_WITH_TIMEOUT(done, 2, 5000);
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join('\n')));
    const QList<QByteArray> expected{
        "application/apply-patch+yaml",          "application/apply-patch+yaml proposed",
        "application/merge-patch+json proposed", "application/apply-patch+yaml",
        "application/apply-patch+yaml approved", "application/merge-patch+json approved"};
    QCOMPARE(trail, expected);
}

void TestDecisionLedger::rejection_data()
{
    QTest::addColumn<QString>("variant");
    QTest::addColumn<bool>("rejected");
    QTest::addColumn<QString>("rejectedBy");
    QTest::addColumn<QString>("reason");
    QTest::newRow("kubectl sets spec.rejected and spec.rejectReason: the field manager is named")
        << "kubectl" << true << "field-manager:kubectl-patch"
        << "DB is down, a restart will not help";
    QTest::newRow("the desktop's annotations name the person")
        << "desktop" << true << "os:alice k8s:admin via desktop"
        << "not during the sale";
    QTest::newRow("spec.rejectReason wins over the annotation's reason")
        << "both" << true << "os:alice k8s:admin via desktop"
        << "DB is down, a restart will not help";
    QTest::newRow("spec.rejected false and no annotation: not rejected")
        << "none" << false << QString() << QString();
}

void TestDecisionLedger::rejection()
{
    QFETCH(QString, variant);
    QFETCH(bool, rejected);
    QFETCH(QString, rejectedBy);
    QFETCH(QString, reason);
    const act::Decision d = sampleDecision();
    json o = agentDecision(d, "proposed", QString(), "5");
    o["spec"]["approved"] = false;
    if (variant == "kubectl" || variant == "both") {
        o["spec"]["rejected"] = true;
        o["spec"]["rejectReason"] = "DB is down, a restart will not help";
        o["metadata"]["managedFields"][1]["fieldsV1"]["f:spec"] = {{"f:rejected", json::object()},
                                                                   {"f:rejectReason", json::object()}};
    }
    if (variant == "desktop" || variant == "both") {
        o["metadata"]["annotations"]["vigil.dev/rejected-by"] = "os:alice k8s:admin via desktop";
        o["metadata"]["annotations"]["vigil.dev/reject-reason"] = "not during the sale";
    }
    if (variant == "none")
        o["spec"]["rejected"] = false;
    for (const bool projected : {false, true}) {
        json doc = o;
        if (projected) {
            Result<kube::KubeObject> p = DecisionLedger::projector()(o);
            QVERIFY(p);
            doc = json::parse(std::get<kube::GenericView>(*p).json.toStdString());
        }
        const Result<LedgerEntry> e = LedgerEntry::fromObject(doc);
        QVERIFY(e);
        QCOMPARE(e->rejected, rejected);
        QCOMPARE(e->rejectedBy, rejectedBy);
        QCOMPARE(e->rejectReason, reason);
        QVERIFY(!e->approved);
    }
}

void TestDecisionLedger::claimRefusesARejectedDecision()
{
    act::Decision d = sampleDecision();
    int patches = 0;
    HttpTestServer server([&](HttpExchange *ex) {
        if (ex->request().method == "GET") {
            json o = agentDecision(d, "approved", QString(), "9");
            o["spec"]["rejected"] = true;
            return ex->respondJson(200, QByteArray::fromStdString(o.dump()));
        }
        ++patches;
        ex->respondJson(200, "{}");
    });
    QVERIFY(server.listen());
    auto client = clientFor(server);
    DecisionLedger ledger(client.get(), nullptr, "vigil-agent", "agent-a", "shop");
    act::Decision executing = d;
    executing.state = act::DecisionState::Executing;
    std::optional<Result<void>> result;
    ledger.claim(executing, nullptr, [&](Result<void> r) { result = r; });
    QTRY_VERIFY_WITH_TIMEOUT(result.has_value(), 5000);
    QVERIFY(!result->ok());
    QCOMPARE(result->error().code, 409);
    QVERIFY2(result->errorMessage().contains("was rejected by field-manager:"),
             qPrintable(result->errorMessage()));
    QCOMPARE(patches, 0);
}

void TestDecisionLedger::expiry_data()
{
    QTest::addColumn<QString>("state");
    QTest::addColumn<qint64>("finishedAgoMs");
    QTest::addColumn<qint64>("ttlMs");
    QTest::addColumn<bool>("expired");
    const qint64 day = 24LL * 3600 * 1000;
    QTest::newRow("verified 8 days ago, TTL 7 days: expired") << "verified" << 8 * day << 7 * day << true;
    QTest::newRow("verified 6 days ago, TTL 7 days: kept") << "verified" << 6 * day << 7 * day << false;
    QTest::newRow("rejected past the TTL: expired") << "rejected" << 8 * day << 7 * day << true;
    QTest::newRow("failed past the TTL: expired") << "failed" << 8 * day << 7 * day << true;
    QTest::newRow("executed, never verified, past the TTL: expired")
        << "executed" << 8 * day << 7 * day << true;
    QTest::newRow("undone past the TTL: expired") << "undone" << 8 * day << 7 * day << true;
    QTest::newRow("proposed (pending) is never deleted") << "proposed" << 80 * day << 7 * day << false;
    QTest::newRow("approved, not executed, is never deleted") << "approved" << 80 * day << 7 * day << false;
    QTest::newRow("executing (to reconcile) is never deleted") << "executing" << 80 * day << 7 * day << false;
    QTest::newRow("TTL 0 keeps everything") << "verified" << 80 * day << qint64(0) << false;
    QTest::newRow("no readable decision: never deleted") << "" << 80 * day << 7 * day << false;
}

void TestDecisionLedger::expiry()
{
    QFETCH(QString, state);
    QFETCH(qint64, finishedAgoMs);
    QFETCH(qint64, ttlMs);
    QFETCH(bool, expired);
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    act::Decision d = sampleDecision();
    if (!state.isEmpty())
        QVERIFY(act::parseStateName(state, &d.state));
    d.updatedMs = now - finishedAgoMs;
    json o = agentDecision(d, state, QString(), "3");
    if (state.isEmpty())
        o["metadata"]["annotations"]["vigil.dev/decision"] = "{not json";
    const Result<LedgerEntry> e = LedgerEntry::fromObject(o);
    QVERIFY(e);
    QCOMPARE(agent::expired(*e, now, ttlMs), expired);
    if (expired)
        QCOMPARE(*finishedAtMs(*e), d.updatedMs);
}

void TestDecisionLedger::conditions_data()
{
    QTest::addColumn<QString>("state");
    QTest::addColumn<QString>("outcomeStatus");
    QTest::addColumn<QString>("via");
    QTest::addColumn<int>("verdict");
    QTest::addColumn<QString>("error");
    QTest::addColumn<QString>("stateType"); // from stateCondition, empty: none
    QTest::addColumn<QString>("stateReason");
    QTest::addColumn<QString>("refusalReason"); // from approvalRefused
    QTest::addColumn<QString>("mentions");
    const int needs = guard::Verdict::NeedsApproval;
    QTest::newRow("rejected: who and why; an approval after it is refused") << "rejected"
                                                                            << ""
                                                                            << "AgentDecision" << needs << ""
                                                                            << "Rejected"
                                                                            << "RejectedByUser"
                                                                            << "AlreadyRejected"
                                                                            << "DB is down";
    QTest::newRow("executed by the policy: a person's approval is ignored, executed at most once")
        << "verified"
        << ""
        << "policy" << needs << ""
        << ""
        << ""
        << "AlreadyExecuted"
        << "at most once";
    QTest::newRow("guardrails refused at execution: Failed, BlockedByGuardrails")
        << "failed"
        << "refused"
        << "AgentDecision" << needs << ""
        << "Failed"
        << "BlockedByGuardrails"
        << "AlreadyFailed"
        << "cooldown";
    QTest::newRow("a disruption budget refused the eviction") << "failed"
                                                              << "blocked"
                                                              << "AgentDecision" << needs << ""
                                                              << "Failed"
                                                              << "BlockedByDisruptionBudget"
                                                              << "AlreadyFailed"
                                                              << "cooldown";
    QTest::newRow("rejected after approval, before it ran: a Rejected condition")
        << "failed"
        << "rejected"
        << "AgentDecision" << needs << ""
        << "Rejected"
        << "RejectedByUser"
        << "AlreadyFailed"
        << "cooldown";
    QTest::newRow("a blocked verdict cannot be approved")
        << "proposed"
        << ""
        << "" << int(guard::Verdict::Blocked)
        << "cannot approve decision x: the guardrails blocked it: protected"
        << ""
        << ""
        << "BlockedByGuardrails"
        << "the guardrails blocked it";
    QTest::newRow("suggest-only refuses every approval")
        << "proposed"
        << ""
        << "" << needs << "cannot approve decision x: the policy is suggest-only (read-only)"
        << ""
        << ""
        << "SuggestOnly"
        << "suggest-only";
}

void TestDecisionLedger::conditions()
{
    QFETCH(QString, state);
    QFETCH(QString, outcomeStatus);
    QFETCH(QString, via);
    QFETCH(int, verdict);
    QFETCH(QString, error);
    QFETCH(QString, stateType);
    QFETCH(QString, stateReason);
    QFETCH(QString, refusalReason);
    QFETCH(QString, mentions);
    act::Decision d = sampleDecision();
    QVERIFY(act::parseStateName(state, &d.state));
    d.verdict.decision = guard::Verdict::Decision(verdict);
    d.approver.kubeUser = "field-manager:kubectl-patch";
    d.approver.via = via;
    if (state == "rejected")
        d.rejectReason = "DB is down";
    if (!outcomeStatus.isEmpty())
        d.outcome = {{"status", outcomeStatus.toStdString()},
                     {"message", "cooldown: pod/shop/x acted on 20s ago"}};
    const std::optional<DecisionCondition> c = stateCondition(d);
    QCOMPARE(c.has_value(), !stateType.isEmpty());
    if (c) {
        QCOMPARE(c->type, stateType);
        QCOMPARE(c->status, QString("True"));
        QCOMPARE(c->reason, stateReason);
        QVERIFY2(c->message.contains(state == "rejected" ? QString("field-manager:kubectl-patch")
                                                         : QString("cooldown")),
                 qPrintable(c->message));
    }
    const DecisionCondition refused = approvalRefused(d, error);
    QCOMPARE(refused.type, QString("ApprovalRefused"));
    QCOMPARE(refused.reason, refusalReason);
    QVERIFY2(refused.message.contains(mentions), qPrintable(refused.message));
}

void TestDecisionLedger::setConditionKeepsTheAgentsOtherConditions()
{
    const act::Decision d = sampleDecision();
    QList<HttpRequest> applies;
    HttpTestServer server([&](HttpExchange *ex) {
        applies << ex->request();
        // Echo the applied status as the object, with a condition someone else owns.
        json body = json::parse(ex->request().body.toStdString(), nullptr, false);
        body["status"]["conditions"].push_back({{"type", "Reviewed"}, {"status", "True"}});
        ex->respondJson(200, QByteArray::fromStdString(body.dump()));
    });
    QVERIFY(server.listen());
    auto client = clientFor(server);
    DecisionLedger ledger(client.get(), nullptr, "vigil-agent", "agent-a", "shop");
    int done = 0;
    QStringList errors;
    auto cb = [&](Result<void> r) {
        ++done;
        if (!r)
            errors << r.errorMessage();
    };
    ledger.setCondition(d, {"Rejected", "True", "RejectedByUser", "rejected by bob: no"}, nullptr, cb);
    ledger.setCondition(d, {"ApprovalRefused", "True", "AlreadyRejected", "approval refused"}, nullptr, cb);
    QTRY_COMPARE_WITH_TIMEOUT(done, 2, 5000);
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join('\n')));
    QCOMPARE(applies.size(), 2);
    const HttpRequest &second = applies.last();
    QCOMPARE(second.method, QByteArray("PATCH"));
    QCOMPARE(second.path,
             "/apis/ai.vigil.dev/v1alpha1/namespaces/shop/agentdecisions/vigil-" + d.id + "/status");
    QCOMPARE(second.header("content-type"), QByteArray("application/apply-patch+yaml"));
    QCOMPARE(second.queryValue("fieldManager"), QString("vigil-agent"));
    QCOMPARE(second.queryValue("force"), QString("true"));
    const json body = json::parse(second.body.toStdString());
    QVERIFY(!body["status"].contains("phase")); // the mirror owns the phase
    QStringList types;
    for (const json &c : body["status"]["conditions"]) {
        types << QString::fromStdString(c["type"].get<std::string>());
        QVERIFY(c.contains("lastTransitionTime"));
    }
    // Its own earlier condition stays in its apply; one it does not own is not claimed.
    QCOMPARE(types, QStringList({"Rejected", "ApprovalRefused"}));
    QCOMPARE(body["status"]["conditions"][1]["message"].get<std::string>(), std::string("approval refused"));
}

void TestDecisionLedger::removeIsGuardedByTheResourceVersion()
{
    act::Decision d = sampleDecision();
    d.state = act::DecisionState::Verified;
    QList<HttpRequest> deletes;
    HttpTestServer server([&](HttpExchange *ex) {
        deletes << ex->request();
        ex->respondJson(409, R"({"kind":"Status","reason":"Conflict","code":409})");
    });
    QVERIFY(server.listen());
    auto client = clientFor(server);
    DecisionLedger ledger(client.get(), nullptr, "vigil-agent", "agent-a", "shop");
    const Result<LedgerEntry> e = LedgerEntry::fromObject(agentDecision(d, "verified", QString(), "123"));
    QVERIFY(e);
    std::optional<Result<void>> result;
    ledger.remove(*e, nullptr, [&](Result<void> r) { result = r; });
    QTRY_VERIFY_WITH_TIMEOUT(result.has_value(), 5000);
    QVERIFY(!result->ok());
    QCOMPARE(result->error().code, 409);
    QVERIFY2(result->errorMessage().contains("shop/vigil-" + d.id), qPrintable(result->errorMessage()));
    QCOMPARE(deletes.size(), 1);
    QCOMPARE(deletes.first().method, QByteArray("DELETE"));
    const json body = json::parse(deletes.first().body.toStdString());
    QCOMPARE(body["preconditions"]["resourceVersion"].get<std::string>(), std::string("123"));
}

QTEST_GUILESS_MAIN(TestDecisionLedger)
#include "tst_decisionledger.moc"
