#pragma once

// nlohmann::json parses iteratively but copies, compares and dumps by
// recursion, so a document nested 100,000 deep parses fine and then
// overflows the stack wherever it is copied or printed. Parsers of
// untrusted JSON check the nesting first, with this non-recursive scan.

#include "core/util/result.h"

#include <QByteArrayView>

#include <nlohmann/json.hpp>

namespace vigil {

/// Deeper than any Kubernetes object, audit payload or model reply we accept.
inline constexpr int kMaxJsonDepth = 512;

/// The deepest nesting of [ and { outside strings in `text`; stops scanning
/// once it exceeds `limit` and returns limit + 1.
int jsonNestingDepth(QByteArrayView text, int limit = kMaxJsonDepth);

/// `text` parsed as JSON after the nesting check; never throws. The error is
/// "nested deeper than <limit> levels" or "not valid JSON (<parser message>)",
/// for the caller to prefix with what it was reading.
Result<nlohmann::json> parseJson(QByteArrayView text, int limit = kMaxJsonDepth);

} // namespace vigil
