#pragma once

// Internal: parse one YAML document safely. yaml-cpp 0.7 recurses per
// nesting level, so the text is pre-scanned and anything deeper than
// kMaxYamlDepth is rejected before yaml-cpp sees it.

#include "core/util/result.h"

#include <QByteArray>
#include <QIODevice>
#include <QString>

#include <yaml-cpp/node/node.h>

namespace vigil::kube {

inline constexpr int kMaxYamlDepth = 64;
inline constexpr qint64 kMaxKubeconfigBytes = 16 * 1024 * 1024;

/// Nesting depth of block indentation plus flow brackets, counted cheaply
/// without recursion; stops counting once it exceeds `limit`.
int yamlNestingDepth(const QByteArray &text, int limit = kMaxYamlDepth);

/// Parses `text`; errors name `fileName` and, for syntax errors, the line and column.
Result<YAML::Node> parseYaml(const QByteArray &text, const QString &fileName);

/// One YAML document, for files that must hold exactly one (policy, provider settings).
struct SingleYamlDocument {
    YAML::Node node; ///< valid when `error` is empty; Null for an empty file
    QString error;   ///< "invalid YAML: ..." or, with `multipleDocuments`, which document
    bool multipleDocuments = false;
    int line = 0; ///< 1-based line of the error, 0 when unknown
};

/// Parses `text` as one document without ever calling yaml-cpp 0.7's LoadAll,
/// which never returns (and grows without bound) on some inputs — a line
/// starting with ',' outside a flow collection, or "!a,b*c" (both found by
/// tests/fuzz/fuzz_policy): its parser hands out empty documents forever.
/// Documents are counted with a cap instead, then the first one is loaded.
SingleYamlDocument loadSingleYamlDocument(const QByteArray &text);

/// At most `max` bytes of an open device, reserving only what a file holds (read(max) reserves max).
QByteArray readAtMost(QIODevice &device, qint64 max = kMaxKubeconfigBytes);

/// Reads and parses a file with the size and depth guards.
Result<YAML::Node> loadYamlFile(const QString &fileName);

} // namespace vigil::kube
