// jsonValue: a field of an answer from a server or a model, never an exception.

#include "core/util/jsondepth.h"

#include <QTest>

using nlohmann::json;
using vigil::jsonValue;

class TestJsonValue final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void boolField_data();
    void boolField();
    void stringField_data();
    void stringField();
    void intField_data();
    void intField();
};

void TestJsonValue::boolField_data()
{
    QTest::addColumn<QByteArray>("doc");
    QTest::addColumn<bool>("expected");
    QTest::newRow("true") << QByteArray(R"({"allowed":true})") << true;
    QTest::newRow("false") << QByteArray(R"({"allowed":false})") << false;
    // nlohmann's value("allowed", false) throws type_error on each of these.
    QTest::newRow("a string") << QByteArray(R"({"allowed":"yes"})") << false;
    QTest::newRow("a number") << QByteArray(R"({"allowed":1})") << false;
    QTest::newRow("an object") << QByteArray(R"({"allowed":{}})") << false;
    QTest::newRow("null") << QByteArray(R"({"allowed":null})") << false;
    QTest::newRow("missing") << QByteArray(R"({})") << false;
    QTest::newRow("not an object") << QByteArray(R"([true])") << false;
}

void TestJsonValue::boolField()
{
    QFETCH(QByteArray, doc);
    QFETCH(bool, expected);
    QCOMPARE(jsonValue(json::parse(doc.toStdString()), "allowed", false), expected);
}

void TestJsonValue::stringField_data()
{
    QTest::addColumn<QByteArray>("doc");
    QTest::addColumn<QString>("expected");
    QTest::newRow("a string") << QByteArray(R"({"name":"pods"})") << QStringLiteral("pods");
    QTest::newRow("a number") << QByteArray(R"({"name":7})") << QStringLiteral("none");
    QTest::newRow("an array") << QByteArray(R"({"name":["pods"]})") << QStringLiteral("none");
    QTest::newRow("missing") << QByteArray(R"({"other":"pods"})") << QStringLiteral("none");
}

void TestJsonValue::stringField()
{
    QFETCH(QByteArray, doc);
    QFETCH(QString, expected);
    const std::string got = jsonValue(json::parse(doc.toStdString()), "name", std::string("none"));
    QCOMPARE(QString::fromStdString(got), expected);
}

void TestJsonValue::intField_data()
{
    QTest::addColumn<QByteArray>("doc");
    QTest::addColumn<int>("expected");
    QTest::newRow("an integer") << QByteArray(R"({"n":12})") << 12;
    QTest::newRow("a float in range") << QByteArray(R"({"n":3.0})") << 3;
    // Converting these to int would be undefined behaviour.
    QTest::newRow("a float past int") << QByteArray(R"({"n":1e30})") << -1;
    QTest::newRow("a negative float past int") << QByteArray(R"({"n":-1e30})") << -1;
    QTest::newRow("a string") << QByteArray(R"({"n":"12"})") << -1;
    QTest::newRow("a boolean") << QByteArray(R"({"n":true})") << -1;
}

void TestJsonValue::intField()
{
    QFETCH(QByteArray, doc);
    QFETCH(int, expected);
    QCOMPARE(jsonValue(json::parse(doc.toStdString()), "n", -1), expected);
}

QTEST_GUILESS_MAIN(TestJsonValue)
#include "tst_jsonvalue.moc"
