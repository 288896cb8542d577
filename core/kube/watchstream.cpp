#include "core/kube/watchstream.h"

#include "core/util/jsondepth.h"

namespace vigil::kube {

namespace {

QString jsonString(const nlohmann::json &j, const char *key)
{
    if (!j.is_object())
        return {};
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string())
        return {};
    return QString::fromStdString(it->get<std::string>());
}

WatchEvent malformedEvent(const QString &message)
{
    WatchEvent ev;
    ev.type = WatchEvent::Type::Error;
    ev.malformed = true;
    ev.error = Error(message);
    return ev;
}

} // namespace

QString WatchEvent::resourceVersion() const
{
    if (!object.is_object())
        return {};
    const auto meta = object.find("metadata");
    if (meta == object.end())
        return {};
    return jsonString(*meta, "resourceVersion");
}

WatchDecoder::WatchDecoder(qsizetype maxLineBytes)
    : m_maxLineBytes(maxLineBytes)
{
}

Error WatchDecoder::statusError(const nlohmann::json &status, const QString &prefix)
{
    int code = 0;
    if (status.is_object()) {
        const auto it = status.find("code");
        if (it != status.end() && it->is_number_integer())
            code = it->get<int>();
    }
    const QString reason = jsonString(status, "reason");
    const QString message = jsonString(status, "message");
    return Error(QStringLiteral("%1: %2 %3: %4").arg(prefix).arg(code).arg(reason, message), code);
}

WatchEvent WatchDecoder::decodeLine(QByteArrayView line, bool dropManagedFields)
{
    // Before parsing: a deeper object would overflow the stack when copied or dumped downstream.
    if (jsonNestingDepth(line) > kMaxJsonDepth)
        return malformedEvent(
            QStringLiteral("watch stream: event nested deeper than %1 levels (%2 bytes); dropped")
                .arg(kMaxJsonDepth)
                .arg(line.size()));
    nlohmann::json doc;
    if (dropManagedFields) {
        // {"type": ..., "object": {"metadata": {"managedFields": ...}}}: keys at depth 1, 2 and 3.
        bool inObject = false, inMetadata = false;
        doc = nlohmann::json::parse(
            line.begin(), line.end(),
            [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json &parsed) {
                if (event != nlohmann::json::parse_event_t::key)
                    return true;
                const bool named = parsed.is_string();
                if (depth == 1)
                    inObject = named && parsed.get_ref<const std::string &>() == "object";
                else if (depth == 2)
                    inMetadata = inObject && named && parsed.get_ref<const std::string &>() == "metadata";
                else if (depth == 3 && inMetadata && named)
                    return parsed.get_ref<const std::string &>() != "managedFields";
                return true;
            },
            false);
    } else {
        doc = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    }
    if (doc.is_discarded() || !doc.is_object())
        return malformedEvent(
            QStringLiteral("watch stream: malformed JSON line (%1 bytes): %2")
                .arg(line.size())
                .arg(QString::fromUtf8(line.first(qMin<qsizetype>(80, line.size())).toByteArray())));
    const QString type = jsonString(doc, "type");
    auto objIt = doc.find("object");
    WatchEvent ev;
    if (objIt != doc.end())
        ev.object = std::move(*objIt);
    if (type == QLatin1String("ADDED"))
        ev.type = WatchEvent::Type::Added;
    else if (type == QLatin1String("MODIFIED"))
        ev.type = WatchEvent::Type::Modified;
    else if (type == QLatin1String("DELETED"))
        ev.type = WatchEvent::Type::Deleted;
    else if (type == QLatin1String("BOOKMARK"))
        ev.type = WatchEvent::Type::Bookmark;
    else if (type == QLatin1String("ERROR")) {
        ev.type = WatchEvent::Type::Error;
        ev.error = statusError(ev.object, QStringLiteral("watch"));
        ev.expired = ev.error.code == 410 || jsonString(ev.object, "reason") == QLatin1String("Expired") ||
                     jsonString(ev.object, "reason") == QLatin1String("Gone");
        return ev;
    } else {
        return malformedEvent(QStringLiteral("watch stream: unknown event type \"%1\"").arg(type));
    }
    if (!ev.object.is_object())
        return malformedEvent(QStringLiteral("watch stream: %1 event without an object").arg(type));
    return ev;
}

QList<WatchEvent> WatchDecoder::feed(QByteArrayView chunk)
{
    QList<WatchEvent> out;
    while (!chunk.isEmpty()) {
        const qsizetype nl = chunk.indexOf('\n');
        const QByteArrayView piece = nl < 0 ? chunk : chunk.first(nl);
        chunk = nl < 0 ? QByteArrayView() : chunk.sliced(nl + 1);
        if (m_discarding) {
            if (nl >= 0)
                m_discarding = false;
            continue;
        }
        if (m_buffer.size() + piece.size() > m_maxLineBytes) {
            out.append(malformedEvent(
                QStringLiteral("watch stream: event line exceeds %1 bytes; dropped").arg(m_maxLineBytes)));
            m_buffer.clear();
            m_discarding = nl < 0;
            continue;
        }
        if (nl < 0) {
            m_buffer.append(piece);
            break;
        }
        QByteArrayView line = piece;
        if (!m_buffer.isEmpty()) {
            m_buffer.append(piece);
            line = m_buffer;
        }
        if (!line.trimmed().isEmpty())
            out.append(decodeLine(line, m_dropManagedFields));
        m_buffer.clear();
    }
    return out;
}

QList<WatchEvent> WatchDecoder::finish()
{
    QList<WatchEvent> out;
    if (!m_buffer.trimmed().isEmpty()) {
        // A server that ends cleanly always ends with a newline: a complete
        // JSON object without one is still accepted, anything else is cut off.
        WatchEvent ev = decodeLine(m_buffer, m_dropManagedFields);
        if (ev.malformed)
            ev = malformedEvent(QStringLiteral("watch stream: connection ended inside an event (%1 bytes)")
                                    .arg(m_buffer.size()));
        out.append(std::move(ev));
    }
    m_buffer.clear();
    m_discarding = false;
    return out;
}

} // namespace vigil::kube
