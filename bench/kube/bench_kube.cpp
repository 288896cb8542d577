// Kubernetes client benchmarks against a real (kwok) cluster; bench/kube/run drives them.
//   bench_kube populate K NS COUNT NODES   create COUNT tiny pods in NS, spread over kwok-node-0..NODES-1
//   bench_kube sync K [list|stream [NS]]   pod informer over all namespaces (or NS): sync time and VmHWM
//   bench_kube write K NS RATE SECONDS INFLIGHT OUT [SHARD SHARDS]
//                                          PATCH a label on NS's pods at RATE/s (at most INFLIGHT at once),
//                                          only the pods whose index % SHARDS == SHARD;
//                                          writes "resourceVersion monotonic-ns" per response to OUT
//   bench_kube latency K NS RATE SECONDS BATCHMS WRITERS
//                                          WRITERS writer processes share RATE; PATCH response -> informer
//                                          delta latency, and -> `kubectl get -w` line, in the same run;
//                                          the writers are $VIGIL_BENCH_WRITER if set (bench/kube/writer)
// Each prints one JSON line. Times are CLOCK_MONOTONIC (steady_clock), comparable across processes.

#include "core/kube/config/kubeconfig.h"
#include "core/kube/informer.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

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
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
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

int sync(const QString &kubeconfig, bool streaming, const QString &ns)
{
    RestClient client(connect(kubeconfig), unlimited());
    InformerOptions options;
    options.type = ResourceType::pods();
    options.namespaceName = ns;
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
    printf("{\"mode\":\"%s\",\"namespace\":\"%s\",\"streamed\":%s,\"pods\":%lld,\"sync_ms\":%lld,\"hwm_"
           "before_kb\":%ld,\"hwm_"
           "after_kb\":%ld,"
           "\"rss_after_kb\":%ld,\"peak_bytes_per_pod\":%.0f}\n",
           streaming ? "stream" : "list", qPrintable(ns), informer.streamsLists() ? "true" : "false",
           static_cast<long long>(pods), static_cast<long long>(ms), hwmBefore, hwmAfter, rssAfter,
           pods ? (hwmAfter - hwmBefore) * 1024.0 / static_cast<double>(pods) : 0.0);
    return 0;
}

// One writer process: its own RestClient (no client-side QPS limit), a bounded number of PATCHes in
// flight, and a schedule that catches up to RATE every 5 ms. What it achieved is what it reports.
int write(const QString &kubeconfig, const QString &ns, int rate, int seconds, int inflightMax,
          const QString &outPath, int shard, int shards)
{
    RestClient client(connect(kubeconfig), unlimited());
    QObject ctx;
    std::optional<Result<ListResult>> listed;
    client.list(ResourcePath{ResourceType::pods(), ns, {}, {}}, {}, &ctx,
                [&](Result<ListResult> r) { listed = std::move(r); });
    while (!listed)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
    if (!*listed || (*listed)->items.empty())
        qFatal("no pods to patch in %s", qPrintable(ns));
    // Writers patch disjoint pods: two PATCHes of one pod in flight at once conflict, and the server's
    // retries then cost more than the writes themselves.
    QStringList names;
    for (size_t i = 0; i < (*listed)->items.size(); ++i) {
        if (static_cast<int>(i % static_cast<size_t>(shards)) == shard)
            names.append(
                QString::fromStdString((*listed)->items[i]["metadata"].value("name", std::string())));
    }
    if (names.isEmpty())
        qFatal("shard %d of %d has no pods in %s", shard, shards, qPrintable(ns));

    QList<QPair<QByteArray, qint64>> responded;
    responded.reserve(static_cast<qsizetype>(rate) * seconds);
    const qint64 total = static_cast<qint64>(rate) * seconds;
    qint64 sent = 0;
    int inflight = 0, errors = 0;
    QString firstError;
    QElapsedTimer clock;
    clock.start();
    const QByteArray salt = QByteArray::number(QCoreApplication::applicationPid());
    std::function<void()> pump = [&] {
        const qint64 due = std::min(total, clock.elapsed() * rate / 1000);
        while (sent < due && inflight < inflightMax) {
            const QString &name = names.at(static_cast<qsizetype>(sent % names.size()));
            ++sent;
            ++inflight;
            const QByteArray patch =
                "{\"metadata\":{\"labels\":{\"tick\":\"" + salt + "-" + QByteArray::number(sent) + "\"}}}";
            client.patch(ResourcePath{ResourceType::pods(), ns, name, {}}, PatchType::Merge, patch, {}, &ctx,
                         [&](Result<nlohmann::json> r) {
                             const qint64 at = nowNs();
                             --inflight;
                             if (!r) {
                                 if (errors++ == 0)
                                     firstError = r.errorMessage();
                             } else {
                                 responded.append(
                                     {QByteArray::fromStdString(
                                          r->at("metadata").value("resourceVersion", std::string())),
                                      at});
                             }
                         });
        }
    };
    QTimer tick;
    QObject::connect(&tick, &QTimer::timeout, &ctx, pump);
    tick.start(5);
    while (sent < total || inflight > 0) {
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 5);
        if (clock.elapsed() > (seconds + 30) * 1000LL)
            break; // a stuck server: report what got through
    }
    const double elapsedS = clock.elapsed() / 1000.0;
    QFile out(outPath);
    if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate))
        qFatal("%s: %s", qPrintable(outPath), qPrintable(out.errorString()));
    for (const auto &r : std::as_const(responded))
        out.write(r.first + ' ' + QByteArray::number(r.second) + '\n');
    out.close();
    printf("{\"writer\":%lld,\"target_per_s\":%d,\"sent\":%lld,\"ok\":%lld,\"errors\":%d,\"seconds\":%.1f,"
           "\"achieved_per_s\":%.0f,\"first_error\":\"%s\"}\n",
           static_cast<long long>(QCoreApplication::applicationPid()), rate, static_cast<long long>(sent),
           static_cast<long long>(responded.size()), errors, elapsedS, responded.size() / elapsedS,
           qPrintable(firstError.left(200).replace(QLatin1Char('"'), QLatin1Char('\''))));
    fflush(stdout);
    return 0;
}

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

