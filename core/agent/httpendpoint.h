#pragma once

// A tiny HTTP/1.1 server for probes and scraping (/healthz, /readyz,
// /metrics): GET and HEAD only, one request per connection, headers capped at
// 8 KiB, a slow client dropped after 5 s. It serves what the handlers return
// and never blocks the event loop.

#include "core/util/result.h"

#include <QByteArray>
#include <QHash>
#include <QHostAddress>
#include <QObject>
#include <QString>
#include <QTcpServer>

#include <functional>

class QTcpSocket;

namespace vigil::agent {

struct HttpReply {
    int status = 200;
    QByteArray contentType = "text/plain; charset=utf-8";
    QByteArray body;
};

/// An address and port to listen on.
struct ListenAddress {
    QHostAddress address;
    quint16 port = 0;
};

/// Parses "127.0.0.1:9090", "0.0.0.0:9090", "[::1]:9090" or ":9090" (all interfaces).
Result<ListenAddress> parseListenAddress(const QString &text);

class HttpEndpoint final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HttpEndpoint)

public:
    using Handler = std::function<HttpReply()>;

    explicit HttpEndpoint(QObject *parent = nullptr);
    ~HttpEndpoint() override;

    /// Serves path (exact match, query ignored) with handler.
    void route(const QString &path, Handler handler);
    /// Starts listening; port 0 picks a free one. The error names the address.
    Result<void> listen(const ListenAddress &address);
    void close();
    quint16 port() const { return m_server.serverPort(); }

    static constexpr int kMaxHeaderBytes = 8192;
    static constexpr int kClientTimeoutMs = 5000;

private:
    void onConnection();
    void onReadable(QTcpSocket *socket);
    void reply(QTcpSocket *socket, const HttpReply &reply, bool head);

    QTcpServer m_server;
    QHash<QString, Handler> m_routes;
};

} // namespace vigil::agent
