// A process killed while a restart_pod decision is Executing: the parent
// test re-runs this binary with --child, which approves and executes the
// decision and is SIGKILLed at the executor's after-executing pause point
// (before the eviction left, or after the server evicted but before the
// outcome was stored). The parent then reconciles the same store and checks
// the pod was evicted at most once and the audit chain still verifies.

#include "clusterfixture.h"
#include "core/act/actions.h"
#include "core/act/datapaths.h"
#include "core/act/decisionstore.h"
#include "core/act/executor.h"
#include "core/audit/auditlog.h"
#include "tcpproxy.h"

#include <QCoreApplication>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

using namespace vigil;
using namespace vigil::act;
using json = nlohmann::json;
using vigil::test::ClusterApi;

Q_DECLARE_METATYPE(vigil::act::DecisionState)

namespace {

const char *kChildFlag = "--child";
// How long the child's proxy holds every chunk once Executing is durable: the
// eviction reaches the server after this, its reply the child after twice this;
// the parent kills the child in between.
constexpr int kHoldMs = 4000;

void writeMarker(const QString &path)
{
    QFile f(path);
    if (f.open(QIODevice::WriteOnly))
        f.write("executing\n");
    f.close();
}

// The child: approve and execute the decision, pausing at the hook as the mode says. Exit codes name the step
// that failed.
int runChild()
{
    const QString dir = qEnvironmentVariable("VIGIL_DATA_DIR");
    const QString id = qEnvironmentVariable("VIGIL_CRASH_DECISION");
    const QString marker = qEnvironmentVariable("VIGIL_CRASH_MARKER");
    const QString mode = qEnvironmentVariable("VIGIL_CRASH_MODE");
    Result<kube::Connection> c = test::testClusterConnection();
    if (!c)
        return 10;
    // All API traffic goes through a proxy the hook can slow down.
    test::TcpProxy proxy(c->server.host(), quint16(c->server.port()));
    if (!proxy.listen())
        return 11;
    c->server.setPort(proxy.port());
    kube::RestClientOptions o;
    o.qps = 0;
    o.maxRetries = 0;
    o.timeoutMs = 60000;
    kube::RestClient client(*c, o);
    ActionRunner runner(&client, AlertConfig{});
    Result<std::unique_ptr<DecisionStore>> store = DecisionStore::open(decisionsPath(dir));
    Result<std::unique_ptr<audit::AuditLog>> log = audit::AuditLog::open(auditPath(dir));
    if (!store || !log)
        return 12;
    Executor executor(store->get(), log->get(), &runner, test::testPolicy());
    executor.setAfterExecutingHook([&](const Decision &) {
        if (mode == QLatin1String("before-call")) {
            writeMarker(marker);
            QThread::sleep(120); // killed here: the eviction never leaves this process
            return;
        }
        proxy.setDelayMs(kHoldMs);
        writeMarker(marker);
    });
    if (!executor.approve(id,
                          {QStringLiteral("tester"), QStringLiteral("system:admin"), QStringLiteral("test")}))
        return 13;
    (void)cli::await<Decision>([&](QObject *ctx, auto cb) { executor.execute(id, ctx, cb); });
    return 14; // the parent should have killed us before the outcome arrived
}

} // namespace

class TestCrashCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void killedWhileExecutingIsReconciledNotRepeated_data();
    void killedWhileExecutingIsReconciledNotRepeated();

private:
    ClusterApi m_api;
    QString m_ns;
};

void TestCrashCluster::initTestCase()
{
    Result<void> c = m_api.connect();
    QVERIFY2(c, qPrintable(c.errorMessage()));
    m_ns = ClusterApi::uniqueName("vigil-crash-");
    Result<json> ns = m_api.createNamespace(m_ns);
    QVERIFY2(ns, qPrintable(ns.errorMessage()));
}

void TestCrashCluster::cleanupTestCase()
{
    if (m_api.client && !m_ns.isEmpty())
        (void)m_api.remove({kube::ResourceType::namespaces(), {}, m_ns, {}});
}

void TestCrashCluster::killedWhileExecutingIsReconciledNotRepeated_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<DecisionState>("expected");
    QTest::addColumn<bool>("evicted");
    QTest::newRow("killed before the eviction left: failed, the pod still runs, nothing evicted")
        << "before-call" << DecisionState::Failed << false;
    QTest::newRow(
        "killed after the server evicted, before the outcome was stored: executed, exactly one replacement")
        << "after-call" << DecisionState::Executed << true;
}

