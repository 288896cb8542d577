// The Prometheus text exposition of the agent's counters, and the JSON log lines.

#include "core/agent/agentmetrics.h"
#include "core/agent/structuredlog.h"

#include <QTest>

#include <nlohmann/json.hpp>

using namespace vigil::agent;
using json = nlohmann::json;

class TestAgentMetrics final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void samples_data();
    void samples();
    void everyFamilyHasHelpAndType();
    void labelEscaping_data();
    void labelEscaping();
    void logLines_data();
    void logLines();
    void logLevelFilter();
};

void TestAgentMetrics::samples_data()
{
    QTest::addColumn<QString>("line");
    QTest::newRow("incidents") << "vigil_agent_incidents_total 3";
    QTest::newRow("decisions by verdict") << "vigil_agent_decisions_total{verdict=\"needs-approval\"} 2";
    QTest::newRow("a verdict not seen yet is 0") << "vigil_agent_decisions_total{verdict=\"blocked\"} 0";
    QTest::newRow("actions by outcome") << "vigil_agent_actions_total{outcome=\"executed\"} 1";
    QTest::newRow("an outcome outside the known set still shows")
        << "vigil_agent_actions_total{outcome=\"odd\"} 5";
    QTest::newRow("llm calls") << "vigil_agent_llm_calls_total 7";
    QTest::newRow("prompt tokens") << "vigil_agent_llm_tokens_total{kind=\"prompt\"} 1200";
    QTest::newRow("completion tokens") << "vigil_agent_llm_tokens_total{kind=\"completion\"} 300";
    QTest::newRow("cost") << "vigil_agent_llm_cost_usd_total 0.012500";
    QTest::newRow("cache hits") << "vigil_agent_llm_cache_hits_total 4";
    QTest::newRow("provider errors") << "vigil_agent_llm_provider_errors_total 2";
    QTest::newRow("watch reconnects by resource")
        << "vigil_agent_watch_reconnects_total{resource=\"pods\"} 1";
    QTest::newRow("is_leader gauge") << "vigil_agent_is_leader 1";
    QTest::newRow("ready gauge") << "vigil_agent_ready 0";
}

void TestAgentMetrics::samples()
{
    QFETCH(QString, line);
    AgentMetrics m;
    m.incidents = 3;
    m.count(m.decisions, "needs-approval", 2);
    m.count(m.actions, "executed");
    m.count(m.actions, "odd", 5);
    m.llmCalls = 7;
    m.promptTokens = 1200;
    m.completionTokens = 300;
    m.costUsd = 0.0125;
    m.cacheHits = 4;
    m.providerErrors = 2;
    m.count(m.watchReconnects, "pods");
    m.leader = true;
    const QStringList lines = QString::fromUtf8(renderPrometheus(m)).split('\n');
    QVERIFY2(lines.contains(line), qPrintable(lines.join('\n')));
}

void TestAgentMetrics::everyFamilyHasHelpAndType()
{
    const QStringList lines =
        QString::fromUtf8(renderPrometheus(AgentMetrics())).split('\n', Qt::SkipEmptyParts);
    QSet<QString> typed;
    for (const QString &l : lines) {
        if (l.startsWith("# TYPE "))
            typed.insert(l.section(' ', 2, 2));
    }
    QVERIFY(typed.size() >= 12);
    for (const QString &l : lines) {
        if (l.startsWith('#'))
            continue;
        const QString name = l.section(' ', 0, 0).section('{', 0, 0);
        QVERIFY2(typed.contains(name), qPrintable(l));
        bool ok = false;
        l.section(' ', -1).toDouble(&ok);
        QVERIFY2(ok, qPrintable(l));
    }
}

void TestAgentMetrics::labelEscaping_data()
{
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("escaped");
    QTest::newRow("plain") << "pods"
                           << "pods";
    QTest::newRow("quote") << "a\"b"
                           << "a\\\"b";
    QTest::newRow("backslash") << "a\\b"
                               << "a\\\\b";
    QTest::newRow("newline") << "a\nb"
                             << "a\\nb";
}

void TestAgentMetrics::labelEscaping()
{
    QFETCH(QString, value);
    QFETCH(QString, escaped);
    QCOMPARE(escapeLabelValue(value), escaped);
}

void TestAgentMetrics::logLines_data()
{
    QTest::addColumn<int>("level");
    QTest::addColumn<QString>("message");
    QTest::addColumn<QByteArray>("fields");
    QTest::addColumn<QString>("levelName");
    QTest::newRow("info with fields") << int(StructuredLog::Level::Info) << "started leading"
                                      << QByteArray(R"({"lease":"ops/vigil-agent"})") << "info";
    QTest::newRow("error with a newline in the message stays one line")
        << int(StructuredLog::Level::Error) << "line one\nline two" << QByteArray("{}") << "error";
    QTest::newRow("warn") << int(StructuredLog::Level::Warn) << "watch failed"
                          << QByteArray(R"({"failures":2})") << "warn";
}

void TestAgentMetrics::logLines()
{
    QFETCH(int, level);
    QFETCH(QString, message);
    QFETCH(QByteArray, fields);
    QFETCH(QString, levelName);
    QList<QByteArray> lines;
    const QDateTime ts(QDate(2026, 11, 25), QTime(10, 0, 0, 123), Qt::UTC);
    StructuredLog log([&](const QByteArray &l) { lines << l; }, [ts] { return ts; });
    log.log(static_cast<StructuredLog::Level>(level), message, json::parse(fields.toStdString()));
    QCOMPARE(lines.size(), 1);
    QVERIFY(lines.first().endsWith('\n'));
    QCOMPARE(lines.first().count('\n'), 1);
    const json doc = json::parse(lines.first().toStdString());
    QCOMPARE(doc["ts"].get<std::string>(), std::string("2026-11-25T10:00:00.123Z"));
    QCOMPARE(QString::fromStdString(doc["level"].get<std::string>()), levelName);
    QCOMPARE(QString::fromStdString(doc["msg"].get<std::string>()), message);
    QVERIFY(doc["fields"] == json::parse(fields.toStdString()));
}

void TestAgentMetrics::logLevelFilter()
{
    QList<QByteArray> lines;
    StructuredLog log([&](const QByteArray &l) { lines << l; });
    log.debug("hidden");
    log.info("shown");
    log.setMinimumLevel(StructuredLog::Level::Debug);
    log.debug("now shown");
    QCOMPARE(lines.size(), 2);
    // Invalid UTF-8 from a pod's log never breaks a line.
    log.info(QString::fromUtf8("bad \xff byte"), {{"raw", std::string("\xff\xfe")}});
    QCOMPARE(lines.size(), 3);
    QVERIFY(!json::parse(lines.last().toStdString(), nullptr, false).is_discarded());
}

QTEST_GUILESS_MAIN(TestAgentMetrics)
#include "tst_agentmetrics.moc"
