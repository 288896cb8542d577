#pragma once

// A scriptable HTTP/1.1 server for tests: an in-process QTcpServer on
// 127.0.0.1 (port 0) whose handler sees each request and decides, possibly
// later and in pieces, what goes back. It exists for faults a real server
// cannot be made to produce on demand: chunked streams split anywhere,
// stalls, connections closed mid-stream, malformed bytes.
//
// Usage:
//   vigil::test::HttpTestServer server([](vigil::test::HttpExchange *ex) {
//       if (ex->request().path == QLatin1String("/ok"))
//           ex->respond(200, "{}", {{"Content-Type", "application/json"}});
//       else
//           ex->streamChunks(200, {}, {{0, "a\n"}, {50, "b\n"}}, HttpExchange::Ending::Close);
//   });
//   QVERIFY(server.listen());
//   QUrl base = server.url();
//
// Everything runs on the thread that owns the server (the test's), driven
// by its event loop (QSignalSpy::wait, QTRY_*). Connections are keep-alive:
// after a complete response the next request on the same socket is served.

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QPair>
#include <QPointer>
#include <QString>
#include <QTcpServer>
#include <QUrl>
#include <QUrlQuery>

#include <functional>

class QTcpSocket;

namespace vigil::test {

using HttpHeaders = QList<QPair<QByteArray, QByteArray>>;

/// One parsed request.
struct HttpRequest {
    QByteArray method; ///< "GET", "PATCH", ...
    QByteArray target; ///< the request target as sent: "/path?query"
    QString path;      ///< percent-decoded path without the query
    QUrlQuery query;
    HttpHeaders headers; ///< names lower-cased, in order
    QByteArray body;
    int connectionId = 0; ///< 1-based index of the TCP connection it came on

    /// First value of a header (name is case-insensitive); empty when absent.
    QByteArray header(const QByteArray &name) const;
    /// Query item value, fully decoded.
    QString queryValue(const QString &key) const;
};

/// One request and its response in progress. Owned by its connection; a
/// handler may keep a QPointer to it and answer later. Writes after the
/// client went away are ignored.
class HttpExchange final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HttpExchange)

public:
    enum class Ending {
        End,   ///< send the terminating zero-length chunk; the connection stays usable
        Close, ///< close the TCP connection without ending the chunked body (truncation)
        Stall, ///< send nothing more and keep the connection open
    };

    HttpExchange(HttpRequest request, QTcpSocket *socket, QObject *parent);

    const HttpRequest &request() const { return m_request; }
    /// True while the client's connection is open.
    bool connected() const;
    /// Bytes written but not yet taken by the TCP stack (it stops taking them when the client stops
    /// reading).
    qint64 bytesToWrite() const;

    /// A complete response with Content-Length.
    void respond(int status, const QByteArray &body, const HttpHeaders &headers = {});
    /// A complete JSON response.
    void respondJson(int status, const QByteArray &json, const HttpHeaders &extraHeaders = {});

    /// Status line and headers with "Transfer-Encoding: chunked"; follow with sendChunk().
    void beginChunked(int status, const HttpHeaders &headers = {});
    /// One chunk, framed; empty data is ignored (it would end the body).
    void sendChunk(const QByteArray &data);
    /// The terminating chunk: the response is complete.
    void endChunked();
    /// Bytes written to the socket as they are, without framing.
    void sendRaw(const QByteArray &bytes);
    /// Closes the TCP connection now.
    void closeConnection();

    /// Runs step after delayMs, counted from the previous later() call's time
    /// (steps run in order). Dropped if the exchange is gone.
    void later(int delayMs, std::function<void()> step);
    /// A chunked response scripted as (delay ms, data) pieces and an ending.
    void streamChunks(int status, const HttpHeaders &headers, const QList<QPair<int, QByteArray>> &pieces,
                      Ending ending, int endDelayMs = 0);

Q_SIGNALS:
    /// The response is complete (respond() or endChunked()).
    void completed();

private:
    void write(const QByteArray &bytes);

    HttpRequest m_request;
    QPointer<QTcpSocket> m_socket;
    int m_scheduledMs = 0;
    bool m_done = false;
};

/// The server. Construct with a handler, then listen().
class HttpTestServer final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HttpTestServer)

public:
    /// Called once per request; must eventually answer or deliberately not.
    using Handler = std::function<void(HttpExchange *exchange)>;

    explicit HttpTestServer(Handler handler = {}, QObject *parent = nullptr);
    ~HttpTestServer() override;

    /// Listens on 127.0.0.1 with a free port.
    bool listen();
    /// "http://127.0.0.1:<port>".
    QUrl url() const;
    void setHandler(Handler handler);

    /// Every request received so far, in order.
    const QList<HttpRequest> &requests() const { return m_requests; }
    /// Requests whose path equals path.
    QList<HttpRequest> requestsTo(const QString &path) const;
    /// TCP connections accepted so far.
    int connectionCount() const { return m_connections; }
    /// Closes every open connection (simulates a server restart).
    void dropAllConnections();

Q_SIGNALS:
    void requestReceived(const vigil::test::HttpRequest &request);
    void clientDisconnected(int connectionId);

private:
    void onNewConnection();
    void dispatch(const HttpRequest &request, QTcpSocket *socket, std::function<void()> onCompleted);

    QTcpServer m_server;
    Handler m_handler;
    QList<HttpRequest> m_requests;
    QList<QPointer<QTcpSocket>> m_sockets;
    int m_connections = 0;
};

} // namespace vigil::test
