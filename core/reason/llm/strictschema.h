#pragma once

// The reply schema as the providers' strict structured-output modes accept it.
// OpenAI's strict json_schema (and Anthropic's tool input_schema) refuse a
// top-level oneOf/anyOf, open objects, optional properties and many
// constraint keywords; Vigil's reply schema uses all of them. What goes on
// the wire is a looser but strict-compatible form; ReplyValidator still
// applies every rule of the original to the answer.

#include <nlohmann/json.hpp>

namespace vigil::llm {

/// Rewrites a JSON Schema into the strict structured-output subset:
/// - a root oneOf/anyOf whose branches refine the root's properties is folded
///   into those properties (a property refined by object schemas becomes an
///   anyOf of them; one refined only by const/enum keeps the root's schema);
/// - every object gets additionalProperties: false and lists every property
///   as required (a property that was optional becomes nullable);
/// - const becomes a one-value enum, and an enum gets its type;
/// - keywords strict mode rejects (minLength, maximum, pattern, maxProperties,
///   $schema, ...) are dropped, their bounds moved into the description so
///   the model still reads them.
/// A schema already in the subset comes back unchanged.
/// The ordered form keeps every object's keys in their input order.
nlohmann::json strictJsonSchema(const nlohmann::json &schema);
nlohmann::ordered_json strictJsonSchema(const nlohmann::ordered_json &schema);

} // namespace vigil::llm
