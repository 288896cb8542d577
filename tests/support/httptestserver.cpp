#include "httptestserver.h"

#include <QTcpSocket>
#include <QTimer>

namespace vigil::test {

namespace {

QByteArray reasonPhrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

QByteArray statusHead(int status, const HttpHeaders &headers)
{
    QByteArray out = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reasonPhrase(status) + "\r\n";
    for (const auto &h : headers)
        out += h.first + ": " + h.second + "\r\n";
    return out;
}

// Reads requests off one socket and serves them one at a time.
class Connection final : public QObject {
public:
    Connection(QTcpSocket *socket, int id,
               std::function<void(const HttpRequest &, QTcpSocket *, std::function<void()>)> dispatch)
        : QObject(socket)
        , m_socket(socket)
        , m_id(id)
        , m_dispatch(std::move(dispatch))
    {
        connect(socket, &QTcpSocket::readyRead, this, [this] {
            m_buffer += m_socket->readAll();
            pump();
        });
    }

    void exchangeDone()
    {
        m_busy = false;
        QTimer::singleShot(0, this, [this] { pump(); });
    }

private:
    void pump()
    {
        while (!m_busy) {
            const qsizetype headEnd = m_buffer.indexOf("\r\n\r\n");
            if (headEnd < 0)
                return;
            const QList<QByteArray> lines = m_buffer.left(headEnd).split('\n');
            HttpRequest req;
            req.connectionId = m_id;
            const QList<QByteArray> first = lines.value(0).trimmed().split(' ');
            req.method = first.value(0);
            req.target = first.value(1);
            qsizetype contentLength = 0;
            for (qsizetype i = 1; i < lines.size(); ++i) {
                const QByteArray line = lines[i].trimmed();
                const qsizetype colon = line.indexOf(':');
                if (colon <= 0)
                    continue;
                const QByteArray name = line.left(colon).trimmed().toLower();
                const QByteArray value = line.mid(colon + 1).trimmed();
                req.headers.append({name, value});
                if (name == "content-length")
                    contentLength = value.toLongLong();
            }
            if (m_buffer.size() < headEnd + 4 + contentLength)
                return;
            req.body = m_buffer.mid(headEnd + 4, contentLength);
            m_buffer.remove(0, headEnd + 4 + contentLength);
            const QUrl url = QUrl(QStringLiteral("http://x") + QString::fromLatin1(req.target));
            req.path = url.path(QUrl::FullyDecoded);
            req.query = QUrlQuery(url);
            m_busy = true;
            QPointer<QObject> guard(this);
            m_dispatch(req, m_socket, [guard] {
                if (guard)
                    static_cast<Connection *>(guard.data())->exchangeDone();
            });
        }
    }

