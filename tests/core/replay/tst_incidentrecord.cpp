#include "core/replay/incidentrecord.h"

#include "recordfixture.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using namespace vigil;
using nlohmann::json;

// The incident record: written through the real gatherer and read back
// strictly; every bad input is an error naming the file and the field.
class TestIncidentRecord final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void roundTrip();
    void redactedEvidenceOnly();
    void targetFromIncident();
    void badFields_data();
    void badFields();
    void badText_data();
    void badText();
    void corpus();
    void unwritablePath();
};

namespace {

json sampleJson()
{
    replay::IncidentRecord r = test::sampleRecord();
    r.label = replay::RecordLabel{
        QStringLiteral("CrashLoopBackOff"), {ActionKind::CreateAlert}, false, QStringLiteral("why")};
    return replay::recordToJson(r);
}

QByteArray bytes(const json &j)
{
    return QByteArray::fromStdString(j.dump());
}

} // namespace

void TestIncidentRecord::roundTrip()
{
    replay::IncidentRecord r = test::sampleRecord();
    r.label = replay::RecordLabel{QStringLiteral("CrashLoopBackOff"),
                                  {ActionKind::CreateAlert, ActionKind::None},
                                  true,
                                  QStringLiteral("a note")};
    r.derivedFrom = QStringLiteral("other.json");
    r.note = QStringLiteral("instructions hidden in the log");
    const QByteArray text = replay::serializeRecord(r);
    Result<replay::IncidentRecord> back = replay::parseRecord(text, QStringLiteral("x.json"));
    QVERIFY2(back, qPrintable(back.errorMessage()));
    // Everything written is read back: writing the read record gives the same bytes.
    QCOMPARE(replay::serializeRecord(*back), text);
    QCOMPARE(back->evidence.pod->containers.first().restartCount, 7);
    QCOMPARE(back->evidence.pod->containers.first().lastTerminatedAt, test::kRecordedAt.addSecs(-40));
    QCOMPARE(back->evidence.events.first().involved.name, r.evidence.pod->name);
    QCOMPARE(back->evidence.node->conditions.first().reason, QStringLiteral("KubeletReady"));
    QCOMPARE(back->evidence.owners.size(), 2);
    QCOMPARE(back->evidence.text, r.evidence.text);
    QCOMPARE(back->label, r.label);
    QCOMPARE(back->clusterVersion, QStringLiteral("v1.35.4"));
    QCOMPARE(back->recordedAt, test::kRecordedAt);
    QVERIFY(text.contains("\"vigil.dev/incident-record\": 1"));
}

void TestIncidentRecord::redactedEvidenceOnly()
{
    const QByteArray text = replay::serializeRecord(test::sampleRecord());
    QVERIFY(!text.contains("ghp_abcdefghijklmnopqrstuvwxyz0123456789"));
    QVERIFY(!text.contains("hunter2"));
    QVERIFY(text.contains("REDACTED"));
}

void TestIncidentRecord::targetFromIncident()
{
    const replay::IncidentRecord r = test::sampleRecord();
    QCOMPARE(r.target.namespaceName, QStringLiteral("shop"));
    QCOMPARE(r.target.podName, QStringLiteral("web-7d4b9c8f6-abcde"));
    QCOMPARE(r.target.ownerKind, QStringLiteral("Deployment"));
    QCOMPARE(r.target.ownerName, QStringLiteral("web"));
    QCOMPARE(r.target.nodeName, QStringLiteral("worker-1"));
    QCOMPARE(r.target.podLabels.value(QStringLiteral("app")), QStringLiteral("web"));
    QCOMPARE(r.target.ownerLabels.value(QStringLiteral("team")), QStringLiteral("shop"));
    QCOMPARE(r.target.nodeLabels.value(QStringLiteral("kubernetes.io/hostname")), QStringLiteral("worker-1"));
}

