#pragma once

// Shared plumbing for the HTTP providers (not public API): post JSON with a
// deadline, collect status/headers/body, classify transport failures, and
// keep secrets out of every message and stored body.

#include "core/reason/llm/llmprovider.h"
#include "core/reason/llm/sseparser.h"

#include <QByteArray>
#include <QHash>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QStringList>

#include <functional>

class QNetworkAccessManager;

namespace vigil::llm {

/// What the wire gave back, before any provider-specific parsing.
struct HttpExchange {
    QString what; ///< "openai: POST http://host/v1/chat/completions"
    int status = 0;
    QByteArray body;
    QHash<QByteArray, QByteArray> headers; ///< lower-case names
    QNetworkReply::NetworkError networkError = QNetworkReply::NoError;
    QString networkErrorString;
    bool timedOut = false;
    int timeoutMs = 0;
    int events = 0;        ///< server-sent events (postSse) or JSON lines (postNdjson) read
    bool overflow = false; ///< the stream broke the parser's line limit (postSse, postNdjson)
};

/// Posts `body` as JSON; `parse` turns the exchange into a reply on the caller's thread.
LlmCall *postJson(QNetworkAccessManager *nam, QNetworkRequest request, const QByteArray &body,
                  const QString &what, int timeoutMs, QObject *parent,
                  std::function<LlmReply(const HttpExchange &)> parse);

/// Posts `body` and reads a text/event-stream reply as it arrives: while the
/// status is 2xx and the content type is text/event-stream, each complete
/// event goes to `onEvent` (on the caller's thread), which returns true once
/// the stream has said all it will (its end marker or an error event): the
/// call then ends at once, without waiting for the server to close. `parse`
/// runs once, as for postJson; ex.body holds the bytes received (at most
/// 1 MiB of a stream).
LlmCall *postSse(QNetworkAccessManager *nam, QNetworkRequest request, const QByteArray &body,
                 const QString &what, int timeoutMs, QObject *parent,
                 std::function<bool(const SseEvent &)> onEvent,
                 std::function<LlmReply(const HttpExchange &)> parse);

/// Posts `body` and reads a newline-delimited JSON reply (application/x-ndjson,
/// Ollama's native stream) as it arrives: each non-empty line goes to `onLine`,
/// which returns true once the stream has said all it will; otherwise as postSse.
LlmCall *postNdjson(QNetworkAccessManager *nam, QNetworkRequest request, const QByteArray &body,
                    const QString &what, int timeoutMs, QObject *parent,
                    std::function<bool(const QByteArray &line)> onLine,
                    std::function<LlmReply(const HttpExchange &)> parse);

/// Fills reply with the transport failure and returns true when the exchange
/// never produced a complete HTTP response (refused, reset, closed mid-body, timed out).
bool transportFailure(const HttpExchange &ex, LlmReply *reply);

/// How a server-sent event stream ended, as a provider's parser saw it.
struct StreamEnd {
    bool done = false;     ///< the end marker ([DONE], message_stop) arrived
    QString errorType;     ///< an error event's type ("overloaded_error", "server_error", ...)
    QString errorMessage;  ///< an error event's message
    QString protocolError; ///< an event that was not what the protocol promises
    QString endMarker;     ///< "[DONE]", "message_stop": named in messages
};

/// For a stream that began (ex.events > 0): fills reply and returns true when
/// it did not end well — the connection was cut or timed out, an error event
/// came, the events were garbled, or the end marker never came. The partial
/// content is never used: the reply carries no content then.
bool streamFailure(const HttpExchange &ex, const StreamEnd &end, LlmReply *reply);

/// Sets the error kind for a non-2xx status: 429 rate limited, 529/503 overloaded, else HTTP.
void setHttpError(LlmReply *reply, int status, const QString &message);

/// Replaces every occurrence of each secret with "[redacted]".
QString scrubSecrets(QString text, const QStringList &secrets);
QByteArray scrubSecrets(QByteArray text, const QStringList &secrets);

/// Parses a JSON body; on failure the error names `what` and the HTTP status.
Result<nlohmann::json> parseJsonBody(const HttpExchange &ex);

/// A JSON value as text: strings as-is, anything else dumped.
QString jsonText(const nlohmann::json &value);

} // namespace vigil::llm
