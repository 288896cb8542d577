#include "core/kube/watchstream.h"

#include <QTest>

using vigil::kube::WatchDecoder;
using vigil::kube::WatchEvent;

Q_DECLARE_METATYPE(QList<QByteArray>)

namespace {

QByteArray ev(const char *type, const char *name, int rv)
{
    return QByteArray("{\"type\":\"") + type + "\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"" +
           name + "\",\"resourceVersion\":\"" + QByteArray::number(rv) + "\"}}}\n";
}

// "A" added, "M" modified, "D" deleted, "B" bookmark, "E" server error, "X" expired, "!" malformed line.
QString summary(const QList<WatchEvent> &events)
{
    QString out;
    for (const WatchEvent &e : events) {
        switch (e.type) {
        case WatchEvent::Type::Added:
            out += QLatin1Char('A');
            break;
        case WatchEvent::Type::Modified:
            out += QLatin1Char('M');
            break;
        case WatchEvent::Type::Deleted:
            out += QLatin1Char('D');
            break;
        case WatchEvent::Type::Bookmark:
            out += QLatin1Char('B');
            break;
        case WatchEvent::Type::Error:
            out += e.malformed ? QLatin1Char('!') : (e.expired ? QLatin1Char('X') : QLatin1Char('E'));
            break;
        }
        if (e.type != WatchEvent::Type::Error)
            out += e.resourceVersion();
    }
    return out;
}

} // namespace

class TestWatchStream final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void framing_data();
    void framing();
    void everySplitPoint();
    void errorStatusDecoded();
    void oversizedLineThenRecovers();
    void managedFieldsDropped_data();
    void managedFieldsDropped();
};

void TestWatchStream::framing_data()
{
    QTest::addColumn<QList<QByteArray>>("chunks");
    QTest::addColumn<QString>("expected");

    const QByteArray a = ev("ADDED", "a", 1), m = ev("MODIFIED", "a", 2), d = ev("DELETED", "a", 3);
    const QByteArray b = ev("BOOKMARK", "", 7);
    QTest::newRow("one event per chunk") << QList<QByteArray>{a, m, d} << QStringLiteral("A1M2D3");
    QTest::newRow("several events in one chunk") << QList<QByteArray>{a + m + d} << QStringLiteral("A1M2D3");
    QTest::newRow("boundary mid-line")
        << QList<QByteArray>{a.left(10), a.mid(10) + m.left(5), m.mid(5)} << QStringLiteral("A1M2");
    QTest::newRow("boundary right before newline")
        << QList<QByteArray>{a.chopped(1), "\n"} << QStringLiteral("A1");
    const QByteArray utf =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"caf\xc3\xa9\xe2\x82\xac\","
        "\"resourceVersion\":\"5\"}}}\n";
    const qsizetype mid = utf.indexOf("\xa9");
    QTest::newRow("boundary inside a UTF-8 sequence")
        << QList<QByteArray>{utf.left(mid), utf.mid(mid)} << QStringLiteral("A5");
    QTest::newRow("bookmark carries the resourceVersion") << QList<QByteArray>{b} << QStringLiteral("B7");
    QTest::newRow("blank and CRLF lines are skipped")
        << QList<QByteArray>{"\n\r\n" + a} << QStringLiteral("A1");
    QTest::newRow("malformed line becomes an error, stream goes on")
        << QList<QByteArray>{a + "{not json\n" + m} << QStringLiteral("A1!M2");
    QTest::newRow("unknown type is an error")
        << QList<QByteArray>{ev("EXPLODED", "a", 1)} << QStringLiteral("!");
    QTest::newRow("event without object is an error")
        << QList<QByteArray>{QByteArray("{\"type\":\"ADDED\"}\n")} << QStringLiteral("!");
    QTest::newRow("ERROR 410 is expired")
        << QList<QByteArray>{QByteArray(
               "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":\"Failure\","
               "\"message\":\"too old resource version: 1 (5)\",\"reason\":\"Expired\","
               "\"code\":410}}\n")}
        << QStringLiteral("X");
    QTest::newRow("ERROR 500 is a plain error")
        << QList<QByteArray>{QByteArray("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,"
                                        "\"reason\":\"InternalError\",\"message\":\"boom\"}}\n")}
        << QStringLiteral("E");
    QTest::newRow("truncated last line reported at finish")
        << QList<QByteArray>{a + m.left(20)} << QStringLiteral("A1!");
    QTest::newRow("complete last object without newline accepted")
        << QList<QByteArray>{a + m.chopped(1)} << QStringLiteral("A1M2");
    // Found by tests/fuzz/fuzz_watchstream: a deep object overflowed the stack when projected (copied).
    const auto nested = [](int depth, int rv) -> QByteArray {
        return "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"uid\":\"u\",\"resourceVersion\":\"" +
               QByteArray::number(rv) + "\"},\"x\":" + QByteArray(depth, '[') + QByteArray(depth, ']') +
               "}}\n";
    };
    QTest::newRow("100,000-deep object is an error, stream goes on")
        << QList<QByteArray>{nested(100000, 4) + m} << QStringLiteral("!M2");
    QTest::newRow("500-deep object is accepted") << QList<QByteArray>{nested(500, 5)} << QStringLiteral("A5");
}

