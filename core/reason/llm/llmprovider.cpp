#include "core/reason/llm/llmprovider.h"

#include <QMetaObject>

#include <utility>

namespace vigil::llm {

LlmCall::LlmCall(QObject *parent)
    : QObject(parent)
{
    static const int registered = qRegisterMetaType<LlmReply>();
    Q_UNUSED(registered);
}

LlmCall::~LlmCall() = default;

void LlmCall::abort()
{
    if (m_finishing)
        return;
    auto handler = std::exchange(m_abortHandler, {});
    LlmReply reply;
    reply.errorKind = LlmErrorKind::Cancelled;
    reply.error = Error(QStringLiteral("request cancelled"));
    // Finish first so whatever the handler triggers synchronously is ignored.
    finish(std::move(reply));
    if (handler)
        handler();
}

void LlmCall::finish(LlmReply reply)
{
    if (m_finishing)
        return;
    m_finishing = true;
    m_abortHandler = {};
    // Queued so that callers connecting after complete() returns never miss it.
    QMetaObject::invokeMethod(
        this,
        [this, r = std::move(reply)]() {
            Q_EMIT finished(r);
            deleteLater();
        },
        Qt::QueuedConnection);
}

} // namespace vigil::llm
