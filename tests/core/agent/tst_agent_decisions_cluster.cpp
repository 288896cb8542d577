// One `vigilctl agent` restricted to a fresh namespace on the real test
// cluster, reasoning through a local server that speaks the OpenAI chat
// completions contract (tests/contracts/openai), with the crashloop,
// imagepull, oomkilled and notready-node scenarios applied:
// - the crash loop is diagnosed by the "LLM" (its reply is validated, judged
//   by the guardrails and recorded in the AgentDecision and the audit log);
//   a 503 (imagepull) and a request that never answers (oomkilled) fall back
//   to the rules;
// - the node incident (a node that runs a pod of the namespace goes NotReady)
//   is recorded in the namespace but never cordoned, and approving it is
//   refused with a condition;
// - spec.rejected + spec.rejectReason rejects a decision: it never executes,
//   its status says who and why, and a later approval is refused in status;
// - an approved decision executes; finished decisions are deleted after the
//   TTL, pending ones stay.

#include "agentprocess.h"
#include "httptestserver.h"

#include <QTemporaryDir>

using namespace vigil;
using namespace vigil::test;
using json = nlohmann::json;

namespace {

constexpr int kTtlSeconds = 15;

// The whole decision the agent keeps in the annotation.
json decisionOf(const json &object)
{
    return json::parse(str(object, {"metadata", "annotations", "vigil.dev/decision"}).toStdString(), nullptr,
                       false);
}

json conditionOf(const json &object, const QString &type)
{
    const json conditions = object.value("status", json::object()).value("conditions", json::array());
    for (const json &c : conditions) {
        if (c.value("type", std::string()) == type.toStdString())
            return c;
    }
    return json();
}

// Which scenario's workload a prompt is about: the name that appears first in the user message.
QString subjectOf(const QByteArray &body)
{
    const json request = json::parse(body.toStdString(), nullptr, false);
    std::string user;
    for (const json &m : request.value("messages", json::array())) {
        if (m.value("role", std::string()) == "user" && m.contains("content") && m["content"].is_string())
            user += m["content"].get<std::string>();
    }
    const QString text = QString::fromStdString(user);
    QString first;
    qsizetype at = -1;
    for (const char *name :
         {"payments-api", "checkout-web", "report-worker", "nightly-etl", "kwok-node-bad"}) {
        const qsizetype i = text.indexOf(QLatin1String(name));
        if (i >= 0 && (at < 0 || i < at)) {
            at = i;
            first = QLatin1String(name);
        }
    }
    return first;
}

} // namespace

class TestAgentDecisionsCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void diagnosisFromTheModelIsGuardedAndRecorded();
    void modelFailuresFallBackToTheRules();
    void nodeIncidentIsRecordedButNeverCordoned();
    void rejectionThroughTheCrdNeverExecutes();
    void approvalExecutesOnce();
    void finishedDecisionsExpirePendingOnesStay();
    void cleanupTestCase();

private:
    QList<json> decisions();
    // The first AgentDecision whose stored decision satisfies pred, waiting up to timeoutMs.
    json waitForDecision(const std::function<bool(const json &object, const json &decision)> &pred,
                         int timeoutMs);
    json current(const json &object);
    // The agent's log lines that mention any of words (for failure messages).
    QString relevantLog(const QStringList &words) const;

    AgentClusterFixture m_cluster;
    QString m_lease;
    QTemporaryDir m_dir;
    std::unique_ptr<HttpTestServer> m_model;
    QList<HttpRequest> m_modelRequests;
    QList<QPointer<HttpExchange>> m_stalled;
    std::unique_ptr<AgentProcess> m_agent;
    json m_llmDecision;
    json m_rejectedDecision;
    json m_pendingDecision;
    json m_nodeDecision;
};

