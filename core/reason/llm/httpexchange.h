#pragma once

// Shared plumbing for the HTTP providers (not public API): post JSON with a
// deadline, collect status/headers/body, classify transport failures, and
// keep secrets out of every message and stored body.

#include "core/reason/llm/llmprovider.h"

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
};

/// Posts `body` as JSON; `parse` turns the exchange into a reply on the caller's thread.
LlmCall *postJson(QNetworkAccessManager *nam, QNetworkRequest request, const QByteArray &body,
                  const QString &what, int timeoutMs, QObject *parent,
                  std::function<LlmReply(const HttpExchange &)> parse);

/// Fills reply with the transport failure and returns true when the exchange
/// never produced a complete HTTP response (refused, reset, closed mid-body, timed out).
bool transportFailure(const HttpExchange &ex, LlmReply *reply);

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
