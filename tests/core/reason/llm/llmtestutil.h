#pragma once

// Shared by the LLM tests: a settable clock, waiting for an LlmCall, a request.

#include "core/reason/llm/clock.h"
#include "core/reason/llm/llmprovider.h"

#include <QEventLoop>
#include <QTimer>

namespace vigil::test {

class FakeClock final : public llm::Clock {
public:
    explicit FakeClock(qint64 nowMs = 1700000000000)
        : m_now(nowMs)
    {
    }
    qint64 nowMs() const override { return m_now; }
    void advance(qint64 ms) { m_now += ms; }
    void set(qint64 ms) { m_now = ms; }

private:
    qint64 m_now;
};

/// Runs the event loop until the call reports (or `ms` pass: then errorKind Timeout, message says so).
inline llm::LlmReply awaitReply(llm::LlmCall *call, int ms = 15000)
{
    llm::LlmReply out;
    bool done = false;
    QEventLoop loop;
    QObject::connect(call, &llm::LlmCall::finished, &loop, [&](const llm::LlmReply &r) {
        out = r;
        done = true;
        loop.quit();
    });
    QTimer::singleShot(ms, &loop, &QEventLoop::quit);
    if (!done)
        loop.exec();
    if (!done) {
        out.errorKind = llm::LlmErrorKind::Timeout;
        out.error = Error(QStringLiteral("test: the call never reported"));
    }
    return out;
}

inline llm::LlmRequest sampleRequest()
{
    llm::LlmRequest r;
    r.system = QStringLiteral("You are Vigil. Answer with JSON only.");
    r.user = QStringLiteral("Pod web-1 in CrashLoopBackOff; last log: panic: nil map");
    r.schemaName = QStringLiteral("diagnosis");
    r.schema = nlohmann::ordered_json::parse(R"({"type":"object","additionalProperties":false,
        "required":["diagnosis","confidence","action"],
        "properties":{"diagnosis":{"type":"string"},"confidence":{"type":"number"},
                      "action":{"type":"string","enum":["none","restart_pod"]}}})");
    r.model = QStringLiteral("gpt-4o-mini");
    r.maxTokens = 400;
    r.temperature = 0.0;
    r.timeoutMs = 5000;
    return r;
}

} // namespace vigil::test
