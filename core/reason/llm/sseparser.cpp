#include "core/reason/llm/sseparser.h"

#include <algorithm>
#include <utility>

namespace vigil::llm {

QList<SseEvent> SseParser::feed(QByteArrayView bytes)
{
    static constexpr char kBom[] = "\xEF\xBB\xBF";
    QList<SseEvent> out;
    for (const char c : bytes) {
        if (m_bomMatched < 3) {
            // A UTF-8 byte order mark may open the stream; it is not part of the first field.
            if (c == kBom[m_bomMatched]) {
                ++m_bomMatched;
                continue;
            }
            const int held = m_bomMatched;
            m_bomMatched = 3;
            for (int i = 0; i < held; ++i)
                consume(kBom[i], &out);
        }
        consume(c, &out);
    }
    return out;
}

void SseParser::consume(char c, QList<SseEvent> *out)
{
    if (m_overflowed)
        return;
    if (c == '\n' && m_lastWasCr) {
        m_lastWasCr = false; // the LF of a CRLF, even split across chunks: the line already ended
        return;
    }
    m_lastWasCr = c == '\r';
    if (c == '\r' || c == '\n') {
        processLine(out);
        return;
    }
    m_line.append(c);
    if (m_line.size() > kMaxLineBytes) {
        m_overflowed = true;
        m_line.clear();
    }
}

void SseParser::processLine(QList<SseEvent> *out)
{
    const QByteArray line = std::exchange(m_line, QByteArray());
    if (line.isEmpty()) {
        if (m_hasFields && !m_data.isEmpty()) {
            m_data.chop(1); // the '\n' after the last data line
            out->append(SseEvent{m_event, m_data, m_id});
        }
        m_event.clear();
        m_data.clear();
        m_hasFields = false;
        return;
    }
    if (line.startsWith(':'))
        return; // a comment, often a keep-alive
    const qsizetype colon = line.indexOf(':');
    const QByteArray field = colon < 0 ? line : line.left(colon);
    QByteArray value = colon < 0 ? QByteArray() : line.mid(colon + 1);
    if (value.startsWith(' '))
        value.remove(0, 1);
    m_hasFields = true;
    if (field == "data") {
        m_data += value;
        m_data += '\n';
    } else if (field == "event") {
        m_event = value;
    } else if (field == "id") {
        if (!value.contains('\0'))
            m_id = value;
    }
    // "retry" and unknown fields are ignored.
}

} // namespace vigil::llm