void TestAgentDecisionsCluster::initTestCase()
{
    Result<void> ready =
        m_cluster.setUp("vigil-adec-", {"crashloop", "imagepull", "oomkilled", "notready-node"});
    QVERIFY2(ready, qPrintable(ready.errorMessage()));

    // The "LLM": OpenAI chat completions on 127.0.0.1.
    m_model = std::make_unique<HttpTestServer>([this](HttpExchange *ex) {
        m_modelRequests << ex->request();
        if (ex->request().method != "POST" || !ex->request().path.endsWith("/chat/completions"))
            return ex->respondJson(404,
                                   R"({"error":{"message":"no such route","type":"invalid_request_error"}})");
        const QString subject = subjectOf(ex->request().body);
        if (subject == "payments-api") {
            const json reply = {
                {"diagnosis", "LLM-TEST: payments-api cannot reach its database at 10.0.0.12:5432"},
                {"confidence", 0.95},
                {"action", "create_alert"},
                {"parameters", {{"severity", "warning"}, {"summary", "payments-api: database unreachable"}}},
                {"reasoning", "The previous logs show connection refused to the database."}};
            const json completion = {
                {"id", "chatcmpl-vigil-test"},
                {"object", "chat.completion"},
                {"created", 1764000000},
                {"model", "vigil-test-model"},
                {"choices",
                 json::array(
                     {{{"index", 0},
                       {"message", {{"role", "assistant"}, {"content", reply.dump()}, {"refusal", nullptr}}},
                       {"logprobs", nullptr},
                       {"finish_reason", "stop"}}})},
                {"usage", {{"prompt_tokens", 1200}, {"completion_tokens", 60}, {"total_tokens", 1260}}}};
            return ex->respondJson(200, QByteArray::fromStdString(completion.dump()));
        }
        if (subject == "report-worker") {
            m_stalled << ex; // never answered: the agent's timeout decides
            return;
        }
        ex->respondJson(503, R"({"error":{"message":"overloaded","type":"server_error","code":null}})");
    });
    QVERIFY(m_model->listen());

    QVERIFY(m_dir.isValid());
    QFile policy(m_dir.filePath("policy.yaml"));
    QVERIFY(policy.open(QIODevice::WriteOnly));
    policy.write("mode: approve\n"
                 "allowedActions: [restart_pod, create_alert, cordon_node]\n"
                 "minConfidence:\n  default: 0.1\n"
                 "cooldown:\n  perTarget: 1s\n"
                 "maxActionsPerHour: 100\n");
    policy.close();
    QFile provider(m_dir.filePath("providers.yaml"));
    QVERIFY(provider.open(QIODevice::WriteOnly));
    provider.write(QStringLiteral("provider: openai\n"
                                  "baseUrl: http://127.0.0.1:%1/v1\n"
                                  "local: true\n"
                                  "models: {small: null, strong: vigil-test-model}\n"
                                  "escalationThreshold: 1\n"
                                  "timeoutMs: 3000\n"
                                  "retry: {maxAttempts: 1}\n"
                                  "circuitBreaker: {failures: 100}\n"
                                  "cache: {ttlSeconds: 0}\n")
                       .arg(m_model->url().port())
                       .toUtf8());
    provider.close();

    m_lease = ClusterApi::uniqueName("vigil-agent-");
    m_agent = std::make_unique<AgentProcess>("agent-d", m_dir.filePath("d"));
    m_agent->start({"--kubeconfig",
                    m_cluster.kubeconfig,
                    "-n",
                    m_cluster.ns,
                    "--policy",
                    policy.fileName(),
                    "--provider-config",
                    provider.fileName(),
                    "--lease-name",
                    m_lease,
                    "--decision-ttl",
                    QString::number(kTtlSeconds) + "s",
                    "--verify-timeout",
                    "20",
                    "--lease-duration",
                    "4",
                    "--renew-deadline",
                    "3",
                    "--retry-period",
                    "0.5"});
    QVERIFY2(m_agent->waitUntilServing(), qPrintable(m_agent->logText()));
    QVERIFY2(ClusterApi::waitFor([&] { return m_agent->isLeader(); }, 20000), qPrintable(m_agent->logText()));
}

QList<json> TestAgentDecisionsCluster::decisions()
{
    return m_cluster.agentDecisionsOf(m_lease);
}

json TestAgentDecisionsCluster::waitForDecision(
    const std::function<bool(const json &object, const json &decision)> &pred, int timeoutMs)
{
    json found;
    ClusterApi::waitFor(
        [&] {
            for (const json &o : decisions()) {
                const json d = decisionOf(o);
                if (d.is_object() && pred(o, d)) {
                    found = o;
                    return true;
                }
            }
            return false;
        },
        timeoutMs);
    return found;
}

