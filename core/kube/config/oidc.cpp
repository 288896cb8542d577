#include "core/kube/config/oidc.h"

#include "core/kube/config/yamlguard.h"

#include <QEventLoop>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QPointer>
#include <QSaveFile>
#include <QSslConfiguration>
#include <QTimer>
#include <QUrlQuery>

#include <yaml-cpp/yaml.h>

namespace vigil::kube {

namespace {

// kubectl treats a token expiring within this window as already expired.
constexpr qint64 kExpiryLeewaySecs = 10;

struct HttpResult {
    int status = 0;
    QByteArray body;
};

QString truncated(const QByteArray &body)
{
    QString s = QString::fromUtf8(body).trimmed();
    return s.size() > 500 ? s.left(500) + QStringLiteral("… (truncated)") : s;
}

// One synchronous request on a private event loop, bounded by timeoutMs.
Result<HttpResult> httpCall(const QNetworkRequest &request, const QByteArray *postBody, int timeoutMs)
{
    QNetworkAccessManager nam;
    QEventLoop loop;
    QTimer timer;
    timer.setSingleShot(true);
    QNetworkReply *reply = postBody ? nam.post(request, *postBody) : nam.get(request);
    bool timedOut = false;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    QObject::connect(&timer, &QTimer::timeout, &loop, [&] {
        timedOut = true;
        reply->abort();
    });
    timer.start(timeoutMs);
    if (!reply->isFinished())
        loop.exec(QEventLoop::ExcludeUserInputEvents);
    reply->deleteLater();
    if (timedOut)
        return Error(
            QStringLiteral("%1 did not answer within %2 ms").arg(request.url().toString()).arg(timeoutMs));
    HttpResult r;
    r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    r.body = reply->readAll();
    if (r.status == 0)
        return Error(QStringLiteral("%1: %2").arg(request.url().toString(), reply->errorString()));
    return r;
}

QNetworkRequest makeRequest(const QUrl &url, const OidcConfig &config)
{
    QNetworkRequest request(url);
    request.setTransferTimeout(config.timeoutMs);
    if (!config.issuerCaCertificates.isEmpty()) {
        QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
        tls.setCaCertificates(config.issuerCaCertificates);
        request.setSslConfiguration(tls);
    }
    return request;
}

} // namespace

QDateTime jwtExpiry(const QString &jwt)
{
    const QStringList parts = jwt.split(QLatin1Char('.'));
    if (parts.size() != 3)
        return {};
    const auto payload = QByteArray::fromBase64Encoding(
        parts.at(1).toLatin1(), QByteArray::Base64UrlEncoding | QByteArray::AbortOnBase64DecodingErrors);
    if (!payload)
        return {};
    const QJsonValue exp = QJsonDocument::fromJson(*payload).object().value(QStringLiteral("exp"));
    if (!exp.isDouble())
        return {};
    return QDateTime::fromSecsSinceEpoch(qint64(exp.toDouble()), Qt::UTC);
}

Result<void> writeBackOidcTokens(const QString &file, const QString &userName, const QString &idToken,
                                 const QString &refreshToken)
{
    auto root = loadYamlFile(file);
    if (!root)
        return root.error();
    try {
        YAML::Node users = (*root)["users"];
        if (!users.IsSequence())
            return Error(
                QStringLiteral("%1: cannot save refreshed OIDC tokens: users is not a list").arg(file));
        for (YAML::Node entry : users) {
            if (!entry.IsMap() || !entry["name"].IsScalar() ||
                entry["name"].Scalar() != userName.toStdString())
                continue;
            YAML::Node config = entry["user"]["auth-provider"]["config"];
            config["id-token"] = idToken.toStdString();
            if (!refreshToken.isEmpty())
                config["refresh-token"] = refreshToken.toStdString();
            YAML::Emitter out;
            out << *root;
            if (!out.good())
                return Error(QStringLiteral("%1: cannot save refreshed OIDC tokens: %2")
                                 .arg(file, QString::fromStdString(out.GetLastError())));
            const QFileDevice::Permissions mode = QFile::permissions(file);
            QSaveFile save(file);
            if (!save.open(QIODevice::WriteOnly))
                return Error(QStringLiteral("%1: cannot save refreshed OIDC tokens: %2")
                                 .arg(file, save.errorString()));
            save.setPermissions(mode);
            save.write(out.c_str(), qint64(out.size()));
            save.write("\n");
            if (!save.commit())
                return Error(QStringLiteral("%1: cannot save refreshed OIDC tokens: %2")
                                 .arg(file, save.errorString()));
            return {};
        }
    } catch (const std::exception &e) {
        return Error(QStringLiteral("%1: cannot save refreshed OIDC tokens: %2")
                         .arg(file, QString::fromUtf8(e.what())));
    }
    return Error(QStringLiteral("%1: cannot save refreshed OIDC tokens: user \"%2\" is no longer in the file")
                     .arg(file, userName));
}

OidcCredentialSource::OidcCredentialSource(OidcConfig config, Credentials base)
    : m_config(std::move(config))
    , m_base(std::move(base))
{
}

QString OidcCredentialSource::where() const
{
    return QStringLiteral("%1: user \"%2\": auth-provider oidc").arg(m_config.sourceFile, m_config.userName);
}

void OidcCredentialSource::invalidate()
{
    const QMutexLocker lock(&m_mutex);
    m_forceRefresh = true;
}

Result<Credentials> OidcCredentialSource::credentials()
{
    const QMutexLocker lock(&m_mutex);
    const QDateTime exp = jwtExpiry(m_config.idToken);
    const bool fresh = exp.isValid() && QDateTime::currentDateTimeUtc().addSecs(kExpiryLeewaySecs) < exp;
    if (!fresh || m_forceRefresh) {
        if (m_config.refreshToken.isEmpty())
            return Error(
                QStringLiteral("%1: the id-token is expired or unreadable and there is no refresh-token; "
                               "log in again")
                    .arg(where()));
        auto refreshed = refresh();
        if (!refreshed)
            return refreshed.error();
        m_forceRefresh = false;
    }
    Credentials c = m_base;
    c.bearerToken = m_config.idToken;
    return c;
}

Result<void> OidcCredentialSource::refresh()
{
    QString issuer = m_config.issuerUrl;
    while (issuer.endsWith(QLatin1Char('/')))
        issuer.chop(1);
    const QUrl discoveryUrl(issuer + QStringLiteral("/.well-known/openid-configuration"));
    auto discovery = httpCall(makeRequest(discoveryUrl, m_config), nullptr, m_config.timeoutMs);
    if (!discovery)
        return Error(QStringLiteral("%1: OIDC discovery failed: %2").arg(where(), discovery.errorMessage()));
    if (discovery->status != 200)
        return Error(QStringLiteral("%1: OIDC discovery at %2 failed: HTTP %3: %4")
                         .arg(where(), discoveryUrl.toString())
                         .arg(discovery->status)
                         .arg(truncated(discovery->body)));
    const QUrl tokenEndpoint(
        QJsonDocument::fromJson(discovery->body).object().value(QStringLiteral("token_endpoint")).toString());
    if (!tokenEndpoint.isValid() || tokenEndpoint.scheme().isEmpty())
        return Error(QStringLiteral("%1: the discovery document at %2 has no valid token_endpoint")
                         .arg(where(), discoveryUrl.toString()));

    // Like Go's oauth2 auto-detection: client credentials in a Basic header
    // first, then in the form body if the endpoint rejects that.
    Result<HttpResult> reply = Error(QString());
    for (const bool inHeader : {true, false}) {
        QUrlQuery form;
        form.addQueryItem(QStringLiteral("grant_type"), QStringLiteral("refresh_token"));
        form.addQueryItem(QStringLiteral("refresh_token"), m_config.refreshToken);
        QNetworkRequest request = makeRequest(tokenEndpoint, m_config);
        request.setHeader(QNetworkRequest::ContentTypeHeader,
                          QStringLiteral("application/x-www-form-urlencoded"));
        if (inHeader) {
            const QByteArray user = QUrl::toPercentEncoding(m_config.clientId);
            const QByteArray pass = QUrl::toPercentEncoding(m_config.clientSecret);
            request.setRawHeader("Authorization", "Basic " + QByteArray(user + ':' + pass).toBase64());
        } else {
            form.addQueryItem(QStringLiteral("client_id"), m_config.clientId);
            if (!m_config.clientSecret.isEmpty())
                form.addQueryItem(QStringLiteral("client_secret"), m_config.clientSecret);
        }
        const QByteArray body = form.query(QUrl::FullyEncoded).toUtf8();
        reply = httpCall(request, &body, m_config.timeoutMs);
        if (!reply)
            return Error(
                QStringLiteral("%1: OIDC token refresh failed: %2").arg(where(), reply.errorMessage()));
        if (reply->status == 200)
            break;
    }
    if (reply->status != 200)
        return Error(QStringLiteral("%1: OIDC token refresh at %2 failed: HTTP %3: %4")
                         .arg(where(), tokenEndpoint.toString())
                         .arg(reply->status)
                         .arg(truncated(reply->body)));
    const QJsonObject token = QJsonDocument::fromJson(reply->body).object();
    const QString idToken = token.value(QStringLiteral("id_token")).toString();
    if (idToken.isEmpty())
        return Error(QStringLiteral("%1: the token response from %2 did not contain an id_token")
                         .arg(where(), tokenEndpoint.toString()));
    const QString refreshToken = token.value(QStringLiteral("refresh_token")).toString();

    m_config.idToken = idToken;
    if (!refreshToken.isEmpty())
        m_config.refreshToken = refreshToken;
    return writeBackOidcTokens(m_config.sourceFile, m_config.userName, m_config.idToken,
                               m_config.refreshToken);
}

} // namespace vigil::kube
