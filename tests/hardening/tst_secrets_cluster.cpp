// Seeded secrets: known secret values are planted where anyone who can run a
// pod writes — secret-named env vars and container args in every namespaced
// scenario workload of a fresh namespace on the real cluster, a crash-looping
// workload of our own whose logs carry them all, and Warning events on its
// pod and the crash-loop scenario's.
// Four agents (agent::Agent, auto-within-policy, wired as `vigilctl agent`
// wires them) diagnose and act there at once, one per provider shape:
// OpenAI, Anthropic and Ollama (local servers speaking each wire format) and
// the rules alone. HOME and the XDG folders point into a temporary folder, and
// the model API keys come from the environment through the SecretStore.
// Afterwards no seeded value may appear in: any request body a model server
// received, the agents' structured logs, the audit exports (JSONL and CSV),
// the AgentDecision objects, or any file the run left under HOME (the
// SQLite databases included); and no API key may appear in any of those
// files, in plain text or base64.

#include "agentprocess.h"
#include "fakemodel.h"
#include "workloads.h"

#include "core/act/datapaths.h"
#include "core/agent/agent.h"
#include "core/agent/decisionledger.h"
#include "core/agent/structuredlog.h"
#include "core/reason/llm/reasoningstack.h"
#include "core/reason/llm/secretstore.h"

#include <QBuffer>
#include <QDirIterator>
#include <QTemporaryDir>

using namespace vigil;
using namespace vigil::test;
using json = nlohmann::json;

namespace {

struct Seed {
    const char *name;
    QString value; ///< what must never leave
};

// Distinct, made-up values in the shapes real ones have (nothing here is a live credential).
const QString kJwt =
    QStringLiteral("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzZWVkZWQtdXNlci00MiIsImlhdCI6MTc2NDAw"
                   "MDAwMH0.Qm9ndXNTaWduYXR1cmVGb3JIYXJkZW5pbmdUZXN0czQy");
const QString kPemBody =
    QStringLiteral("MIIEowIBAAKCAQEAs33dH4rd3n1ngT3stK3yN0tR3alQm9ndXNLZXlCb2R5Rm9yVGVzdHM0Mg");
const QString kPem =
    QStringLiteral("-----BEGIN RSA PRIVATE KEY-----\\n") + kPemBody +
    QStringLiteral("\\nYm9ndXNzZWNvbmRsaW5lb2Z0aGVrZXlmb3J0ZXN0cw==\\n-----END RSA PRIVATE KEY-----");

QList<Seed> seeds()
{
    return {
        {"env DB_PASSWORD", QStringLiteral("S33dedDbPassw0rdX71")},
        {"env GITHUB_TOKEN", QStringLiteral("ghp_S33dedGithubTok3nAbCdEfGhIjKlMnOpQr12")},
        {"bearer token", QStringLiteral("S33dedBearerTok3nZyXwVuTsRqPoNm987")},
        {"JWT", kJwt},
        {"PEM private key", kPemBody},
        {"AWS access key id", QStringLiteral("AKIAS33DEDHARDEN7Q2X")},
        {"AWS secret access key", QStringLiteral("wJalrS33dedSecretKeyH4rdenK7MDENGbPxRfiCYQ")},
        {"GCP API key", QStringLiteral("AIzaSyS33dedGcpKeyHardening0123456789ab")},
        {"Azure storage account key",
         QStringLiteral(
             "S33dedAzureAccountKeyHardeningTestsOnlyQm9ndXNCb2R5Rm9yVGVzdHM0MlhhcmRlbmluZ1Rlc3Rz0A==")},
        {"password in a DB URL", QStringLiteral("S33dedUrlPassw0rdK8")},
    };
}

QByteArray seededLogLines()
{
    const QList<Seed> s = seeds();
    const QStringList lines{
        "starting vault-sync 3.1.0",
        "loaded config DB_PASSWORD=" + s[0].value,
        "calling https://api.internal/v1/sync with header Authorization: Bearer " + s[2].value,
        "session token " + kJwt,
        "aws configure: aws_access_key_id=" + s[5].value + " aws_secret_access_key=" + s[6].value,
        "gcp: using key=" + s[7].value,
        "azure: DefaultEndpointsProtocol=https;AccountName=seedacct;AccountKey=" + s[8].value +
            ";EndpointSuffix=core.windows.net",
        "connecting to postgres://app:" + s[9].value + "@db.internal:5432/payments",
        "loaded signing key " + kPem,
        "panic: sync failed: 401 Unauthorized from vault",
    };
    QByteArray out;
    int ms = 100;
    for (const QString &l : lines)
        out += ("2026-11-25T00:00:00." + QString::number(ms++) + "000000Z stdout F " + l + "\n").toUtf8();
    return out;
}

json seededEnv()
{
    const QList<Seed> s = seeds();
    return json::array({
        {{"name", "DB_PASSWORD"}, {"value", s[0].value.toStdString()}},
        {{"name", "GITHUB_TOKEN"}, {"value", s[1].value.toStdString()}},
        {{"name", "AWS_ACCESS_KEY_ID"}, {"value", s[5].value.toStdString()}},
        {{"name", "AWS_SECRET_ACCESS_KEY"}, {"value", s[6].value.toStdString()}},
        {{"name", "GOOGLE_API_KEY"}, {"value", s[7].value.toStdString()}},
        {{"name", "AZURE_STORAGE_CONNECTION_STRING"},
         {"value", QString("DefaultEndpointsProtocol=https;AccountName=seedacct;AccountKey=" + s[8].value +
                           ";EndpointSuffix=core.windows.net")
                       .toStdString()}},
        {{"name", "DATABASE_URL"},
         {"value", QString("postgres://app:" + s[9].value + "@db.internal:5432/payments").toStdString()}},
        {{"name", "SIGNING_JWT"}, {"value", kJwt.toStdString()}},
    });
}

json seededArgs()
{
    const QList<Seed> s = seeds();
    return json::array({"--header=Authorization: Bearer " + s[2].value.toStdString(),
                        "--db=postgres://app:" + s[9].value.toStdString() + "@db.internal:5432/payments",
                        "--token=" + s[1].value.toStdString()});
}

QByteArray policyYaml()
{
    return "mode: auto-within-policy\n"
           "allowedActions: [restart_pod, create_alert]\n"
           "minConfidence:\n  default: 0.1\n"
           "cooldown:\n  perTarget: 1s\n"
           "maxActionsPerHour: 1000\n"
           "autoApprove: [restart_pod, create_alert]\n";
}

} // namespace

class TestSecretsCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void runEveryProviderShape();
    void noSeededValueLeaves_data();
    void noSeededValueLeaves();
    void apiKeysNeverOnDisk();
    void cleanupTestCase();

private:
    struct Run {
        QString provider;
        std::unique_ptr<FakeModel> model; ///< null for the rules
        std::unique_ptr<llm::ReasoningStack> stack;
        std::unique_ptr<agent::StructuredLog> log;
        QByteArray logText;
        std::unique_ptr<agent::Agent> agent;
        QString lease;
        QString dataDir;
    };

    Result<void> seedWorkloads();
    /// Warning events on the seeded pods whose messages carry every seeded value.
    Result<void> seedEvents();
    Result<void> startRun(Run &run);
    /// Where each seeded value (or a 16-character piece of it) occurs in text, as "<seed> in <where>: ...".
    static QStringList leaks(const QByteArray &text, const QString &where);
    QByteArray everyFileUnderHome() const;

    AgentClusterFixture m_cluster;
    QTemporaryDir m_home;
    QTemporaryDir m_logs;
    llm::EnvSecretStore m_secrets;
    QString m_openAiKey;
    QString m_anthropicKey;
    std::vector<std::unique_ptr<Run>> m_runs;
    QByteArray m_agentDecisions;
};

