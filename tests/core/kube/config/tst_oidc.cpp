#include "core/kube/config/oidc.h"

#include "core/kube/config/kubeconfig.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QUrlQuery>

using namespace vigil::kube;

namespace {

QString jwt(qint64 expOffsetSecs, const QString &subject)
{
    auto part = [](const QJsonObject &o) {
        return QString::fromLatin1(
            QJsonDocument(o)
                .toJson(QJsonDocument::Compact)
                .toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
    };
    const qint64 exp = QDateTime::currentDateTimeUtc().toSecsSinceEpoch() + expOffsetSecs;
    return part({{QStringLiteral("alg"), QStringLiteral("none")}}) + QLatin1Char('.') +
           part({{QStringLiteral("sub"), subject}, {QStringLiteral("exp"), exp}}) + QStringLiteral(".c2ln");
}

struct SeenRequest {
    QByteArray method, path, authorization, body;
};

// A minimal OIDC issuer: discovery document plus a scripted token endpoint.
class Issuer final : public QObject {
public:
    int tokenStatus = 200;
    QByteArray tokenBody;
    QList<SeenRequest> seen;

    bool listen()
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *s = m_server.nextPendingConnection()) {
                s->setParent(this);
                connect(s, &QTcpSocket::readyRead, this, [this, s] { onData(s); });
            }
        });
        return m_server.listen(QHostAddress::LocalHost, 0);
    }
    QString url() const { return QStringLiteral("http://127.0.0.1:%1/realm/").arg(m_server.serverPort()); }

private:
    void onData(QTcpSocket *s)
    {
        QByteArray &buf = m_buffers[s];
        buf += s->readAll();
        const qsizetype headerEnd = buf.indexOf("\r\n\r\n");
        if (headerEnd < 0)
            return;
        const QList<QByteArray> lines = buf.left(headerEnd).split('\n');
        qsizetype length = 0;
        SeenRequest req;
        const QList<QByteArray> first = lines.first().trimmed().split(' ');
        req.method = first.value(0);
        req.path = first.value(1);
        for (const QByteArray &l : lines) {
            const QByteArray lower = l.toLower();
            if (lower.startsWith("content-length:"))
                length = l.mid(15).trimmed().toLongLong();
            if (lower.startsWith("authorization:"))
                req.authorization = l.mid(14).trimmed();
        }
        if (buf.size() < headerEnd + 4 + length)
            return;
        req.body = buf.mid(headerEnd + 4, length);
        seen << req;
        int status = 404;
        QByteArray body = "{}";
        if (req.path == "/realm/.well-known/openid-configuration") {
            status = 200;
            body = QStringLiteral(R"({"issuer":"%1","token_endpoint":"%2token"})").arg(url(), url()).toUtf8();
        } else if (req.path == "/realm/token" && req.method == "POST") {
            status = tokenStatus;
            body = tokenBody;
        }
        s->write("HTTP/1.1 " + QByteArray::number(status) +
                 " X\r\nContent-Type: application/json\r\nConnection: close\r\n"
                 "Content-Length: " +
                 QByteArray::number(body.size()) + "\r\n\r\n" + body);
        s->disconnectFromHost();
        m_buffers.remove(s);
    }

    QTcpServer m_server;
    QHash<QTcpSocket *, QByteArray> m_buffers;
};

QByteArray kubeconfig(const QString &issuer, const QString &idToken, const QString &refreshToken)
{
    return QStringLiteral(
               "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
               "clusters:\n- name: k\n  cluster:\n    server: https://k.example:6443\n"
               "users:\n- name: other\n  user:\n    token: untouched\n"
               "- name: u\n  user:\n    auth-provider:\n      name: oidc\n      config:\n"
               "        client-id: kube\n        client-secret: s3cret\n        idp-issuer-url: %1\n"
               "        id-token: %2\n%3"
               "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n    namespace: team\n")
        .arg(issuer, idToken,
             refreshToken.isEmpty()
                 ? QString()
                 : QStringLiteral("        refresh-token: ") + refreshToken + QLatin1Char('\n'))
        .toUtf8();
}

} // namespace

class TestOidc final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void credentials_data();
    void credentials();
    void invalidateForcesRefresh();
    void jwtExpiryDecodes();
};

