#include "core/reason/llm/strictschema.h"

#include "core/util/jsondepth.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace vigil::llm {
namespace {

// Bounds strict mode does not enforce: kept as words in the description.
const std::vector<std::string> kDescribedKeywords{
    "minLength", "maxLength",        "pattern",          "format",       "minimum",
    "maximum",   "exclusiveMinimum", "exclusiveMaximum", "multipleOf",   "minItems",
    "maxItems",  "uniqueItems",      "minProperties",    "maxProperties"};
// Annotations and structure strict mode either rejects or has no use for.
const std::set<std::string> kDropped{"$schema",
                                     "$id",
                                     "title",
                                     "examples",
                                     "default",
                                     "not",
                                     "patternProperties",
                                     "propertyNames",
                                     "unevaluatedProperties",
                                     "dependentRequired",
                                     "dependentSchemas",
                                     "if",
                                     "then",
                                     "else"};

template<typename json>
json strictNode(const json &schema, int depth);

template<typename json>
std::string typeOfEnum(const json &values)
{
    std::string type;
    for (const json &v : values) {
        std::string t = v.is_string()           ? "string"
                        : v.is_number_integer() ? "integer"
                        : v.is_number()         ? "number"
                        : v.is_boolean()        ? "boolean"
                        : v.is_null()           ? "null"
                                                : "";
        if (t.empty() || (!type.empty() && t != type))
            return {};
        type = t;
    }
    return type;
}

template<typename json>
bool isObjectSchema(const json &schema)
{
    return schema.is_object() && (schema.value("type", json()) == "object" || schema.contains("properties"));
}

// A root-level branch that only pins a property to values (const/enum) adds
// nothing the root's own schema for it does not already say.
template<typename json>
bool onlyPinsValues(const json &schema)
{
    if (!schema.is_object())
        return true;
    for (auto it = schema.begin(); it != schema.end(); ++it) {
        if (it.key() != "const" && it.key() != "enum" && it.key() != "type" && it.key() != "description")
            return false;
    }
    return true;
}

// {properties of the root} refined by the oneOf/anyOf branches, folded into one object.
template<typename json>
json foldBranches(const json &root)
{
    json out = root;
    const char *combinator = root.contains("oneOf") ? "oneOf" : "anyOf";
    const json branches = root[combinator];
    out.erase(combinator);
    if (!branches.is_array() || !out.contains("properties") || !out["properties"].is_object())
        return out;
    for (auto prop = out["properties"].begin(); prop != out["properties"].end(); ++prop) {
        json variants = json::array();
        for (const json &branch : branches) {
            if (!branch.is_object() || !branch.contains("properties") || !branch["properties"].is_object())
                continue;
            const auto refined = branch["properties"].find(prop.key());
            if (refined == branch["properties"].end() || onlyPinsValues(*refined))
                continue;
            if (std::find(variants.begin(), variants.end(), *refined) == variants.end())
                variants.push_back(*refined);
        }
        if (variants.size() == 1)
            prop.value() = variants[0];
        else if (variants.size() > 1)
            prop.value() = json{{"anyOf", variants}};
    }
    return out;
}

template<typename json>
std::string describeBounds(const json &schema)
{
    std::string words;
    for (const std::string &k : kDescribedKeywords) {
        const auto it = schema.find(k);
        if (it == schema.end())
            continue;
        if (!words.empty())
            words += "; ";
        words += k + " " + (it->is_string() ? it->template get<std::string>() : it->dump());
    }
    return words;
}

template<typename json>
json strictNode(const json &schema, int depth)
{
    if (!schema.is_object() || depth > 64)
        return schema;
    json in = schema;
    if (in.contains("oneOf") && !in.contains("anyOf") && !isObjectSchema(in)) {
        in["anyOf"] = in["oneOf"]; // strict mode knows anyOf only; the validator keeps "exactly one"
        in.erase("oneOf");
    }
    if (isObjectSchema(in) && (in.contains("oneOf") || in.contains("anyOf")))
        in = foldBranches(in);

    json out = json::object();
    const std::string bounds = describeBounds(in);
    for (auto it = in.begin(); it != in.end(); ++it) {
        const std::string &k = it.key();
        if (kDropped.count(k) ||
            std::find(kDescribedKeywords.begin(), kDescribedKeywords.end(), k) != kDescribedKeywords.end())
            continue;
        if (k == "const") {
            out["enum"] = json::array({*it});
        } else if (k == "properties" && it->is_object()) {
            json props = json::object();
            for (auto p = it->begin(); p != it->end(); ++p)
                props[p.key()] = strictNode(*p, depth + 1);
            out["properties"] = props;
        } else if ((k == "anyOf" || k == "oneOf" || k == "allOf") && it->is_array()) {
            json list = json::array();
            for (const json &s : *it)
                list.push_back(strictNode(s, depth + 1));
            out[k == "oneOf" ? "anyOf" : k] = list;
        } else if (k == "items" || k == "additionalItems") {
            out[k] = strictNode(*it, depth + 1);
        } else if ((k == "$defs" || k == "definitions") && it->is_object()) {
            json defs = json::object();
            for (auto d = it->begin(); d != it->end(); ++d)
                defs[d.key()] = strictNode(*d, depth + 1);
            out[k] = defs;
        } else {
            out[k] = *it;
        }
    }
    if (!bounds.empty()) {
        const std::string said = jsonValue(out, "description", std::string());
        out["description"] = said.empty() ? bounds : said + " (" + bounds + ")";
    }
    if (out.contains("enum") && !out.contains("type")) {
        const std::string t = typeOfEnum(out["enum"]);
        if (!t.empty())
            out["type"] = t;
    }
    if (isObjectSchema(out)) {
        out["type"] = "object";
        if (!out.contains("properties"))
            out["properties"] = json::object();
        std::set<std::string> required;
        if (in.contains("required") && in["required"].is_array()) {
            for (const json &r : in["required"]) {
                if (r.is_string())
                    required.insert(r.template get<std::string>());
            }
        }
        json all = json::array();
        bool madeNullable = false;
        for (auto p = out["properties"].begin(); p != out["properties"].end(); ++p) {
            all.push_back(p.key());
            if (required.count(p.key()))
                continue;
            madeNullable = true;
            // Strict mode has no optional properties: an optional one may be null instead.
            json &s = p.value();
            if (s.contains("type") && s["type"].is_string() && s["type"] != "null") {
                s["type"] = json::array({s["type"], "null"});
                if (s.contains("enum") && s["enum"].is_array())
                    s["enum"].push_back(nullptr);
            } else if (!s.contains("type"))
                s = json{{"anyOf", json::array({s, json{{"type", "null"}}})}};
        }
        // A complete list keeps its order, so a schema already strict comes back unchanged.
        const bool complete = !madeNullable && in.contains("required") && in["required"].is_array() &&
                              in["required"].size() == all.size();
        out["required"] = complete ? in["required"] : all;
        out["additionalProperties"] = false;
    }
    return out;
}

} // namespace

nlohmann::json strictJsonSchema(const nlohmann::json &schema)
{
    return strictNode(schema, 0);
}

nlohmann::ordered_json strictJsonSchema(const nlohmann::ordered_json &schema)
{
    return strictNode(schema, 0);
}

} // namespace vigil::llm
