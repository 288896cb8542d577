#include "tcpproxy.h"

#include <QTcpSocket>
#include <QTimer>

#include <sys/socket.h>

#include <algorithm>

namespace vigil::test {

struct TcpProxy::Link {
    QPointer<QTcpSocket> client;
    QPointer<QTcpSocket> upstream;
    QByteArray pendingUp; ///< client bytes that arrived before the upstream connected
    bool upstreamConnected = false;
    bool stalled = false;
    bool closed = false;
    qint64 lastDueUp = 0; ///< delayed chunks keep their order per direction
    qint64 lastDueDown = 0;
};

TcpProxy::TcpProxy(QString targetHost, quint16 targetPort, QObject *parent)
    : QObject(parent)
    , m_targetHost(std::move(targetHost))
    , m_targetPort(targetPort)
{
    m_clock.start();
    connect(&m_server, &QTcpServer::newConnection, this, &TcpProxy::onNewConnection);
}

TcpProxy::~TcpProxy()
{
    const auto links = m_links;
    for (const auto &link : links)
        close(link, CutMode::Close);
}

bool TcpProxy::listen(quint16 port)
{
    return m_server.listen(QHostAddress::LocalHost, port);
}

int TcpProxy::openConnections() const
{
    return static_cast<int>(
        std::count_if(m_links.cbegin(), m_links.cend(), [](const auto &link) { return !link->closed; }));
}

void TcpProxy::resetSocket(QTcpSocket *socket, CutMode mode)
{
    if (!socket)
        return;
    if (mode == CutMode::Reset && socket->socketDescriptor() >= 0) {
        // Linger 0: close() sends RST instead of FIN, like a middlebox dropping the flow.
        const linger l{1, 0};
        ::setsockopt(static_cast<int>(socket->socketDescriptor()), SOL_SOCKET, SO_LINGER, &l, sizeof l);
        socket->abort();
    } else {
        socket->disconnectFromHost();
    }
    socket->deleteLater();
}

void TcpProxy::close(const std::shared_ptr<Link> &link, CutMode mode)
{
    if (link->closed)
        return;
    link->closed = true;
    // Signals first: closing one side must not re-enter for the other.
    if (link->client)
        link->client->disconnect(this);
    if (link->upstream)
        link->upstream->disconnect(this);
    resetSocket(link->client, mode);
    resetSocket(link->upstream, mode);
    m_links.removeAll(link);
}

void TcpProxy::cut(CutMode mode)
{
    const auto links = m_links;
    for (const auto &link : links)
        close(link, mode);
}

void TcpProxy::stall()
{
    for (const auto &link : std::as_const(m_links))
        link->stalled = true;
}

void TcpProxy::stallFor(int ms)
{
    stall();
    m_stallUntil = m_clock.elapsed() + ms;
}

void TcpProxy::refuseFor(int ms)
{
    m_refuseUntil = m_clock.elapsed() + ms;
}

void TcpProxy::onNewConnection()
{
    while (QTcpSocket *client = m_server.nextPendingConnection()) {
        ++m_accepted;
        if (m_clock.elapsed() < m_refuseUntil) {
            resetSocket(client, CutMode::Reset);
            continue;
        }
        auto link = std::make_shared<Link>();
        link->client = client;
        link->stalled = m_clock.elapsed() < m_stallUntil;
        auto *upstream = new QTcpSocket(this);
        link->upstream = upstream;
        client->setParent(this);
        m_links.append(link);
        const std::weak_ptr<Link> weak = link;

        connect(upstream, &QTcpSocket::connected, this, [this, weak] {
            const auto l = weak.lock();
            if (!l || l->closed)
                return;
            l->upstreamConnected = true;
            if (!l->pendingUp.isEmpty() && !l->stalled)
                write(l, true, std::exchange(l->pendingUp, QByteArray()));
        });
        connect(client, &QTcpSocket::readyRead, this, [this, weak] {
            if (const auto l = weak.lock())
                forward(l, true);
        });
        connect(upstream, &QTcpSocket::readyRead, this, [this, weak] {
            if (const auto l = weak.lock())
                forward(l, false);
        });
        // One side went away: so does the other (RST stays RST, FIN stays FIN).
        const auto onGone = [this, weak](bool error) {
            const auto l = weak.lock();
            if (!l || l->closed)
                return;
            // A clean end waits for delayed chunks still on their way.
            const qint64 wait = std::max(l->lastDueUp, l->lastDueDown) - m_clock.elapsed();
            if (error || wait <= 0) {
                close(l, error ? CutMode::Reset : CutMode::Close);
                return;
            }
            QTimer::singleShot(std::chrono::milliseconds(wait + 1), this, [this, weak] {
                if (const auto late = weak.lock())
                    close(late, CutMode::Close);
            });
        };
        connect(client, &QTcpSocket::disconnected, this, [onGone] { onGone(false); });
        connect(upstream, &QTcpSocket::disconnected, this, [onGone] { onGone(false); });
        connect(client, &QTcpSocket::errorOccurred, this, [onGone](QAbstractSocket::SocketError e) {
            onGone(e != QAbstractSocket::RemoteHostClosedError);
        });
        connect(upstream, &QTcpSocket::errorOccurred, this, [onGone](QAbstractSocket::SocketError e) {
            onGone(e != QAbstractSocket::RemoteHostClosedError);
        });
        upstream->connectToHost(m_targetHost, m_targetPort);
        if (client->bytesAvailable() > 0)
            forward(link, true);
    }
}

void TcpProxy::forward(const std::shared_ptr<Link> &link, bool fromClient)
{
    QTcpSocket *from = fromClient ? link->client.data() : link->upstream.data();
    if (!from || link->closed)
        return;
    const QByteArray data = from->readAll();
    if (data.isEmpty() || link->stalled)
        return; // a stalled path swallows everything
    if (fromClient && !link->upstreamConnected) {
        link->pendingUp.append(data);
        return;
    }
    const qint64 now = m_clock.elapsed();
    qint64 &lastDue = fromClient ? link->lastDueUp : link->lastDueDown;
    const qint64 due = std::max(now + m_delayMs, lastDue);
    lastDue = due;
    if (due <= now) {
        write(link, fromClient, data);
        return;
    }
    const std::weak_ptr<Link> weak = link;
    QTimer::singleShot(std::chrono::milliseconds(due - now), this, [this, weak, fromClient, data] {
        if (const auto l = weak.lock())
            write(l, fromClient, data);
    });
}

void TcpProxy::write(const std::shared_ptr<Link> &link, bool toUpstream, const QByteArray &data)
{
    QTcpSocket *to = toUpstream ? link->upstream.data() : link->client.data();
    if (!to || link->closed || link->stalled)
        return;
    m_bytes += data.size();
    to->write(data);
}

} // namespace vigil::test
