#pragma once

// One analyzer per detector reason: reads Evidence, returns a Diagnosis with
// a stable category, a diagnosis that names the evidence it rests on, an
// honest confidence and one catalog action.

#include "core/reason/diagnosis.h"

#include <QList>
#include <QStringList>

namespace vigil::gather {
struct Evidence;
}

namespace vigil::reason {

struct Analyzer {
    const char *reason; ///< a detector reason (core/pipeline/detector.cpp's table)
    Diagnosis (*analyze)(const gather::Evidence &evidence);
};

/// Every analyzer, one per detector reason.
const QList<Analyzer> &analyzers();
/// The reasons analyzers() covers.
QStringList analyzedReasons();

} // namespace vigil::reason
