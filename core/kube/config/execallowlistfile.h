#pragma once

// The exec credential plugins a person allowed to run, kept in one file that
// vigilctl and the desktop both read (and the desktop's consent dialog and
// settings write): one exact command line a line, as
// ExecAllowlist::commandLine prints it; blank lines and '#' comments skipped.

#include "core/kube/config/execcredential.h"
#include "core/util/result.h"

#include <QString>

namespace vigil::kube {

/// <config folder>/vigil/exec-allowlist, where the config folder is
/// $XDG_CONFIG_HOME, else ~/.config (QStandardPaths::GenericConfigLocation,
/// so QtTest's test mode redirects it).
QString defaultExecAllowlistPath();

/// Reads the file; a file that does not exist is an empty list. Errors name the file.
Result<ExecAllowlist> loadExecAllowlistFile(const QString &path);

/// Replaces the file atomically with the list, sorted, readable by the owner
/// only; creates its folder. Errors name the file.
Result<void> saveExecAllowlistFile(const QString &path, const ExecAllowlist &allowlist);

} // namespace vigil::kube
