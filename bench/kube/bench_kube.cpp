// Kubernetes client benchmarks against a real (kwok) cluster; bench/kube/run drives them.
//   bench_kube populate K NS COUNT NODES   create COUNT tiny pods in NS, spread over kwok-node-0..NODES-1
//   bench_kube sync K [list]               pod informer over all namespaces: sync time and VmHWM growth
//   bench_kube latency K NS RATE SECONDS BATCHMS
//                                          PATCH a label at RATE/s; PATCH response -> delta latency
// Each prints one JSON line.

#include "core/kube/config/kubeconfig.h"
#include "core/kube/informer.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QMutex>
#include <QProcess>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>

using namespace vigil;
using namespace vigil::kube;

namespace {

long statusKb(const char *field)
{
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith(field))
            return line.mid(static_cast<qsizetype>(strlen(field))).trimmed().split(' ').first().toLong();
    }
    return -1;
}

Connection connect(const QString &kubeconfig)
{
    LoadOptions options;
    options.explicitPath = kubeconfig;
    Result<KubeConfig> config = KubeConfig::load(options);
    if (!config)
        qFatal("%s", qPrintable(config.errorMessage()));
    Result<Connection> c = config->resolve();
    if (!c)
        qFatal("%s", qPrintable(c.errorMessage()));
    return *c;
}

RestClientOptions unlimited()
{
    RestClientOptions o;
    o.qps = 0;
    o.timeoutMs = 120000;
    return o;
}

qint64 nowNs()
{
    static QElapsedTimer clock = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return clock.nsecsElapsed();
}

int populate(const QString &kubeconfig, const QString &ns, int count, int nodes)
{
    RestClient client(connect(kubeconfig), unlimited());
    QObject ctx;
    std::optional<bool> nsDone;
    client.create(ResourcePath{ResourceType::namespaces(), {}, {}, {}},
                  {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns.toStdString()}}}},
                  {}, &ctx, [&](Result<nlohmann::json>) { nsDone = true; });
    while (!nsDone)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
    QThread::sleep(2); // the namespace's default ServiceAccount
    int next = 0, inFlight = 0, ok = 0, failed = 0;
    QElapsedTimer t;
    t.start();
    std::function<void()> pump = [&] {
        while (inFlight < 48 && next < count) {
            const int i = next++;
            ++inFlight;
            const nlohmann::json pod = {
                {"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", {{"name", "p-" + std::to_string(i)}, {"labels", {{"app", "bench"}}}}},
                {"spec",
                 {{"nodeName", "kwok-node-" + std::to_string(i % nodes)},
                  {"containers", {{{"name", "c"}, {"image", "registry.invalid/bench:1"}}}}}}};
            client.create(ResourcePath{ResourceType::pods(), ns, {}, {}}, pod, {}, &ctx,
                          [&](Result<nlohmann::json> r) {
                              --inFlight;
                              (r ? ok : failed) += 1;
                              if (!r && failed < 5)
                                  fprintf(stderr, "%s\n", qPrintable(r.errorMessage()));
                              pump();
                          });
        }
    };
    pump();
    while (inFlight > 0 || next < count)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
    printf("{\"created\":%d,\"failed\":%d,\"seconds\":%.1f}\n", ok, failed, t.elapsed() / 1000.0);
    return failed == 0 ? 0 : 1;
}

int sync(const QString &kubeconfig, bool streaming)
{
    RestClient client(connect(kubeconfig), unlimited());
    InformerOptions options;
    options.type = ResourceType::pods();
    options.streamingList = streaming;
    Informer informer(&client, options);
    const long hwmBefore = statusKb("VmHWM:");
    QElapsedTimer t;
    t.start();
    informer.start();
    while (!informer.health().synced)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 100);
    const qint64 ms = t.elapsed();
    const long hwmAfter = statusKb("VmHWM:");
    const long rssAfter = statusKb("VmRSS:");
    const auto pods = informer.store().size();
    printf("{\"mode\":\"%s\",\"streamed\":%s,\"pods\":%lld,\"sync_ms\":%lld,\"hwm_before_kb\":%ld,\"hwm_"
           "after_kb\":%ld,"
           "\"rss_after_kb\":%ld,\"peak_bytes_per_pod\":%.0f}\n",
           streaming ? "stream" : "list", informer.streamsLists() ? "true" : "false",
           static_cast<long long>(pods), static_cast<long long>(ms), hwmBefore, hwmAfter, rssAfter,
           pods ? (hwmAfter - hwmBefore) * 1024.0 / static_cast<double>(pods) : 0.0);
    return 0;
}

// The writer runs on its own thread so its 1,000 requests a second do not delay the informer's loop.
class Writer final : public QObject {
public:
    Writer(Connection c, QString ns, QStringList names, int rate, int seconds)
        : m_connection(std::move(c))
        , m_ns(std::move(ns))
        , m_names(std::move(names))
        , m_rate(rate)
        , m_seconds(seconds)
    {
    }
    void run()
    {
        m_client = std::make_unique<RestClient>(m_connection, unlimited());
        m_clock.start();
        auto *timer = new QTimer(this);
        QObject::connect(timer, &QTimer::timeout, this, [this, timer] {
            // Catch up to the rate on each 10 ms tick.
            const qint64 due = m_clock.elapsed() * m_rate / 1000;
            while (m_sent < due && m_sent < static_cast<qint64>(m_rate) * m_seconds) {
                const QString name = m_names.at(static_cast<qsizetype>(m_sent % m_names.size()));
                ++m_sent;
                const QByteArray patch =
                    "{\"metadata\":{\"labels\":{\"tick\":\"" + QByteArray::number(m_sent) + "\"}}}";
                m_client->patch(
                    ResourcePath{ResourceType::pods(), m_ns, name, {}}, PatchType::Merge, patch, {}, this,
                    [this](Result<nlohmann::json> r) {
                        const qint64 at = nowNs();
                        if (!r) {
                            ++errors;
                            return;
                        }
                        QMutexLocker lock(&mutex);
                        responded.insert(
                            QString::fromStdString(r->at("metadata").value("resourceVersion", "")), at);
                    });
            }
            if (m_sent >= static_cast<qint64>(m_rate) * m_seconds)
                timer->stop();
        });
        timer->start(10);
    }
    QMutex mutex;
    QHash<QString, qint64> responded; ///< resourceVersion -> ns when the PATCH response arrived
    std::atomic<int> errors{0};

private:
    Connection m_connection;
    QString m_ns;
    QStringList m_names;
    int m_rate, m_seconds;
    std::unique_ptr<RestClient> m_client;
    QElapsedTimer m_clock;
    qint64 m_sent = 0;
};

