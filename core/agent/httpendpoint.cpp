#include "core/agent/httpendpoint.h"

#include <QTcpSocket>
#include <QTimer>
#include <QUrl>

namespace vigil::agent {

namespace {

QByteArray reasonPhrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

} // namespace

Result<ListenAddress> parseListenAddress(const QString &text)
{
    const qsizetype colon = text.lastIndexOf(u':');
    if (colon < 0)
        return Error(QStringLiteral("--listen %1: expected ADDRESS:PORT, e.g. 127.0.0.1:9090").arg(text));
    QString host = text.left(colon);
    bool ok = false;
    const uint port = text.mid(colon + 1).toUInt(&ok);
    if (!ok || port > 65535)
        return Error(QStringLiteral("--listen %1: the port must be a number from 0 to 65535").arg(text));
    if (host.startsWith(u'[') && host.endsWith(u']'))
        host = host.mid(1, host.size() - 2);
    ListenAddress out;
    out.port = static_cast<quint16>(port);
    if (host.isEmpty()) {
        out.address = QHostAddress(QHostAddress::Any);
        return out;
    }
    if (host == u"localhost") {
        out.address = QHostAddress(QHostAddress::LocalHost);
        return out;
    }
    if (!out.address.setAddress(host))
        return Error(QStringLiteral("--listen %1: %2 is not an IP address").arg(text, host));
    return out;
}

HttpEndpoint::HttpEndpoint(QObject *parent)
    : QObject(parent)
{
    connect(&m_server, &QTcpServer::newConnection, this, &HttpEndpoint::onConnection);
}

HttpEndpoint::~HttpEndpoint() = default;

void HttpEndpoint::route(const QString &path, Handler handler)
{
    m_routes.insert(path, std::move(handler));
}

Result<void> HttpEndpoint::listen(const ListenAddress &address)
{
    if (!m_server.listen(address.address, address.port))
        return Error(QStringLiteral("cannot listen on %1:%2: %3")
                         .arg(address.address.toString())
                         .arg(address.port)
                         .arg(m_server.errorString()));
    return {};
}

void HttpEndpoint::close()
{
    m_server.close();
}

void HttpEndpoint::onConnection()
{
    while (QTcpSocket *socket = m_server.nextPendingConnection()) {
        socket->setParent(this);
        connect(socket, &QTcpSocket::readyRead, this, [this, socket] { onReadable(socket); });
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        // A client that never finishes its request must not hold a socket forever.
        QTimer::singleShot(kClientTimeoutMs, socket, [socket] {
            socket->abort();
            socket->deleteLater();
        });
    }
}

void HttpEndpoint::onReadable(QTcpSocket *socket)
{
    if (socket->property("vigilAnswered").toBool()) {
        socket->readAll();
        return;
    }
    QByteArray buffer = socket->property("vigilBuffer").toByteArray() + socket->readAll();
    const qsizetype end = buffer.indexOf("\r\n\r\n");
    if (end < 0) {
        if (buffer.size() > kMaxHeaderBytes)
            return reply(socket, {431, "text/plain; charset=utf-8", "request headers too large\n"}, false);
        socket->setProperty("vigilBuffer", buffer);
        return;
    }
    const QByteArray requestLine = buffer.left(buffer.indexOf("\r\n"));
    const QList<QByteArray> parts = requestLine.split(' ');
    if (parts.size() != 3 || !parts[2].startsWith("HTTP/1."))
        return reply(socket, {400, "text/plain; charset=utf-8", "malformed request line\n"}, false);
    const QByteArray &method = parts[0];
    const bool head = method == "HEAD";
    if (method != "GET" && !head)
        return reply(socket, {405, "text/plain; charset=utf-8", "only GET and HEAD are served\n"}, false);
    const QString path = QUrl(QString::fromLatin1(parts[1])).path();
    const auto it = m_routes.constFind(path);
    if (it == m_routes.cend())
        return reply(socket, {404, "text/plain; charset=utf-8", "not found\n"}, head);
    reply(socket, (*it)(), head);
}

void HttpEndpoint::reply(QTcpSocket *socket, const HttpReply &r, bool head)
{
    socket->setProperty("vigilAnswered", true);
    QByteArray out = "HTTP/1.1 " + QByteArray::number(r.status) + ' ' + reasonPhrase(r.status) + "\r\n";
    out += "Content-Type: " + r.contentType + "\r\n";
    out += "Content-Length: " + QByteArray::number(r.body.size()) + "\r\n";
    out += "Connection: close\r\n\r\n";
    if (!head)
        out += r.body;
    socket->write(out);
    socket->disconnectFromHost();
}

} // namespace vigil::agent
