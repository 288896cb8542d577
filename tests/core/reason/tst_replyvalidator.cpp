#include "core/reason/replyvalidator.h"

#include "core/reason/prompts.h"

#include <QTest>

using namespace vigil;
using namespace vigil::reason;

namespace {

QString reply(const QString &action, const QString &parameters,
              const QString &confidence = QStringLiteral("0.8"))
{
    return QStringLiteral("{\"diagnosis\": \"db unreachable\", \"confidence\": %1, \"action\": \"%2\", "
                          "\"parameters\": %3, "
                          "\"reasoning\": \"because\"}")
        .arg(confidence, action, parameters);
}

QString scale(const QString &replicas)
{
    return reply(
        QStringLiteral("scale_deployment"),
        QStringLiteral("{\"namespace\": \"shop\", \"deployment\": \"web\", \"replicas\": %1}").arg(replicas));
}

QString restartWith(const QString &params)
{
    return reply(QStringLiteral("restart_pod"), params);
}

} // namespace

class TestReplyValidator final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void valid_data();
    void valid();
    void malformed_data();
    void malformed();
    void roundTrip();
    void limitsMatchSchema();
};

void TestReplyValidator::valid_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("action");
    QTest::addColumn<double>("confidence");

    const QString restart =
        restartWith(QStringLiteral("{\"namespace\": \"shop\", \"pod\": \"web-7d4b9c8f6-x2k9p\"}"));
    QTest::newRow("restart_pod") << restart << "restart_pod" << 0.8;
    QTest::newRow("scale_deployment 2") << scale(QStringLiteral("2")) << "scale_deployment" << 0.8;
    QTest::newRow("scale_deployment 20") << scale(QStringLiteral("20")) << "scale_deployment" << 0.8;
    QTest::newRow("cordon_node") << reply(QStringLiteral("cordon_node"),
                                          QStringLiteral("{\"node\": \"worker-1.eu-west\"}"))
                                 << "cordon_node" << 0.8;
    for (const char *sev : {"info", "warning", "critical"}) {
        QTest::addRow("create_alert %s", sev)
            << reply(QStringLiteral("create_alert"),
                     QStringLiteral("{\"severity\": \"%1\", \"summary\": \"raise memory\"}")
                         .arg(QLatin1String(sev)))
            << "create_alert" << 0.8;
    }
    QTest::newRow("none") << reply(QStringLiteral("none"), QStringLiteral("{}")) << "none" << 0.8;
    QTest::newRow("confidence integer 0")
        << reply(QStringLiteral("none"), QStringLiteral("{}"), QStringLiteral("0")) << "none" << 0.0;
    QTest::newRow("confidence integer 1")
        << reply(QStringLiteral("none"), QStringLiteral("{}"), QStringLiteral("1")) << "none" << 1.0;
    QTest::newRow("confidence exponent")
        << reply(QStringLiteral("none"), QStringLiteral("{}"), QStringLiteral("5e-1")) << "none" << 0.5;
    QTest::newRow("```json fence") << QStringLiteral("```json\n") + restart + QStringLiteral("\n```")
                                   << "restart_pod" << 0.8;
    QTest::newRow("bare ``` fence with prose")
        << QStringLiteral("Here you go:\n```\n") + restart + QStringLiteral("\n```\nHope it helps.")
        << "restart_pod" << 0.8;
    QTest::newRow("one object inside prose")
        << QStringLiteral("My answer: ") + restart + QStringLiteral(" -- done") << "restart_pod" << 0.8;
    QTest::newRow("braces inside strings")
        << QStringLiteral(
               "{\"diagnosis\": \"log said {oops} and ]\", \"confidence\": 0.3, \"action\": \"none\", "
               "\"parameters\": {}, \"reasoning\": \"\\\"quoted\\\" {\"}")
        << "none" << 0.3;
}

