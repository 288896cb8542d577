#pragma once

// With VIGIL_FUZZ_PRINT set, the fuzzers print why each input was refused:
// run.sh uses it to show that a deep-nesting seed got a clear error.

#include "core/util/result.h"

#include <cstdio>
#include <cstdlib>

namespace vigil::fuzz {

inline bool printing()
{
    static const bool print = std::getenv("VIGIL_FUZZ_PRINT") != nullptr;
    return print;
}

inline void report(const char *what, const QString &errorOrEmpty)
{
    if (printing())
        std::fprintf(stderr, "vigil %s: %s\n", what,
                     errorOrEmpty.isEmpty() ? "ok" : qPrintable(errorOrEmpty.left(160)));
}

template<class T>
void report(const char *what, const Result<T> &result)
{
    report(what, result ? QString() : result.error().message);
}

} // namespace vigil::fuzz