int latency(const QString &kubeconfig, const QString &ns, int rate, int seconds, int batchMs, int writers)
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
    QElapsedTimer settle;
    settle.start();
    while (settle.elapsed() < 2000)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);

    // Writers are separate processes, so their requests cost neither this event loop nor its CPU time.
    std::vector<std::unique_ptr<QProcess>> procs;
    QStringList outs;
    for (int i = 0; i < writers; ++i) {
        auto p = std::make_unique<QProcess>();
        p->setProcessChannelMode(QProcess::ForwardedErrorChannel);
        outs.append(QStringLiteral("/tmp/bench_kube_writer_%1_%2.txt")
                        .arg(QCoreApplication::applicationPid())
                        .arg(i));
        // VIGIL_BENCH_WRITER (bench/kube/writer, Go) takes the same arguments as `write` and costs
        // far less CPU per PATCH, which on 2 cores is CPU the API server gets instead.
        const QString external = qEnvironmentVariable("VIGIL_BENCH_WRITER");
        QStringList args{kubeconfig,
                         ns,
                         QString::number(rate / writers),
                         QString::number(seconds),
                         QStringLiteral("200"),
                         outs.last(),
                         QString::number(i),
                         QString::number(writers)};
        if (external.isEmpty())
            args.prepend(QStringLiteral("write"));
        p->start(external.isEmpty() ? QCoreApplication::applicationFilePath() : external, args);
        procs.push_back(std::move(p));
    }
    QStringList writerReports;
    for (auto &p : procs) {
        while (p->state() != QProcess::NotRunning)
            QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
        writerReports.append(QString::fromUtf8(p->readAllStandardOutput().trimmed()));
    }
    QElapsedTimer drain; // the last events still on their way
    drain.start();
    while (drain.elapsed() < 3000)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    kubectl.kill();
    kubectl.waitForFinished();

    QHash<QString, qint64> responded;
    qint64 firstResponse = std::numeric_limits<qint64>::max(), lastResponse = 0;
    for (const QString &path : std::as_const(outs)) {
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly))
            continue;
        for (const QByteArray &line : f.readAll().split('\n')) {
            const QList<QByteArray> parts = line.split(' ');
            if (parts.size() != 2)
                continue;
            const qint64 at = parts[1].toLongLong();
            responded.insert(QString::fromLatin1(parts[0]), at);
            firstResponse = std::min(firstResponse, at);
            lastResponse = std::max(lastResponse, at);
        }
        f.remove();
    }
    QList<double> ours, theirs;
    int early = 0;
    for (auto it = responded.cbegin(); it != responded.cend(); ++it) {
        if (seen.contains(it.key())) {
            const double ms = (seen.value(it.key()) - it.value()) / 1e6;
            early += ms < 0 ? 1 : 0;
            ours.append(std::max(0.0, ms)); // the event can beat the PATCH response
        }
        if (kubectlSeen.contains(it.key()))
            theirs.append(std::max(0.0, (kubectlSeen.value(it.key()) - it.value()) / 1e6));
    }
    const double span = responded.size() > 1 ? (lastResponse - firstResponse) / 1e9 : 0;
    printf("{\"target_per_s\":%d,\"seconds\":%d,\"batch_ms\":%d,\"writers\":%d,\"patched\":%lld,"
           "\"achieved_per_s\":%.0f,\"before_response\":%d,\"informer\":%s,\"kubectl_w\":%s,\"writer_"
           "reports\":[%s]}\n",
           rate, seconds, batchMs, writers, static_cast<long long>(responded.size()),
           span > 0 ? responded.size() / span : 0.0, early, qPrintable(percentiles(ours)),
           qPrintable(percentiles(theirs)), qPrintable(writerReports.join(QLatin1Char(','))));
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
        return sync(a[2], !(a.size() >= 4 && a[3] == QLatin1String("list")),
                    a.size() >= 5 ? a[4] : QString());
    if (a.size() >= 8 && a[1] == QLatin1String("write"))
        return write(a[2], a[3], a[4].toInt(), a[5].toInt(), a[6].toInt(), a[7],
                     a.size() >= 10 ? a[8].toInt() : 0, a.size() >= 10 ? std::max(1, a[9].toInt()) : 1);
    if (a.size() >= 7 && a[1] == QLatin1String("latency"))
        return latency(a[2], a[3], a[4].toInt(), a[5].toInt(), a[6].toInt(),
                       a.size() >= 8 ? a[7].toInt() : 2);
    fprintf(stderr, "usage: see the header of bench/kube/bench_kube.cpp\n");
    return 2;
}
