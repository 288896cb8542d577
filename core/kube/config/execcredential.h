#pragma once

// client-go exec credential plugins (client.authentication.k8s.io v1 and
// v1beta1). A plugin runs only with explicit consent: its exact command line
// must be in the ExecAllowlist, otherwise credentials() fails with
// kExecConsentRequired and the message shows the command line to allow.

#include "core/kube/connection.h"

#include <QByteArray>
#include <QDateTime>
#include <QMutex>
#include <QPair>
#include <QSet>

namespace vigil::kube {

/// Error code: an exec plugin needs the user's consent before it may run.
inline constexpr int kExecConsentRequired = 4011;
/// Default limit for one exec plugin run.
inline constexpr int kDefaultExecTimeoutMs = 30000;

/// Exact command lines (resolved program + arguments, see commandLine())
/// the user has allowed to run.
struct ExecAllowlist {
    QSet<QString> commandLines;

    bool allows(const QString &commandLine) const { return commandLines.contains(commandLine); }
    void allow(const QString &commandLine) { commandLines.insert(commandLine); }
    /// The program and arguments joined with spaces, shell-quoting any that need it.
    static QString commandLine(const QString &program, const QStringList &args);
};

/// One user's `exec:` stanza plus where it came from.
struct ExecConfig {
    QString command; ///< as written; resolved when the plugin runs
    QStringList args;
    QList<QPair<QString, QString>> env;
    QString apiVersion;
    QString installHint;
    QString interactiveMode = QStringLiteral("IfAvailable"); ///< Never | IfAvailable | Always
    bool provideClusterInfo = false;
    QByteArray clusterInfoJson; ///< the ExecCredential spec.cluster object, when provideClusterInfo
    QString sourceFile;         ///< kubeconfig file that defined the user
    QString userName;
    QString homeDir; ///< for the extra search directories
    int timeoutMs = kDefaultExecTimeoutMs;
};

/// Runs an exec plugin (as argv, never through a shell) and caches its
/// credentials until their expirationTimestamp or until invalidate().
/// Blocks the calling thread for up to the timeout: call off the GUI thread.
class ExecCredentialSource final : public CredentialSource {
public:
    /// `base` carries a client certificate from the kubeconfig, used when the
    /// plugin returns only a token.
    ExecCredentialSource(ExecConfig config, ExecAllowlist allowlist, Credentials base = Credentials());
    Result<Credentials> credentials() override;
    void invalidate() override;
    QString method() const override { return QStringLiteral("exec"); }

    /// The command line consent is asked for: resolved program + args.
    Result<QString> commandLine() const;
    /// How many times the plugin has been started (for diagnostics and tests).
    int runCount() const;

    /// Directories a launcher-started desktop app often lacks on PATH.
    static QStringList extraSearchDirs(const QString &homeDir);
    /// kubectl's lookup: absolute; containing '/' → relative to `baseDir`;
    /// else PATH then extraSearchDirs(). The error lists where it looked.
    static Result<QString> findProgram(const QString &command, const QString &baseDir, const QString &homeDir,
                                       const QString &pathEnv);

private:
    Result<Credentials> run(const QString &program);
    QString where() const;

    mutable QMutex m_mutex;
    ExecConfig m_config;
    ExecAllowlist m_allowlist;
    Credentials m_base;
    std::optional<Credentials> m_cached;
    QDateTime m_expiry; ///< invalid = no expiry
    int m_runs = 0;
};

} // namespace vigil::kube