    QTcpSocket *m_socket;
    int m_id;
    std::function<void(const HttpRequest &, QTcpSocket *, std::function<void()>)> m_dispatch;
    QByteArray m_buffer;
    bool m_busy = false;
};

} // namespace

QByteArray HttpRequest::header(const QByteArray &name) const
{
    const QByteArray lower = name.toLower();
    for (const auto &h : headers) {
        if (h.first == lower)
            return h.second;
    }
    return {};
}

QString HttpRequest::queryValue(const QString &key) const
{
    return query.queryItemValue(key, QUrl::FullyDecoded);
}

HttpExchange::HttpExchange(HttpRequest request, QTcpSocket *socket, QObject *parent)
    : QObject(parent)
    , m_request(std::move(request))
    , m_socket(socket)
{
}

bool HttpExchange::connected() const
{
    return m_socket && m_socket->state() == QAbstractSocket::ConnectedState;
}

qint64 HttpExchange::bytesToWrite() const
{
    return m_socket ? m_socket->bytesToWrite() : 0;
}

void HttpExchange::write(const QByteArray &bytes)
{
    if (connected())
        m_socket->write(bytes);
}

void HttpExchange::respond(int status, const QByteArray &body, const HttpHeaders &headers)
{
    HttpHeaders all = headers;
    all.append(qMakePair(QByteArray("Content-Length"), QByteArray::number(body.size())));
    write(statusHead(status, all) + "\r\n" + body);
    m_done = true;
    Q_EMIT completed();
}

void HttpExchange::respondJson(int status, const QByteArray &json, const HttpHeaders &extraHeaders)
{
    HttpHeaders all{qMakePair(QByteArray("Content-Type"), QByteArray("application/json"))};
    all += extraHeaders;
    respond(status, json, all);
}

void HttpExchange::beginChunked(int status, const HttpHeaders &headers)
{
    HttpHeaders all = headers;
    all.append(qMakePair(QByteArray("Transfer-Encoding"), QByteArray("chunked")));
    write(statusHead(status, all) + "\r\n");
}

void HttpExchange::sendChunk(const QByteArray &data)
{
    if (data.isEmpty())
        return;
    write(QByteArray::number(data.size(), 16) + "\r\n" + data + "\r\n");
}

void HttpExchange::endChunked()
{
    write("0\r\n\r\n");
    m_done = true;
    Q_EMIT completed();
}

void HttpExchange::sendRaw(const QByteArray &bytes)
{
    write(bytes);
}

void HttpExchange::closeConnection()
{
    if (m_socket) {
        m_socket->flush();
        m_socket->disconnectFromHost();
    }
}

void HttpExchange::later(int delayMs, std::function<void()> step)
{
    m_scheduledMs += delayMs;
    QTimer::singleShot(m_scheduledMs, this, std::move(step));
}

void HttpExchange::streamChunks(int status, const HttpHeaders &headers,
                                const QList<QPair<int, QByteArray>> &pieces, Ending ending, int endDelayMs)
{
    beginChunked(status, headers);
    for (const auto &piece : pieces) {
        const QByteArray data = piece.second;
        later(piece.first, [this, data] { sendChunk(data); });
    }
    switch (ending) {
    case Ending::End:
        later(endDelayMs, [this] { endChunked(); });
        break;
    case Ending::Close:
        later(endDelayMs, [this] { closeConnection(); });
        break;
    case Ending::Stall:
        break;
    }
}

HttpTestServer::HttpTestServer(Handler handler, QObject *parent)
    : QObject(parent)
    , m_handler(std::move(handler))
{
    connect(&m_server, &QTcpServer::newConnection, this, &HttpTestServer::onNewConnection);
}

HttpTestServer::~HttpTestServer()
{
    dropAllConnections();
}

bool HttpTestServer::listen()
{
    return m_server.listen(QHostAddress::LocalHost, 0);
}

QUrl HttpTestServer::url() const
{
    return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_server.serverPort()));
}

void HttpTestServer::setHandler(Handler handler)
{
    m_handler = std::move(handler);
}

QList<HttpRequest> HttpTestServer::requestsTo(const QString &path) const
{
    QList<HttpRequest> out;
    for (const HttpRequest &r : m_requests) {
        if (r.path == path)
            out.append(r);
    }
    return out;
}

void HttpTestServer::dropAllConnections()
{
    for (const QPointer<QTcpSocket> &s : std::as_const(m_sockets)) {
        if (s)
            s->abort();
    }
    m_sockets.clear();
}

void HttpTestServer::onNewConnection()
{
    while (QTcpSocket *socket = m_server.nextPendingConnection()) {
        const int id = ++m_connections;
        socket->setParent(this);
        m_sockets.append(socket);
        new Connection(socket, id, [this](const HttpRequest &r, QTcpSocket *s, std::function<void()> done) {
            dispatch(r, s, std::move(done));
        });
        connect(socket, &QTcpSocket::disconnected, this, [this, socket, id] {
            Q_EMIT clientDisconnected(id);
            socket->deleteLater();
        });
    }
}

void HttpTestServer::dispatch(const HttpRequest &request, QTcpSocket *socket,
                              std::function<void()> onCompleted)
{
    m_requests.append(request);
    Q_EMIT requestReceived(request);
    auto *exchange = new HttpExchange(request, socket, socket);
    connect(exchange, &HttpExchange::completed, socket, [exchange, onCompleted = std::move(onCompleted)] {
        exchange->deleteLater();
        onCompleted();
    });
    if (m_handler)
        m_handler(exchange);
    else
        exchange->respond(404, "no handler");
}

} // namespace vigil::test
