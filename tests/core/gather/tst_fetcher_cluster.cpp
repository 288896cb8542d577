// GatherFetcher against the real cluster: a crash-looping pod (previous
// logs, owner chain, rollout, node, events), a pending pod, a pod whose env
// references Secrets (never read), an unknown pod and a node subject.

#include "core/gather/fetcher.h"

#include "core/kube/restclient.h"
#include "core/reason/prompts.h"
#include "core/reason/router.h"

#include "testcluster.h"

#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryFile>
#include <QTest>

using namespace vigil;

namespace {

QString kubectlPath()
{
    const QString cached = QDir::homePath() + QStringLiteral("/.cache/vigil/k8s-v1.35.4/bin/kubectl");
    return QFile::exists(cached) ? cached : QStringLiteral("kubectl");
}

const char kSecretEnvPod[] = R"(apiVersion: v1
kind: Pod
metadata:
  name: uses-secrets
spec:
  containers:
  - name: app
    image: registry.example.com/app:1.0
    env:
    - name: LOG_LEVEL
      value: info
    - name: DB_PASSWORD
      valueFrom:
        secretKeyRef: {name: db, key: password}
    envFrom:
    - secretRef: {name: all-the-secrets}
)";

} // namespace

class TestFetcherCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void crashLoopingPod();
    void pendingPod();
    void secretReferencesAreNeverRead();
    void unknownPodIsAnError();
    void nodeSubject();

private:
    int script(const QString &name, QStringList args, QString *output = nullptr);
    Result<gather::FetchResult> fetch(const gather::IncidentSubject &subject);
    QString podOf(const QString &app);

    QString m_kubeconfig;
    QString m_namespace;
    std::unique_ptr<kube::RestClient> m_client;
    std::unique_ptr<gather::GatherFetcher> m_fetcher;
};

int TestFetcherCluster::script(const QString &name, QStringList args, QString *output)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    const QString program = name == QLatin1String("kubectl") ? kubectlPath()
                                                             : qEnvironmentVariable("VIGIL_SOURCE_DIR") +
                                                                   QStringLiteral("/tests/scenarios/") + name;
    if (name == QLatin1String("kubectl"))
        args << QStringLiteral("--kubeconfig") << m_kubeconfig;
    else
        args << QStringLiteral("--kubeconfig") << m_kubeconfig << QStringLiteral("--namespace")
             << m_namespace;
    p.start(program, args);
    if (!p.waitForFinished(150000))
        return -1;
    const QString out = QString::fromUtf8(p.readAll());
    if (output)
        *output = out;
    if (p.exitCode() != 0)
        qWarning("%s %s: %s", qPrintable(name), qPrintable(args.join(u' ')), qPrintable(out));
    return p.exitCode();
}

void TestFetcherCluster::initTestCase()
{
    Result<kube::Connection> connection = test::testClusterConnection();
    QVERIFY2(connection.ok(), qPrintable(connection.errorMessage()));
    QFile pointer(qEnvironmentVariable("VIGIL_TEST_CLUSTER_FILE"));
    QVERIFY(pointer.open(QIODevice::ReadOnly));
    m_kubeconfig = QString::fromUtf8(pointer.readAll()).trimmed();
    m_namespace = QStringLiteral("vigil-fetch-%1").arg(QRandomGenerator::global()->bounded(100000, 999999));
    QCOMPARE(script(QStringLiteral("kubectl"),
                    {QStringLiteral("create"), QStringLiteral("namespace"), m_namespace}),
             0);
    QCOMPARE(script(QStringLiteral("apply"), {QStringLiteral("--only"), QStringLiteral("crashloop,pending")}),
             0);
    QTemporaryFile manifest;
    QVERIFY(manifest.open());
    manifest.write(kSecretEnvPod);
    manifest.flush();
    QCOMPARE(script(QStringLiteral("kubectl"), {QStringLiteral("apply"), QStringLiteral("-n"), m_namespace,
                                                QStringLiteral("-f"), manifest.fileName()}),
             0);
    QCOMPARE(script(QStringLiteral("check"), {QStringLiteral("--only"), QStringLiteral("crashloop,pending"),
                                              QStringLiteral("--timeout"), QStringLiteral("120")}),
             0);
    kube::RestClientOptions options;
    options.qps = 50;
    options.burst = 100;
    m_client = std::make_unique<kube::RestClient>(*connection, options);
    m_fetcher = std::make_unique<gather::GatherFetcher>(m_client.get());
}