Result<void> TestSecretsCluster::seedWorkloads()
{
    // Every namespaced scenario, each container given the seeded env and args.
    // (healthy has nothing to diagnose and notready-node is cluster-wide: both are left out.)
    for (const char *scenario : {"crashloop", "oomkilled", "imagepull", "readiness", "pending"}) {
        const QString applied = applyScenario(m_cluster.kubeconfig, m_cluster.ns, scenario);
        if (!applied.isEmpty())
            return Error(QStringLiteral("scenario %1: %2").arg(scenario, applied));
    }
    const kube::ResourcePath deployments{kube::ResourceType::deployments(), m_cluster.ns, {}, {}};
    Result<QList<json>> listed = m_cluster.api.list(deployments);
    if (!listed)
        return listed.error();
    for (const json &listedDeployment : *listed) {
        const QString name = str(listedDeployment, {"metadata", "name"});
        const kube::ResourcePath path{kube::ResourceType::deployments(), m_cluster.ns, name, {}};
        // The controllers write status meanwhile: read, change, write until no 409 (a few tries).
        Result<json> updated = Error(QStringLiteral("not tried"));
        for (int attempt = 0; attempt < 8; ++attempt) {
            Result<json> d = m_cluster.api.get(path);
            if (!d)
                return d.error();
            for (json &c : (*d)["spec"]["template"]["spec"]["containers"]) {
                json env = c.value("env", json::array());
                for (const json &e : seededEnv())
                    env.push_back(e);
                c["env"] = env;
                c["args"] = seededArgs();
            }
            updated = cli::await<json>(
                [&](QObject *ctx, auto cb) { m_cluster.api.client->update(path, *d, {}, ctx, cb); });
            if (updated || updated.error().code != 409)
                break;
        }
        if (!updated)
            return Error(QStringLiteral("seeding deployment %1: %2").arg(name, updated.errorMessage()));
    }

    // Our own crash loop whose logs (current and previous) carry every seeded value.
    QFile current(m_logs.filePath("current.log")), previous(m_logs.filePath("previous.log"));
    if (!current.open(QIODevice::WriteOnly) || !previous.open(QIODevice::WriteOnly))
        return Error(QStringLiteral("cannot write the seeded log files"));
    current.write(seededLogLines());
    previous.write(seededLogLines());
    current.close();
    previous.close();
    const json deploy =
        crashLoopingDeployment(m_cluster.ns, QStringLiteral("vault-sync"), seededEnv(), seededArgs());
    if (Result<json> r = m_cluster.api.create(deployments, deploy); !r)
        return r.error();
    const kube::ResourceType clusterLogs{"kwok.x-k8s.io", "v1alpha1", "clusterlogs", false};
    const json logs = {
        {"apiVersion", "kwok.x-k8s.io/v1alpha1"},
        {"kind", "ClusterLogs"},
        {"metadata", {{"name", QString("vigil-" + m_cluster.ns + "-secrets").toStdString()}}},
        {"spec",
         {{"selector", {{"matchNamespaces", json::array({m_cluster.ns.toStdString()})}}},
          {"logs", json::array({json{{"containers", json::array({"vault-sync"})},
                                     {"logsFile", current.fileName().toStdString()},
                                     {"previousLogsFile", previous.fileName().toStdString()}}})}}}};
    if (Result<json> r = m_cluster.api.create({clusterLogs, {}, {}, {}}, logs); !r)
        return r.error();
    return {};
}

Result<void> TestSecretsCluster::seedEvents()
{
    const QList<Seed> s = seeds();
    const QStringList messages{
        "MountVolume.SetUp failed for volume \"creds\": fetching https://vault.internal/v1/creds with "
        "Authorization: Bearer " +
            s[2].value + " and session " + kJwt + " returned 403",
        "Failed to pull credentials: aws_access_key_id=" + s[5].value + " aws_secret_access_key=" +
            s[6].value + " GOOGLE_API_KEY=" + s[7].value + " DB_PASSWORD=" + s[0].value,
        "Liveness probe failed: dial postgres://app:" + s[9].value +
            "@db.internal:5432/payments; AccountKey=" + s[8].value + "; GITHUB_TOKEN=" + s[1].value +
            "; key " + kPem,
    };
    for (const QString &app : {QStringLiteral("vault-sync"), QStringLiteral("payments-api")}) {
        QMap<QString, QString> pods;
        if (!ClusterApi::waitFor(
                [&] { return !(pods = m_cluster.api.livePods(m_cluster.ns, app)).isEmpty(); }, 60000))
            return Error("no pod of " + app + " within 60 s");
        const QString now = QDateTime::currentDateTimeUtc().toString(Qt::ISODate);
        int n = 0;
        for (const QString &message : messages) {
            const json event = {
                {"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata",
                 {{"name", QString(pods.firstKey() + ".seeded" + QString::number(n++)).toStdString()},
                  {"namespace", m_cluster.ns.toStdString()}}},
                {"involvedObject",
                 {{"kind", "Pod"},
                  {"apiVersion", "v1"},
                  {"namespace", m_cluster.ns.toStdString()},
                  {"name", pods.firstKey().toStdString()},
                  {"uid", pods.first().toStdString()}}},
                {"type", "Warning"},
                {"reason", n == 1   ? "FailedMount"
                           : n == 2 ? "Failed"
                                    : "Unhealthy"},
                {"message", message.toStdString()},
                {"source", {{"component", "kubelet"}, {"host", "kwok-node-0"}}},
                {"firstTimestamp", now.toStdString()},
                {"lastTimestamp", now.toStdString()},
                {"count", 3}};
            if (Result<json> r =
                    m_cluster.api.create({kube::ResourceType::events(), m_cluster.ns, {}, {}}, event);
                !r)
                return Error("seeding an event on " + pods.firstKey() + ": " + r.errorMessage());
        }
    }
    return {};
}

