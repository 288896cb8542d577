// Fuzzes the audit export reader and the chain verifier over what it reads,
// both as a whole chain and as a filtered export (gaps allowed).

#include "core/audit/auditlog.h"

#include "tests/fuzz/fuzzprint.h"

#include <QBuffer>
#include <QByteArray>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace vigil::audit;
    QByteArray bytes(reinterpret_cast<const char *>(data), static_cast<qsizetype>(size));
    QBuffer in(&bytes);
    if (!in.open(QIODevice::ReadOnly))
        std::abort();
    const auto events = readJsonl(&in);
    vigil::fuzz::report("audit", events);
    if (!events)
        return 0;
    const VerifyReport whole = verifyChain(*events);
    const VerifyReport filtered = verifyChain(*events, true);
    vigil::fuzz::report("verify", whole.message);
    // A chain that verifies whole also verifies as an export.
    if (whole.ok && !filtered.ok)
        std::abort();
    return 0;
}
