#pragma once

// The prompts compiled in from prompts/ (Qt resources under :/prompts/):
// loading, rendering the user template, and the prompt version recorded with
// every LLM diagnosis.

#include "core/util/result.h"

#include <QMap>
#include <QString>

#include <nlohmann/json.hpp>

namespace vigil::gather {
struct Evidence;
}

namespace vigil::reason {

/// One consistent set of prompts and the hash that names it.
struct PromptSet {
    QString system;
    QString userTemplate;
    QString schemaText;
    nlohmann::ordered_json schema; ///< schemaText parsed, keys in the file's order
    /// The schema as the providers send it: llm::strictJsonSchema(schema), compact.
    /// Count this, not schemaText, for the tokens a request costs.
    QString wireSchemaText;
    QString version; ///< promptVersion(system, userTemplate, schemaText)
};

/// Resource directory of the compiled-in prompts.
QString defaultPromptDirectory(); // ":/prompts"

/// Loads system.md, user.md and reply.schema.json from `directory` (a
/// resource path or a folder); the error names the file that failed.
Result<PromptSet> loadPrompts(const QString &directory = defaultPromptDirectory());

/// First 12 hex digits of SHA-256 over the three texts (length-prefixed, so
/// moving text between them changes the version too).
QString promptVersion(const QString &system, const QString &userTemplate, const QString &schema);

/// Replaces {{name}} in one pass (values are never re-expanded); an unknown
/// or unterminated placeholder is an error naming it.
Result<QString> renderTemplate(const QString &templ, const QMap<QString, QString> &values);

/// Renders the user template for one incident's evidence. The evidence text
/// cannot close the <evidence> block early: "</evidence" inside it is escaped.
Result<QString> renderUserPrompt(const PromptSet &prompts, const gather::Evidence &evidence);

} // namespace vigil::reason