void TestSecretsCluster::initTestCase()
{
    // Everything the run writes lands in one scanned folder.
    QVERIFY(m_home.isValid() && m_logs.isValid());
    qputenv("HOME", m_home.path().toUtf8());
    qputenv("XDG_CONFIG_HOME", m_home.filePath(".config").toUtf8());
    qputenv("XDG_DATA_HOME", m_home.filePath(".local/share").toUtf8());
    qputenv("XDG_CACHE_HOME", m_home.filePath(".cache").toUtf8());
    qputenv("XDG_STATE_HOME", m_home.filePath(".local/state").toUtf8());
    qunsetenv("VIGIL_DATA_DIR");
    m_openAiKey = QStringLiteral("sk-proj-S33dedOpenAiKeyHardening0123456789abcdefABCDEF");
    m_anthropicKey = QStringLiteral("sk-ant-api03-S33dedAnthropicKeyHardening0123456789-abcdefAA");
    qputenv("OPENAI_API_KEY", m_openAiKey.toUtf8());
    qputenv("ANTHROPIC_API_KEY", m_anthropicKey.toUtf8());

    Result<void> ready = m_cluster.setUp("vigil-secrets-");
    QVERIFY2(ready, qPrintable(ready.errorMessage()));
    Result<void> seeded = seedWorkloads();
    QVERIFY2(seeded, qPrintable(seeded.errorMessage()));
    Result<void> events = seedEvents();
    QVERIFY2(events, qPrintable(events.errorMessage()));
}

Result<void> TestSecretsCluster::startRun(Run &run)
{
    llm::ProviderSettings settings;
    settings.provider = run.provider;
    if (run.provider != u"rules") {
        run.model = std::make_unique<FakeModel>(run.provider == u"openai"      ? FakeModel::Shape::OpenAi
                                                : run.provider == u"anthropic" ? FakeModel::Shape::Anthropic
                                                                               : FakeModel::Shape::Ollama);
        run.model->setKeepRequests(true);
        if (!run.model->listen())
            return Error(QStringLiteral("the %1 model server could not listen").arg(run.provider));
        settings.baseUrl = run.model->baseUrl();
        const llm::DefaultModels models = llm::defaultModels(run.provider);
        settings.smallModel = models.small.isEmpty() ? QStringLiteral("qwen2.5:7b") : models.small;
        settings.strongModel = models.strong.isEmpty() ? QStringLiteral("qwen2.5:14b") : models.strong;
        settings.escalationThreshold = 1.0; // every diagnosis reaches the model
        settings.timeoutMs = 10000;
    }
    run.dataDir = QDir(qEnvironmentVariable("XDG_DATA_HOME")).filePath("vigil-" + run.provider);
    Result<std::unique_ptr<llm::ReasoningStack>> stack =
        llm::ReasoningStack::create(settings, &m_secrets, QDir(run.dataDir).filePath("diagnoses.sqlite"));
    if (!stack)
        return stack.error();
    run.stack = std::move(*stack);
    Result<guard::Policy> policy = guard::parsePolicy(policyYaml(), QStringLiteral("secrets policy"));
    if (!policy)
        return policy.error();
    agent::AgentOptions options;
    options.namespaceName = m_cluster.ns;
    options.policy = *policy;
    options.dataDir = run.dataDir;
    run.lease = ClusterApi::uniqueName("vigil-secrets-" + run.provider + "-");
    options.election.leaseName = run.lease;
    options.election.leaseNamespace = m_cluster.ns;
    options.election.identity = "secrets-" + run.provider;
    options.client.qps = 20;
    options.client.burst = 40;
    options.verifyTimeoutMs = 15000;
    Run *raw = &run;
    run.log = std::make_unique<agent::StructuredLog>([raw](const QByteArray &line) { raw->logText += line; });
    run.log->setMinimumLevel(agent::StructuredLog::Level::Debug);
    Result<kube::Connection> connection = testClusterConnection();
    if (!connection)
        return connection.error();
    run.agent = std::make_unique<agent::Agent>(*connection, options, run.stack->router(), run.log.get());
    if (Result<void> opened = run.agent->open(); !opened)
        return opened;
    run.agent->start();
    return {};
}