void TestOidc::credentials_data()
{
    QTest::addColumn<qint64>("idTokenExp");
    QTest::addColumn<QString>("refreshToken");
    QTest::addColumn<int>("tokenStatus");
    QTest::addColumn<QByteArray>("tokenBody");
    QTest::addColumn<bool>("issuerUp");
    QTest::addColumn<QString>("expectToken"); // "old", "new", or empty for an error
    QTest::addColumn<QStringList>("expectError");
    QTest::addColumn<int>("expectRequests");

    const QByteArray good =
        QJsonDocument(QJsonObject{{QStringLiteral("id_token"), jwt(3600, QStringLiteral("new"))},
                                  {QStringLiteral("refresh_token"), QStringLiteral("new-refresh")},
                                  {QStringLiteral("access_token"), QStringLiteral("at")}})
            .toJson(QJsonDocument::Compact);
    QTest::newRow("fresh id-token used without contacting the issuer")
        << qint64(3600) << QStringLiteral("old-refresh") << 200 << good << true << QStringLiteral("old")
        << QStringList() << 0;
    QTest::newRow("expired id-token refreshed and written back")
        << qint64(-3600) << QStringLiteral("old-refresh") << 200 << good << true << QStringLiteral("new")
        << QStringList() << 2;
    QTest::newRow("token expiring within the leeway is refreshed")
        << qint64(5) << QStringLiteral("old-refresh") << 200 << good << true << QStringLiteral("new")
        << QStringList() << 2;
    QTest::newRow("refresh rejected gives a clear error")
        << qint64(-3600) << QStringLiteral("old-refresh") << 400 << QByteArray(R"({"error":"invalid_grant"})")
        << true << QString()
        << QStringList{QStringLiteral("HTTP 400"), QStringLiteral("invalid_grant"),
                       QStringLiteral("user \"u\""), QStringLiteral("/config")}
        << 3;
    QTest::newRow("token response without id_token")
        << qint64(-3600) << QStringLiteral("old-refresh") << 200 << QByteArray(R"({"access_token":"x"})")
        << true << QString() << QStringList{QStringLiteral("did not contain an id_token")} << 2;
    QTest::newRow("expired without refresh-token")
        << qint64(-3600) << QString() << 200 << good << true << QString()
        << QStringList{QStringLiteral("no refresh-token")} << 0;
    QTest::newRow("issuer unreachable")
        << qint64(-3600) << QStringLiteral("old-refresh") << 200 << good << false << QString()
        << QStringList{QStringLiteral("OIDC discovery failed"), QStringLiteral("user \"u\"")} << 0;
}

void TestOidc::credentials()
{
    QFETCH(qint64, idTokenExp);
    QFETCH(QString, refreshToken);
    QFETCH(int, tokenStatus);
    QFETCH(QByteArray, tokenBody);
    QFETCH(bool, issuerUp);
    QFETCH(QString, expectToken);
    QFETCH(QStringList, expectError);
    QFETCH(int, expectRequests);

    Issuer issuer;
    QVERIFY(issuer.listen());
    issuer.tokenStatus = tokenStatus;
    issuer.tokenBody = tokenBody;
    QString issuerUrl = issuer.url();
    if (!issuerUp) {
        QTcpServer closed;
        QVERIFY(closed.listen(QHostAddress::LocalHost, 0));
        issuerUrl = QStringLiteral("http://127.0.0.1:%1/").arg(closed.serverPort());
    } // the port is closed again here

    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("config"));
    const QString oldToken = jwt(idTokenExp, QStringLiteral("old"));
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(kubeconfig(issuerUrl, oldToken, refreshToken));
    f.close();
    QVERIFY(QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner));
    const QByteArray before = [&] {
        QFile r(path);
        r.open(QIODevice::ReadOnly);
        return r.readAll();
    }();

    LoadOptions opts;
    opts.explicitPath = path;
    opts.oidcTimeoutMs = 5000;
    const auto config = KubeConfig::load(opts);
    QVERIFY2(config.ok(), qPrintable(config.errorMessage()));
    const auto conn = config->resolve();
    QVERIFY2(conn.ok(), qPrintable(conn.errorMessage()));
    QCOMPARE(conn->credentials->method(), QStringLiteral("oidc"));

    const auto creds = conn->credentials->credentials();
    QCOMPARE(issuer.seen.size(), expectRequests);
    QFile after(path);
    QVERIFY(after.open(QIODevice::ReadOnly));
    const QByteArray afterBytes = after.readAll();

    if (!expectError.isEmpty()) {
        QVERIFY(!creds.ok());
        for (const QString &part : expectError)
            QVERIFY2(creds.errorMessage().contains(part), qPrintable(creds.errorMessage()));
        QCOMPARE(afterBytes, before); // nothing written on failure
        return;
    }
    QVERIFY2(creds.ok(), qPrintable(creds.errorMessage()));
    if (expectToken == QLatin1String("old")) {
        QCOMPARE(creds->bearerToken, oldToken);
        QCOMPARE(afterBytes, before);
        return;
    }
    QVERIFY(jwtExpiry(creds->bearerToken) > QDateTime::currentDateTimeUtc().addSecs(3000));
    QVERIFY(creds->bearerToken != oldToken);

    // The refresh request: refresh_token grant with client credentials in Basic auth.
    const SeenRequest &tokenRequest = issuer.seen.at(1);
    QCOMPARE(tokenRequest.path, QByteArray("/realm/token"));
    const QUrlQuery form(QString::fromUtf8(tokenRequest.body));
    QCOMPARE(form.queryItemValue(QStringLiteral("grant_type")), QStringLiteral("refresh_token"));
    QCOMPARE(form.queryItemValue(QStringLiteral("refresh_token")), QStringLiteral("old-refresh"));
    QCOMPARE(tokenRequest.authorization, QByteArray("Basic ") + QByteArray("kube:s3cret").toBase64());

    // Written back like kubectl: new tokens in the file, the rest kept, mode kept, still parses.
    QVERIFY(afterBytes.contains(creds->bearerToken.toUtf8()));
    QVERIFY(afterBytes.contains("new-refresh"));
    QVERIFY(!afterBytes.contains(oldToken.toUtf8()));
    const QFileDevice::Permissions ownerGroupOther(0x7777 &
                                                   ~0x0700); // Qt's "User" bits duplicate the owner's
    QCOMPARE(QFile::permissions(path) & ownerGroupOther, QFile::ReadOwner | QFile::WriteOwner);
    const auto reloaded = KubeConfig::load(opts);
    QVERIFY2(reloaded.ok(), qPrintable(reloaded.errorMessage()));
    const auto reConn = reloaded->resolve();
    QVERIFY2(reConn.ok(), qPrintable(reConn.errorMessage()));
    QCOMPARE(reConn->namespaceName, QStringLiteral("team"));
    QCOMPARE(reConn->server.toString(), QStringLiteral("https://k.example:6443"));
    QCOMPARE(reConn->credentials->credentials()->bearerToken,
             creds->bearerToken); // fresh now: no new request
    QCOMPARE(issuer.seen.size(), expectRequests);
    QVERIFY(afterBytes.contains("untouched"));
}

