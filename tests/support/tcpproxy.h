#pragma once

// An in-process TCP proxy for fault injection: listens on 127.0.0.1 (port 0)
// and forwards raw bytes to a target host:port, so TLS passes through
// untouched (point the client at the proxy port, keep verifying the server's
// certificate). Faults a network can produce, on demand:
//   cut()          every open connection is reset (RST) or closed (FIN);
//   stall()        every open connection goes silent in both directions and
//                  is never closed: a half-open path the TCP stack does not
//                  notice. New connections during stallFor() are silent too;
//   setDelayMs()   every chunk is delivered late (a slow link);
//   refuseFor()    new connections are reset at once for a while.
//
// Everything runs on the thread that owns the proxy, driven by its event loop.

#include <QElapsedTimer>
#include <QHostAddress>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QTcpServer>

#include <memory>

class QTcpSocket;

namespace vigil::test {

class TcpProxy final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(TcpProxy)

public:
    enum class CutMode { Reset, Close };

    TcpProxy(QString targetHost, quint16 targetPort, QObject *parent = nullptr);
    ~TcpProxy() override;

    /// Starts listening on 127.0.0.1, on `port` or a free one when 0.
    bool listen(quint16 port = 0);
    quint16 port() const { return m_server.serverPort(); }

    /// Ends every open connection, both sides.
    void cut(CutMode mode = CutMode::Reset);
    /// Open connections stop forwarding forever (no FIN, no RST); they end only when a side closes.
    void stall();
    /// stall(), and connections accepted in the next `ms` are silent too.
    void stallFor(int ms);
    /// Each chunk is forwarded this many ms after it arrived; 0 = at once.
    void setDelayMs(int ms) { m_delayMs = ms; }
    /// New connections are reset at once for `ms` (existing ones are left alone).
    void refuseFor(int ms);

    int openConnections() const;
    int acceptedTotal() const { return m_accepted; }
    qint64 bytesForwarded() const { return m_bytes; }

private:
    struct Link;

    void onNewConnection();
    void forward(const std::shared_ptr<Link> &link, bool fromClient);
    void write(const std::shared_ptr<Link> &link, bool toUpstream, const QByteArray &data);
    void close(const std::shared_ptr<Link> &link, CutMode mode);
    static void resetSocket(QTcpSocket *socket, CutMode mode);

    QString m_targetHost;
    quint16 m_targetPort;
    QTcpServer m_server;
    QList<std::shared_ptr<Link>> m_links;
    int m_delayMs = 0;
    QElapsedTimer m_clock;
    qint64 m_refuseUntil = -1;
    qint64 m_stallUntil = -1;
    int m_accepted = 0;
    qint64 m_bytes = 0;
};

} // namespace vigil::test