QString TestAgentDecisionsCluster::relevantLog(const QStringList &words) const
{
    QStringList out;
    for (const QString &line : m_agent->logText().split('\n')) {
        for (const QString &w : words) {
            if (line.contains(w)) {
                out << line;
                break;
            }
        }
    }
    return out.join('\n');
}

json TestAgentDecisionsCluster::current(const json &object)
{
    Result<json> o =
        m_cluster.api.get({agentDecisions(), m_cluster.ns, str(object, {"metadata", "name"}), {}});
    return o ? *o : json();
}

void TestAgentDecisionsCluster::diagnosisFromTheModelIsGuardedAndRecorded()
{
    m_llmDecision = waitForDecision(
        [](const json &, const json &d) {
            return str(d, {"target", "ownerName"}) == "payments-api" &&
                   str(d, {"diagnosis", "provider"}) == "openai";
        },
        60000);
    QVERIFY2(m_llmDecision.is_object(), qPrintable(m_agent->logText()));
    const json d = decisionOf(m_llmDecision);
    QCOMPARE(str(d, {"diagnosis", "model"}), QString("vigil-test-model"));
    QVERIFY(str(d, {"diagnosis", "diagnosis"}).startsWith("LLM-TEST:"));
    QCOMPARE(str(d, {"diagnosis", "action"}), QString("create_alert"));
    // Guarded: the policy's mode (approve) makes a person decide; nothing ran.
    QCOMPARE(str(d, {"verdict", "decision"}), QString("needs-approval"));
    QCOMPARE(str(m_llmDecision, {"status", "phase"}), QString("proposed"));
    QVERIFY(str(m_llmDecision, {"spec", "diagnosis"}).startsWith("LLM-TEST:"));
    // Recorded: the audit log has the proposal with the model's diagnosis.
    const QString id = str(m_llmDecision, {"metadata", "labels", "vigil.dev/decision"});
    const QList<audit::AuditEvent> proposed = m_agent->audit(id, "proposed");
    QCOMPARE(proposed.size(), 1);
    QVERIFY(QString::fromStdString(proposed.first().payload.dump()).contains("vigil-test-model"));
    QCOMPARE(m_agent->audit(id, "executing").size(), 0);

    // The request followed the contract: the model asked for, messages, a strict JSON schema reply.
    bool sawContract = false;
    for (const HttpRequest &r : m_modelRequests) {
        const json body = json::parse(r.body.toStdString(), nullptr, false);
        if (subjectOf(r.body) != "payments-api" || !body.is_object())
            continue;
        QCOMPARE(body.value("model", std::string()), std::string("vigil-test-model"));
        QVERIFY(body["messages"].is_array() && body["messages"].size() >= 2);
        QCOMPARE(body["response_format"].value("type", std::string()), std::string("json_schema"));
        QVERIFY(body["response_format"]["json_schema"].contains("schema"));
        sawContract = true;
    }
    QVERIFY(sawContract);
    QVERIFY(m_agent->metric("vigil_agent_llm_calls_total") >= 1);
    QVERIFY(m_agent->metric("vigil_agent_llm_tokens_total{kind=\"prompt\"}") >= 1200);
}

void TestAgentDecisionsCluster::modelFailuresFallBackToTheRules()
{
    // 503 and a model that never answers: the rules diagnose, and say why.
    for (const char *owner : {"checkout-web", "report-worker"}) {
        const json o = waitForDecision(
            [owner](const json &, const json &d) {
                return str(d, {"target", "ownerName"}) == owner;
            },
            45000);
        QVERIFY2(o.is_object(), qPrintable(QString(owner) + ": " + m_agent->logText()));
        const json d = decisionOf(o);
        QCOMPARE(str(d, {"diagnosis", "provider"}), QString());
        QCOMPARE(d["diagnosis"].value("source", -1), 0); // rules
        if (QLatin1String(owner) == QLatin1String("checkout-web"))
            m_rejectedDecision = o;
        else
            m_pendingDecision = o;
    }
    bool saw503 = false;
    bool sawTimeout = false;
    QStringList seen;
    for (const json &line : m_agent->logged("diagnosed")) {
        const QString source = str(line, {"fields", "source"});
        const QString fallback = str(line, {"fields", "fallback"});
        seen << source + ": " + fallback;
        if (source != "rules")
            continue;
        saw503 = saw503 || fallback.contains("503");
        sawTimeout = sawTimeout || fallback.contains("time", Qt::CaseInsensitive);
    }
    QVERIFY2(saw503 && sawTimeout, qPrintable(seen.join('\n')));
    QVERIFY(!m_stalled.isEmpty());
    QVERIFY(m_agent->metric("vigil_agent_llm_provider_errors_total") >= 2);
}

