#include "core/kube/informer.h"

#include "apiservercontrol.h"
#include "tcpproxy.h"
#include "testcluster.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTest>
#include <QThread>

#include <csignal>
#include <map>
#include <memory>

using namespace vigil;
using namespace vigil::kube;
using vigil::test::TcpProxy;

// Fault injection against the real cluster: a pod informer talks to the API
// server through an in-process TCP proxy while a writer creates, updates and
// deletes pods. After every fault the informer's store (and the store a
// consumer rebuilds from its deltas) must equal a fresh LIST — same UIDs and
// resourceVersions — within 35 s (75 s for a half-open connection).
class TestInformerFaults final : public QObject {
    Q_OBJECT

public:
    enum class Fault {
        CutReset,
        CutClose,
        CutThenRefuse,
        SlowThenCut,
        HalfOpen,
        ApiServerRestart,
        Compaction
    };
    Q_ENUM(Fault)

private Q_SLOTS:
    void initTestCase();
    void recoversFromFault_data();
    void recoversFromFault();
    void halfOpenWithDefaultWatchdog();
    void cleanupTestCase();

private:
    /// One informer behind its own proxy, its own client (so its own connection pool) and a consumer mirror.
    struct Subject {
        std::unique_ptr<TcpProxy> proxy;
        std::unique_ptr<RestClient> client;
        std::unique_ptr<Informer> informer;
        QHash<QString, QString> mirror; ///< uid -> resourceVersion, rebuilt from deltas only
        int resyncs = 0;
    };

    std::unique_ptr<Subject> makeSubject(int idleTimeoutMs);
    /// Store and mirror equal a fresh LIST: returns ms waited, or -1 when they never did within deadlineMs.
    qint64 waitConverged(Subject &s, qint64 deadlineMs, QString *diff);
    QStringList freshList();
    /// A few creates, updates and deletes through the direct client; returns how many succeeded.
    int writeBurst(int operations);

    template<typename T>
    Result<T> wait(std::optional<Result<T>> &slot, int ms = 30000)
    {
        if (!QTest::qWaitFor([&] { return slot.has_value(); }, ms))
            return Error(QStringLiteral("no reply within %1 ms").arg(ms));
        return *slot;
    }

    Connection m_connection;
    std::unique_ptr<RestClient> m_client; // direct, for the writer and the fresh lists
    QString m_namespace;
    QString m_node;
    QStringList m_live; // pod names the writer created and has not deleted
    int m_nextPod = 0;
    int m_faults = 0;
    int m_recovered = 0;
    qint64 m_maxRecoveryMs = 0;
    test::ApiServerControl m_control;
};

std::unique_ptr<TestInformerFaults::Subject> TestInformerFaults::makeSubject(int idleTimeoutMs)
{
    auto s = std::make_unique<Subject>();
    s->proxy = std::make_unique<TcpProxy>(m_connection.server.host(),
                                          static_cast<quint16>(m_connection.server.port()));
    if (!s->proxy->listen())
        return nullptr;
    Connection proxied = m_connection;
    QUrl server = m_connection.server;
    server.setPort(s->proxy->port()); // still 127.0.0.1: the server certificate is verified as usual
    proxied.server = server;
    s->client = std::make_unique<RestClient>(proxied);
    InformerOptions options;
    options.type = ResourceType::pods();
    options.namespaceName = m_namespace;
    options.batchIntervalMs = 20;
    if (idleTimeoutMs > 0)
        options.idleTimeoutMs = idleTimeoutMs;
    s->informer = std::make_unique<Informer>(s->client.get(), options);
    Subject *raw = s.get();
    connect(s->informer.get(), &Informer::deltas, this, [raw](const DeltaBatch &batch) {
        if (batch.resynced)
            ++raw->resyncs;
        for (const Delta &d : batch.deltas) {
            if (d.type == Delta::Type::Deleted)
                raw->mirror.remove(objectUid(d.object));
            else
                raw->mirror.insert(objectUid(d.object), objectResourceVersion(d.object));
        }
    });
    s->informer->start();
    return s;
}

QStringList TestInformerFaults::freshList()
{
    std::optional<Result<ListResult>> slot;
    m_client->list(ResourcePath{ResourceType::pods(), m_namespace, {}, {}}, {}, this,
                   [&](Result<ListResult> r) { slot = std::move(r); });
    const auto listed = wait(slot, 10000);
    if (!listed)
        return {QStringLiteral("list failed: ") + listed.errorMessage()};
    QStringList out;
    for (const auto &item : listed->items)
        out.append(QString::fromStdString(item["metadata"]["uid"].get<std::string>()) + QLatin1Char('@') +
                   QString::fromStdString(item["metadata"]["resourceVersion"].get<std::string>()));
    out.sort();
    return out;
}