void TestReplyValidator::valid()
{
    QFETCH(QString, text);
    QFETCH(QString, action);
    QFETCH(double, confidence);
    const auto r = validateReply(text);
    QVERIFY2(r.ok(), qPrintable(r.errorMessage()));
    QCOMPARE(actionName(r->action), action);
    QCOMPARE(r->confidence, confidence);
    QCOMPARE(r->rawReply, text);
    QVERIFY(!r->diagnosis.isEmpty());
    QVERIFY(r->parameters.is_object());
}

void TestReplyValidator::malformed_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("error");

    const QString ok = reply(QStringLiteral("none"), QStringLiteral("{}"));
    QTest::newRow("empty") << ""
                           << "empty";
    QTest::newRow("whitespace only") << " \n\t "
                                     << "empty";
    QTest::newRow("prose only") << "I think the pod is broken."
                                << "no JSON object found";
    QTest::newRow("bare number") << "42"
                                 << "no JSON object found";
    QTest::newRow("stray closing braces") << "}}}"
                                          << "no JSON object found";
    QTest::newRow("top-level array") << QStringLiteral("[") + ok + u']' << "got an array";
    QTest::newRow("two objects in prose") << ok + QStringLiteral(" or ") + ok << "found 2 JSON objects";
    QTest::newRow("two fenced blocks")
        << QStringLiteral("```json\n") + ok + QStringLiteral("\n```\n```json\n") + ok +
               QStringLiteral("\n```")
        << "2 fenced code blocks";
    QTest::newRow("truncated object") << "{\"diagnosis\": \"x\", \"confidence\": 0.5,"
                                      << "not closed";
    QTest::newRow("trailing comma") << "{\"diagnosis\": \"x\",}"
                                    << "not valid JSON";
    QTest::newRow("single quotes") << "{'diagnosis': 'x'}"
                                   << "not valid JSON";
    QTest::newRow("comment") << "{\"diagnosis\": \"x\" /* hi */}"
                             << "not valid JSON";
    QTest::newRow("NaN confidence") << reply(QStringLiteral("none"), QStringLiteral("{}"),
                                             QStringLiteral("NaN"))
                                    << "not valid JSON";
    QTest::newRow("overflowing confidence")
        << reply(QStringLiteral("none"), QStringLiteral("{}"), QStringLiteral("1e400")) << "number overflow";
    QTest::newRow("missing reasoning")
        << "{\"diagnosis\": \"x\", \"confidence\": 0.5, \"action\": \"none\", \"parameters\": {}}"
        << "missing field \"reasoning\"";
    QTest::newRow("unknown top-level field")
        << QString(ok).replace(QStringLiteral("\"reasoning\""), QStringLiteral("\"extra\": 1, \"reasoning\""))
        << "unknown field \"extra\"";
    QTest::newRow("duplicate key") << QString(ok).replace(
                                          QStringLiteral("\"action\": \"none\""),
                                          QStringLiteral("\"action\": \"none\", \"action\": \"restart_pod\""))
                                   << "duplicate field \"action\"";
    QTest::newRow("diagnosis is a number")
        << QString(ok).replace(QStringLiteral("\"db unreachable\""), QStringLiteral("7"))
        << "\"diagnosis\" must be a string";
    QTest::newRow("diagnosis empty") << QString(ok).replace(QStringLiteral("\"db unreachable\""),
                                                            QStringLiteral("\"  \""))
                                     << "\"diagnosis\" must not be empty";
    QTest::newRow("diagnosis too long")
        << QString(ok).replace(QStringLiteral("db unreachable"), QString(2001, u'x')) << "the limit is 2000";
    QTest::newRow("reasoning is an array")
        << QString(ok).replace(QStringLiteral("\"because\""), QStringLiteral("[\"a\"]"))
        << "\"reasoning\" must be a string";
    QTest::newRow("NUL in reasoning")
        << QString(ok).replace(QStringLiteral("because"), QStringLiteral("be\\u0000cause")) << "NUL";
    QTest::newRow("confidence as string")
        << reply(QStringLiteral("none"), QStringLiteral("{}"), QStringLiteral("\"0.9\""))
        << "\"confidence\" must be a number";
    QTest::newRow("confidence above 1")
        << reply(QStringLiteral("none"), QStringLiteral("{}"), QStringLiteral("1.5")) << "from 0 to 1";
    QTest::newRow("confidence negative")
        << reply(QStringLiteral("none"), QStringLiteral("{}"), QStringLiteral("-0.1")) << "from 0 to 1";
    QTest::newRow("confidence boolean")
        << reply(QStringLiteral("none"), QStringLiteral("{}"), QStringLiteral("true")) << "got boolean";
    QTest::newRow("action outside catalog")
        << reply(QStringLiteral("delete_namespace"), QStringLiteral("{\"namespace\": \"shop\"}"))
        << "\"action\" must be one of";
    QTest::newRow("action wrong case")
        << reply(QStringLiteral("Restart_Pod"), QStringLiteral("{}")) << "\"action\" must be one of";
    QTest::newRow("action null") << QString(ok).replace(QStringLiteral("\"none\""), QStringLiteral("null"))
                                 << "got null";
    QTest::newRow("parameters array")
        << reply(QStringLiteral("none"), QStringLiteral("[]")) << "\"parameters\" must be an object";
    QTest::newRow("restart_pod missing pod")
        << restartWith(QStringLiteral("{\"namespace\": \"shop\"}")) << "missing field \"parameters.pod\"";
    QTest::newRow("restart_pod extra field")
        << restartWith(QStringLiteral("{\"namespace\": \"shop\", \"pod\": \"a\", \"force\": true}"))
        << "unknown field \"parameters.force\"";
    QTest::newRow("restart_pod wildcard")
        << restartWith(QStringLiteral("{\"namespace\": \"shop\", \"pod\": \"*\"}"))
        << "exactly one Kubernetes object";
    QTest::newRow("restart_pod several pods")
        << restartWith(QStringLiteral("{\"namespace\": \"shop\", \"pod\": \"a,b\"}"))
        << "exactly one Kubernetes object";
    QTest::newRow("restart_pod pod list")
        << restartWith(QStringLiteral("{\"namespace\": \"shop\", \"pod\": [\"a\", \"b\"]}"))
        << "\"parameters.pod\" must be a string";
    QTest::newRow("restart_pod uppercase namespace")
        << restartWith(QStringLiteral("{\"namespace\": \"Shop\", \"pod\": \"a\"}")) << "parameters.namespace";
    QTest::newRow("replicas 2.5") << scale(QStringLiteral("2.5")) << "integer from 2 to 20, got number 2.5";
    QTest::newRow("replicas \"20\"") << scale(QStringLiteral("\"20\"")) << "got string \"20\"";
    QTest::newRow("replicas 0") << scale(QStringLiteral("0")) << "integer from 2 to 20, got integer 0";
    QTest::newRow("replicas 1") << scale(QStringLiteral("1")) << "got integer 1";
    QTest::newRow("replicas 21") << scale(QStringLiteral("21")) << "got integer 21";
    QTest::newRow("replicas -3") << scale(QStringLiteral("-3")) << "got integer -3";
    QTest::newRow("replicas 2.0 float") << scale(QStringLiteral("2.0")) << "integer from 2 to 20";
    QTest::newRow("replicas beyond uint64")
        << scale(QStringLiteral("100000000000000000000")) << "integer from 2 to 20";
    QTest::newRow("scale missing deployment")
        << reply(QStringLiteral("scale_deployment"),
                 QStringLiteral("{\"namespace\": \"shop\", \"replicas\": 3}"))
        << "missing field \"parameters.deployment\"";
    QTest::newRow("cordon_node missing node")
        << reply(QStringLiteral("cordon_node"), QStringLiteral("{}")) << "missing field \"parameters.node\"";
    QTest::newRow("alert severity outside enum")
        << reply(QStringLiteral("create_alert"),
                 QStringLiteral("{\"severity\": \"urgent\", \"summary\": \"x\"}"))
        << "\"parameters.severity\" must be one of";
    QTest::newRow("alert summary 501 chars")
        << reply(QStringLiteral("create_alert"),
                 QStringLiteral("{\"severity\": \"info\", \"summary\": \"%1\"}").arg(QString(501, u'y')))
        << "the limit is 500";
    QTest::newRow("alert summary empty")
        << reply(QStringLiteral("create_alert"),
                 QStringLiteral("{\"severity\": \"info\", \"summary\": \"\"}"))
        << "\"parameters.summary\" must not be empty";
    QTest::newRow("none with parameters")
        << reply(QStringLiteral("none"), QStringLiteral("{\"x\": 1}")) << "takes no parameters";
    QTest::newRow("33 levels deep") << QStringLiteral("{\"a\":").repeated(33) + QStringLiteral("1") +
                                           QString(33, u'}')
                                    << "deeper than 32 levels";
    QTest::newRow("10000 levels deep")
        << QStringLiteral("{\"a\":[").repeated(10000) << "deeper than 32 levels";
    QTest::newRow("reply over 64 KiB") << ok + QString(70000, u' ') << "the limit is 65536";
}

