#pragma once

// kubectl's kubeconfig loading rules and context resolution.
//   explicit path (must exist) > KUBECONFIG (':'-separated, missing files
//   skipped, first file wins per cluster/user/context name and for
//   current-context) > <home>/.kube/config.
// Relative paths resolve against the directory of the file that defined the
// entry. resolve() turns one context into a Connection with a CredentialSource.

#include "core/kube/config/execcredential.h"
#include "core/kube/connection.h"

#include <QProcessEnvironment>

#include <memory>

namespace vigil::kube {

/// Error code: no kubeconfig file exists at all (callers may try in-cluster).
inline constexpr int kNoKubeconfig = 4004;

/// Inputs to KubeConfig::load, passed in so tests never read the real home.
struct LoadOptions {
    QString explicitPath;      ///< --kubeconfig; must exist when set
    QString kubeconfigEnv;     ///< the value of KUBECONFIG
    QString homeDir;           ///< for ~/.kube/config and the exec search dirs
    QString contextOverride;   ///< --context
    QString namespaceOverride; ///< --namespace
    ExecAllowlist allowExec;   ///< exec plugins the user allowed to run
    int execTimeoutMs = kDefaultExecTimeoutMs;
    int oidcTimeoutMs = 30000;
};

/// One context as shown in a picker.
struct ContextInfo {
    QString name;
    QString cluster;
    QString user;
    QString namespaceName; ///< as written; empty means "default"
    QString sourceFile;
};

/// The merged kubeconfig. Cheap to copy (shared, immutable).
class KubeConfig final {
public:
    /// Reads and merges the files the loading rules select. Errors name the file
    /// (and line for malformed YAML); kNoKubeconfig when no file exists.
    static Result<KubeConfig> load(const LoadOptions &options);

    /// Resolves `context` (empty: the --context override, else current-context).
    /// Errors name the file, the context and the field at fault.
    Result<Connection> resolve(const QString &context = QString()) const;

    QStringList contextNames() const;
    QList<ContextInfo> contexts() const;
    /// current-context as merged from the files (not the override).
    QString currentContext() const;
    /// Files actually read, in precedence order.
    QStringList files() const;

    struct Data;

private:
    std::shared_ptr<const Data> m_d;
};

/// The in-cluster service account: <rootDir>/var/run/secrets/kubernetes.io/
/// serviceaccount/{token,ca.crt,namespace} and KUBERNETES_SERVICE_HOST/PORT.
Result<Connection>
inClusterConnection(const QString &rootDir = QStringLiteral("/"),
                    const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment());

} // namespace vigil::kube
