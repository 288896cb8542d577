#pragma once

// nlohmann::json parses iteratively but copies, compares and dumps by
// recursion, so a document nested 100,000 deep parses fine and then
// overflows the stack wherever it is copied or printed. Parsers of
// untrusted JSON check the nesting first, with this non-recursive scan.

#include "core/util/result.h"

#include <QByteArrayView>

#include <nlohmann/json.hpp>

#include <limits>
#include <string>
#include <type_traits>

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

/// `object[key]` as a T, or `fallback` when `object` is not an object, lacks
/// `key` or holds another type there (or a number out of T's range).
/// nlohmann's value(key, default) throws type_error on a wrong type, which in
/// a callback on an answer from a server or a model ends the process.
template<typename T>
T jsonValue(const nlohmann::json &object, const char *key, T fallback)
{
    if (!object.is_object())
        return fallback;
    const auto it = object.find(key);
    if (it == object.end())
        return fallback;
    if constexpr (std::is_same_v<T, bool>) {
        if (!it->is_boolean())
            return fallback;
    } else if constexpr (std::is_same_v<T, std::string>) {
        if (!it->is_string())
            return fallback;
    } else {
        static_assert(std::is_arithmetic_v<T>, "jsonValue reads booleans, strings and numbers");
        if (!it->is_number())
            return fallback;
        if constexpr (std::is_integral_v<T>) {
            if (it->is_number_float()) {
                const double v = it->template get<double>();
                if (!(v >= static_cast<double>(std::numeric_limits<T>::lowest()) &&
                      v <= static_cast<double>(std::numeric_limits<T>::max())))
                    return fallback;
            }
        }
    }
    return it->template get<T>();
}

} // namespace vigil
