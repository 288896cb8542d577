#pragma once

// Time seam for the LLM production controls, so rate limits, back-off,
// circuit cool-downs, budgets and cache TTLs can be tested with a fake clock.

#include <QtGlobal>

namespace vigil::llm {

/// Wall-clock milliseconds since the Unix epoch.
class Clock {
public:
    virtual ~Clock() = default;
    virtual qint64 nowMs() const = 0;
};

/// The real clock.
class SystemClock final : public Clock {
public:
    qint64 nowMs() const override;
};

} // namespace vigil::llm
