#pragma once

// For the agent's and the hardening cluster tests (tests/core/agent, tests/hardening): a
// `vigilctl agent` child process (the built binary, VIGIL_VIGILCTL) with its JSON log parsed as it
// arrives and its /healthz, /readyz and /metrics read over HTTP; the fixture each of them starts
// with (a fresh namespace, the AgentDecision CRD, scenarios applied); and str() for JSON paths.

#include "clusterapi.h"
#include "core/audit/auditlog.h"
#include "core/cli/await.h"

#include <QEventLoop>
#include <QFile>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QTest>
#include <QTimer>

#include <nlohmann/json.hpp>

#include <memory>

namespace vigil::test {

struct HttpAnswer {
    int status = 0;
    QByteArray body;
};

class AgentProcess {
public:
    AgentProcess(QString identity, QString dataDir)
        : m_identity(std::move(identity))
        , m_dataDir(std::move(dataDir))
    {
        QObject::connect(&m_process, &QProcess::readyReadStandardError, &m_process, [this] { readLog(); });
    }
    ~AgentProcess()
    {
        if (m_process.state() != QProcess::NotRunning) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
    }

    /// SIGTERM, then waits; true when it exited 0 within timeoutMs (or was not running).
    bool stop(int timeoutMs = 10000)
    {
        if (m_process.state() == QProcess::NotRunning)
            return true;
        m_process.terminate();
        return m_process.waitForFinished(timeoutMs) && m_process.exitStatus() == QProcess::NormalExit &&
               m_process.exitCode() == 0;
    }

    /// Starts `vigilctl agent ARGS --identity I --data-dir D --listen 127.0.0.1:0`.
    void start(const QStringList &args)
    {
        QStringList all{"agent"};
        all << args << "--identity" << m_identity << "--data-dir" << m_dataDir << "--listen"
            << "127.0.0.1:0";
        m_process.start(QStringLiteral(VIGIL_VIGILCTL), all);
    }
    /// Waits for the log line that names the probe port.
    bool waitUntilServing(int timeoutMs = 15000)
    {
        return ClusterApi::waitFor(
                   [this] { return m_port != 0 || m_process.state() == QProcess::NotRunning; }, timeoutMs) &&
               m_port != 0;
    }

    HttpAnswer get(const QString &path)
    {
        QNetworkAccessManager nam;
        QNetworkRequest request(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_port).arg(path)));
        request.setTransferTimeout(3000);
        QNetworkReply *reply = nam.get(request);
        QEventLoop loop;
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        QTimer::singleShot(5000, &loop, &QEventLoop::quit);
        loop.exec();
        HttpAnswer a{reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), reply->readAll()};
        delete reply;
        return a;
    }
    /// The value of one sample line of /metrics ("name" or "name{labels}"); -1 when absent.
    double metric(const QString &sample)
    {
        const HttpAnswer a = get(QStringLiteral("/metrics"));
        for (const QByteArray &line : a.body.split('\n')) {
            if (line.startsWith(QByteArray(sample.toUtf8() + ' ')))
                return line.mid(sample.size() + 1).toDouble();
        }
        return -1;
    }
    bool isLeader() { return metric(QStringLiteral("vigil_agent_is_leader")) == 1; }

    /// Log lines with this msg (JSON objects).
    QList<nlohmann::json> logged(const QString &message) const
    {
        QList<nlohmann::json> out;
        for (const nlohmann::json &l : m_log) {
            if (l.value("msg", std::string()) == message.toStdString())
                out << l;
        }
        return out;
    }
    /// Every stderr line that was not a JSON object (should stay empty).
    const QStringList &foreignLines() const { return m_foreign; }
    QString logText() const { return QString::fromUtf8(m_raw); }

    /// Audit rows of one decision (optionally of one kind), read from the agent's data dir.
    QList<audit::AuditEvent> audit(const QString &decisionId, const QString &kind = {}) const
    {
        auto log = audit::AuditLog::open(m_dataDir + QStringLiteral("/audit.db"));
        if (!log)
            return {};
        audit::AuditFilter f;
        f.decisionId = decisionId;
        f.kind = kind;
        auto rows = (*log)->query(f);
        return rows ? *rows : QList<audit::AuditEvent>();
    }

    QProcess &process() { return m_process; }
    const QString &identity() const { return m_identity; }
    const QString &dataDir() const { return m_dataDir; }
    quint16 port() const { return m_port; }

private:
    void readLog()
    {
        m_raw += m_process.readAllStandardError();
        qsizetype nl;
        while ((nl = m_raw.indexOf('\n', m_parsed)) >= 0) {
            const QByteArray line = m_raw.mid(m_parsed, nl - m_parsed);
            m_parsed = nl + 1;
            nlohmann::json doc = nlohmann::json::parse(line.toStdString(), nullptr, false);
            if (!doc.is_object() || !doc.contains("ts") || !doc.contains("level") || !doc.contains("msg") ||
                !doc.contains("fields")) {
                m_foreign << QString::fromUtf8(line);
                continue;
            }
            if (doc["msg"] == "serving probes and metrics")
                m_port = static_cast<quint16>(doc["fields"].value("port", 0));
            m_log << doc;
        }
    }

    QString m_identity;
    QString m_dataDir;
    QProcess m_process;
    QByteArray m_raw;
    qsizetype m_parsed = 0;
    QList<nlohmann::json> m_log;
    QStringList m_foreign;
    quint16 m_port = 0;
};