void TestIncidentRecord::badFields_data()
{
    QTest::addColumn<QString>("pointer"); // JSON pointer into a valid record
    QTest::addColumn<QString>("value");   // JSON; empty removes the field
    QTest::addColumn<QString>("error");   // after "bad.json: "

    QTest::newRow("no version field") << "/vigil.dev~1incident-record"
                                      << ""
                                      << "not an incident record (no \"vigil.dev/incident-record\" field)";
    QTest::newRow("a future version") << "/vigil.dev~1incident-record"
                                      << "2"
                                      << "vigil.dev/incident-record: version 2 is not supported";
    QTest::newRow("version as a string") << "/vigil.dev~1incident-record"
                                         << "\"1\""
                                         << "vigil.dev/incident-record: version \"1\" is not supported";
    QTest::newRow("unknown top-level field") << "/evidenceText"
                                             << "\"x\""
                                             << "unknown field 'evidenceText'";
    QTest::newRow("unknown field deep inside") << "/evidence/pod/containers/0/bogus"
                                               << "1"
                                               << "evidence.pod.containers[0]: unknown field 'bogus'";
    QTest::newRow("integer given as a string")
        << "/evidence/pod/containers/0/restartCount"
        << "\"7\""
        << "evidence.pod.containers[0].restartCount: expected an integer, got a string";
    QTest::newRow("integer out of range") << "/incident/count"
                                          << "99999999999"
                                          << "incident.count: integer 99999999999 out of range";
    QTest::newRow("count below one") << "/incident/count"
                                     << "0"
                                     << "incident.count: must be at least 1";
    QTest::newRow("fingerprint missing") << "/incident/fingerprint"
                                         << ""
                                         << "incident.fingerprint: required field is missing";
    QTest::newRow("fingerprint empty") << "/incident/fingerprint"
                                       << "\"\""
                                       << "incident.fingerprint: must not be empty";
    QTest::newRow("recordedAt missing") << "/recordedAt"
                                        << ""
                                        << "recordedAt: required field is missing";
    QTest::newRow("recordedAt not a time") << "/recordedAt"
                                           << "\"yesterday\""
                                           << "recordedAt: 'yesterday' is not an RFC 3339 time";
    QTest::newRow("evidence missing") << "/evidence"
                                      << ""
                                      << "evidence: required field is missing";
    QTest::newRow("evidence text missing") << "/evidence/text"
                                           << ""
                                           << "evidence.text: required field is missing";
    QTest::newRow("events not a list") << "/evidence/events"
                                       << "{}"
                                       << "evidence.events: expected a list, got an object";
    QTest::newRow("log line not a string") << "/evidence/previousLog/0"
                                           << "42"
                                           << "evidence.previousLog[0]: expected a string, got an integer";
    QTest::newRow("container state unknown") << "/evidence/pod/containers/0/state"
                                             << "\"sleeping\""
                                             << "evidence.pod.containers[0].state: 'sleeping' is not waiting";
    QTest::newRow("label value not a string") << "/evidence/pod/labels/app"
                                              << "true"
                                              << "evidence.pod.labels.app: expected a string, got a boolean";
    QTest::newRow("negative redaction count")
        << "/evidence/redactions/github_token"
        << "-1"
        << "evidence.redactions.github_token: a count cannot be negative";
    QTest::newRow("subject reason differs from the incident's")
        << "/evidence/subject/reason"
        << "\"OOMKilled\""
        << "evidence.subject.reason: 'OOMKilled' differs";
    QTest::newRow("target names no object") << "/target"
                                            << "{\"namespace\": \"shop\"}"
                                            << "target: names neither a pod nor a node";
    QTest::newRow("label action outside the catalog")
        << "/label/acceptableActions"
        << "[\"delete_namespace\"]"
        << "label.acceptableActions[0]: 'delete_namespace' is not an action";
    QTest::newRow("label look-alike action") << "/label/acceptableActions"
                                             << "[\"restart_p\\u043ed\"]"
                                             << "label.acceptableActions[0]:";
    QTest::newRow("label that says nothing") << "/label"
                                             << "{}"
                                             << "label: says nothing";
    QTest::newRow("label mustBeBlocked not a boolean")
        << "/label/mustBeBlocked"
        << "\"yes\""
        << "label.mustBeBlocked: expected true or false, got a string";
    QTest::newRow("float where an integer belongs")
        << "/evidence/estimatedTokens"
        << "12.5"
        << "evidence.estimatedTokens: expected an integer, got a number";
}