void TestSecretsCluster::runEveryProviderShape()
{
    for (const char *provider : {"openai", "anthropic", "ollama", "rules"}) {
        auto run = std::make_unique<Run>();
        run->provider = provider;
        Result<void> started = startRun(*run);
        QVERIFY2(started, qPrintable(QStringLiteral("%1: %2").arg(provider, started.errorMessage())));
        m_runs.push_back(std::move(run));
    }
    // Each shape diagnosed the seeded workload and each agent recorded decisions.
    auto sawSeeded = [](const Run &r) {
        if (!r.model)
            return true;
        for (const HttpRequest &q : r.model->kept())
            if (q.body.contains("vault-sync"))
                return true;
        return false;
    };
    auto decisions = [this](const Run &r) {
        return int(m_cluster.agentDecisionsOf(agent::labelValue(r.lease)).size());
    };
    const bool done = QTest::qWaitFor(
        [&] {
            for (const auto &r : m_runs)
                if (!sawSeeded(*r) || decisions(*r) < 2)
                    return false;
            return true;
        },
        150000);
    QString state;
    for (const auto &r : m_runs)
        state += QStringLiteral("%1: model requests %2, seeded workload reached %3, decisions %4; ")
                     .arg(r->provider)
                     .arg(r->model ? r->model->requests() : 0)
                     .arg(sawSeeded(*r))
                     .arg(decisions(*r));
    qInfo("%s", qPrintable(state));
    QVERIFY2(done, qPrintable(state));

    // Stop the agents (their last writes land), then keep what they left for the scans.
    for (const auto &r : m_runs) {
        bool finished = false;
        const QMetaObject::Connection c =
            connect(r->agent.get(), &agent::Agent::finished, this, [&finished] { finished = true; });
        r->agent->shutdown();
        const bool stopped = QTest::qWaitFor([&] { return finished; }, 40000);
        disconnect(c);
        QVERIFY2(stopped, qPrintable(r->provider + ": the agent did not finish within 40 s of shutdown()"));
    }
    Result<QList<json>> objects = m_cluster.api.list({agentDecisions(), m_cluster.ns, {}, {}});
    QVERIFY2(objects, qPrintable(objects.errorMessage()));
    for (const json &o : *objects)
        m_agentDecisions += QByteArray::fromStdString(o.dump()) + '\n';
}

QStringList TestSecretsCluster::leaks(const QByteArray &text, const QString &where)
{
    QStringList out;
    for (const Seed &s : seeds()) {
        const QByteArray value = s.value.toUtf8();
        QList<QByteArray> needles{value};
        for (qsizetype at = 0; at + 16 <= value.size(); at += 8)
            needles << value.mid(at, 16); // a piece of it is a leak too
        for (const QByteArray &n : needles) {
            const qsizetype at = text.indexOf(n);
            if (at >= 0) {
                out << QStringLiteral("%1 in %2: ...%3...")
                           .arg(QString::fromLatin1(s.name), where,
                                QString::fromUtf8(text.mid(std::max<qsizetype>(0, at - 60), n.size() + 120)));
                break;
            }
        }
    }
    return out;
}

QByteArray TestSecretsCluster::everyFileUnderHome() const
{
    QByteArray all;
    QDirIterator it(m_home.path(), QDir::Files | QDir::Hidden | QDir::System, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        QFile f(it.next());
        if (f.open(QIODevice::ReadOnly))
            all += f.fileName().toUtf8() + '\n' + f.readAll() + '\n';
    }
    return all;
}

void TestSecretsCluster::noSeededValueLeaves_data()
{
    QTest::addColumn<QString>("sink");
    for (const char *provider : {"openai", "anthropic", "ollama"})
        QTest::newRow(qPrintable(QStringLiteral("requests to the %1 model").arg(provider)))
            << QStringLiteral("model:") + provider;
    for (const char *provider : {"openai", "anthropic", "ollama", "rules"}) {
        QTest::newRow(qPrintable(QStringLiteral("structured log of the %1 agent").arg(provider)))
            << QStringLiteral("log:") + provider;
        QTest::newRow(qPrintable(QStringLiteral("audit JSONL export of the %1 agent").arg(provider)))
            << QStringLiteral("jsonl:") + provider;
        QTest::newRow(qPrintable(QStringLiteral("audit CSV export of the %1 agent").arg(provider)))
            << QStringLiteral("csv:") + provider;
    }
    QTest::newRow("AgentDecision objects") << QStringLiteral("agentdecisions");
    QTest::newRow("every file under HOME (settings, SQLite databases)") << QStringLiteral("home");
}

