#include "core/reason/llm/httpexchange.h"

#include "core/util/jsondepth.h"

#include <QNetworkAccessManager>
#include <QPointer>
#include <QTimer>

#include <memory>
#include <utility>

namespace vigil::llm {

namespace {

constexpr qsizetype kMaxKeptStreamBytes = 1024 * 1024;

struct Pending {
    QNetworkReply *reply = nullptr;
    QTimer *deadline = nullptr;
    std::shared_ptr<bool> timedOut;
};

// The request with its deadline and abort handler; the reply is the call's child.
Pending send(QNetworkAccessManager *nam, QNetworkRequest request, const QByteArray &body, int timeoutMs,
             LlmCall *call)
{
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    Pending p;
    p.reply = nam->post(request, body);
    p.reply->setParent(call); // dies with the call, which aborts it
    p.timedOut = std::make_shared<bool>(false);
    p.deadline = new QTimer(call);
    p.deadline->setSingleShot(true);
    QObject::connect(p.deadline, &QTimer::timeout, p.reply, [reply = p.reply, timedOut = p.timedOut]() {
        *timedOut = true;
        reply->abort();
    });
    p.deadline->start(timeoutMs > 0 ? timeoutMs : 60000);
    call->setAbortHandler([reply = QPointer<QNetworkReply>(p.reply), deadline = p.deadline]() {
        deadline->stop();
        if (reply)
            reply->abort();
    });
    return p;
}

HttpExchange exchangeOf(QNetworkReply *reply, const QString &what, int timeoutMs, bool timedOut)
{
    HttpExchange ex;
    ex.what = what;
    ex.timeoutMs = timeoutMs;
    ex.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    for (const auto &pair : reply->rawHeaderPairs())
        ex.headers.insert(pair.first.toLower(), pair.second);
    ex.networkError = reply->error();
    ex.networkErrorString = reply->errorString();
    ex.timedOut = timedOut;
    return ex;
}

bool isStreamOf(QNetworkReply *reply, QLatin1String contentType)
{
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    return status >= 200 && status < 300 &&
           reply->header(QNetworkRequest::ContentTypeHeader)
               .toString()
               .startsWith(contentType, Qt::CaseInsensitive);
}

// A streamed reply of one content type, read as it arrives: `feed` takes the
// next bytes, counts the events they complete and returns true once the
// stream has said all it will.
struct StreamFeed {
    QByteArray accept;
    QLatin1String contentType;
    std::function<bool(QByteArrayView bytes, int *events)> feed;
    std::function<bool()> overflowed;
};

LlmCall *postStream(QNetworkAccessManager *nam, QNetworkRequest request, const QByteArray &body,
                    const QString &what, int timeoutMs, QObject *parent, StreamFeed feed,
                    std::function<LlmReply(const HttpExchange &)> parse)
{
    auto *call = new LlmCall(parent);
    request.setRawHeader("Accept", feed.accept);
    const Pending p = send(nam, std::move(request), body, timeoutMs, call);
    struct Stream {
        StreamFeed feed;
        QByteArray kept; ///< the bytes as received, for the reply's rawBody
        int events = 0;
        bool ended = false;    ///< the feed said the stream is complete
        bool reported = false; ///< parse ran
    };
    auto stream = std::make_shared<Stream>();
    stream->feed = std::move(feed);
    auto report = [call, p, stream, what, timeoutMs, parse = std::move(parse)]() {
        if (stream->reported)
            return;
        stream->reported = true;
        p.deadline->stop();
        HttpExchange ex = exchangeOf(p.reply, what, timeoutMs, *p.timedOut);
        if (isStreamOf(p.reply, stream->feed.contentType))
            ex.body = stream->kept;
        else if (p.reply->isOpen())
            ex.body = p.reply->readAll();
        ex.events = stream->events;
        ex.overflow = stream->feed.overflowed();
        call->finish(parse(ex));
        // Nothing more is read: a server that keeps the connection open after its end marker is not waited
        // for.
        QObject::disconnect(p.reply, nullptr, call, nullptr);
        if (p.reply->isRunning())
            p.reply->abort();
        p.reply->deleteLater();
    };
    // Events are handled as they arrive; an error body (non-2xx) is read whole at the end.
    auto drain = [reply = p.reply, stream]() {
        if (stream->ended || !isStreamOf(reply, stream->feed.contentType) || !reply->isOpen())
            return;
        const QByteArray bytes = reply->readAll();
        if (stream->kept.size() < kMaxKeptStreamBytes)
            stream->kept += bytes.left(kMaxKeptStreamBytes - stream->kept.size());
        stream->ended = stream->feed.feed(bytes, &stream->events);
    };
    QObject::connect(p.reply, &QNetworkReply::readyRead, call, [drain, report, stream]() {
        drain();
        if (stream->ended)
            report();
    });
    QObject::connect(p.reply, &QNetworkReply::finished, call, [drain, report]() {
        drain();
        report();
    });
    return call;
}

// Newline-delimited JSON: one object a line; a line longer than the SSE limit stops it.
class LineSplitter final {
public:
    QList<QByteArray> feed(QByteArrayView bytes)
    {
        QList<QByteArray> lines;
        if (m_overflowed)
            return lines;
        for (char c : bytes) {
            if (c == '\n') {
                if (m_line.endsWith('\r'))
                    m_line.chop(1);
                lines.append(std::exchange(m_line, {}));
            } else if (m_line.size() >= SseParser::kMaxLineBytes) {
                m_overflowed = true;
                return lines;
            } else {
                m_line += c;
            }
        }
        return lines;
    }
    bool overflowed() const { return m_overflowed; }

private:
    QByteArray m_line;
    bool m_overflowed = false;
};

} // namespace

LlmCall *postJson(QNetworkAccessManager *nam, QNetworkRequest request, const QByteArray &body,
                  const QString &what, int timeoutMs, QObject *parent,
                  std::function<LlmReply(const HttpExchange &)> parse)
{
    auto *call = new LlmCall(parent);
    const Pending p = send(nam, std::move(request), body, timeoutMs, call);
    QObject::connect(p.reply, &QNetworkReply::finished, call,
                     [call, p, what, timeoutMs, parse = std::move(parse)]() {
                         p.deadline->stop();
                         HttpExchange ex = exchangeOf(p.reply, what, timeoutMs, *p.timedOut);
                         if (p.reply->isOpen())
                             ex.body = p.reply->readAll();
                         p.reply->deleteLater();
                         call->finish(parse(ex));
                     });
    return call;
}

LlmCall *postSse(QNetworkAccessManager *nam, QNetworkRequest request, const QByteArray &body,
                 const QString &what, int timeoutMs, QObject *parent,
                 std::function<bool(const SseEvent &)> onEvent,
                 std::function<LlmReply(const HttpExchange &)> parse)
{
    auto parser = std::make_shared<SseParser>();
    StreamFeed feed{QByteArrayLiteral("text/event-stream"), QLatin1String("text/event-stream"),
                    [parser, onEvent = std::move(onEvent)](QByteArrayView bytes, int *events) {
                        for (const SseEvent &e : parser->feed(bytes)) {
                            ++*events;
                            if (onEvent(e))
                                return true;
                        }
                        return false;
                    },
                    [parser] { return parser->overflowed(); }};
    return postStream(nam, std::move(request), body, what, timeoutMs, parent, std::move(feed),
                      std::move(parse));
}

LlmCall *postNdjson(QNetworkAccessManager *nam, QNetworkRequest request, const QByteArray &body,
                    const QString &what, int timeoutMs, QObject *parent,
                    std::function<bool(const QByteArray &line)> onLine,
                    std::function<LlmReply(const HttpExchange &)> parse)
{
    auto splitter = std::make_shared<LineSplitter>();
    StreamFeed feed{QByteArrayLiteral("application/x-ndjson"), QLatin1String("application/x-ndjson"),
                    [splitter, onLine = std::move(onLine)](QByteArrayView bytes, int *events) {
                        for (const QByteArray &line : splitter->feed(bytes)) {
                            if (line.trimmed().isEmpty())
                                continue;
                            ++*events;
                            if (onLine(line))
                                return true;
                        }
                        return false;
                    },
                    [splitter] { return splitter->overflowed(); }};
    return postStream(nam, std::move(request), body, what, timeoutMs, parent, std::move(feed),
                      std::move(parse));
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

bool streamFailure(const HttpExchange &ex, const StreamEnd &end, LlmReply *reply)
{
    reply->content.clear();
    reply->refusal.clear();
    if (transportFailure(ex, reply)) {
        reply->error.message +=
            QStringLiteral(" (after %1 stream events; the partial reply is discarded)").arg(ex.events);
        return true;
    }
    reply->httpStatus = ex.status;
    if (!end.errorType.isEmpty() || !end.errorMessage.isEmpty()) {
        // Mid-stream errors come with HTTP 200 already sent: classify by the event's type.
        const QString type = end.errorType.toLower();
        reply->errorKind = type.contains(QLatin1String("rate_limit"))   ? LlmErrorKind::RateLimited
                           : type.contains(QLatin1String("overloaded")) ? LlmErrorKind::Overloaded
                                                                        : LlmErrorKind::Network;
        reply->error =
            Error(QStringLiteral("%1: error event mid-stream: %2: %3 (the partial reply is discarded)")
                      .arg(ex.what, end.errorType, end.errorMessage),
                  ex.status);
        return true;
    }
    if (ex.overflow || !end.protocolError.isEmpty()) {
        reply->errorKind = LlmErrorKind::Network;
        reply->error = Error(
            QStringLiteral("%1: the event stream is garbled: %2")
                .arg(ex.what,
                     ex.overflow ? QStringLiteral("a line longer than %1 bytes").arg(SseParser::kMaxLineBytes)
                                 : end.protocolError),
            ex.status);
        return true;
    }
    if (!end.done) {
        reply->errorKind = LlmErrorKind::Network;
        reply->error = Error(QStringLiteral("%1: the event stream ended before %2 (%3 events); the partial "
                                            "reply is discarded")
                                 .arg(ex.what, end.endMarker)
                                 .arg(ex.events),
                             ex.status);
        return true;
    }
    return false;
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