void TestReplyValidator::malformed()
{
    QFETCH(QString, text);
    QFETCH(QString, error);
    const auto r = validateReply(text);
    QVERIFY(!r.ok());
    QVERIFY2(r.errorMessage().startsWith(QStringLiteral("invalid reply: ")), qPrintable(r.errorMessage()));
    QVERIFY2(r.errorMessage().contains(error), qPrintable(r.errorMessage()));
    QVERIFY(r.errorMessage().size() < 400); // short enough to send back in a repair prompt
}

void TestReplyValidator::roundTrip()
{
    Diagnosis d;
    d.diagnosis = QStringLiteral("OOMKilled at 256Mi");
    d.confidence = 0.85;
    d.action = ActionKind::ScaleDeployment;
    d.parameters = nlohmann::json{{"namespace", "shop"}, {"deployment", "web"}, {"replicas", 4}};
    d.reasoning = QStringLiteral("more headroom");
    const auto r = validateReply(QString::fromStdString(diagnosisToJson(d).dump()));
    QVERIFY2(r.ok(), qPrintable(r.errorMessage()));
    QCOMPARE(r->diagnosis, d.diagnosis);
    QCOMPARE(r->confidence, d.confidence);
    QCOMPARE(r->action, d.action);
    QVERIFY(r->parameters == d.parameters);
    QCOMPARE(r->reasoning, d.reasoning);
}

