#pragma once

// A recording reverse proxy in front of a real API server: clients talk plain
// HTTP to 127.0.0.1 without credentials; every request is recorded, then
// forwarded with the upstream connection's TLS settings and credentials, and
// the upstream's status, body and content type go back. What the recorder
// saw is what reached the API server, so tests can count mutating requests at
// the server's door rather than trusting the client's own account.
// Plain request/response only (no watches or streams).

#include "core/kube/connection.h"
#include "httptestserver.h"

#include <QNetworkAccessManager>
#include <QObject>

namespace vigil::redteam {

class ApiRecorder final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ApiRecorder)

public:
    explicit ApiRecorder(kube::Connection upstream, QObject *parent = nullptr);
    ~ApiRecorder() override;

    bool listen();
    /// A connection to the recorder (http://127.0.0.1:<port>, no credentials).
    kube::Connection connection() const;
    /// Every request received, in order.
    const test::HttpTestServer &server() const { return m_server; }

private:
    void forward(test::HttpExchange *exchange);

    kube::Connection m_upstream;
    QNetworkAccessManager m_nam;
    test::HttpTestServer m_server;
};

} // namespace vigil::redteam
