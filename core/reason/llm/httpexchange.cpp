#include "core/reason/llm/httpexchange.h"

#include "core/util/jsondepth.h"

#include <QNetworkAccessManager>
#include <QPointer>
#include <QTimer>

#include <memory>

namespace vigil::llm {

LlmCall *postJson(QNetworkAccessManager *nam, QNetworkRequest request, const QByteArray &body,
                  const QString &what, int timeoutMs, QObject *parent,
                  std::function<LlmReply(const HttpExchange &)> parse)
{
    auto *call = new LlmCall(parent);
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    QNetworkReply *reply = nam->post(request, body);
    reply->setParent(call); // dies with the call, which aborts it
    auto timedOut = std::make_shared<bool>(false);

    auto *deadline = new QTimer(call);
    deadline->setSingleShot(true);
    QObject::connect(deadline, &QTimer::timeout, reply, [reply, timedOut]() {
        *timedOut = true;
        reply->abort();
    });
    deadline->start(timeoutMs > 0 ? timeoutMs : 60000);

    call->setAbortHandler([reply = QPointer<QNetworkReply>(reply), deadline]() {
        deadline->stop();
        if (reply)
            reply->abort();
    });

    QObject::connect(reply, &QNetworkReply::finished, call,
                     [call, reply, deadline, timedOut, what, timeoutMs, parse = std::move(parse)]() {
                         deadline->stop();
                         HttpExchange ex;
                         ex.what = what;
                         ex.timeoutMs = timeoutMs;
                         ex.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
                         if (reply->isOpen())
                             ex.body = reply->readAll();
                         for (const auto &pair : reply->rawHeaderPairs())
                             ex.headers.insert(pair.first.toLower(), pair.second);
                         ex.networkError = reply->error();
                         ex.networkErrorString = reply->errorString();
                         ex.timedOut = *timedOut;
                         reply->deleteLater();
                         call->finish(parse(ex));
                     });
    return call;
}

bool transportFailure(const HttpExchange &ex, LlmReply *reply)
{
    // Qt numbers connection and proxy errors below 200; HTTP status errors above.
    const int code = static_cast<int>(ex.networkError);
    const bool transport = ex.timedOut || (code > 0 && code < 200) || ex.status == 0;
    if (!transport)
        return false;
    reply->httpStatus = ex.status;
    if (ex.timedOut) {
        reply->errorKind = LlmErrorKind::Timeout;
        reply->error = Error(QStringLiteral("%1 timed out after %2 ms").arg(ex.what).arg(ex.timeoutMs));
    } else if (ex.networkError == QNetworkReply::OperationCanceledError) {
        reply->errorKind = LlmErrorKind::Cancelled;
        reply->error = Error(QStringLiteral("%1 was cancelled").arg(ex.what));
    } else if (ex.status >= 200 && ex.status < 300) {
        reply->errorKind = LlmErrorKind::Network;
        reply->error = Error(
            QStringLiteral("%1: connection closed before the reply was complete (HTTP %2, %3 bytes read): %4")
                .arg(ex.what)
                .arg(ex.status)
                .arg(ex.body.size())
                .arg(ex.networkErrorString),
            ex.status);
    } else {
        reply->errorKind = LlmErrorKind::Network;
        reply->error = Error(QStringLiteral("%1 failed: %2").arg(ex.what, ex.networkErrorString));
    }
    return true;
}

void setHttpError(LlmReply *reply, int status, const QString &message)
{
    reply->httpStatus = status;
    if (status == 429)
        reply->errorKind = LlmErrorKind::RateLimited;
    else if (status == 529 || status == 503)
        reply->errorKind = LlmErrorKind::Overloaded;
    else
        reply->errorKind = LlmErrorKind::Http;
    reply->error = Error(message, status);
}

QString scrubSecrets(QString text, const QStringList &secrets)
{
    for (const QString &secret : secrets) {
        if (secret.size() >= 4)
            text.replace(secret, QStringLiteral("[redacted]"));
    }
    return text;
}

QByteArray scrubSecrets(QByteArray text, const QStringList &secrets)
{
    for (const QString &secret : secrets) {
        if (secret.size() >= 4)
            text.replace(secret.toUtf8(), QByteArrayLiteral("[redacted]"));
    }
    return text;
}

Result<nlohmann::json> parseJsonBody(const HttpExchange &ex)
{
    // The providers dump parts of the body into messages, which recurses per level.
    if (jsonNestingDepth(ex.body) > kMaxJsonDepth)
        return Error(QStringLiteral("%1: reply body is nested deeper than %2 levels (HTTP %3)")
                         .arg(ex.what)
                         .arg(kMaxJsonDepth)
                         .arg(ex.status),
                     ex.status);
    try {
        return nlohmann::json::parse(ex.body.constData(), ex.body.constData() + ex.body.size());
    } catch (const nlohmann::json::exception &e) {
        return Error(QStringLiteral("%1: reply body is not JSON (HTTP %2): %3")
                         .arg(ex.what)
                         .arg(ex.status)
                         .arg(QString::fromUtf8(e.what())),
                     ex.status);
    }
}

QString jsonText(const nlohmann::json &value)
{
    if (value.is_string())
        return QString::fromStdString(value.get<std::string>());
    if (value.is_null())
        return QString();
    return QString::fromStdString(value.dump());
}

} // namespace vigil::llm
