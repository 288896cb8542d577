#pragma once

// For integration tests that break the real test cluster on purpose: kill -9
// and restart its kube-apiserver with the same command line, and read or
// compact etcd's revision through its JSON gateway (a compaction followed by
// a restart makes every older resourceVersion 410 Gone). The cluster is the
// kwok one named by VIGIL_TEST_CLUSTER_FILE; its directory holds the pid
// files and the components' logs.

#include "core/kube/restclient.h"
#include "core/util/result.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QRegularExpression>
#include <QTest>

#include <nlohmann/json.hpp>

#include <csignal>
#include <optional>

namespace vigil::test {

class ApiServerControl final {
public:
    /// Finds the cluster directory and etcd's port from the running API server; client (not owned,
    /// talking to the API server directly) is used to wait for readiness after a restart.
    Result<void> init(kube::RestClient *client)
    {
        m_client = client;
        QFile pointer(qEnvironmentVariable("VIGIL_TEST_CLUSTER_FILE"));
        if (!pointer.open(QIODevice::ReadOnly))
            return Error(QStringLiteral("VIGIL_TEST_CLUSTER_FILE does not name a readable file"));
        m_clusterDir = QFileInfo(QString::fromUtf8(pointer.readAll().trimmed())).absolutePath();
        QFile pidFile(pidPath());
        if (!pidFile.open(QIODevice::ReadOnly))
            return Error(pidFile.fileName() + QStringLiteral(": ") + pidFile.errorString());
        QFile cmdline(QStringLiteral("/proc/%1/cmdline").arg(QString::fromUtf8(pidFile.readAll().trimmed())));
        if (!cmdline.open(QIODevice::ReadOnly))
            return Error(QStringLiteral("the API server named by %1 is not running").arg(pidPath()));
        const QRegularExpression etcd(QStringLiteral("--etcd-servers=http://127\\.0\\.0\\.1:(\\d+)"));
        const auto match = etcd.match(QString::fromUtf8(cmdline.readAll()));
        if (!match.hasMatch())
            return Error(QStringLiteral("no --etcd-servers on the API server's command line"));
        m_etcdPort = static_cast<quint16>(match.captured(1).toUInt());
        if (!etcdRevision())
            return Error(QStringLiteral("etcd's JSON gateway on port %1 did not answer").arg(m_etcdPort));
        return {};
    }

    QString clusterDir() const { return m_clusterDir; }

    /// kill -9, then the same command line in its own session; waits until /readyz answers (60 s).
    bool restart(QString *error)
    {
        QFile pidFile(pidPath());
        if (!pidFile.open(QIODevice::ReadOnly)) {
            *error = pidPath() + QStringLiteral(": ") + pidFile.errorString();
            return false;
        }
        const qint64 pid = pidFile.readAll().trimmed().toLongLong();
        pidFile.close();
        QFile cmdline(QStringLiteral("/proc/%1/cmdline").arg(pid));
        if (pid <= 0 || !cmdline.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("the API server (pid %1 from %2) is not running").arg(pid).arg(pidPath());
            return false;
        }
        QStringList args;
        for (const QByteArray &a : cmdline.readAll().split('\0'))
            if (!a.isEmpty())
                args.append(QString::fromLocal8Bit(a));
        if (args.isEmpty() || !args.first().endsWith(QStringLiteral("kube-apiserver"))) {
            *error = QStringLiteral("pid %1 is not a kube-apiserver: %2")
                         .arg(pid)
                         .arg(args.join(QLatin1Char(' ')));
            return false;
        }
        ::kill(static_cast<pid_t>(pid), SIGKILL);
        if (!QTest::qWaitFor([&] { return !QFile::exists(QStringLiteral("/proc/%1/cmdline").arg(pid)); },
                             5000)) {
            *error = QStringLiteral("the API server (pid %1) survived kill -9 for 5 s").arg(pid);
            return false;
        }

        // Same command line, own session (outlives the test), output appended to kwok's log.
        QProcess p;
        p.setProgram(QStringLiteral("setsid"));
        p.setArguments(args);
        p.setWorkingDirectory(m_clusterDir);
        p.setStandardInputFile(QProcess::nullDevice());
        const QString log = m_clusterDir + QStringLiteral("/logs/kube-apiserver.log");
        p.setStandardOutputFile(log, QIODevice::Append);
        p.setStandardErrorFile(log, QIODevice::Append);
        qint64 newPid = 0;
        if (!p.startDetached(&newPid)) {
            *error = QStringLiteral("could not restart the API server: %1").arg(args.join(QLatin1Char(' ')));
            return false;
        }
        if (pidFile.open(QIODevice::WriteOnly | QIODevice::Truncate))
            pidFile.write(QByteArray::number(newPid));
        pidFile.close();
        if (!waitReady(60000)) {
            *error =
                QStringLiteral("the restarted API server (pid %1) was not ready within 60 s").arg(newPid);
            return false;
        }
        return true;
    }

    /// Polls /readyz until it answers or ms pass.
    bool waitReady(int ms)
    {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < ms) {
            kube::Request r;
            r.path = QStringLiteral("/readyz");
            r.accept = "*/*";
            r.timeoutMs = 2000;
            std::optional<Result<kube::Response>> slot;
            QObject context;
            m_client->send(r, &context, [&](Result<kube::Response> resp) { slot = std::move(resp); });
            if (QTest::qWaitFor([&] { return slot.has_value(); }, 5000) && slot->ok())
                return true;
            QTest::qWait(200);
        }
        return false;
    }

    /// etcd's current revision; empty when the gateway does not answer.
    std::optional<qint64> etcdRevision()
    {
        // A range over the key "\0" returns nothing but the header with the store's revision.
        const QByteArray reply =
            etcdPost(QStringLiteral("/v3/kv/range"), QByteArrayLiteral("{\"key\":\"AA==\"}"));
        const auto doc = nlohmann::json::parse(reply.toStdString(), nullptr, false);
        if (doc.is_discarded() || !doc.contains("header"))
            return std::nullopt;
        return std::stoll(doc["header"].value("revision", std::string("0")));
    }

    /// Physically compacts etcd up to revision.
    bool compactEtcd(qint64 revision)
    {
        const QByteArray reply = etcdPost(QStringLiteral("/v3/kv/compaction"),
                                          QByteArrayLiteral("{\"physical\":true,\"revision\":") +
                                              QByteArray::number(revision) + QByteArrayLiteral("}"));
        return reply.contains("header");
    }

private:
    QString pidPath() const { return m_clusterDir + QStringLiteral("/pids/kube-apiserver.pid"); }

    QByteArray etcdPost(const QString &path, const QByteArray &body)
    {
        QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_etcdPort).arg(path)));
        req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        req.setTransferTimeout(5000);
        QNetworkReply *reply = m_etcd.post(req, body);
        if (!QTest::qWaitFor([&] { return reply->isFinished(); }, 10000))
            reply->abort();
        const QByteArray out = reply->error() == QNetworkReply::NoError ? reply->readAll() : QByteArray();
        reply->deleteLater();
        return out;
    }

    kube::RestClient *m_client = nullptr; // not owned
    QString m_clusterDir;
    quint16 m_etcdPort = 0;
    QNetworkAccessManager m_etcd;
};

} // namespace vigil::test
