#pragma once

// Framing and decoding of a Kubernetes watch stream: newline-delimited JSON
// events ({"type": ..., "object": ...}) arriving in chunks split anywhere.
// Pure (no network), so it can be tested and fuzzed on its own.

#include "core/util/result.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QString>

#include <nlohmann/json.hpp>

namespace vigil::kube {

/// One decoded watch event.
struct WatchEvent {
    enum class Type { Added, Modified, Deleted, Bookmark, Error };

    Type type = Type::Error;
    /// The object for Added/Modified/Deleted/Bookmark; the Status (if any) for Error.
    nlohmann::json object;
    /// For Error: the server's Status or why a line could not be decoded.
    Error error;
    /// For Error: 410 Gone / reason Expired — the resourceVersion is too old, relist from scratch.
    bool expired = false;
    /// For Error: the line itself was bad (malformed, truncated, oversized), not a server Status.
    bool malformed = false;

    /// object.metadata.resourceVersion, or empty.
    QString resourceVersion() const;
};

/// Splits a byte stream into lines and decodes each into a WatchEvent.
/// Malformed lines become Error events; nothing throws.
class WatchDecoder final {
public:
    static constexpr qsizetype DefaultMaxLineBytes = 16 * 1024 * 1024;

    explicit WatchDecoder(qsizetype maxLineBytes = DefaultMaxLineBytes);

    /// Leave object.metadata.managedFields out of decoded objects (often a third of a pod's bytes,
    /// and nothing a projection reads): they are skipped while parsing, never built.
    void setDropManagedFields(bool drop) { m_dropManagedFields = drop; }

    /// Feeds the next chunk; returns the events of every line it completed.
    QList<WatchEvent> feed(QByteArrayView chunk);
    /// The stream ended: a partial line left over is reported as truncated.
    QList<WatchEvent> finish();
    /// Bytes buffered of an incomplete line.
    qsizetype pendingBytes() const { return m_buffer.size(); }

    /// Decodes one complete line (without its newline).
    static WatchEvent decodeLine(QByteArrayView line, bool dropManagedFields = false);
    /// Decodes a metav1.Status into an Error "<code> <reason>: <message>" with its code.
    static Error statusError(const nlohmann::json &status, const QString &prefix);

private:
    qsizetype m_maxLineBytes;
    QByteArray m_buffer;
    bool m_discarding = false; ///< inside an oversized line: drop bytes until its newline
    bool m_dropManagedFields = false;
};

} // namespace vigil::kube
