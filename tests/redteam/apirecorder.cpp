#include "apirecorder.h"

#include <QNetworkReply>
#include <QNetworkRequest>
#include <QPointer>
#include <QSslConfiguration>

namespace vigil::redteam {
namespace {

class NoCredentials final : public kube::CredentialSource {
public:
    Result<kube::Credentials> credentials() override { return kube::Credentials(); }
    void invalidate() override {}
    QString method() const override { return QStringLiteral("none"); }
};

} // namespace

ApiRecorder::ApiRecorder(kube::Connection upstream, QObject *parent)
    : QObject(parent)
    , m_upstream(std::move(upstream))
    , m_server([this](test::HttpExchange *ex) { forward(ex); })
{
}

ApiRecorder::~ApiRecorder() = default;

bool ApiRecorder::listen()
{
    return m_server.listen();
}

kube::Connection ApiRecorder::connection() const
{
    kube::Connection c;
    c.server = m_server.url();
    c.namespaceName = m_upstream.namespaceName;
    c.credentials = std::make_shared<NoCredentials>();
    return c;
}

void ApiRecorder::forward(test::HttpExchange *exchange)
{
    QPointer<test::HttpExchange> ex(exchange);
    const test::HttpRequest &in = exchange->request();
    QByteArray base = m_upstream.server.toEncoded();
    while (base.endsWith('/'))
        base.chop(1);
    QNetworkRequest out(QUrl::fromEncoded(base + in.target, QUrl::StrictMode));
    out.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    out.setTransferTimeout(30000);
    for (const char *name : {"content-type", "accept"}) {
        const QByteArray value = in.header(name);
        if (!value.isEmpty())
            out.setRawHeader(name, value);
    }
    kube::Credentials creds;
    if (m_upstream.credentials) {
        if (Result<kube::Credentials> c = m_upstream.credentials->credentials())
            creds = *c;
    }
    if (!creds.bearerToken.isEmpty())
        out.setRawHeader("Authorization", "Bearer " + creds.bearerToken.toUtf8());
    if (m_upstream.server.scheme() == QLatin1String("https")) {
        QSslConfiguration ssl = QSslConfiguration::defaultConfiguration();
        if (!m_upstream.caCertificates.isEmpty())
            ssl.setCaCertificates(m_upstream.caCertificates);
        if (!creds.clientCertificate.isNull()) {
            ssl.setLocalCertificateChain(QList<QSslCertificate>{creds.clientCertificate} +
                                         creds.clientCertificateChain);
            ssl.setPrivateKey(creds.clientKey);
        }
        if (m_upstream.insecureSkipTlsVerify)
            ssl.setPeerVerifyMode(QSslSocket::VerifyNone);
        out.setSslConfiguration(ssl);
        if (!m_upstream.tlsServerName.isEmpty())
            out.setPeerVerifyName(m_upstream.tlsServerName);
    }
    QNetworkReply *reply = in.body.isEmpty() && (in.method == "GET" || in.method == "DELETE")
                               ? m_nam.sendCustomRequest(out, in.method)
                               : m_nam.sendCustomRequest(out, in.method, in.body);
    connect(reply, &QNetworkReply::finished, this, [reply, ex] {
        reply->deleteLater();
        if (!ex)
            return;
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        if (status == 0) {
            ex->respond(502, reply->errorString().toUtf8(), {{"Content-Type", "text/plain"}});
            return;
        }
        QByteArray type = reply->rawHeader("Content-Type");
        if (type.isEmpty())
            type = "application/json";
        ex->respond(status, reply->readAll(), {{"Content-Type", type}});
    });
}

} // namespace vigil::redteam
