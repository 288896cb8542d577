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

/// At most `max` bytes of an open device, reserving only what a file holds (read(max) reserves max).
QByteArray readAtMost(QIODevice &device, qint64 max = kMaxKubeconfigBytes);

/// Reads and parses a file with the size and depth guards.
Result<YAML::Node> loadYamlFile(const QString &fileName);

} // namespace vigil::kube
