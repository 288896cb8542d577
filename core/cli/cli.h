#pragma once

// vigilctl's commands. They live in core so tests can run them in-process;
// app/vigilctl/main.cpp only hands over argv.

#include <QStringList>

class QTextStream;

namespace vigil::cli {

/// Runs one vigilctl command line (arguments[0] is the program name) and
/// returns the process exit code. Output goes to stdout/stderr.
int run(const QStringList &arguments);

/// As run(), writing to the given streams (for tests).
int run(const QStringList &arguments, QTextStream &out, QTextStream &err);

} // namespace vigil::cli