void TestAgentDecisionsCluster::nodeIncidentIsRecordedButNeverCordoned()
{
    QVERIFY2(!m_agent
                  ->logged("node incidents: only nodes that run pods of this namespace; recorded here, never "
                           "cordoned (a namespaced agent leaves shared nodes to a person)")
                  .isEmpty(),
             qPrintable(m_agent->logText()));
    m_nodeDecision = waitForDecision(
        [](const json &, const json &d) {
            return str(d, {"target", "node"}) == "kwok-node-bad" &&
                   str(d, {"diagnosis", "action"}) == "cordon_node";
        },
        45000);
    QVERIFY2(m_nodeDecision.is_object(), qPrintable(m_agent->logText()));
    QCOMPARE(str(m_nodeDecision, {"metadata", "namespace"}), m_cluster.ns);
    const json d = decisionOf(m_nodeDecision);
    QCOMPARE(str(d, {"verdict", "decision"}), QString("blocked"));
    QVERIFY(QString::fromStdString(d["verdict"]["reasons"].dump()).contains("scope.node"));

    // A person approves anyway: refused, and the refusal is in the status, not only in the log.
    const kube::ResourcePath path{
        agentDecisions(), m_cluster.ns, str(m_nodeDecision, {"metadata", "name"}), {}};
    QVERIFY(m_cluster.api.patch(path, {{"spec", {{"approved", true}}}}));
    json refused;
    QVERIFY2(ClusterApi::waitFor(
                 [&] {
                     refused = conditionOf(current(m_nodeDecision), "ApprovalRefused");
                     return refused.is_object();
                 },
                 15000),
             qPrintable(m_agent->logText()));
    QCOMPARE(str(refused, {"reason"}), QString("BlockedByGuardrails"));
    QVERIFY2(str(refused, {"message"}).contains("namespace " + m_cluster.ns),
             qPrintable(str(refused, {"message"})));
    QCOMPARE(str(current(m_nodeDecision), {"status", "phase"}), QString("proposed"));
    Result<json> node = m_cluster.api.get({kube::ResourceType::nodes(), {}, "kwok-node-bad", {}});
    QVERIFY(node);
    QVERIFY(!(*node)["spec"].value("unschedulable", false));
}

void TestAgentDecisionsCluster::rejectionThroughTheCrdNeverExecutes()
{
    QVERIFY(m_rejectedDecision.is_object());
    const QString id = str(m_rejectedDecision, {"metadata", "labels", "vigil.dev/decision"});
    const kube::ResourcePath path{
        agentDecisions(), m_cluster.ns, str(m_rejectedDecision, {"metadata", "name"}), {}};
    // What `kubectl patch --type merge -p '{"spec":{"rejected":true,"rejectReason":...}}'` sends.
    QVERIFY(m_cluster.api.patch(
        path, {{"spec", {{"rejected", true}, {"rejectReason", "the image tag is being fixed"}}}}));
    json rejected;
    QVERIFY2(ClusterApi::waitFor(
                 [&] {
                     const json o = current(m_rejectedDecision);
                     rejected = conditionOf(o, "Rejected");
                     return str(o, {"status", "phase"}) == "rejected" && rejected.is_object();
                 },
                 15000),
             qPrintable(m_agent->logText()));
    QCOMPARE(str(rejected, {"status"}), QString("True"));
    QCOMPARE(str(rejected, {"reason"}), QString("RejectedByUser"));
    const QString message = str(rejected, {"message"});
    QVERIFY2(message.contains("field-manager:") && message.contains("the image tag is being fixed"),
             qPrintable(message));
    QCOMPARE(m_agent->audit(id, "rejected").size(), 1);

    // Approving it afterwards changes nothing but the status, which says why.
    QVERIFY(m_cluster.api.patch(path, {{"spec", {{"approved", true}}}}));
    json refused;
    QVERIFY2(ClusterApi::waitFor(
                 [&] {
                     refused = conditionOf(current(m_rejectedDecision), "ApprovalRefused");
                     return refused.is_object();
                 },
                 10000),
             qPrintable(m_agent->logText()));
    QCOMPARE(str(refused, {"reason"}), QString("AlreadyRejected"));
    const json after = current(m_rejectedDecision);
    QCOMPARE(str(after, {"status", "phase"}), QString("rejected"));
    QVERIFY(conditionOf(after, "Rejected").is_object()); // both conditions kept
    QCOMPARE(m_agent->audit(id, "executing").size(), 0);
    QCOMPARE(m_agent->audit(id, "approved").size(), 0);
}

