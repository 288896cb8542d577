// Fuzzes kubeconfig loading and context resolution: the input is written to
// a kubeconfig file, loaded, and every context resolved. The exec allowlist
// is empty, so no plugin may ever run.

#include "core/kube/config/kubeconfig.h"

#include "tests/fuzz/fuzzprint.h"

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QTemporaryDir>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace {

QTemporaryDir *workDir()
{
    static QTemporaryDir dir; // lives for the process; one file rewritten per input
    if (!dir.isValid())
        std::abort();
    return &dir;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace vigil::kube;
    const QString path = workDir()->filePath(QStringLiteral("config"));
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
        std::abort();
    file.write(reinterpret_cast<const char *>(data), static_cast<qint64>(size));
    file.close();

    LoadOptions options;
    options.explicitPath = path;
    options.homeDir = workDir()->path();
    options.execTimeoutMs = 1000;
    options.oidcTimeoutMs = 1000;
    const auto config = KubeConfig::load(options);
    vigil::fuzz::report("kubeconfig", config);
    if (!config)
        return 0;
    (void)config->currentContext();
    (void)config->contexts();
    (void)config->resolve();
    for (const QString &name : config->contextNames()) {
        const auto connection = config->resolve(name);
        vigil::fuzz::report("resolve", connection);
        // Consent gate: with an empty allowlist an exec source must refuse
        // (OIDC is not asked: a refresh would reach the network).
        if (connection && connection->credentials &&
            connection->credentials->method() == QStringLiteral("exec") &&
            connection->credentials->credentials().ok())
            std::abort();
    }
    return 0;
}