void TestFetcherCluster::cleanupTestCase()
{
    if (m_namespace.isEmpty())
        return;
    script(QStringLiteral("apply"),
           {QStringLiteral("--delete"), QStringLiteral("--only"), QStringLiteral("crashloop,pending")});
    script(QStringLiteral("kubectl"), {QStringLiteral("delete"), QStringLiteral("namespace"), m_namespace,
                                       QStringLiteral("--wait=false")});
}

Result<gather::FetchResult> TestFetcherCluster::fetch(const gather::IncidentSubject &subject)
{
    std::optional<Result<gather::FetchResult>> out;
    m_fetcher->fetch(subject, this, [&out](Result<gather::FetchResult> r) { out.emplace(std::move(r)); });
    if (!QTest::qWaitFor([&out] { return out.has_value(); }, 60000))
        return Error(QStringLiteral("test: the fetch never reported"));
    return std::move(*out);
}

QString TestFetcherCluster::podOf(const QString &app)
{
    QString out;
    script(QStringLiteral("kubectl"),
           {QStringLiteral("get"), QStringLiteral("pods"), QStringLiteral("-n"), m_namespace,
            QStringLiteral("-l"), QStringLiteral("app=") + app, QStringLiteral("-o"),
            QStringLiteral("jsonpath={.items[0].metadata.name}")},
           &out);
    return out.trimmed();
}

void TestFetcherCluster::crashLoopingPod()
{
    gather::IncidentSubject s;
    s.reason = QStringLiteral("CrashLoopBackOff");
    s.namespaceName = m_namespace;
    s.podName = podOf(QStringLiteral("payments-api"));
    QVERIFY(!s.podName.isEmpty());
    s.workloadKind = QStringLiteral("Deployment");
    s.workloadName = QStringLiteral("payments-api");
    s.pods = {s.podName};
    const Result<gather::FetchResult> r = fetch(s);
    QVERIFY2(r.ok(), qPrintable(r.errorMessage()));
    const gather::GatherInput &in = r->input;
    QCOMPARE(in.pods.size(), 1);
    QVERIFY(in.pods.first().restarts() > 0);
    QCOMPARE(in.subject.container, QStringLiteral("payments-api"));
    QVERIFY2(in.previousLog.contains(QLatin1String("connection refused")),
             qPrintable(in.previousLog.left(500)));
    QVERIFY(in.previousLog.count(u'\n') <= 50);
    QVERIFY(!in.events.isEmpty());
    QStringList kinds;
    for (const kube::WorkloadView &w : in.workloads)
        kinds << w.kind;
    QVERIFY2(kinds.contains(QLatin1String("ReplicaSet")) && kinds.contains(QLatin1String("Deployment")),
             qPrintable(kinds.join(u',')));
    QCOMPARE(in.nodes.size(), 1);
    QCOMPARE(in.nodes.first().name, in.pods.first().nodeName);
    for (const QString &path : r->requestPaths)
        QVERIFY2(!path.contains(QLatin1String("/secrets")), qPrintable(path));
    QVERIFY(r->requestPaths.contains(
        QStringLiteral("/api/v1/namespaces/%1/pods/%2/log").arg(m_namespace, s.podName)));

    // The whole prompt for it stays within 3000 tokens.
    gather::Redactor redactor;
    auto prompts = reason::loadPrompts();
    QVERIFY(prompts.ok());
    gather::GatherOptions options;
    options.tokenBudget = reason::evidenceTokenBudget(*prompts, 3000);
    gather::Evidence ev = gather::Gatherer(options).gather(in, redactor);
    gather::appendNotes(&ev, r->notes, redactor);
    QVERIFY(!ev.rolloutRevision.isEmpty());
    QVERIFY(ev.rolloutTime.isValid());
    const Result<QString> user = reason::renderUserPrompt(*prompts, ev);
    QVERIFY(user.ok());
    const int tokens = gather::estimateTokens(prompts->system) + gather::estimateTokens(prompts->schemaText) +
                       gather::estimateTokens(*user);
    QVERIFY2(tokens <= 3000, qPrintable(QString::number(tokens)));
}

