// Fuzzes the guardrail policy loader; a policy that loads must also answer
// the questions Guardrails asks of it.

#include "core/guard/policy.h"

#include "tests/fuzz/fuzzprint.h"

#include <QByteArray>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace vigil::guard;
    const QByteArray yaml(reinterpret_cast<const char *>(data), static_cast<qsizetype>(size));
    const auto policy = parsePolicy(yaml, QStringLiteral("fuzz-policy.yaml"));
    vigil::fuzz::report("policy", policy);
    if (!policy)
        return 0;
    // The safety floors hold for every policy that loads.
    if (policy->minReplicas < kHardMinReplicas || policy->maxReplicas > kHardMaxReplicas ||
        policy->minReplicas > policy->maxReplicas ||
        policy->namespaceAllowed(QStringLiteral("kube-system")) ||
        policy->protectedLabels.value(QStringLiteral("vigil.dev/protected")) != QStringLiteral("true"))
        std::abort();
    (void)policy->namespaceAllowed(QStringLiteral("team-a"));
    for (const QString &pattern : policy->namespaceAllow)
        (void)globMatch(pattern, QStringLiteral("prod-payments-eu-west-1"));
    return 0;
}