void TestWatchStream::framing()
{
    QFETCH(QList<QByteArray>, chunks);
    QFETCH(QString, expected);
    WatchDecoder decoder;
    QList<WatchEvent> events;
    for (const QByteArray &c : chunks)
        events += decoder.feed(c);
    events += decoder.finish();
    QCOMPARE(summary(events), expected);
}

void TestWatchStream::everySplitPoint()
{
    const QByteArray stream = ev("ADDED", "a", 1) + ev("BOOKMARK", "", 2) + ev("DELETED", "a", 3);
    for (qsizetype i = 0; i <= stream.size(); ++i) {
        for (qsizetype j = i; j <= stream.size(); j += 7) {
            WatchDecoder decoder;
            QList<WatchEvent> events = decoder.feed(stream.left(i));
            events += decoder.feed(stream.mid(i, j - i));
            events += decoder.feed(stream.mid(j));
            events += decoder.finish();
            QCOMPARE(summary(events), QStringLiteral("A1B2D3"));
        }
    }
}

void TestWatchStream::errorStatusDecoded()
{
    WatchDecoder decoder;
    const auto events = decoder.feed("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
                                     "\"reason\":\"Gone\",\"message\":\"too old resource version\"}}\n");
    QCOMPARE(events.size(), 1);
    QVERIFY(events[0].expired);
    QCOMPARE(events[0].error.code, 410);
    QCOMPARE(events[0].error.message, QStringLiteral("watch: 410 Gone: too old resource version"));
}

void TestWatchStream::oversizedLineThenRecovers()
{
    WatchDecoder decoder(128);
    const QByteArray big =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"" + QByteArray(300, 'x') + "\"}}}\n";
    QList<WatchEvent> events;
    for (qsizetype i = 0; i < big.size(); i += 10)
        events += decoder.feed(big.mid(i, 10));
    QVERIFY(decoder.pendingBytes() <= 128);
    events += decoder.feed(ev("ADDED", "a", 9));
    events += decoder.finish();
    QCOMPARE(summary(events), QStringLiteral("!A9"));
    QVERIFY(events[0].error.message.contains(QLatin1String("exceeds 128 bytes")));
}

void TestWatchStream::managedFieldsDropped_data()
{
    QTest::addColumn<bool>("drop");
    QTest::addColumn<QByteArray>("line");
    QTest::addColumn<QByteArray>("expectedObject");
    const QByteArray line =
        R"({"type":"MODIFIED","object":{"kind":"Pod","metadata":{"name":"a","managedFields":[{"manager":"m",)"
        R"("fieldsV1":{"f:spec":{}}}],"labels":{"managedFields":"kept"}},"spec":{"managedFields":"kept"}}})";
    QTest::newRow("dropped: only metadata.managedFields goes")
        << true << line
        << QByteArray(
               R"({"kind":"Pod","metadata":{"labels":{"managedFields":"kept"},"name":"a"},"spec":{"managedFields":"kept"}})");
    QTest::newRow("kept when not asked")
        << false << line
        << QByteArray(R"({"kind":"Pod","metadata":{"labels":{"managedFields":"kept"},)"
                      R"("managedFields":[{"fieldsV1":{"f:spec":{}},"manager":"m"}],)"
                      R"("name":"a"},"spec":{"managedFields":"kept"}})");
    QTest::newRow("an ERROR Status is untouched")
        << true << QByteArray(R"({"type":"ERROR","object":{"kind":"Status","code":410,"metadata":{}}})")
        << QByteArray(R"({"code":410,"kind":"Status","metadata":{}})");
}

void TestWatchStream::managedFieldsDropped()
{
    QFETCH(bool, drop);
    QFETCH(QByteArray, line);
    QFETCH(QByteArray, expectedObject);
    WatchDecoder decoder;
    decoder.setDropManagedFields(drop);
    const QList<WatchEvent> events = decoder.feed(QByteArray(line + '\n'));
    QCOMPARE(events.size(), 1);
    QVERIFY(!events[0].malformed);
    QCOMPARE(QByteArray::fromStdString(events[0].object.dump()), expectedObject);
}

QTEST_GUILESS_MAIN(TestWatchStream)
#include "tst_watchstream.moc"