void TestCrashCluster::killedWhileExecutingIsReconciledNotRepeated()
{
    QFETCH(QString, mode);
    QFETCH(DecisionState, expected);
    QFETCH(bool, evicted);

    const QString app = "crash-" + mode;
    Result<json> dep = m_api.createDeployment(m_ns, app, 2);
    QVERIFY2(dep, qPrintable(dep.errorMessage()));
    QVERIFY(ClusterApi::waitFor([&] { return m_api.readyReplicas(m_ns, app) == 2; }, 30000));
    const QMap<QString, QString> before = m_api.livePods(m_ns, app);
    QCOMPARE(before.size(), 2);
    const QString pod = before.firstKey();

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const guard::Policy policy = test::testPolicy();
    std::unique_ptr<DecisionStore> store;
    {
        Result<std::unique_ptr<DecisionStore>> s = DecisionStore::open(decisionsPath(dir.path()));
        QVERIFY2(s, qPrintable(s.errorMessage()));
        store = std::move(*s);
    }
    std::unique_ptr<audit::AuditLog> log;
    {
        Result<std::unique_ptr<audit::AuditLog>> l = audit::AuditLog::open(auditPath(dir.path()));
        QVERIFY2(l, qPrintable(l.errorMessage()));
        log = std::move(*l);
    }
    ActionRunner runner(m_api.client.get(), AlertConfig{});
    Executor executor(store.get(), log.get(), &runner, policy);
    guard::IncidentTarget t;
    t.namespaceName = m_ns;
    t.podName = pod;
    t.ownerKind = "Deployment";
    t.ownerName = app;
    const Decision d = test::judgedDecision(
        ActionKind::RestartPod, {{"namespace", m_ns.toStdString()}, {"pod", pod.toStdString()}}, t, policy);
    QVERIFY(executor.propose(d));

    const QString marker = dir.filePath("marker");
    QProcess child;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("VIGIL_DATA_DIR", dir.path());
    env.insert("VIGIL_CRASH_DECISION", d.id);
    env.insert("VIGIL_CRASH_MARKER", marker);
    env.insert("VIGIL_CRASH_MODE", mode);
    child.setProcessEnvironment(env);
    child.setProcessChannelMode(QProcess::ForwardedChannels);
    child.start(QCoreApplication::applicationFilePath(), {kChildFlag});
    QVERIFY(child.waitForStarted(5000));
    const bool paused = ClusterApi::waitFor(
        [&] { return QFile::exists(marker) || child.state() == QProcess::NotRunning; }, 30000);
    QVERIFY2(paused && QFile::exists(marker),
             qPrintable(QString("the child never reached Executing (exit code %1)").arg(child.exitCode())));

    if (evicted) {
        // Kill only once the server has evicted the pod; the child's reply is still held by its proxy.
        QVERIFY(ClusterApi::waitFor(
            [&] {
                Result<json> p = m_api.get({kube::ResourceType::pods(), m_ns, pod, {}});
                return !p || p->at("metadata").contains("deletionTimestamp");
            },
            kHoldMs + 3000));
    }
    QVERIFY2(child.state() == QProcess::Running,
             "the child finished on its own instead of being killed mid-execution");
    child.kill();
    QVERIFY(child.waitForFinished(5000));
    QCOMPARE(child.exitStatus(), QProcess::CrashExit);
    QCOMPARE(store->load(d.id)->state, DecisionState::Executing);

    Result<QList<Decision>> settled =
        cli::await<QList<Decision>>([&](QObject *ctx, auto cb) { executor.reconcile(ctx, cb); });
    QVERIFY2(settled, qPrintable(settled.errorMessage()));
    QCOMPARE(settled->size(), 1);
    QCOMPARE(settled->first().id, d.id);
    QCOMPARE(settled->first().state, expected);
    QCOMPARE(store->load(d.id)->state, expected);

    // Never a second time: the decision cannot be executed again.
    Result<Decision> again =
        cli::await<Decision>([&](QObject *ctx, auto cb) { executor.execute(d.id, ctx, cb); });
    QVERIFY(!again);

    if (evicted) {
        QVERIFY(ClusterApi::waitFor(
            [&] {
                const QMap<QString, QString> now = m_api.livePods(m_ns, app);
                return now.size() == 2 && !now.contains(pod) && m_api.readyReplicas(m_ns, app) == 2;
            },
            30000));
    } else {
        QTest::qWait(2000);
    }
    // Every pod that exists now, terminating or not: exactly the originals minus the evicted one plus one
    // replacement.
    Result<QList<json>> all = m_api.list({kube::ResourceType::pods(), m_ns, {}, {}}, "app=" + app);
    QVERIFY2(all, qPrintable(all.errorMessage()));
    QStringList created;
    bool originalLives = false;
    for (const json &p : *all) {
        const QString name = QString::fromStdString(p["metadata"].value("name", std::string()));
        if (!before.contains(name))
            created << name;
        else if (name == pod && !p["metadata"].contains("deletionTimestamp"))
            originalLives = true;
    }
    QCOMPARE(created.size(), evicted ? 1 : 0);
    QCOMPARE(originalLives, !evicted);

    Result<audit::VerifyReport> report = log->verify();
    QVERIFY2(report, qPrintable(report.errorMessage()));
    QVERIFY2(report->ok, qPrintable(report->message));
    QStringList kinds;
    audit::AuditFilter mine;
    mine.decisionId = d.id;
    const Result<QList<audit::AuditEvent>> events = log->query(mine);
    QVERIFY2(events, qPrintable(events.errorMessage()));
    for (const audit::AuditEvent &e : *events)
        kinds << e.kind;
    QCOMPARE(kinds, QStringList({"proposed", "verdict", "approved", "executing", "reconciled"}));
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (app.arguments().contains(QLatin1String(kChildFlag)))
        return runChild();
    TestCrashCluster test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_crash_cluster.moc"
