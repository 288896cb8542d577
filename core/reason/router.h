#pragma once

// Router: the reasoner the pipeline calls. cache → rules → small model →
// strong model, escalating while the confidence stays below a threshold,
// falling back to the rules (and saying why) whenever a model cannot give a
// valid answer. Every step is recorded in Diagnosis::route.

#include "core/reason/diagnosis.h"
#include "core/reason/prompts.h"
#include "core/reason/replyvalidator.h"
#include "core/reason/rulereasoner.h"

#include <QHash>
#include <QObject>
#include <QPointer>

#include <functional>
#include <memory>

namespace vigil::gather {
struct Evidence;
}

namespace vigil::llm {
class DiagnosisCache;
class LlmProvider;
struct LlmReply;
} // namespace vigil::llm

namespace vigil::reason {

/// One model tier: a provider (usually a ResilientProvider) and a model name.
struct ModelTier {
    llm::LlmProvider *provider = nullptr; ///< not owned; null = tier not configured
    QString model;

    bool configured() const { return provider != nullptr && !model.isEmpty(); }
    /// "openai/gpt-4o-mini".
    QString label() const;
};

/// How diagnose() routes one request.
enum class RouteMode {
    Auto,   ///< cache → rules → small → strong, escalating below the threshold
    Strong, ///< skip the cache and the threshold: ask the strong model (a person asked for it)
};

struct RouterOptions {
    double threshold = 0.75; ///< below this, escalate to the next tier
    int maxTokens = 1024;    ///< per model reply
    int timeoutMs = 60000;   ///< per model request
    ReplyLimits limits;
};

/// Counters since construction, for tests, benchmarks and the status bar.
struct RouterStats {
    int requests = 0; ///< diagnose() calls
    int cacheHits = 0;
    int coalesced = 0; ///< requests that joined an in-flight decision for the same fingerprint
    int llmCalls = 0;  ///< model requests started (repairs included)
    int repairs = 0;
    int fallbacks = 0; ///< decisions that fell back to the rules because no model gave a valid answer
};

/// The evidence budget that keeps system prompt + user prompt + reply schema
/// within `promptTokenBudget` (estimated at ~4 characters per token).
int evidenceTokenBudget(const PromptSet &prompts, int promptTokenBudget = 3000);

/// Lives on one thread (the pipeline worker); never blocks: model calls are
/// asynchronous and the answer is delivered through the event loop.
class Router final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Router)

public:
    using Callback = std::function<void(const Diagnosis &diagnosis)>;
    using Options = RouterOptions;

    explicit Router(PromptSet prompts, Options options = Options{}, QObject *parent = nullptr);
    ~Router() override;

    /// Model tiers; both unconfigured = rules only (the embedded default).
    void setTiers(ModelTier small, ModelTier strong);
    /// Fingerprint → Diagnosis cache (not owned; null = none). Only answers
    /// that a model produced are stored: rules cost nothing to recompute.
    void setCache(llm::DiagnosisCache *cache);

    /// Diagnoses one incident's (already redacted) evidence. Always ends in a
    /// valid Diagnosis, delivered once through the event loop (never inside
    /// this call), and never after `context` is destroyed (null: always).
    /// Requests with the same non-empty fingerprint share one decision while
    /// it is in flight.
    /// RouteMode::Strong skips the cache and asks the strong tier whatever the
    /// rules' confidence; its valid answer wins over the rules', and without a
    /// strong tier the rules answer with a fallbackReason saying so.
    void diagnose(const QString &fingerprint, const gather::Evidence &evidence, QObject *context,
                  Callback callback, RouteMode mode = RouteMode::Auto);
    /// Aborts the model request in flight for fingerprint (both modes); the
    /// decision then ends at once with the best answer so far (the rules'),
    /// fallbackReason "cancelled by the user". Returns false when no model
    /// request is in flight for it.
    bool cancel(const QString &fingerprint);

    const RouterStats &stats() const { return m_stats; }
    const PromptSet &prompts() const { return m_prompts; }
    const Options &options() const { return m_options; }
    bool hasModel() const { return m_small.configured() || m_strong.configured(); }
    bool hasStrongModel() const { return m_strong.configured(); }

Q_SIGNALS:
    /// A model request for fingerprint went out to model ("openai/gpt-4o"); repairs included.
    void modelRequestStarted(const QString &fingerprint, const QString &model);

private:
    struct Decision;
    struct Waiter {
        QPointer<QObject> context;
        bool guarded = false; ///< a context was given: deliver only while it lives
        Callback callback;
        bool joined = false; ///< coalesced onto another request's decision
    };

    void startTier(const std::shared_ptr<Decision> &decision, int tier);
    void sendModel(const std::shared_ptr<Decision> &decision, int tier, const QString &user, bool repair);
    void onModelReply(const std::shared_ptr<Decision> &decision, int tier, bool repair,
                      const llm::LlmReply &reply);
    void finish(const std::shared_ptr<Decision> &decision, Diagnosis result);
    void deliver(const QList<Waiter> &waiters, const Diagnosis &result);
    Diagnosis rulesOrPlaceholder(const gather::Evidence &evidence, QString *error) const;

    PromptSet m_prompts;
    Options m_options;
    RuleReasoner m_rules;
    ModelTier m_small;
    ModelTier m_strong;
    llm::DiagnosisCache *m_cache = nullptr;
    QHash<QString, std::shared_ptr<Decision>> m_inFlight; // by fingerprint (+ kStrongKey for Strong)
    RouterStats m_stats;
};

} // namespace vigil::reason
