// The desktop's GUI thread under a live cluster; bench/gui/run drives it.
//   bench_gui K EXPECTED SECONDS [--search TEXT] [--sort COLUMN] [--ready FILE] [--warmup-ms MS]
// Starts the real MainWindow (offscreen, shown, pod table sorted by COLUMN and
// filtered by TEXT) on kubeconfig K and measures, with a 1 ms heartbeat timer
// on the GUI thread, the gaps between its ticks:
//   load:   from the window's construction until the table holds EXPECTED pods
//           (also reported: the time to that full table);
//   steady: SECONDS after the table is full and WARMUP ms have passed, while
//           bench/gui/run's writers PATCH pods (created: FILE, once full).
//   bench_gui --synthetic PODS RATE SECONDS [--search TEXT] [--sort COLUMN] [--usage-ms MS]
// The same window and table without a cluster: PODS made-up pods reset into
// the model, then RATE updates/s applied in batches of 100 ms the way the
// session delivers them (for profiling the models; no network, no informer).
// Prints one JSON line per phase.

#include "ui/mainwindow.h"
#include "ui/podfilterproxymodel.h"
#include "ui/podtablemodel.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QLineEdit>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <vector>

using namespace vigil;

namespace {

double percentile(std::vector<double> values, double p)
{
    if (values.empty())
        return 0;
    const size_t i = std::min(values.size() - 1, size_t(p * double(values.size() - 1) + 0.5));
    std::nth_element(values.begin(), values.begin() + long(i), values.end());
    return values[i];
}

// CPU time the calling thread has used: within a gap, the part the GUI thread was working
// rather than waiting for a core (on 2 shared cores the scheduler makes gaps too).
qint64 threadCpuNs()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return qint64(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct Gaps {
    std::vector<double> ms;                    ///< wall time between two heartbeat ticks
    std::vector<double> cpu;                   ///< GUI-thread CPU time within each gap
    std::vector<std::array<double, 3>> stalls; ///< (seconds into the run, gap ms, CPU ms) of gaps over 16 ms

    void add(qint64 atNs, double gapMs, double cpuMs)
    {
        ms.push_back(gapMs);
        cpu.push_back(cpuMs);
        if (gapMs > 16)
            stalls.push_back({double(atNs) / 1e9, gapMs, cpuMs});
    }
    static QString stats(const std::vector<double> &v)
    {
        const double max = v.empty() ? 0 : *std::max_element(v.begin(), v.end());
        const auto over = [&](double limit) {
            return std::count_if(v.begin(), v.end(), [&](double g) { return g > limit; });
        };
        return QString("\"p50_ms\":%1,\"p99_ms\":%2,\"p999_ms\":%3,\"max_ms\":%4,\"over_16ms\":%5,\"over_"
                       "50ms\":%6")
            .arg(percentile(v, 0.50), 0, 'f', 2)
            .arg(percentile(v, 0.99), 0, 'f', 2)
            .arg(percentile(v, 0.999), 0, 'f', 2)
            .arg(max, 0, 'f', 2)
            .arg(over(16))
            .arg(over(50));
    }
    QString json() const
    {
        QStringList worst;
        for (const auto &[at, gap, busy] : stalls)
            worst.append(QString("[%1,%2,%3]").arg(at, 0, 'f', 2).arg(gap, 0, 'f', 1).arg(busy, 0, 'f', 1));
        return QString("{\"ticks\":%1,%2,\"gui_cpu\":{%3},\"stalls_s_gap_cpu\":[%4]}")
            .arg(ms.size())
            .arg(stats(ms), stats(cpu), worst.mid(0, 40).join(','));
    }
};

int usage()
{
    fprintf(
        stderr,
        "usage: bench_gui KUBECONFIG EXPECTED_PODS SECONDS [--search TEXT] [--sort COLUMN] "
        "[--ready FILE] [--warmup-ms MS]\n"
        "       bench_gui --synthetic PODS RATE SECONDS [--search TEXT] [--sort COLUMN] [--usage-ms MS]\n");
    return 2;
}

kube::PodView fakePod(int i, int generation, const QDateTime &now)
{
    kube::PodView p;
    p.uid = QString("uid-%1").arg(i);
    p.namespaceName = QString("bench-%1").arg(i % 20);
    p.name = QString("p-%1").arg(i);
    p.resourceVersion = QString::number(generation);
    p.nodeName = QString("kwok-node-%1").arg(i % 50);
    p.phase = "Running";
    p.ready = true;
    p.created = now.addSecs(-120 - (i * 7) % 3480); // 2 to 60 minutes old: ages roll over every minute
    p.owner = {"ReplicaSet", QString("rs-%1").arg(i / 10), QString("rs-uid-%1").arg(i / 10), true};
    kube::ContainerStatusView c;
    c.name = "app";
    c.image = "registry.k8s.io/pause:3.9";
    c.ready = true;
    c.state = "running";
    c.restartCount = generation;
    p.containers = {c};
    return p;
}

int synthetic(QApplication &app, int pods, int rate, int seconds, const QString &search, int sortColumn,
              int usageMs)
{
    QTemporaryDir data;
    ui::MainWindowOptions options;
    options.dataDir = data.path();
    options.connectOnStart = false;
    ui::MainWindow window(options);
    window.resize(1600, 1000);
    window.show();
    window.podView()->sortByColumn(sortColumn, Qt::AscendingOrder);
    if (!search.isEmpty())
        window.findChild<QLineEdit *>("search")->setText(search);
    ui::PodTableModel *model = window.podModel();
    const QDateTime now = QDateTime::currentDateTimeUtc();
    QList<kube::PodView> all;
    all.reserve(pods);
    for (int i = 0; i < pods; ++i)
        all.append(fakePod(i, 0, now));
    QElapsedTimer t;
    t.start();
    model->resetPods(all);
    const double resetMs = double(t.nsecsElapsed()) / 1e6;
    printf("{\"phase\":\"reset\",\"pods\":%d,\"shown\":%d,\"reset_ms\":%.1f}\n", model->rowCount(),
           window.podProxy()->rowCount(), resetMs);
    fflush(stdout);

    Gaps gaps, apply;
    QElapsedTimer clock;
    clock.start();
    qint64 lastTick = clock.nsecsElapsed(), lastCpu = threadCpuNs();
    QTimer heartbeat;
    heartbeat.setTimerType(Qt::PreciseTimer);
    heartbeat.setInterval(1);
    QObject::connect(&heartbeat, &QTimer::timeout, &app, [&] {
        const qint64 n = clock.nsecsElapsed(), c = threadCpuNs();
        gaps.add(n, double(n - lastTick) / 1e6, double(c - lastCpu) / 1e6);
        lastTick = n;
        lastCpu = c;
    });
    // Updates as the session hands them over: one batch every 100 ms, random pods.
    int generation = 0;
    quint32 seed = 12345;
    QTimer batches;
    batches.setInterval(100);
    QObject::connect(&batches, &QTimer::timeout, &app, [&] {
        ++generation;
        QList<kube::PodView> upserts;
        for (int k = 0; k < rate / 10; ++k) {
            seed = seed * 1664525u + 1013904223u;
            upserts.append(fakePod(int(seed % quint32(pods)), generation, now));
        }
        QElapsedTimer a;
        a.start();
        model->applyChanges(upserts, {});
        apply.add(clock.nsecsElapsed(), double(a.nsecsElapsed()) / 1e6, 0);
    });
    heartbeat.start();
    batches.start();
    // Metrics as a poll delivers them: every pod's CPU and memory, all changed. The maps are built
    // beforehand: turning the session's map into the model's is the main window's cost, not the model's.
    Gaps usage;
    QTimer usagePoll;
    usagePoll.setInterval(std::max(1, usageMs));
    std::array<QHash<QString, ui::PodUsage>, 2> polls;
    for (int k = 0; usageMs > 0 && k < 2; ++k) {
        polls[size_t(k)].reserve(pods);
        for (int i = 0; i < pods; ++i)
            polls[size_t(k)].insert(QString("bench-%1/p-%2").arg(i % 20).arg(i),
                                    {(i + k) % 500, (i + k) * 1024LL});
    }
    int poll = 0;
    QObject::connect(&usagePoll, &QTimer::timeout, &app, [&] {
        QElapsedTimer u;
        u.start();
        model->setUsage(polls[size_t(++poll % 2)]);
        usage.add(clock.nsecsElapsed(), double(u.nsecsElapsed()) / 1e6, 0);
    });
    if (usageMs > 0)
        usagePoll.start();
    QTimer::singleShot(seconds * 1000, &app, [&] { app.quit(); });
    app.exec();
    printf("{\"phase\":\"steady\",\"pods\":%d,\"shown\":%d,\"rate\":%d,\"gaps\":%s,\"apply\":%s}\n",
           model->rowCount(), window.podProxy()->rowCount(), rate, qPrintable(gaps.json()),
           qPrintable(apply.json()));
    if (usageMs > 0)
        printf("{\"phase\":\"usage\",\"polls\":%zu,\"first_slice\":{%s}}\n", usage.ms.size(),
               qPrintable(Gaps::stats(usage.ms)));
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    // Settings and data of the benchmark, never the user's.
    QStandardPaths::setTestModeEnabled(true);
    QApplication::setOrganizationName("VigilBench");
    QApplication::setApplicationName("bench_gui");

    QStringList args = app.arguments().mid(1);
    const bool isSynthetic = !args.isEmpty() && args.first() == "--synthetic";
    if (isSynthetic)
        args.removeFirst();
    if (args.size() < 3)
        return usage();
    const QString kubeconfig = args.takeFirst();
    const int expected = args.takeFirst().toInt();
    const int seconds = args.takeFirst().toInt();
    QString search, readyFile;
    int sortColumn = ui::PodTableModel::Name;
    int warmupMs = 3000;
    int usageMs = 0;
    while (args.size() >= 2) {
        const QString flag = args.takeFirst(), value = args.takeFirst();
        if (flag == "--search")
            search = value;
        else if (flag == "--sort")
            sortColumn = value.toInt();
        else if (flag == "--ready")
            readyFile = value;
        else if (flag == "--warmup-ms")
            warmupMs = value.toInt();
        else if (flag == "--usage-ms")
            usageMs = value.toInt();
        else
            return usage();
    }
    if (!args.isEmpty() || expected <= 0 || seconds <= 0)
        return usage();
    if (isSynthetic)
        return synthetic(app, kubeconfig.toInt(), expected, seconds, search, sortColumn, usageMs);

    QTemporaryDir data;
    QElapsedTimer clock;
    clock.start();

    // The heartbeat: a 1 ms timer; a gap between two ticks is the time the GUI thread was busy.
    Gaps load, steady;
    Gaps *sink = &load;
    qint64 lastTick = clock.nsecsElapsed(), lastCpu = threadCpuNs();
    QTimer heartbeat;
    heartbeat.setTimerType(Qt::PreciseTimer);
    heartbeat.setInterval(1);
    QObject::connect(&heartbeat, &QTimer::timeout, &app, [&] {
        const qint64 now = clock.nsecsElapsed(), cpu = threadCpuNs();
        if (sink)
            sink->add(now, double(now - lastTick) / 1e6, double(cpu - lastCpu) / 1e6);
        lastTick = now;
        lastCpu = cpu;
    });
    heartbeat.start();

    ui::MainWindowOptions options;
    options.kubeconfig = kubeconfig;
    options.dataDir = data.path();
    const qint64 constructStart = clock.nsecsElapsed();
    ui::MainWindow window(options);
    window.resize(1600, 1000);
    window.show();
    window.podView()->sortByColumn(sortColumn, Qt::AscendingOrder);
    if (!search.isEmpty())
        window.findChild<QLineEdit *>("search")->setText(search);

    ui::PodTableModel *model = window.podModel();
    qint64 firstRowsNs = -1, fullNs = -1, steadyStartNs = -1, steadyEndNs = -1;
    qint64 updatedRows = 0, batches = 0;
    bool counting = false;
    // A row counts as an update when its pod's resourceVersion moved: ages, usage and the end of
    // a pod's startup grace repaint rows too, but they are not watch events.
    QHash<QString, QString> versions;
    QObject::connect(model, &QAbstractItemModel::dataChanged, &app,
                     [&](const QModelIndex &tl, const QModelIndex &br) {
                         if (!counting || tl.column() != 0)
                             return;
                         for (int r = tl.row(); r <= br.row(); ++r) {
                             const kube::PodView *pod = model->pod(r);
                             QString &seen = versions[pod->uid];
                             if (!seen.isEmpty() && seen != pod->resourceVersion)
                                 ++updatedRows;
                             seen = pod->resourceVersion;
                         }
                     });
    QObject::connect(&window, &ui::MainWindow::batchApplied, &app, [&] {
        if (counting)
            ++batches;
        const qint64 now = clock.nsecsElapsed();
        if (firstRowsNs < 0 && model->rowCount() > 0)
            firstRowsNs = now;
        if (fullNs >= 0 || model->rowCount() < expected)
            return;
        fullNs = now;
        sink = nullptr;
        printf(
            "{\"phase\":\"load\",\"pods\":%d,\"shown\":%d,\"first_rows_ms\":%.0f,\"start_to_full_ms\":%.0f,"
            "\"gaps\":%s}\n",
            model->rowCount(), window.podProxy()->rowCount(), double(firstRowsNs - constructStart) / 1e6,
            double(fullNs - constructStart) / 1e6, qPrintable(load.json()));
        fflush(stdout);
        if (!readyFile.isEmpty()) {
            QFile f(readyFile);
            if (f.open(QIODevice::WriteOnly))
                f.write("full\n");
        }
        for (int r = 0; r < model->rowCount(); ++r)
            versions.insert(model->pod(r)->uid, model->pod(r)->resourceVersion);
        QTimer::singleShot(warmupMs, &app, [&] {
            steadyStartNs = clock.nsecsElapsed();
            lastTick = steadyStartNs;
            lastCpu = threadCpuNs();
            sink = &steady;
            counting = true;
            QTimer::singleShot(seconds * 1000, &app, [&] {
                steadyEndNs = clock.nsecsElapsed();
                sink = nullptr;
                counting = false;
                const double s = double(steadyEndNs - steadyStartNs) / 1e9;
                printf("{\"phase\":\"steady\",\"pods\":%d,\"shown\":%d,\"seconds\":%.1f,\"updates_applied\":%"
                       "lld,"
                       "\"updates_per_s\":%.0f,\"batches\":%lld,\"gaps\":%s}\n",
                       model->rowCount(), window.podProxy()->rowCount(), s, updatedRows,
                       double(updatedRows) / s, batches, qPrintable(steady.json()));
                fflush(stdout);
                app.quit();
            });
        });
    });
    // Never hang: a table that does not fill in 10 minutes is a result too.
    QTimer::singleShot(600 * 1000, &app, [&] {
        if (fullNs < 0) {
            printf(
                "{\"phase\":\"load\",\"error\":\"table held %d of %d pods after 600 s\",\"health\":\"%s\"}\n",
                model->rowCount(), expected, qPrintable(window.healthSentence()));
            fflush(stdout);
            app.exit(1);
        }
    });
    return app.exec();
}
