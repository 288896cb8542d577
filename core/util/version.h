#pragma once

#include <QString>

namespace vigil {

/// Vigil's version, as set by the project() call in CMake.
QString versionString();

} // namespace vigil