void TestOidc::invalidateForcesRefresh()
{
    Issuer issuer;
    QVERIFY(issuer.listen());
    issuer.tokenBody =
        QJsonDocument(QJsonObject{{QStringLiteral("id_token"), jwt(3600, QStringLiteral("rotated"))}})
            .toJson();
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("config"));
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    const QString fresh = jwt(3600, QStringLiteral("fresh"));
    f.write(kubeconfig(issuer.url(), fresh, QStringLiteral("keep-me")));
    f.close();

    OidcConfig config;
    config.clientId = QStringLiteral("kube");
    config.issuerUrl = issuer.url();
    config.idToken = fresh;
    config.refreshToken = QStringLiteral("keep-me");
    config.sourceFile = path;
    config.userName = QStringLiteral("u");
    config.timeoutMs = 5000;
    OidcCredentialSource source(config);
    QCOMPARE(source.credentials()->bearerToken, fresh);
    QCOMPARE(issuer.seen.size(), 0);
    source.invalidate(); // the server said 401
    const auto renewed = source.credentials();
    QVERIFY2(renewed.ok(), qPrintable(renewed.errorMessage()));
    QVERIFY(renewed->bearerToken != fresh);
    QCOMPARE(issuer.seen.size(), 2);
    QFile after(path);
    QVERIFY(after.open(QIODevice::ReadOnly));
    const QByteArray text = after.readAll();
    QVERIFY(text.contains(renewed->bearerToken.toUtf8()));
    QVERIFY(text.contains("keep-me")); // no new refresh token returned: the old one stays
    QCOMPARE(source.credentials()->bearerToken, renewed->bearerToken);
    QCOMPARE(issuer.seen.size(), 2);
}

void TestOidc::jwtExpiryDecodes()
{
    const QString token = jwt(100, QStringLiteral("x"));
    const qint64 delta = QDateTime::currentDateTimeUtc().secsTo(jwtExpiry(token));
    QVERIFY(delta >= 98 && delta <= 100);
    QVERIFY(!jwtExpiry(QStringLiteral("not-a-jwt")).isValid());
    QVERIFY(!jwtExpiry(QStringLiteral("a.%%%.c")).isValid());
}

QTEST_GUILESS_MAIN(TestOidc)
#include "tst_oidc.moc"