void TestFetcherCluster::pendingPod()
{
    gather::IncidentSubject s;
    s.reason = QStringLiteral("FailedScheduling");
    s.namespaceName = m_namespace;
    s.podName = podOf(QStringLiteral("ml-trainer"));
    QVERIFY(!s.podName.isEmpty());
    const Result<gather::FetchResult> r = fetch(s);
    QVERIFY2(r.ok(), qPrintable(r.errorMessage()));
    QCOMPARE(r->input.pods.first().phase, QStringLiteral("Pending"));
    QVERIFY(r->input.nodes.isEmpty()); // not scheduled: no node, no logs, and that is not an error
    QVERIFY(r->input.currentLog.isEmpty());
    bool failedScheduling = false;
    for (const kube::EventView &e : r->input.events)
        failedScheduling = failedScheduling || e.reason == QLatin1String("FailedScheduling");
    QVERIFY(failedScheduling);
    for (const QString &note : r->notes)
        QVERIFY2(!note.startsWith(QLatin1String("not gathered: events")), qPrintable(note));
}

void TestFetcherCluster::secretReferencesAreNeverRead()
{
    gather::IncidentSubject s;
    s.reason = QStringLiteral("CreateContainerConfigError");
    s.namespaceName = m_namespace;
    s.podName = QStringLiteral("uses-secrets");
    s.container = QStringLiteral("app");
    const Result<gather::FetchResult> r = fetch(s);
    QVERIFY2(r.ok(), qPrintable(r.errorMessage()));
    QCOMPARE(r->input.env.size(), 2);
    QCOMPARE(r->input.env[0].value, QStringLiteral("info"));
    QCOMPARE(r->input.env[1].name, QStringLiteral("DB_PASSWORD"));
    QCOMPARE(r->input.env[1].value, QStringLiteral("(from secretKeyRef)"));
    QVERIFY(!m_fetcher->requestPaths().isEmpty());
    for (const QString &path : m_fetcher->requestPaths())
        QVERIFY2(!path.contains(QLatin1String("/secrets")), qPrintable(path));
}

void TestFetcherCluster::unknownPodIsAnError()
{
    gather::IncidentSubject s;
    s.reason = QStringLiteral("CrashLoopBackOff");
    s.namespaceName = m_namespace;
    s.podName = QStringLiteral("no-such-pod");
    const Result<gather::FetchResult> r = fetch(s);
    QVERIFY(!r.ok());
    QCOMPARE(r.errorMessage(), QStringLiteral("pod %1/no-such-pod not found").arg(m_namespace));
}

void TestFetcherCluster::nodeSubject()
{
    QString node;
    script(QStringLiteral("kubectl"),
           {QStringLiteral("get"), QStringLiteral("nodes"), QStringLiteral("-o"),
            QStringLiteral("jsonpath={.items[0].metadata.name}")},
           &node);
    gather::IncidentSubject s;
    s.reason = QStringLiteral("NodeNotReady");
    s.workloadKind = QStringLiteral("Node");
    s.nodeName = node.trimmed();
    const Result<gather::FetchResult> r = fetch(s);
    QVERIFY2(r.ok(), qPrintable(r.errorMessage()));
    QCOMPARE(r->input.nodes.size(), 1);
    QVERIFY(!r->input.nodes.first().conditions.isEmpty());
    QVERIFY(r->input.nodes.first().allocatableCpuMilli > 0);
    QVERIFY(r->input.pods.isEmpty());
}

QTEST_GUILESS_MAIN(TestFetcherCluster)
#include "tst_fetcher_cluster.moc"
