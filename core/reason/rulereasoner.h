#pragma once

// RuleReasoner: the offline reasoner. Picks the analyzer for the evidence's
// reason and returns its Diagnosis, which has passed the same validator as
// any model reply.

#include "core/reason/diagnosis.h"
#include "core/util/result.h"

namespace vigil::gather {
struct Evidence;
}

namespace vigil::reason {

class RuleReasoner final {
public:
    /// True when an analyzer exists for `reason`.
    bool handles(const QString &reason) const;
    /// The rules' diagnosis; an Error when no analyzer knows the reason or
    /// (a bug) the analyzer's output fails validation.
    Result<Diagnosis> diagnose(const gather::Evidence &evidence) const;
};

} // namespace vigil::reason