void TestSecretsCluster::noSeededValueLeaves()
{
    QFETCH(QString, sink);
    QVERIFY2(!m_runs.empty(), "the run did not happen");
    const QString kind = sink.section(u':', 0, 0);
    const QString provider = sink.section(u':', 1);
    const Run *run = nullptr;
    for (const auto &r : m_runs)
        if (r->provider == provider)
            run = r.get();
    QByteArray text;
    if (kind == u"model") {
        QVERIFY(run && run->model);
        QVERIFY(!run->model->kept().isEmpty());
        for (const HttpRequest &q : run->model->kept())
            text += q.body + '\n';
        // The seeded channels did reach the model, redacted: env (by name), the log and the events.
        for (const char *marker :
             {"REDACTED", "DB_PASSWORD", "panic: sync failed", "MountVolume.SetUp failed"})
            QVERIFY2(
                text.contains(marker),
                qPrintable(QStringLiteral("no request carried '%1': that channel never reached the model")
                               .arg(QString::fromLatin1(marker))));
        qInfo("%lld redaction placeholders in %lld requests", qint64(text.count("REDACTED")),
              qint64(run->model->kept().size()));
    } else if (kind == u"log") {
        QVERIFY(run);
        text = run->logText;
        QVERIFY(!text.isEmpty());
    } else if (kind == u"jsonl" || kind == u"csv") {
        QVERIFY(run);
        auto log = audit::AuditLog::open(act::auditPath(run->dataDir));
        QVERIFY2(log, qPrintable(log.errorMessage()));
        QBuffer buffer(&text);
        QVERIFY(buffer.open(QIODevice::WriteOnly));
        Result<qint64> rows = kind == u"jsonl" ? (*log)->exportJsonl(&buffer) : (*log)->exportCsv(&buffer);
        QVERIFY2(rows, qPrintable(rows.errorMessage()));
        QVERIFY2(*rows > 0, "an empty audit export proves nothing");
    } else if (kind == u"agentdecisions") {
        text = m_agentDecisions;
        QVERIFY(!text.isEmpty());
    } else {
        text = everyFileUnderHome();
        QVERIFY(text.contains("audit.db") && text.contains("decisions.db"));
    }
    const QStringList found = leaks(text, QString::fromUtf8(QTest::currentDataTag()));
    QVERIFY2(found.isEmpty(), qPrintable(found.join(QStringLiteral("\n"))));
}

void TestSecretsCluster::apiKeysNeverOnDisk()
{
    QVERIFY2(!m_runs.empty(), "the run did not happen");
    // The keys were in use: each reached its model server (and nothing else).
    for (const auto &r : m_runs) {
        if (!r->model || r->provider == u"ollama")
            continue;
        const QString key = r->provider == u"openai" ? m_openAiKey : m_anthropicKey;
        const QByteArray header =
            r->provider == u"openai" ? QByteArray("authorization") : QByteArray("x-api-key");
        QVERIFY(!r->model->kept().isEmpty());
        QVERIFY2(r->model->kept().first().header(header).contains(key.toUtf8()),
                 qPrintable(r->provider + ": the API key did not reach the model server"));
    }
    QByteArray everything = everyFileUnderHome() + m_agentDecisions;
    for (const auto &r : m_runs)
        everything += r->logText;
    for (const QString &key : {m_openAiKey, m_anthropicKey}) {
        const QByteArray k = key.toUtf8();
        for (const QByteArray &form : {k, k.toBase64(), k.mid(12, 20)})
            QVERIFY2(!everything.contains(form),
                     qPrintable("an API key is on disk or in a log: " + QString::fromUtf8(form)));
    }
}

void TestSecretsCluster::cleanupTestCase()
{
    m_runs.clear();
    if (!m_cluster.ns.isEmpty() && m_cluster.api.client) {
        const kube::ResourceType clusterLogs{"kwok.x-k8s.io", "v1alpha1", "clusterlogs", false};
        (void)m_cluster.api.remove({clusterLogs, {}, "vigil-" + m_cluster.ns + "-secrets", {}});
    }
    m_cluster.tearDown({"crashloop", "oomkilled", "imagepull", "readiness", "pending"});
}

QTEST_GUILESS_MAIN(TestSecretsCluster)
#include "tst_secrets_cluster.moc"
