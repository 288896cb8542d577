#pragma once

// Non-throwing field access for JSON that came from a server or the store:
// a missing key or a value of the wrong type yields the fallback.

#include <nlohmann/json.hpp>

#include <string>
#include <type_traits>

namespace vigil::act {

template<typename T>
T field(const nlohmann::json &doc, const char *key, T fallback)
{
    if (!doc.is_object())
        return fallback;
    const auto it = doc.find(key);
    if (it == doc.end())
        return fallback;
    if constexpr (std::is_same_v<T, bool>)
        return it->is_boolean() ? it->get<bool>() : fallback;
    else if constexpr (std::is_floating_point_v<T>)
        return it->is_number() ? it->get<T>() : fallback;
    else if constexpr (std::is_integral_v<T>)
        return it->is_number_integer() ? it->get<T>() : fallback;
    else if constexpr (std::is_same_v<T, std::string>)
        return it->is_string() ? it->get<std::string>() : fallback;
    else
        return it->type() == fallback.type() ? *it : fallback;
}

} // namespace vigil::act
