#pragma once

// An LlmProvider for the desktop's tests: answers each model with a fixed
// diagnosis (or never, until aborted), and records what it was asked. The
// ReasonerSetup factory builds it and a Router on the session's thread.

#include "core/pipeline/clustersession.h"
#include "core/reason/llm/llmprovider.h"
#include "core/reason/router.h"

#include <QHash>
#include <QMutex>
#include <QMutexLocker>
#include <QPointer>
#include <QStringList>

#include <memory>

namespace vigil::test {

/// What every provider built by a factory saw; shared with the test thread.
struct ProviderLog {
    QMutex mutex;
    QStringList asked;   ///< model names, in order
    QStringList aborted; ///< model names whose call was aborted
    void add(QStringList *list, const QString &model)
    {
        QMutexLocker lock(&mutex);
        *list << model;
    }
    QStringList askedCopy()
    {
        QMutexLocker lock(&mutex);
        return asked;
    }
    QStringList abortedCopy()
    {
        QMutexLocker lock(&mutex);
        return aborted;
    }
};

// No Q_OBJECT: it adds no signals, and a header-only test helper is not run through moc.
class ScriptedProvider final : public llm::LlmProvider {
    Q_DISABLE_COPY_MOVE(ScriptedProvider)

public:
    /// replies: model -> reply JSON; a model without one never answers.
    ScriptedProvider(QHash<QString, QString> replies, std::shared_ptr<ProviderLog> log, QObject *parent)
        : llm::LlmProvider(parent)
        , m_replies(std::move(replies))
        , m_log(std::move(log))
    {
    }
    QString name() const override { return QStringLiteral("scripted"); }
    llm::LlmCall *complete(const llm::LlmRequest &request) override
    {
        auto *call = new llm::LlmCall(this);
        const QString model = request.model;
        m_log->add(&m_log->asked, model);
        call->setAbortHandler([log = m_log, model] { log->add(&log->aborted, model); });
        if (m_replies.contains(model)) {
            llm::LlmReply reply;
            reply.provider = name();
            reply.model = model;
            reply.content = m_replies.value(model);
            reply.finishReason = llm::FinishReason::Stop;
            reply.promptTokens = 900;
            reply.completionTokens = 60;
            call->finish(reply);
        }
        return call;
    }

private:
    QHash<QString, QString> m_replies;
    std::shared_ptr<ProviderLog> m_log;
};

/// A reasoner factory: a Router whose small and strong tiers are a ScriptedProvider.
inline std::function<pipeline::ReasonerSetup(QObject *)> scriptedReasoner(QHash<QString, QString> replies,
                                                                           std::shared_ptr<ProviderLog> log)
{
    return [replies, log](QObject *parent) {
        auto *provider = new ScriptedProvider(replies, log, parent);
        auto *router = new reason::Router(*reason::loadPrompts(), reason::RouterOptions(), parent);
        router->setTiers({provider, QStringLiteral("small-model")}, {provider, QStringLiteral("strong-model")});
        return pipeline::ReasonerSetup{router, QStringLiteral("scripted: small-model → strong-model")};
    };
}

/// A valid reply JSON for restart_pod of pod in namespace ns.
inline QString restartReply(const QString &diagnosis, double confidence, const QString &ns, const QString &pod)
{
    return QString::fromStdString(nlohmann::json{{"diagnosis", diagnosis.toStdString()},
                                                 {"confidence", confidence},
                                                 {"action", "restart_pod"},
                                                 {"parameters", {{"namespace", ns.toStdString()},
                                                                 {"pod", pod.toStdString()}}},
                                                 {"reasoning", "the scripted model says so"}}
                                      .dump());
}

} // namespace vigil::test
