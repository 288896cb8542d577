#pragma once

// Server-sent events (text/event-stream) read incrementally, as the bytes
// arrive, with chunk boundaries anywhere: inside a field name, a line ending
// or a multi-byte character. The framing of the WHATWG HTML standard:
// lines end in CRLF, LF or CR; "data:" lines accumulate; a blank line
// dispatches; ':' starts a comment.

#include <QByteArray>
#include <QByteArrayView>
#include <QList>

namespace vigil::llm {

/// One dispatched event.
struct SseEvent {
    QByteArray event; ///< the "event:" field; empty means "message"
    QByteArray data;  ///< "data:" lines joined with '\n'
    QByteArray id;
};

class SseParser final {
public:
    /// A line longer than this (a runaway or hostile stream) stops the parser.
    static constexpr qsizetype kMaxLineBytes = 1024 * 1024;

    /// Consumes the next bytes and returns the events they complete, in order.
    /// After an overflow every call returns nothing.
    QList<SseEvent> feed(QByteArrayView bytes);
    /// True once a line exceeded kMaxLineBytes.
    bool overflowed() const { return m_overflowed; }
    /// True when bytes of an unfinished event are pending (the stream stopped mid-event).
    bool midEvent() const { return !m_line.isEmpty() || m_hasFields; }

private:
    void consume(char c, QList<SseEvent> *out);
    void processLine(QList<SseEvent> *out);

    QByteArray m_line;
    int m_bomMatched = 0; ///< bytes of a leading BOM seen; 3 once decided
    bool m_lastWasCr = false;
    bool m_overflowed = false;
    bool m_hasFields = false;
    QByteArray m_event;
    QByteArray m_data;
    QByteArray m_id;
};

} // namespace vigil::llm
