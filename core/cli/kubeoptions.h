#pragma once

// The kube flags every vigilctl command shares, resolved the way kubectl
// resolves them.

#include "core/kube/config/kubeconfig.h"
#include "core/util/result.h"

#include <QCommandLineParser>
#include <QProcessEnvironment>

namespace vigil::cli {

struct KubeFlags {
    QString kubeconfig;
    QString context;
    QString namespaceName;
    QStringList allowExec;
};

/// Adds --kubeconfig, --context, -n/--namespace and --allow-exec.
void addKubeOptions(QCommandLineParser &parser);
KubeFlags kubeFlags(const QCommandLineParser &parser);

/// Builds LoadOptions from flags and the environment (KUBECONFIG, HOME).
/// VIGIL_ALLOW_EXEC (newline-separated command lines) and the shared allowlist
/// file (kube::defaultExecAllowlistPath(), kept by the desktop) extend --allow-exec.
kube::LoadOptions loadOptions(const KubeFlags &flags, const QProcessEnvironment &env);

/// Loads the kubeconfig and resolves the context; in a pod with no
/// kubeconfig at all, falls back to the service account like client-go.
struct ResolvedKube {
    kube::Connection connection;
    kube::KubeConfig config; ///< empty when in-cluster
    bool inCluster = false;
};
Result<ResolvedKube> resolveKube(const KubeFlags &flags, const QProcessEnvironment &env);

} // namespace vigil::cli
