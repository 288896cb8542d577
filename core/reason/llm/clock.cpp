#include "core/reason/llm/clock.h"

#include <QDateTime>

namespace vigil::llm {

qint64 SystemClock::nowMs() const
{
    return QDateTime::currentMSecsSinceEpoch();
}

} // namespace vigil::llm