void TestReplyValidator::limitsMatchSchema()
{
    const auto prompts = loadPrompts();
    QVERIFY2(prompts.ok(), qPrintable(prompts.errorMessage()));
    const nlohmann::json &schema = prompts->schema;
    const ReplyLimits limits;
    QCOMPARE(schema.at("properties").at("diagnosis").at("maxLength").get<int>(), limits.maxDiagnosisChars);
    QCOMPARE(schema.at("properties").at("reasoning").at("maxLength").get<int>(), limits.maxReasoningChars);
    bool sawScale = false;
    bool sawAlert = false;
    for (const auto &branch : schema.at("oneOf")) {
        const std::string action = branch.at("properties").at("action").at("const").get<std::string>();
        const auto &params = branch.at("properties").at("parameters");
        if (action == "scale_deployment") {
            sawScale = true;
            QCOMPARE(params.at("properties").at("replicas").at("minimum").get<int>(), limits.minReplicas);
            QCOMPARE(params.at("properties").at("replicas").at("maximum").get<int>(), limits.maxReplicas);
        } else if (action == "create_alert") {
            sawAlert = true;
            QCOMPARE(params.at("properties").at("summary").at("maxLength").get<int>(),
                     limits.maxSummaryChars);
        }
    }
    QVERIFY(sawScale && sawAlert);
}

QTEST_GUILESS_MAIN(TestReplyValidator)
#include "tst_replyvalidator.moc"
