// The strict wire form of the reply schema: accepted by OpenAI's strict mode
// (and Anthropic's tool input_schema), never refusing a valid answer, while
// ReplyValidator keeps every rule the wire form had to drop.

#include "core/reason/llm/strictschema.h"

#include "core/reason/prompts.h"
#include "core/reason/replyvalidator.h"

#include "jsonschemacheck.h"

#include <QTest>

using namespace vigil;
using nlohmann::json;

Q_DECLARE_METATYPE(nlohmann::json)

namespace {

QStringList validateAgainst(const json &schema, const json &instance)
{
    const test::OpenApiSchemas doc(json{{"components", {{"schemas", {{"reply", schema}}}}}});
    return doc.validate(instance, QStringLiteral("reply"));
}

json reply(const char *action, const json &parameters, double confidence = 0.8, const char *diagnosis = "x")
{
    return json{{"diagnosis", diagnosis},
                {"confidence", confidence},
                {"action", action},
                {"parameters", parameters},
                {"reasoning", "because"}};
}

} // namespace

class TestStrictSchema final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void replySchemaBecomesStrict();
    void validRepliesFitTheWireSchema_data();
    void validRepliesFitTheWireSchema();
    void validatorStaysStricterThanTheWire_data();
    void validatorStaysStricterThanTheWire();
    void transforms_data();
    void transforms();

private:
    json m_schema;
    json m_wire;
};

void TestStrictSchema::initTestCase()
{
    const Result<reason::PromptSet> prompts = reason::loadPrompts();
    QVERIFY2(prompts.ok(), qPrintable(prompts.errorMessage()));
    m_schema = prompts->schema;
    m_wire = llm::strictJsonSchema(m_schema);
}

void TestStrictSchema::replySchemaBecomesStrict()
{
    // The file itself is what strict mode refuses...
    const QStringList original = test::strictModeViolations(m_schema);
    QVERIFY(original.join(u'\n').contains("keyword 'oneOf' is not supported"));
    // ...and its wire form is what it accepts.
    const QStringList violations = test::strictModeViolations(m_wire);
    QVERIFY2(violations.isEmpty(), qPrintable(violations.join(u'\n')));

    const std::string text = m_wire.dump();
    QVERIFY(text.find("oneOf") == std::string::npos);
    QVERIFY(text.find("\"minLength\"") == std::string::npos);
    QVERIFY(text.find("\"maxProperties\"") == std::string::npos);
    QVERIFY(m_wire["properties"]["action"]["type"] == "string");
    QVERIFY(m_wire["properties"]["action"]["enum"] == m_schema["properties"]["action"]["enum"]);
    QCOMPARE(m_wire["properties"]["parameters"]["anyOf"].size(), std::size_t(5));
    for (const json &variant : m_wire["properties"]["parameters"]["anyOf"])
        QVERIFY(variant["additionalProperties"] == false);
    // The bounds strict mode cannot enforce are still there for the model to read.
    QVERIFY(m_wire["properties"]["confidence"]["description"] == "minimum 0; maximum 1");
    QVERIFY(m_wire.dump().find("minimum 2; maximum 20") != std::string::npos);
    // Deterministic, and already strict stays as it is.
    QVERIFY(llm::strictJsonSchema(m_schema) == m_wire);
    QVERIFY(llm::strictJsonSchema(m_wire) == m_wire);
}

void TestStrictSchema::validRepliesFitTheWireSchema_data()
{
    QTest::addColumn<json>("answer");
    QTest::newRow("restart_pod") << reply("restart_pod", {{"namespace", "shop"}, {"pod", "web-1"}});
    QTest::newRow("scale_deployment")
        << reply("scale_deployment", {{"namespace", "shop"}, {"deployment", "web"}, {"replicas", 4}});
    QTest::newRow("cordon_node") << reply("cordon_node", {{"node", "worker-2"}});
    QTest::newRow("create_alert") << reply("create_alert",
                                           {{"severity", "critical"}, {"summary", "db down"}});
    QTest::newRow("none") << reply("none", json::object(), 0.2);
    QTest::newRow("confidence at the bounds") << reply("none", json::object(), 1.0);
}

void TestStrictSchema::validRepliesFitTheWireSchema()
{
    QFETCH(json, answer);
    const Result<Diagnosis> valid = reason::validateReplyObject(answer);
    QVERIFY2(valid.ok(), qPrintable(valid.errorMessage()));
    const QStringList errors = validateAgainst(m_wire, answer);
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join(u'\n')));
}

