#include "core/cli/kubeoptions.h"

#include "core/kube/config/execallowlistfile.h"

#include <QDir>

namespace vigil::cli {

void addKubeOptions(QCommandLineParser &parser)
{
    parser.addOption({QStringLiteral("kubeconfig"), QStringLiteral("Path to the kubeconfig file."),
                      QStringLiteral("file")});
    parser.addOption({QStringLiteral("context"), QStringLiteral("The kubeconfig context to use."),
                      QStringLiteral("name")});
    parser.addOption({{QStringLiteral("n"), QStringLiteral("namespace")},
                      QStringLiteral("The namespace."),
                      QStringLiteral("ns")});
    parser.addOption({QStringLiteral("allow-exec"),
                      QStringLiteral("Allow this exact exec credential command line to run (repeatable)."),
                      QStringLiteral("command")});
}

KubeFlags kubeFlags(const QCommandLineParser &parser)
{
    KubeFlags f;
    f.kubeconfig = parser.value(QStringLiteral("kubeconfig"));
    f.context = parser.value(QStringLiteral("context"));
    f.namespaceName = parser.value(QStringLiteral("namespace"));
    f.allowExec = parser.values(QStringLiteral("allow-exec"));
    return f;
}

kube::LoadOptions loadOptions(const KubeFlags &flags, const QProcessEnvironment &env)
{
    kube::LoadOptions o;
    o.explicitPath = flags.kubeconfig;
    o.kubeconfigEnv = env.value(QStringLiteral("KUBECONFIG"));
    o.homeDir = env.value(QStringLiteral("HOME"), QDir::homePath());
    o.contextOverride = flags.context;
    o.namespaceOverride = flags.namespaceName;
    for (const QString &cmd : flags.allowExec)
        o.allowExec.allow(cmd);
    for (const QString &cmd : env.value(QStringLiteral("VIGIL_ALLOW_EXEC")).split(u'\n', Qt::SkipEmptyParts))
        o.allowExec.allow(cmd.trimmed());
    // The list the desktop's consent dialog and settings keep; resolveKube reports a broken file.
    if (Result<kube::ExecAllowlist> file = kube::loadExecAllowlistFile(kube::defaultExecAllowlistPath()))
        o.allowExec.commandLines.unite(file->commandLines);
    return o;
}

Result<ResolvedKube> resolveKube(const KubeFlags &flags, const QProcessEnvironment &env)
{
    if (Result<kube::ExecAllowlist> file = kube::loadExecAllowlistFile(kube::defaultExecAllowlistPath());
        !file)
        return file.error();
    Result<kube::KubeConfig> config = kube::KubeConfig::load(loadOptions(flags, env));
    if (!config) {
        // client-go: no kubeconfig anywhere and running in a pod → the service account.
        if (config.error().code == kube::kNoKubeconfig && flags.kubeconfig.isEmpty() &&
            env.contains(QStringLiteral("KUBERNETES_SERVICE_HOST"))) {
            Result<kube::Connection> inCluster = kube::inClusterConnection(QStringLiteral("/"), env);
            if (!inCluster)
                return inCluster.error();
            ResolvedKube r{std::move(*inCluster), {}, true};
            if (!flags.namespaceName.isEmpty())
                r.connection.namespaceName = flags.namespaceName;
            return r;
        }
        return config.error();
    }
    Result<kube::Connection> connection = config->resolve();
    if (!connection)
        return connection.error();
    return ResolvedKube{std::move(*connection), *config, false};
}

} // namespace vigil::cli