QString percentiles(QList<double> v)
{
    if (v.isEmpty())
        return QStringLiteral("null");
    std::sort(v.begin(), v.end());
    const auto at = [&](double p) {
        return v.at(std::min<qsizetype>(v.size() - 1, static_cast<qsizetype>(p * v.size())));
    };
    return QStringLiteral("{\"n\":%1,\"p50_ms\":%2,\"p99_ms\":%3,\"max_ms\":%4}")
        .arg(v.size())
        .arg(at(0.5), 0, 'f', 1)
        .arg(at(0.99), 0, 'f', 1)
        .arg(v.last(), 0, 'f', 1);
}

int latency(const QString &kubeconfig, const QString &ns, int rate, int seconds, int batchMs)
{
    const Connection c = connect(kubeconfig);
    RestClient client(c, unlimited());
    InformerOptions options;
    options.type = ResourceType::pods();
    options.namespaceName = ns;
    options.batchIntervalMs = batchMs;
    Informer informer(&client, options);
    QHash<QString, qint64> seen; // resourceVersion -> ns when the delta reached this consumer
    QObject ctx;
    QObject::connect(&informer, &Informer::deltas, &ctx, [&](const DeltaBatch &batch) {
        const qint64 at = nowNs();
        for (const Delta &d : batch.deltas)
            seen.insert(objectResourceVersion(d.object), at);
    });
    informer.start();
    while (!informer.health().synced)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 100);
    QStringList names;
    for (const KubeObject &o : informer.store().objects())
        names.append(objectName(o));

    // kubectl get -w, timed by when each line reaches us.
    QHash<QString, qint64> kubectlSeen;
    QProcess kubectl;
    QByteArray partial;
    QObject::connect(&kubectl, &QProcess::readyReadStandardOutput, &ctx, [&] {
        const qint64 at = nowNs();
        partial += kubectl.readAllStandardOutput();
        qsizetype nl;
        while ((nl = partial.indexOf('\n')) >= 0) {
            kubectlSeen.insert(QString::fromUtf8(partial.left(nl).trimmed()), at);
            partial.remove(0, nl + 1);
        }
    });
    kubectl.start(qEnvironmentVariable("KUBECTL", QStringLiteral("kubectl")),
                  {QStringLiteral("--kubeconfig"), kubeconfig, QStringLiteral("-n"), ns,
                   QStringLiteral("get"), QStringLiteral("pods"), QStringLiteral("-w"),
                   QStringLiteral("--watch-only"), QStringLiteral("-o"),
                   QStringLiteral("jsonpath={.metadata.resourceVersion}{\"\\n\"}")});
    kubectl.waitForStarted();
    QThread::msleep(1500);
    QCoreApplication::processEvents();

    QThread thread;
    Writer writer(c, ns, names, rate, seconds);
    writer.moveToThread(&thread);
    thread.start();
    QMetaObject::invokeMethod(
        &writer, [&writer] { writer.run(); }, Qt::QueuedConnection);
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < (seconds + 5) * 1000)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    thread.quit();
    thread.wait();
    kubectl.kill();
    kubectl.waitForFinished();

    QList<double> ours, theirs;
    int early = 0;
    QMutexLocker lock(&writer.mutex);
    for (auto it = writer.responded.cbegin(); it != writer.responded.cend(); ++it) {
        if (seen.contains(it.key())) {
            const double ms = (seen.value(it.key()) - it.value()) / 1e6;
            early += ms < 0 ? 1 : 0;
            ours.append(std::max(0.0, ms)); // the event can beat the PATCH response
        }
        if (kubectlSeen.contains(it.key()))
            theirs.append(std::max(0.0, (kubectlSeen.value(it.key()) - it.value()) / 1e6));
    }
    printf(
        "{\"rate\":%d,\"seconds\":%d,\"batch_ms\":%d,\"patched\":%lld,\"errors\":%d,\"before_response\":%d,"
        "\"informer\":%s,\"kubectl_w\":%s}\n",
        rate, seconds, batchMs, static_cast<long long>(writer.responded.size()), writer.errors.load(), early,
        qPrintable(percentiles(ours)), qPrintable(percentiles(theirs)));
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList a = app.arguments();
    if (a.size() >= 6 && a[1] == QLatin1String("populate"))
        return populate(a[2], a[3], a[4].toInt(), a[5].toInt());
    if (a.size() >= 3 && a[1] == QLatin1String("sync"))
        return sync(a[2], !(a.size() >= 4 && a[3] == QLatin1String("list")));
    if (a.size() >= 7 && a[1] == QLatin1String("latency"))
        return latency(a[2], a[3], a[4].toInt(), a[5].toInt(), a[6].toInt());
    fprintf(stderr, "usage: see the header of bench/kube/bench_kube.cpp\n");
    return 2;
}
