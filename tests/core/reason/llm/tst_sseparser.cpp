// SseParser: the same events whatever the chunk boundaries, every line
// ending, comments, multi-line data, and a runaway line.

#include "core/reason/llm/sseparser.h"

#include <QTest>

using namespace vigil::llm;

namespace {

QStringList describe(const QList<SseEvent> &events)
{
    QStringList out;
    for (const SseEvent &e : events)
        out << QString::fromUtf8(e.event + '|' + e.data + '|' + e.id);
    return out;
}

QList<SseEvent> feedInPieces(const QByteArray &stream, int pieceSize)
{
    SseParser parser;
    QList<SseEvent> out;
    for (qsizetype i = 0; i < stream.size(); i += pieceSize)
        out += parser.feed(stream.mid(i, pieceSize));
    return out;
}

} // namespace

class TestSseParser final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void events_data();
    void events();
    void chunkBoundariesDoNotMatter_data();
    void chunkBoundariesDoNotMatter();
    void unfinishedEventIsNotDispatched();
    void runawayLineStopsTheParser();
};

void TestSseParser::events_data()
{
    QTest::addColumn<QByteArray>("stream");
    QTest::addColumn<QStringList>("expected");
    QTest::newRow("one data event") << QByteArray("data: {\"a\":1}\n\n") << QStringList{"|{\"a\":1}|"};
    QTest::newRow("CRLF endings") << QByteArray("data: x\r\n\r\ndata: y\r\n\r\n")
                                  << QStringList{"|x|", "|y|"};
    QTest::newRow("CR endings") << QByteArray("data: x\r\rdata: y\r\r") << QStringList{"|x|", "|y|"};
    QTest::newRow("named event with id")
        << QByteArray("event: message_stop\nid: 7\ndata: {}\n\n") << QStringList{"message_stop|{}|7"};
    QTest::newRow("multi-line data joined with newline")
        << QByteArray("data: first\ndata:second\ndata:  third\n\n") << QStringList{"|first\nsecond\n third|"};
    QTest::newRow("comments are keep-alives") << QByteArray(": ping\n\n:\ndata: x\n\n") << QStringList{"|x|"};
    QTest::newRow("event without data is not dispatched")
        << QByteArray("event: ping\n\ndata: x\n\n") << QStringList{"|x|"};
    QTest::newRow("event type resets after dispatch")
        << QByteArray("event: a\ndata: 1\n\ndata: 2\n\n") << QStringList{"a|1|", "|2|"};
    QTest::newRow("field without colon") << QByteArray("data\ndata: y\n\n") << QStringList{"|\ny|"};
    QTest::newRow("unknown fields and retry ignored")
        << QByteArray("retry: 100\nfoo: bar\ndata: x\n\n") << QStringList{"|x|"};
    QTest::newRow("a leading BOM is dropped") << QByteArray("\xEF\xBB\xBF"
                                                            "data: x\n\n")
                                              << QStringList{"|x|"};
    QTest::newRow("no blank line yet, no event") << QByteArray("data: x\n") << QStringList{};
    QTest::newRow("colon inside the value kept") << QByteArray("data: a: b\n\n") << QStringList{"|a: b|"};
    QTest::newRow("data: [DONE]") << QByteArray("data: [DONE]\n\n") << QStringList{"|[DONE]|"};
}

void TestSseParser::events()
{
    QFETCH(QByteArray, stream);
    QFETCH(QStringList, expected);
    SseParser parser;
    QCOMPARE(describe(parser.feed(stream)), expected);
    QVERIFY(!parser.overflowed());
}

void TestSseParser::chunkBoundariesDoNotMatter_data()
{
    QTest::addColumn<int>("pieceSize");
    for (int size : {1, 2, 3, 5, 7, 13, 64})
        QTest::newRow(qPrintable(QStringLiteral("%1-byte pieces").arg(size))) << size;
}

void TestSseParser::chunkBoundariesDoNotMatter()
{
    QFETCH(int, pieceSize);
    // CRLF split between pieces must not count as two line ends.
    const QByteArray stream = "\xEF\xBB\xBF: hello\r\nevent: content_block_delta\r\ndata: {\"type\":"
                              "\"content_block_delta\",\"delta\":{\"text\":\"h\xC3\xA9llo\"}}\r\n\r\n"
                              "data: line1\rdata: line2\r\r"
                              "data: [DONE]\n\n";
    SseParser whole;
    const QStringList expected = describe(whole.feed(stream));
    QCOMPARE(expected.size(), 3);
    QCOMPARE(expected[1], QStringLiteral("|line1\nline2|"));
    QCOMPARE(describe(feedInPieces(stream, pieceSize)), expected);
}

void TestSseParser::unfinishedEventIsNotDispatched()
{
    SseParser parser;
    QCOMPARE(parser.feed("data: {\"partial\":").size(), 0);
    QVERIFY(parser.midEvent());
    QCOMPARE(parser.feed("true}\n").size(), 0);
    QVERIFY(parser.midEvent());
    QCOMPARE(describe(parser.feed("\n")), QStringList{"|{\"partial\":true}|"});
    QVERIFY(!parser.midEvent());
}

void TestSseParser::runawayLineStopsTheParser()
{
    SseParser parser;
    const QByteArray huge = "data: " + QByteArray(SseParser::kMaxLineBytes, 'x');
    QCOMPARE(parser.feed(huge).size(), 0);
    QVERIFY(parser.overflowed());
    QCOMPARE(parser.feed("\n\ndata: after\n\n").size(), 0);
}

QTEST_GUILESS_MAIN(TestSseParser)
#include "tst_sseparser.moc"