void TestStrictSchema::validatorStaysStricterThanTheWire_data()
{
    QTest::addColumn<json>("answer");
    QTest::addColumn<QString>("error");
    QTest::newRow("parameters of another action")
        << reply("restart_pod", {{"node", "worker-2"}}) << "parameters";
    QTest::newRow("replicas above the bound")
        << reply("scale_deployment", {{"namespace", "shop"}, {"deployment", "web"}, {"replicas", 50}})
        << "replicas";
    QTest::newRow("confidence above 1") << reply("none", json::object(), 1.5) << "confidence";
    QTest::newRow("empty diagnosis") << reply("none", json::object(), 0.5, "") << "diagnosis";
}

void TestStrictSchema::validatorStaysStricterThanTheWire()
{
    QFETCH(json, answer);
    QFETCH(QString, error);
    // The wire form lets it through (strict mode cannot say otherwise)...
    const QStringList wire = validateAgainst(m_wire, answer);
    QVERIFY2(wire.isEmpty(), qPrintable(wire.join(u'\n')));
    // ...the original schema and the validator do not.
    QVERIFY(!validateAgainst(m_schema, answer).isEmpty());
    const Result<Diagnosis> valid = reason::validateReplyObject(answer);
    QVERIFY(!valid.ok());
    QVERIFY2(valid.errorMessage().contains(error), qPrintable(valid.errorMessage()));
}

void TestStrictSchema::transforms_data()
{
    QTest::addColumn<json>("input");
    QTest::addColumn<json>("expected");
    const json strict = json::parse(R"({"type":"object","additionalProperties":false,
        "required":["b","a"],"properties":{"a":{"type":"string"},"b":{"type":"number"}}})");
    QTest::newRow("already strict is unchanged, required order kept") << strict << strict;
    QTest::newRow("an optional property becomes nullable")
        << json::parse(R"({"type":"object","required":["a"],
            "properties":{"a":{"type":"string"},"b":{"type":"integer"},"c":{"enum":[1,2]}}})")
        << json::parse(R"({"type":"object","additionalProperties":false,"required":["a","b","c"],
            "properties":{"a":{"type":"string"},"b":{"type":["integer","null"]},
                          "c":{"enum":[1,2,null],"type":["integer","null"]}}})");
    QTest::newRow("const becomes a typed enum")
        << json::parse(R"({"type":"object","required":["k"],"properties":{"k":{"const":"x"}}})")
        << json::parse(R"({"type":"object","additionalProperties":false,"required":["k"],
            "properties":{"k":{"enum":["x"],"type":"string"}}})");
    QTest::newRow("an open object is closed")
        << json::parse(R"({"type":"object","required":["p"],"properties":{"p":{"type":"object"}}})")
        << json::parse(R"({"type":"object","additionalProperties":false,"required":["p"],
            "properties":{"p":{"type":"object","properties":{},"required":[],"additionalProperties":false}}})");
    QTest::newRow("a nested oneOf becomes anyOf")
        << json::parse(R"({"type":"object","required":["v"],
            "properties":{"v":{"oneOf":[{"type":"string"},{"type":"integer"}]}}})")
        << json::parse(R"({"type":"object","additionalProperties":false,"required":["v"],
            "properties":{"v":{"anyOf":[{"type":"string"},{"type":"integer"}]}}})");
    QTest::newRow("bounds move into the description")
        << json::parse(R"({"$schema":"x","title":"t","type":"object","required":["s"],
            "properties":{"s":{"type":"string","description":"a name","minLength":1,"pattern":"^a"}}})")
        << json::parse(R"j({"type":"object","additionalProperties":false,"required":["s"],
            "properties":{"s":{"type":"string","description":"a name (minLength 1; pattern ^a)"}}})j");
    QTest::newRow("a discriminated root union is folded")
        << json::parse(R"({"type":"object","required":["kind","data"],
            "properties":{"kind":{"enum":["a","b"]},"data":{"type":"object"}},
            "oneOf":[{"properties":{"kind":{"const":"a"},"data":{"type":"object","required":["x"],
                        "properties":{"x":{"type":"string"}}}}},
                     {"properties":{"kind":{"const":"b"},"data":{"type":"object","required":["y"],
                        "properties":{"y":{"type":"integer"}}}}}]})")
        << json::parse(R"({"type":"object","additionalProperties":false,"required":["kind","data"],
            "properties":{"kind":{"enum":["a","b"],"type":"string"},
              "data":{"anyOf":[
                {"type":"object","additionalProperties":false,"required":["x"],"properties":{"x":{"type":"string"}}},
                {"type":"object","additionalProperties":false,"required":["y"],"properties":{"y":{"type":"integer"}}}]}}})");
}

void TestStrictSchema::transforms()
{
    QFETCH(json, input);
    QFETCH(json, expected);
    const json out = llm::strictJsonSchema(input);
    QVERIFY2(out == expected, out.dump().c_str());
    QVERIFY2(test::strictModeViolations(out).isEmpty(),
             qPrintable(test::strictModeViolations(out).join(u'\n')));
}

QTEST_GUILESS_MAIN(TestStrictSchema)
#include "tst_strictschema.moc"
