// HttpEndpoint: the probe/metrics server answers real HTTP clients (QNetworkAccessManager
// and a raw socket) and refuses what it does not serve.

#include "core/agent/httpendpoint.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTest>

using namespace vigil;
using namespace vigil::agent;

class TestHttpEndpoint final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void parseListen_data();
    void parseListen();
    void routes_data();
    void routes();
    void rawRequests_data();
    void rawRequests();
    void busyPortIsAnError();
};

void TestHttpEndpoint::parseListen_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("address");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("error");
    QTest::newRow("loopback") << "127.0.0.1:9090"
                              << "127.0.0.1" << 9090 << QString();
    QTest::newRow("all IPv4 interfaces") << "0.0.0.0:8080"
                                         << "0.0.0.0" << 8080 << QString();
    QTest::newRow("bracketed IPv6") << "[::1]:9090"
                                    << "::1" << 9090 << QString();
    QTest::newRow("no host means any address")
        << ":9090" << QHostAddress(QHostAddress::Any).toString() << 9090 << QString();
    QTest::newRow("localhost") << "localhost:1"
                               << "127.0.0.1" << 1 << QString();
    QTest::newRow("no port") << "127.0.0.1" << QString() << 0 << "expected ADDRESS:PORT";
    QTest::newRow("port out of range") << "127.0.0.1:70000" << QString() << 0 << "0 to 65535";
    QTest::newRow("host name is not an address") << "example.com:80" << QString() << 0 << "not an IP address";
}

void TestHttpEndpoint::parseListen()
{
    QFETCH(QString, text);
    QFETCH(QString, address);
    QFETCH(int, port);
    QFETCH(QString, error);
    const Result<ListenAddress> r = parseListenAddress(text);
    QCOMPARE(r.ok(), error.isEmpty());
    if (!r) {
        QVERIFY2(r.errorMessage().contains(error), qPrintable(r.errorMessage()));
        QVERIFY(r.errorMessage().contains(text));
        return;
    }
    QCOMPARE(r->address.toString(), address);
    QCOMPARE(int(r->port), port);
}

void TestHttpEndpoint::routes_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QByteArray>("contentType");
    QTest::newRow("healthz") << "/healthz" << 200 << QByteArray("ok\n")
                             << QByteArray("text/plain; charset=utf-8");
    QTest::newRow("readyz not ready is 503") << "/readyz" << 503 << QByteArray("informers not synced: pods\n")
                                             << QByteArray("text/plain; charset=utf-8");
    QTest::newRow("metrics with its content type") << "/metrics?x=1" << 200 << QByteArray("a_total 1\n")
                                                   << QByteArray("text/plain; version=0.0.4; charset=utf-8");
    QTest::newRow("unknown path") << "/nope" << 404 << QByteArray("not found\n")
                                  << QByteArray("text/plain; charset=utf-8");
}

void TestHttpEndpoint::routes()
{
    QFETCH(QString, path);
    QFETCH(int, status);
    QFETCH(QByteArray, body);
    QFETCH(QByteArray, contentType);
    HttpEndpoint endpoint;
    endpoint.route("/healthz", [] { return HttpReply{200, "text/plain; charset=utf-8", "ok\n"}; });
    endpoint.route("/readyz", [] {
        return HttpReply{503, "text/plain; charset=utf-8", "informers not synced: pods\n"};
    });
    endpoint.route("/metrics", [] {
        return HttpReply{200, "text/plain; version=0.0.4; charset=utf-8", "a_total 1\n"};
    });
    QVERIFY(endpoint.listen({QHostAddress(QHostAddress::LocalHost), 0}));
    QVERIFY(endpoint.port() != 0);
    QNetworkAccessManager nam;
    QNetworkReply *reply =
        nam.get(QNetworkRequest(QUrl(QString("http://127.0.0.1:%1%2").arg(endpoint.port()).arg(path))));
    QSignalSpy done(reply, &QNetworkReply::finished);
    QVERIFY(done.wait(5000));
    QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), status);
    QCOMPARE(reply->readAll(), body);
    QCOMPARE(reply->header(QNetworkRequest::ContentTypeHeader).toByteArray(), contentType);
    reply->deleteLater();
}

void TestHttpEndpoint::rawRequests_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<QByteArray>("statusLine");
    QTest::addColumn<bool>("hasBody");
    QTest::newRow("HEAD answers headers only")
        << QByteArray("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n") << QByteArray("HTTP/1.1 200 OK") << false;
    QTest::newRow("POST is refused") << QByteArray("POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
                                     << QByteArray("HTTP/1.1 405 Method Not Allowed") << true;
    QTest::newRow("garbage request line")
        << QByteArray("hello\r\n\r\n") << QByteArray("HTTP/1.1 400 Bad Request") << true;
    QTest::newRow("headers beyond 8 KiB")
        << QByteArray("GET /healthz HTTP/1.1\r\nX: " + QByteArray(9000, 'a'))
        << QByteArray("HTTP/1.1 431 Request Header Fields Too Large") << true;
}

void TestHttpEndpoint::rawRequests()
{
    QFETCH(QByteArray, request);
    QFETCH(QByteArray, statusLine);
    QFETCH(bool, hasBody);
    HttpEndpoint endpoint;
    endpoint.route("/healthz", [] { return HttpReply{200, "text/plain; charset=utf-8", "ok\n"}; });
    QVERIFY(endpoint.listen({QHostAddress(QHostAddress::LocalHost), 0}));
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, endpoint.port());
    QVERIFY(socket.waitForConnected(3000));
    socket.write(request);
    QByteArray answer;
    QTRY_VERIFY_WITH_TIMEOUT(
        (answer += socket.readAll(), socket.state() == QAbstractSocket::UnconnectedState), 5000);
    answer += socket.readAll();
    QVERIFY2(answer.startsWith(statusLine), answer.left(200).constData());
    QVERIFY(answer.contains("Connection: close\r\n"));
    const QByteArray body = answer.mid(answer.indexOf("\r\n\r\n") + 4);
    QCOMPARE(!body.isEmpty(), hasBody);
}

void TestHttpEndpoint::busyPortIsAnError()
{
    HttpEndpoint first;
    QVERIFY(first.listen({QHostAddress(QHostAddress::LocalHost), 0}));
    HttpEndpoint second;
    const Result<void> r = second.listen({QHostAddress(QHostAddress::LocalHost), first.port()});
    QVERIFY(!r);
    QVERIFY2(r.errorMessage().contains(QString("127.0.0.1:%1").arg(first.port())),
             qPrintable(r.errorMessage()));
}

QTEST_GUILESS_MAIN(TestHttpEndpoint)
#include "tst_httpendpoint.moc"