qint64 TestInformerFaults::waitConverged(Subject &s, qint64 deadlineMs, QString *diff)
{
    QElapsedTimer t;
    t.start();
    while (true) {
        const QStringList listed = freshList();
        QStringList stored, mirrored;
        for (const KubeObject &o : s.informer->store().objects())
            stored.append(objectUid(o) + QLatin1Char('@') + objectResourceVersion(o));
        for (auto it = s.mirror.cbegin(); it != s.mirror.cend(); ++it)
            mirrored.append(it.key() + QLatin1Char('@') + it.value());
        stored.sort();
        mirrored.sort();
        if (stored == listed && mirrored == listed &&
            s.informer->health().state == InformerHealth::State::Watching)
            return t.elapsed();
        if (t.elapsed() > deadlineMs) {
            *diff = QStringLiteral("list %1 items, store %2, mirror %3, state %4, last error: %5")
                        .arg(listed.size())
                        .arg(stored.size())
                        .arg(mirrored.size())
                        .arg(static_cast<int>(s.informer->health().state))
                        .arg(s.informer->health().lastError);
            return -1;
        }
        QTest::qWait(100);
    }
}

int TestInformerFaults::writeBurst(int operations)
{
    // Shared with the callbacks: a reply arriving after the wait gave up must not touch a dead frame.
    const auto done = std::make_shared<int>(0);
    const auto pending = std::make_shared<int>(0);
    const ResourcePath pods{ResourceType::pods(), m_namespace, {}, {}};
    // A name is out of m_live while an operation on it is in flight, so no two touch the same pod.
    for (int i = 0; i < operations; ++i) {
        const int kind = m_live.size() < 8 ? 0 : (m_live.size() > 30 ? 2 : i % 3);
        ++*pending;
        if (kind == 0) {
            const QString name = QStringLiteral("w-%1").arg(m_nextPod++);
            const nlohmann::json pod = {
                {"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", {{"name", name.toStdString()}, {"labels", {{"gen", "0"}}}}},
                {"spec",
                 {{"nodeName", m_node.toStdString()},
                  {"containers", {{{"name", "app"}, {"image", "registry.invalid/app:1"}}}}}}};
            m_client->create(pods, pod, {}, this, [this, pending, done, name](Result<nlohmann::json> r) {
                --*pending;
                if (r.ok()) {
                    ++*done;
                    m_live.append(name);
                }
            });
        } else if (kind == 1) {
            const QString name = m_live.takeAt(QRandomGenerator::global()->bounded(m_live.size()));
            const QByteArray patch = QByteArrayLiteral("{\"metadata\":{\"labels\":{\"gen\":\"") +
                                     QByteArray::number(QRandomGenerator::global()->generate()) +
                                     QByteArrayLiteral("\"}}}");
            m_client->patch(ResourcePath{ResourceType::pods(), m_namespace, name, {}}, PatchType::Merge,
                            patch, {}, this, [this, pending, done, name](Result<nlohmann::json> r) {
                                --*pending;
                                *done += r.ok() ? 1 : 0;
                                m_live.append(name);
                            });
        } else {
            const QString name = m_live.takeAt(QRandomGenerator::global()->bounded(m_live.size()));
            DeleteOptions del;
            del.gracePeriodSeconds = 0;
            m_client->remove(ResourcePath{ResourceType::pods(), m_namespace, name, {}}, del, this,
                             [pending, done](Result<nlohmann::json> r) {
                                 --*pending;
                                 *done += r.ok() ? 1 : 0;
                             });
        }
    }
    if (!QTest::qWaitFor([&] { return *pending == 0; }, 20000))
        qWarning("writer: %d operations still pending after 20 s", *pending);
    return *done;
}

