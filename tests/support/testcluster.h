#pragma once

// For integration tests: the Connection to the real local cluster, whose
// kubeconfig path is written in the file named by VIGIL_TEST_CLUSTER_FILE.

#include "core/kube/config/kubeconfig.h"
#include "core/kube/connection.h"
#include "core/util/result.h"

#include <QFile>

namespace vigil::test {

inline Result<kube::Connection> testClusterConnection()
{
    const QString pointer = qEnvironmentVariable("VIGIL_TEST_CLUSTER_FILE");
    if (pointer.isEmpty())
        return Error(QStringLiteral("VIGIL_TEST_CLUSTER_FILE is not set; run through ctest -L integration"));
    QFile f(pointer);
    if (!f.open(QIODevice::ReadOnly))
        return Error(QStringLiteral("%1: %2").arg(pointer, f.errorString()));
    kube::LoadOptions options;
    options.explicitPath = QString::fromUtf8(f.readAll().trimmed());
    Result<kube::KubeConfig> config = kube::KubeConfig::load(options);
    if (!config)
        return config.error();
    return config->resolve();
}

} // namespace vigil::test
