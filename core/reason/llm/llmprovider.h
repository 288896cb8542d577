#pragma once

// The LLM transport seam: a request goes out, an LlmCall reports once.

#include "core/reason/llm/llmtypes.h"

#include <QObject>

#include <functional>

namespace vigil::llm {

/// One in-flight completion. Emits finished() exactly once, always from the
/// event loop (never inside complete()), then deletes itself: hold it in a
/// QPointer if you need it after connecting.
class LlmCall final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(LlmCall)

public:
    explicit LlmCall(QObject *parent = nullptr);
    ~LlmCall() override;

    /// Cancels the request; finished() then reports LlmErrorKind::Cancelled.
    void abort();
    bool isFinished() const { return m_finishing; }

    /// For providers: what abort() must stop (close the socket, stop timers).
    void setAbortHandler(std::function<void()> handler) { m_abortHandler = std::move(handler); }
    /// For providers: reports the reply (queued); later calls are ignored.
    void finish(LlmReply reply);

Q_SIGNALS:
    void finished(const vigil::llm::LlmReply &reply);

private:
    std::function<void()> m_abortHandler;
    bool m_finishing = false;
};

/// A model endpoint. Asynchronous: complete() returns at once and never blocks the thread.
class LlmProvider : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(LlmProvider)

public:
    explicit LlmProvider(QObject *parent = nullptr)
        : QObject(parent)
    {
    }
    ~LlmProvider() override = default;

    /// "openai", "anthropic", "ollama" or a configured label.
    virtual QString name() const = 0;
    /// True for local endpoints that cost nothing per token.
    virtual bool isLocal() const { return false; }
    /// Starts a completion; the returned call is a child of this provider.
    virtual LlmCall *complete(const LlmRequest &request) = 0;
};

} // namespace vigil::llm

Q_DECLARE_METATYPE(vigil::llm::LlmReply)