void TestIncidentRecord::badFields()
{
    QFETCH(QString, pointer);
    QFETCH(QString, value);
    QFETCH(QString, error);
    json doc = sampleJson();
    const json::json_pointer ptr(pointer.toStdString());
    if (value.isEmpty()) {
        QVERIFY2(doc.contains(ptr), "the row must remove a field that exists");
        doc[ptr.parent_pointer()].erase(ptr.back());
    } else {
        doc[ptr] = json::parse(value.toStdString());
    }
    Result<replay::IncidentRecord> r = replay::parseRecord(bytes(doc), QStringLiteral("bad.json"));
    QVERIFY(!r);
    QVERIFY2(r.errorMessage().startsWith(QStringLiteral("bad.json: ") + error), qPrintable(r.errorMessage()));
}

void TestIncidentRecord::badText_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QString>("error");
    QTest::newRow("not JSON") << QByteArray("{\"vigil.dev/incident-record\": 1,")
                              << "bad.json: not valid JSON";
    QTest::newRow("a list, not an object")
        << QByteArray("[1, 2]") << "bad.json: the document must be a JSON object";
    QTest::newRow("empty file") << QByteArray() << "bad.json: not valid JSON";
    QTest::newRow("nested 100,000 deep")
        << QByteArray(100000, '[') << "bad.json: nested deeper than 16 levels";
    QTest::newRow("larger than 4 MiB")
        << (QByteArray("{\"note\": \"") + QByteArray(replay::kMaxRecordBytes, 'x') + QByteArray("\"}"))
        << "bad.json: 4194316 bytes, more than the 4194304 allowed";
}

void TestIncidentRecord::badText()
{
    QFETCH(QByteArray, text);
    QFETCH(QString, error);
    Result<replay::IncidentRecord> r = replay::parseRecord(text, QStringLiteral("bad.json"));
    QVERIFY(!r);
    QVERIFY2(r.errorMessage().startsWith(error), qPrintable(r.errorMessage()));
}

void TestIncidentRecord::corpus()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QVERIFY(
        replay::writeRecordFile(dir.filePath(QStringLiteral("b-second.json")), test::sampleRecord()).ok());
    QVERIFY(replay::writeRecordFile(dir.filePath(QStringLiteral("a-first.json")), test::sampleRecord()).ok());
    QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("responses")));
    QFile other(dir.filePath(QStringLiteral("responses/a-first.json")));
    QVERIFY(other.open(QIODevice::WriteOnly));
    other.write("not a record: sub-folders are not read");
    other.close();
    Result<QList<replay::CorpusEntry>> entries = replay::readCorpus(dir.path());
    QVERIFY2(entries, qPrintable(entries.errorMessage()));
    QCOMPARE(entries->size(), 2);
    QCOMPARE(entries->at(0).id, QStringLiteral("a-first"));
    QCOMPARE(entries->at(1).id, QStringLiteral("b-second"));

    QFile bad(dir.filePath(QStringLiteral("c-bad.json")));
    QVERIFY(bad.open(QIODevice::WriteOnly));
    bad.write("{\"vigil.dev/incident-record\": 1}");
    bad.close();
    Result<QList<replay::CorpusEntry>> broken = replay::readCorpus(dir.path());
    QVERIFY(!broken);
    QVERIFY2(
        broken.errorMessage().startsWith(dir.filePath(QStringLiteral("c-bad.json")) + QStringLiteral(": ")),
        qPrintable(broken.errorMessage()));

    QTemporaryDir empty;
    Result<QList<replay::CorpusEntry>> none = replay::readCorpus(empty.path());
    QVERIFY(!none);
    QVERIFY(none.errorMessage().contains(QStringLiteral("no incident records")));
    QVERIFY(!replay::readCorpus(empty.filePath(QStringLiteral("missing"))));
}

void TestIncidentRecord::unwritablePath()
{
    Result<void> w = replay::writeRecordFile(QStringLiteral("/nonexistent-dir/x.json"), test::sampleRecord());
    QVERIFY(!w);
    QVERIFY(w.errorMessage().startsWith(QStringLiteral("/nonexistent-dir/x.json: cannot write")));
}

QTEST_GUILESS_MAIN(TestIncidentRecord)
#include "tst_incidentrecord.moc"
