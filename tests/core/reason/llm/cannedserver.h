#pragma once

// A minimal scripted HTTP/1.1 server on 127.0.0.1 for the LLM tests: one
// response per connection ("Connection: close"), or raw bytes, or a close
// mid-body, or silence. Kept local to these tests so they do not depend on
// the shared httptestserver while it evolves.

#include <QByteArray>
#include <QList>
#include <QPair>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QUrl>
#include <QUrlQuery>

#include <functional>

namespace vigil::test {

using HttpHeaders = QList<QPair<QByteArray, QByteArray>>;

struct HttpRequest {
    QByteArray method;
    QString path;
    QUrlQuery query;
    HttpHeaders headers; ///< names lower-cased
    QByteArray body;

    QByteArray header(const QByteArray &name) const;
    QString queryValue(const QString &key) const { return query.queryItemValue(key, QUrl::FullyDecoded); }
};

/// What to do with one request.
struct CannedResponse {
    enum class Mode { Respond, CloseMidBody, Stall } mode = Mode::Respond;
    int status = 200;
    QByteArray body;
    HttpHeaders headers;
};

class CannedServer final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CannedServer)

public:
    using Handler = std::function<CannedResponse(const HttpRequest &request, int index)>;

    explicit CannedServer(Handler handler, QObject *parent = nullptr);
    bool listen();
    QUrl url() const;
    const QList<HttpRequest> &requests() const { return m_requests; }

private:
    void onConnection();
    void serve(QTcpSocket *socket, QByteArray *buffer);

    QTcpServer m_server;
    Handler m_handler;
    QList<HttpRequest> m_requests;
};

} // namespace vigil::test
