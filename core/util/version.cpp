#include "core/util/version.h"

namespace vigil {

QString versionString()
{
    return QStringLiteral(VIGIL_VERSION);
}

} // namespace vigil
