// DecisionLedger against an in-process API server: what an AgentDecision
// entry reads as, the claim's optimistic concurrency (the resourceVersion it
// read travels in the patch; a claimed or finished object is refused before
// any write; a 409 is a refusal), and writes for one decision kept in order.

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

QTEST_GUILESS_MAIN(TestDecisionLedger)
#include "tst_decisionledger.moc"
