#pragma once

// A small JSON Schema validator for tests: enough of OpenAPI 3.0/3.1 for the
// OpenAI contract ($ref, allOf/anyOf/oneOf/not, type incl. type lists,
// nullable, enum/const, required, properties, additionalProperties, items,
// min/max for numbers, strings and arrays, pattern).

#include "core/util/result.h"

#include <QString>
#include <QStringList>

#include <nlohmann/json.hpp>

namespace YAML {
class Node;
}

namespace vigil::test {

/// yaml-cpp → nlohmann: quoted scalars stay strings, plain ones become null/bool/int/double when they read
/// so.
nlohmann::json yamlToJson(const YAML::Node &node);

/// Where `schema` breaks OpenAI's strict structured-output rules (root an
/// object, not a union; every object closed with every property required;
/// only type, properties, required, additionalProperties, items, anyOf, enum,
/// description, $defs and $ref), as "<path>: <what>"; empty when it complies.
QStringList strictModeViolations(const nlohmann::json &schema);

/// An OpenAPI document whose components.schemas can validate instances.
class OpenApiSchemas final {
public:
    static Result<OpenApiSchemas> load(const QString &path);
    explicit OpenApiSchemas(nlohmann::json document)
        : m_doc(std::move(document))
    {
    }

    bool hasSchema(const QString &name) const;
    /// Every violation as "<json path>: <what>"; empty when `instance` is valid.
    QStringList validate(const nlohmann::json &instance, const QString &schemaName) const;

private:
    void check(const nlohmann::json &schema, const nlohmann::json &instance, const QString &path,
               QStringList *errors, int depth) const;
    const nlohmann::json *resolve(const std::string &ref) const;

    nlohmann::json m_doc;
};

} // namespace vigil::test