/// The string at path in j; empty when a step is missing or the value is not a string.
inline QString str(const nlohmann::json &j, std::initializer_list<const char *> path)
{
    const nlohmann::json *at = &j;
    for (const char *k : path) {
        if (!at->is_object() || !at->contains(k))
            return QString();
        at = &(*at)[k];
    }
    return at->is_string() ? QString::fromStdString(at->get<std::string>()) : QString();
}

inline QString sourceDir()
{
    QString source = qEnvironmentVariable("VIGIL_SOURCE_DIR");
    return source.isEmpty() ? QStringLiteral(QT_TESTCASE_SOURCEDIR) + QStringLiteral("/../../..") : source;
}

inline QString clusterKubeconfig()
{
    QFile f(qEnvironmentVariable("VIGIL_TEST_CLUSTER_FILE"));
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll().trimmed()) : QString();
}

/// tests/scenarios/apply --only <scenario> into namespace; empty on success, else its output.
inline QString applyScenario(const QString &kubeconfig, const QString &ns, const QString &scenario)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(sourceDir() + QStringLiteral("/tests/scenarios/apply"),
            {"--kubeconfig", kubeconfig, "--namespace", ns, "--only", scenario});
    if (!p.waitForFinished(60000)) {
        p.kill();
        return QStringLiteral("tests/scenarios/apply timed out");
    }
    return p.exitCode() == 0 ? QString() : QString::fromUtf8(p.readAll());
}

/// Auto-within-policy that lets only create_alert run: an alert is the action a test can hold open
/// (its webhook) or let finish at once.
inline QByteArray alertOnlyPolicy()
{
    return "mode: auto-within-policy\n"
           "allowedActions: [create_alert]\n"
           "minConfidence:\n  default: 0.1\n"
           "cooldown:\n  perTarget: 1s\n"
           "maxActionsPerHour: 100\n"
           "autoApprove: [create_alert]\n";
}

inline kube::ResourceType agentDecisions()
{
    return {QStringLiteral("ai.vigil.dev"), QStringLiteral("v1alpha1"), QStringLiteral("agentdecisions"),
            true};
}

inline kube::ResourceType leases()
{
    return {QStringLiteral("coordination.k8s.io"), QStringLiteral("v1"), QStringLiteral("leases"), true};
}

/// Where an agent cluster test starts: the test cluster's kubeconfig, a connected ClusterApi, a fresh
/// namespace with the AgentDecision CRD installed and scenarios applied into it; tearDown() removes
/// what setUp() made.
struct AgentClusterFixture {
    ClusterApi api;
    QString kubeconfig;
    QString ns;

    /// Errors name the step that failed.
    Result<void> setUp(const char *namespacePrefix, const QStringList &scenarios = {})
    {
        kubeconfig = clusterKubeconfig();
        if (kubeconfig.isEmpty())
            return Error(QStringLiteral("VIGIL_TEST_CLUSTER_FILE does not name a kubeconfig"));
        if (Result<void> c = api.connect(); !c)
            return c;
        ns = ClusterApi::uniqueName(namespacePrefix);
        if (Result<nlohmann::json> created = api.createNamespace(ns); !created)
            return created.error();
        if (Result<void> crd = api.installAgentDecisionCrd(); !crd)
            return crd;
        for (const QString &scenario : scenarios) {
            const QString applied = applyScenario(kubeconfig, ns, scenario);
            if (!applied.isEmpty())
                return Error(QStringLiteral("scenario %1: %2").arg(scenario, applied));
        }
        return {};
    }

    /// Deletes the scenarios' objects outside the namespace (`apply --delete`), then the namespace.
    void tearDown(const QStringList &scenarios = {})
    {
        if (!api.client || ns.isEmpty())
            return;
        if (!scenarios.isEmpty()) {
            QProcess p;
            p.start(sourceDir() + QStringLiteral("/tests/scenarios/apply"),
                    {"--kubeconfig", kubeconfig, "--namespace", ns, "--delete", "--only",
                     scenarios.join(QLatin1Char(','))});
            p.waitForFinished(60000);
        }
        (void)api.remove({kube::ResourceType::namespaces(), {}, ns, {}});
    }

    /// The AgentDecisions of the agent whose lease is leaseName.
    QList<nlohmann::json> agentDecisionsOf(const QString &leaseName)
    {
        Result<QList<nlohmann::json>> items =
            api.list({agentDecisions(), ns, {}, {}}, QStringLiteral("vigil.dev/agent=") + leaseName);
        return items ? *items : QList<nlohmann::json>();
    }
};

/// A policy that lets the rules' crash-loop proposals through whatever they pick.
inline QByteArray permissivePolicy()
{
    return "mode: approve\n"
           "allowedActions: [restart_pod, create_alert]\n"
           "minConfidence:\n  default: 0.1\n  restart_pod: 0.1\n"
           "cooldown:\n  perTarget: 1s\n"
           "maxActionsPerHour: 100\n"
           "autoApprove: [restart_pod, create_alert]\n";
}

} // namespace vigil::test