void TestAgentDecisionsCluster::approvalExecutesOnce()
{
    QVERIFY(m_llmDecision.is_object());
    const QString id = str(m_llmDecision, {"metadata", "labels", "vigil.dev/decision"});
    const kube::ResourcePath path{
        agentDecisions(), m_cluster.ns, str(m_llmDecision, {"metadata", "name"}), {}};
    QVERIFY(m_cluster.api.patch(path, {{"spec", {{"approved", true}}}}));
    QVERIFY2(ClusterApi::waitFor(
                 [&] {
                     const QString phase = str(current(m_llmDecision), {"status", "phase"});
                     return phase == "verified" || phase == "verify-failed";
                 },
                 30000),
             qPrintable(m_agent->logText()));
    QTest::qWait(1000);
    QCOMPARE(m_agent->audit(id, "executing").size(), 1);
    // No refusal for the approval that ran.
    QVERIFY(!conditionOf(current(m_llmDecision), "ApprovalRefused").is_object());
}

void TestAgentDecisionsCluster::finishedDecisionsExpirePendingOnesStay()
{
    QVERIFY(m_rejectedDecision.is_object() && m_llmDecision.is_object() && m_pendingDecision.is_object());
    const QString rejectedName = str(m_rejectedDecision, {"metadata", "name"});
    const QString executedName = str(m_llmDecision, {"metadata", "name"});
    const bool gone = ClusterApi::waitFor(
        [&] {
            bool rejectedLeft = false;
            bool executedLeft = false;
            for (const json &o : decisions()) {
                rejectedLeft = rejectedLeft || str(o, {"metadata", "name"}) == rejectedName;
                executedLeft = executedLeft || str(o, {"metadata", "name"}) == executedName;
            }
            return !rejectedLeft && !executedLeft;
        },
        (kTtlSeconds + 20) * 1000);
    if (!gone) {
        // QtTest cuts long messages: the whole story goes to the test's output.
        qWarning().noquote() << relevantLog({"delete", "expired", "AgentDecision", "claim", "verif"});
        for (const json &o : decisions())
            qWarning().noquote() << str(o, {"metadata", "name"}) << str(o, {"status", "phase"})
                                 << QString::fromStdString(decisionOf(o).value("state", std::string()))
                                 << decisionOf(o).value("updatedMs", 0LL);
    }
    QVERIFY(gone);
    // Deleted by the TTL (not by anything else), and recorded.
    QCOMPARE(m_agent->audit(str(m_rejectedDecision, {"metadata", "labels", "vigil.dev/decision"}), "expired")
                 .size(),
             1);
    QCOMPARE(
        m_agent->audit(str(m_llmDecision, {"metadata", "labels", "vigil.dev/decision"}), "expired").size(),
        1);
    // Pending ones stay, however old: the proposal waiting for a person and the blocked node decision.
    const json pending = current(m_pendingDecision);
    QVERIFY2(pending.is_object() && str(pending, {"status", "phase"}) == "proposed",
             qPrintable(QString::fromStdString(pending.dump())));
    QVERIFY(current(m_nodeDecision).is_object());
    QVERIFY(m_agent->audit(str(m_pendingDecision, {"metadata", "labels", "vigil.dev/decision"}), "expired")
                .isEmpty());
}

void TestAgentDecisionsCluster::cleanupTestCase()
{
    for (const QPointer<HttpExchange> &ex : m_stalled) {
        if (ex)
            ex->respondJson(503, "{}");
    }
    if (m_agent)
        m_agent->stop();
    m_cluster.tearDown();
}

QTEST_GUILESS_MAIN(TestAgentDecisionsCluster)
#include "tst_agent_decisions_cluster.moc"
