#include "cannedserver.h"

#include <memory>

namespace vigil::test {

QByteArray HttpRequest::header(const QByteArray &name) const
{
    const QByteArray lower = name.toLower();
    for (const auto &h : headers)
        if (h.first == lower)
            return h.second;
    return {};
}

CannedServer::CannedServer(Handler handler, QObject *parent)
    : QObject(parent)
    , m_handler(std::move(handler))
{
    connect(&m_server, &QTcpServer::newConnection, this, &CannedServer::onConnection);
}

bool CannedServer::listen()
{
    return m_server.listen(QHostAddress::LocalHost, 0);
}

QUrl CannedServer::url() const
{
    return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_server.serverPort()));
}

void CannedServer::onConnection()
{
    while (QTcpSocket *socket = m_server.nextPendingConnection()) {
        socket->setParent(this);
        auto buffer = std::make_shared<QByteArray>();
        connect(socket, &QTcpSocket::readyRead, this, [this, socket, buffer]() {
            *buffer += socket->readAll();
            serve(socket, buffer.get());
        });
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    }
}

void CannedServer::serve(QTcpSocket *socket, QByteArray *buffer)
{
    const qsizetype headEnd = buffer->indexOf("\r\n\r\n");
    if (headEnd < 0)
        return;
    HttpRequest req;
    const QList<QByteArray> lines = buffer->left(headEnd).split('\n');
    const QList<QByteArray> first = lines.value(0).trimmed().split(' ');
    req.method = first.value(0);
    qsizetype length = 0;
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray line = lines[i].trimmed();
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0)
            continue;
        req.headers.append({line.left(colon).trimmed().toLower(), line.mid(colon + 1).trimmed()});
        if (req.headers.last().first == "content-length")
            length = req.headers.last().second.toLongLong();
    }
    if (buffer->size() < headEnd + 4 + length)
        return;
    req.body = buffer->mid(headEnd + 4, length);
    buffer->clear();
    const QUrl url(QStringLiteral("http://x") + QString::fromLatin1(first.value(1)));
    req.path = url.path(QUrl::FullyDecoded);
    req.query = QUrlQuery(url);
    m_requests.append(req);

    const CannedResponse r = m_handler(req, static_cast<int>(m_requests.size()) - 1);
    if (r.mode == CannedResponse::Mode::Stall)
        return;
    QByteArray head = "HTTP/1.1 " + QByteArray::number(r.status) + " Canned\r\nConnection: close\r\n";
    bool typed = false;
    for (const auto &h : r.headers) {
        head += h.first + ": " + h.second + "\r\n";
        typed = typed || h.first.toLower() == "content-type";
    }
    if (!typed)
        head += "Content-Type: application/json\r\n";
    if (r.mode == CannedResponse::Mode::CloseMidBody) {
        // Promise more than we send, then hang up.
        socket->write(head + "Content-Length: " + QByteArray::number(r.body.size() + 1000) + "\r\n\r\n" +
                      r.body.left(r.body.size() / 2));
        socket->flush();
        socket->disconnectFromHost();
        return;
    }
    socket->write(head + "Content-Length: " + QByteArray::number(r.body.size()) + "\r\n\r\n" + r.body);
    socket->disconnectFromHost();
}

} // namespace vigil::test