void TestInformerFaults::initTestCase()
{
    Result<Connection> conn = test::testClusterConnection();
    QVERIFY2(conn.ok(), qPrintable(conn.errorMessage()));
    m_connection = *conn;
    QCOMPARE(m_connection.server.host(), QStringLiteral("127.0.0.1"));
    RestClientOptions fast;
    fast.qps = 200;
    fast.burst = 200;
    fast.timeoutMs = 10000;
    m_client = std::make_unique<RestClient>(m_connection, fast);

    // The kwok cluster's pid files and etcd, for restarts and compactions.
    const Result<void> control = m_control.init(m_client.get());
    QVERIFY2(control.ok(), qPrintable(control.errorMessage()));

    std::optional<Result<ListResult>> nodes;
    m_client->list(ResourcePath{ResourceType::nodes(), {}, {}, {}}, {}, this,
                   [&](Result<ListResult> r) { nodes = std::move(r); });
    const auto listed = wait(nodes);
    QVERIFY2(listed.ok(), qPrintable(listed.errorMessage()));
    for (const auto &n : listed->items) {
        if (n["metadata"].value("annotations", nlohmann::json::object()).value("kwok.x-k8s.io/node", "") ==
            "fake")
            m_node = QString::fromStdString(n["metadata"]["name"].get<std::string>());
    }
    QVERIFY2(!m_node.isEmpty(), "no kwok node in the cluster");

    m_namespace = QStringLiteral("vigil-faults-%1").arg(QRandomGenerator::global()->generate(), 0, 16);
    std::optional<Result<nlohmann::json>> ns;
    m_client->create(
        ResourcePath{ResourceType::namespaces(), {}, {}, {}},
        {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", m_namespace.toStdString()}}}},
        {}, this, [&](Result<nlohmann::json> r) { ns = std::move(r); });
    const auto created = wait(ns);
    QVERIFY2(created.ok(), qPrintable(created.errorMessage()));
    // The namespace's default ServiceAccount must exist before pods can be created.
    QTRY_VERIFY_WITH_TIMEOUT(writeBurst(1) == 1, 20000);
    QCOMPARE(writeBurst(10), 10);
}

void TestInformerFaults::recoversFromFault_data()
{
    QTest::addColumn<Fault>("fault");
    QTest::addColumn<int>("repeats");
    QTest::addColumn<int>("idleTimeoutMs");
    QTest::addColumn<int>("deadlineMs");

    QTest::newRow("RST of every connection: reconnect and catch up") << Fault::CutReset << 22 << 0 << 35000;
    QTest::newRow("FIN on every connection: reconnect and catch up") << Fault::CutClose << 8 << 0 << 35000;
    QTest::newRow("cut, then reconnects refused for 3 s: back off and retry")
        << Fault::CutThenRefuse << 4 << 0 << 35000;
    QTest::newRow("slow link (300 ms a chunk), then a cut") << Fault::SlowThenCut << 3 << 0 << 35000;
    QTest::newRow("half-open stall: the 4 s watchdog reconnects") << Fault::HalfOpen << 6 << 4000 << 75000;
    QTest::newRow("API server kill -9 and restart") << Fault::ApiServerRestart << 3 << 0 << 35000;
    QTest::newRow("etcd compaction and restart: 410 forces a relist") << Fault::Compaction << 3 << 0 << 35000;
}

void TestInformerFaults::recoversFromFault()
{
    QFETCH(Fault, fault);
    QFETCH(int, repeats);
    QFETCH(int, idleTimeoutMs);
    QFETCH(int, deadlineMs);

    const auto s = makeSubject(idleTimeoutMs);
    QVERIFY(s);
    QString diff;
    QVERIFY2(waitConverged(*s, 30000, &diff) >= 0, qPrintable(QStringLiteral("initial sync: ") + diff));

    for (int i = 0; i < repeats; ++i) {
        const int resyncsBefore = s->resyncs;
        const int acceptedBefore = s->proxy->acceptedTotal();
        QElapsedTimer sinceFault;
        sinceFault.start();
        ++m_faults;
        switch (fault) {
        case Fault::CutReset:
            s->proxy->cut(TcpProxy::CutMode::Reset);
            break;
        case Fault::CutClose:
            s->proxy->cut(TcpProxy::CutMode::Close);
            break;
        case Fault::CutThenRefuse:
            s->proxy->refuseFor(3000);
            s->proxy->cut(TcpProxy::CutMode::Reset);
            break;
        case Fault::SlowThenCut:
            s->proxy->setDelayMs(300);
            QVERIFY(writeBurst(3) > 0);
            QTest::qWait(1000);
            s->proxy->cut(TcpProxy::CutMode::Reset);
            s->proxy->setDelayMs(0);
            break;
        case Fault::HalfOpen:
            s->proxy->stallFor(500);
            break;
        case Fault::Compaction: {
            // Keep the informer away while the cluster moves on, so its resourceVersion falls behind.
            s->proxy->refuseFor(60000);
            s->proxy->cut(TcpProxy::CutMode::Reset);
            QVERIFY(writeBurst(6) > 0);
            const auto rev = m_control.etcdRevision();
            QVERIFY(rev.has_value());
            QVERIFY2(m_control.compactEtcd(*rev), "etcd refused the compaction");
            // The watch cache still holds the window; a restart makes the old resourceVersion 410 Gone.
            QString error;
            QVERIFY2(m_control.restart(&error), qPrintable(error));
            s->proxy->refuseFor(0);
            break;
        }
        case Fault::ApiServerRestart: {
            QString error;
            QVERIFY2(m_control.restart(&error), qPrintable(error));
            break;
        }
        }
        // Writes the informer missed while the fault lasted.
        QVERIFY2(writeBurst(6) > 0, "the writer could not write after the fault");
        const qint64 waited = waitConverged(*s, deadlineMs - sinceFault.elapsed(), &diff);
        QVERIFY2(waited >= 0,
                 qPrintable(QStringLiteral("fault %1 did not recover: %2").arg(i + 1).arg(diff)));
        const qint64 recovery = sinceFault.elapsed();
        qInfo("%s #%d: recovered in %lld ms (%d connections accepted so far)", QTest::currentDataTag(), i + 1,
              static_cast<long long>(recovery), s->proxy->acceptedTotal());
        ++m_recovered;
        m_maxRecoveryMs = std::max(m_maxRecoveryMs, recovery);
        QVERIFY2(recovery <= deadlineMs, qPrintable(QStringLiteral("recovered after %1 ms").arg(recovery)));
        if (fault != Fault::ApiServerRestart && fault != Fault::Compaction)
            QVERIFY2(s->proxy->acceptedTotal() > acceptedBefore || fault == Fault::HalfOpen,
                     "the informer recovered without a new connection");
        if (fault == Fault::Compaction)
            QVERIFY2(s->resyncs > resyncsBefore, "a compacted resourceVersion must force a relist");
    }
    s->informer->stop();
}

void TestInformerFaults::halfOpenWithDefaultWatchdog()
{
    // The default path: nothing configured, a connection that just goes silent.
    const auto s = makeSubject(0);
    QVERIFY(s);
    QString diff;
    QVERIFY2(waitConverged(*s, 30000, &diff) >= 0, qPrintable(QStringLiteral("initial sync: ") + diff));
    // The watch after a streaming list opens a fresh HTTP/2 connection; one that goes silent while it
    // is being set up is dropped by the API server within seconds, so stall an established one.
    QTRY_COMPARE_WITH_TIMEOUT(s->proxy->openConnections(), 1, 10000);
    QTest::qWait(3000);
    QElapsedTimer sinceFault;
    sinceFault.start();
    ++m_faults;
    s->proxy->stallFor(500);
    QVERIFY(writeBurst(6) > 0);
    // Still stale well before the watchdog: proves the recovery below is the watchdog's doing.
    QTest::qWait(5000);
    QVERIFY(waitConverged(*s, 0, &diff) < 0);
    const qint64 waited = waitConverged(*s, 75000 - sinceFault.elapsed(), &diff);
    QVERIFY2(waited >= 0, qPrintable(diff));
    ++m_recovered;
    m_maxRecoveryMs = std::max(m_maxRecoveryMs, sinceFault.elapsed());
    QVERIFY(sinceFault.elapsed() <= 75000);
    QVERIFY2(sinceFault.elapsed() >= 60000, "recovered before the 70 s watchdog could have fired");
    s->informer->stop();
}

void TestInformerFaults::cleanupTestCase()
{
    qInfo("fault summary: %d faults injected, %d recovered, max recovery %lld ms", m_faults, m_recovered,
          static_cast<long long>(m_maxRecoveryMs));
    if (!m_client || m_namespace.isEmpty())
        return;
    std::optional<Result<nlohmann::json>> slot;
    m_client->remove(ResourcePath{ResourceType::namespaces(), {}, m_namespace, {}}, {}, this,
                     [&](Result<nlohmann::json> r) { slot = std::move(r); });
    const auto removed = wait(slot);
    QVERIFY2(removed.ok(), qPrintable(removed.errorMessage()));
}

QTEST_GUILESS_MAIN(TestInformerFaults)
#include "tst_informer_faults.moc"
