#include "core/reason/router.h"

#include "core/gather/evidence.h"
#include "core/reason/llm/diagnosiscache.h"
#include "core/reason/llm/llmprovider.h"

#include <algorithm>

namespace vigil::reason {
namespace {

QString conf(double c)
{
    return QString::number(c, 'f', 2);
}

// Replies that reached us but are not a usable answer get the repair
// round-trip; transport failures do not (asking again will not help).
bool isReplyProblem(llm::LlmErrorKind kind)
{
    return kind == llm::LlmErrorKind::Refused || kind == llm::LlmErrorKind::Truncated ||
           kind == llm::LlmErrorKind::BadReply;
}

// A Strong request has its own in-flight entry: it must not join an Auto decision.
QString inFlightKey(const QString &fingerprint, RouteMode mode)
{
    return mode == RouteMode::Strong ? fingerprint + QStringLiteral("\x1fstrong") : fingerprint;
}

const QString kCancelled = QStringLiteral("cancelled by the user");

QString repairPrompt(const QString &user, const QString &error)
{
    return user + QStringLiteral("\n\nYour previous reply was rejected: ") + error +
           QStringLiteral(
               "\nReply again with exactly one JSON object that follows the schema, nothing else.");
}

} // namespace

QString ModelTier::label() const
{
    return (provider ? provider->name() : QStringLiteral("?")) + u'/' + model;
}

int evidenceTokenBudget(const PromptSet &prompts, int promptTokenBudget)
{
    QString templ = prompts.userTemplate;
    templ.remove(QStringLiteral("{{evidence}}"));
    constexpr int kSlack = 40; // the filled-in names, counts and the escaping of the evidence block
    const int fixed = gather::estimateTokens(prompts.system) +
                      gather::estimateTokens(prompts.wireSchemaText) + gather::estimateTokens(templ) + kSlack;
    return std::max(200, promptTokenBudget - fixed);
}

struct Router::Decision {
    QString fingerprint;
    QString key; ///< in m_inFlight
    RouteMode mode = RouteMode::Auto;
    QPointer<llm::LlmCall> call; ///< the model request in flight
    bool cancelled = false;
    QString reason;
    QString user; ///< the rendered user prompt
    Diagnosis rules;
    struct Candidate {
        Diagnosis diagnosis;
        int routeIndex = 0;
    };
    QList<Candidate> candidates; ///< valid answers so far; the rules' first
    QStringList route;
    QStringList problems; ///< why model answers were not usable
    int promptTokens = 0;
    int completionTokens = 0;
    double costUsd = 0.0;
    QList<Waiter> waiters;
};

Router::Router(PromptSet prompts, Options options, QObject *parent)
    : QObject(parent)
    , m_prompts(std::move(prompts))
    , m_options(options)
{
}

Router::~Router() = default;

void Router::setTiers(ModelTier small, ModelTier strong)
{
    m_small = std::move(small);
    m_strong = std::move(strong);
}

void Router::setCache(llm::DiagnosisCache *cache)
{
    m_cache = cache;
}

Diagnosis Router::rulesOrPlaceholder(const gather::Evidence &evidence, QString *error) const
{
    Result<Diagnosis> r = m_rules.diagnose(evidence);
    if (r)
        return *r;
    *error = r.errorMessage();
    Diagnosis d;
    d.category = evidence.subject.reason;
    d.diagnosis = QStringLiteral("No rule covers incident reason \"%1\"; a person needs to look.")
                      .arg(evidence.subject.reason);
    d.confidence = 0.0;
    d.action = ActionKind::None;
    d.reasoning = r.errorMessage();
    return d;
}

void Router::diagnose(const QString &fingerprint, const gather::Evidence &evidence, QObject *context,
                      Callback callback, RouteMode mode)
{
    ++m_stats.requests;
    Waiter waiter{QPointer<QObject>(context), context != nullptr, std::move(callback), false};
    const QString key = inFlightKey(fingerprint, mode);

    if (!fingerprint.isEmpty()) {
        if (const auto it = m_inFlight.constFind(key); it != m_inFlight.cend()) {
            waiter.joined = true;
            (*it)->waiters << waiter;
            ++m_stats.coalesced;
            return;
        }
    }

    QStringList route;
    if (m_cache && !fingerprint.isEmpty() && mode == RouteMode::Auto) {
        Result<std::optional<Diagnosis>> hit = m_cache->get(fingerprint);
        if (hit && hit->has_value()) {
            Diagnosis d = **hit;
            const QString origin = d.source.provider.isEmpty() ? QStringLiteral("rules")
                                                               : d.source.provider + u'/' + d.source.model;
            d.source.kind = DiagnosisSource::Cache;
            d.tier = RouteTier::Cache;
            d.route = {QStringLiteral("cache hit: %1 %2 (accepted)").arg(origin, conf(d.confidence))};
            d.promptTokens = 0; // this decision spent nothing
            d.completionTokens = 0;
            d.costUsd = 0.0;
            ++m_stats.cacheHits;
            deliver({waiter}, d);
            return;
        }
        if (!hit)
            route << QStringLiteral("cache unavailable: ") + hit.errorMessage();
    }

    QString rulesError;
    Diagnosis rules = rulesOrPlaceholder(evidence, &rulesError);
    route << QStringLiteral("rules ") + conf(rules.confidence);
    if (!rulesError.isEmpty())
        route.last() += QStringLiteral(" (") + rulesError + u')';

    if (mode == RouteMode::Strong && !m_strong.configured()) {
        route.last() += QStringLiteral(" (accepted)");
        rules.route = route;
        rules.fallbackReason = QStringLiteral("a stronger model was asked for, but none is configured");
        rules.tier = RouteTier::Fallback;
        deliver({waiter}, rules);
        return;
    }
    if (mode == RouteMode::Auto && (!hasModel() || rules.confidence >= m_options.threshold)) {
        route.last() += QStringLiteral(" (accepted)");
        rules.route = route;
        rules.tier = RouteTier::Rules;
        deliver({waiter}, rules);
        return;
    }

    auto decision = std::make_shared<Decision>();
    decision->fingerprint = fingerprint;
    decision->key = key;
    decision->mode = mode;
    decision->reason = evidence.subject.reason;
    decision->rules = rules;
    decision->route = route;
    decision->candidates << Decision::Candidate{rules, static_cast<int>(route.size()) - 1};
    decision->waiters << waiter;
    if (!fingerprint.isEmpty())
        m_inFlight.insert(key, decision);

    Result<QString> user = renderUserPrompt(m_prompts, evidence);
    if (!user) {
        decision->problems << QStringLiteral("the prompt could not be rendered: ") + user.errorMessage();
        startTier(decision, 2);
        return;
    }
    decision->user = *user;
    startTier(decision, mode == RouteMode::Auto && m_small.configured() ? 0 : 1);
}

bool Router::cancel(const QString &fingerprint)
{
    if (fingerprint.isEmpty())
        return false;
    bool any = false;
    for (const RouteMode mode : {RouteMode::Auto, RouteMode::Strong}) {
        const auto it = m_inFlight.constFind(inFlightKey(fingerprint, mode));
        if (it == m_inFlight.cend())
            continue;
        const std::shared_ptr<Decision> decision = *it;
        decision->cancelled = true;
        any = true;
        // abort() reports Cancelled through the event loop; onModelReply ends the decision.
        if (decision->call)
            decision->call->abort();
    }
    return any;
}

void Router::startTier(const std::shared_ptr<Decision> &decision, int tier)
{
    if (tier == 0 && !m_small.configured())
        tier = 1;
    if (tier == 1 && !m_strong.configured())
        tier = 2;
    if (tier <= 1) {
        sendModel(decision, tier, decision->user, false);
        return;
    }

    // No tier left: the most confident valid answer wins (ties go to the later, stronger tier);
    // when a person asked for the strong model, its valid answer wins over the rules'.
    const bool preferModel = decision->mode == RouteMode::Strong && decision->candidates.size() > 1;
    const Decision::Candidate *best = &decision->candidates[preferModel ? 1 : 0];
    for (const Decision::Candidate &c : decision->candidates) {
        if (preferModel && c.diagnosis.source.kind == DiagnosisSource::Rules)
            continue;
        if (c.diagnosis.confidence >= best->diagnosis.confidence)
            best = &c;
    }
    Diagnosis result = best->diagnosis;
    QStringList route = decision->route;
    route[best->routeIndex] += QStringLiteral(" (accepted)");
    result.route = route;
    result.promptVersion = m_prompts.version;
    result.promptTokens = decision->promptTokens;
    result.completionTokens = decision->completionTokens;
    result.costUsd = decision->costUsd;
    if (result.source.kind == DiagnosisSource::Rules) {
        // A model was asked (or its prompt failed): the rules' answer is a fallback, even when the
        // models answered validly but less confidently (no failure then: the route shows them).
        result.tier = RouteTier::Fallback;
        if (!decision->problems.isEmpty()) {
            ++m_stats.fallbacks;
            result.fallbackReason = decision->problems.join(QStringLiteral("; "));
        }
    } else if (m_cache && !decision->fingerprint.isEmpty()) {
        Result<void> stored = m_cache->put(decision->fingerprint, result);
        if (!stored)
            result.route << QStringLiteral("not cached: ") + stored.errorMessage();
    }
    finish(decision, result);
}

void Router::sendModel(const std::shared_ptr<Decision> &decision, int tier, const QString &user, bool repair)
{
    const ModelTier &t = tier == 0 ? m_small : m_strong;
    llm::LlmRequest request;
    request.system = m_prompts.system;
    request.user = user;
    request.schema = m_prompts.schema;
    request.model = t.model;
    request.maxTokens = m_options.maxTokens;
    request.timeoutMs = m_options.timeoutMs;
    ++m_stats.llmCalls;
    if (repair)
        ++m_stats.repairs;
    llm::LlmCall *call = t.provider->complete(request);
    decision->call = call;
    Q_EMIT modelRequestStarted(decision->fingerprint, t.label());
    connect(call, &llm::LlmCall::finished, this, [this, decision, tier, repair](const llm::LlmReply &reply) {
        onModelReply(decision, tier, repair, reply);
    });
}

void Router::onModelReply(const std::shared_ptr<Decision> &decision, int tier, bool repair,
                          const llm::LlmReply &reply)
{
    const ModelTier &t = tier == 0 ? m_small : m_strong;
    const QString label = t.label();
    decision->promptTokens += reply.promptTokens;
    decision->completionTokens += reply.completionTokens;
    decision->costUsd += reply.costUsd;
    const QString step = repair ? label + QStringLiteral(" repair") : label;

    if (decision->cancelled) {
        decision->route << step + QStringLiteral(" ") + kCancelled;
        decision->problems << kCancelled;
        startTier(decision, 2);
        return;
    }
    QString invalid;
    if (!reply.ok()) {
        const QString why = llm::errorKindName(reply.errorKind) + QStringLiteral(": ") + reply.error.message;
        if (!isReplyProblem(reply.errorKind)) {
            // Circuit open, budget spent, network, HTTP: no other tier will fare better now.
            decision->route << step + QStringLiteral(" failed (") + why + u')';
            decision->problems << label + QStringLiteral(": ") + why;
            startTier(decision, 2);
            return;
        }
        invalid = why;
    } else {
        Result<Diagnosis> valid = validateReply(reply.content, m_options.limits);
        if (valid) {
            Diagnosis d = *valid;
            d.category = decision->rules.category.isEmpty() ? decision->reason : decision->rules.category;
            d.source = DiagnosisSource{DiagnosisSource::Llm, t.provider->name(),
                                       reply.model.isEmpty() ? t.model : reply.model};
            d.tier = tier == 0 ? RouteTier::Small : RouteTier::Strong;
            decision->route << step + u' ' + conf(d.confidence);
            decision->candidates << Decision::Candidate{d, static_cast<int>(decision->route.size()) - 1};
            if (d.confidence >= m_options.threshold)
                startTier(decision, 2);
            else
                startTier(decision, tier + 1);
            return;
        }
        invalid = valid.errorMessage();
    }

    if (!repair) {
        decision->route << step + QStringLiteral(" invalid (") + invalid + QStringLiteral(") → repair");
        sendModel(decision, tier, repairPrompt(decision->user, invalid), true);
        return;
    }
    decision->route << step + QStringLiteral(" invalid (") + invalid + u')';
    decision->problems << label + QStringLiteral(": invalid reply after one repair: ") + invalid;
    startTier(decision, tier + 1);
}

void Router::finish(const std::shared_ptr<Decision> &decision, Diagnosis result)
{
    const auto it = m_inFlight.constFind(decision->key);
    if (it != m_inFlight.cend() && *it == decision)
        m_inFlight.erase(it);
    deliver(decision->waiters, result);
}

void Router::deliver(const QList<Waiter> &waiters, const Diagnosis &result)
{
    // Always through the event loop, so callers never see a callback inside diagnose().
    QMetaObject::invokeMethod(
        this,
        [waiters, result] {
            for (const Waiter &w : waiters) {
                if (w.guarded && w.context.isNull())
                    continue;
                if (!w.joined) {
                    w.callback(result);
                    continue;
                }
                Diagnosis shared = result;
                shared.route.prepend(QStringLiteral("joined an in-flight decision for the same incident"));
                shared.promptTokens = 0; // the first request carries the cost
                shared.completionTokens = 0;
                shared.costUsd = 0.0;
                w.callback(shared);
            }
        },
        Qt::QueuedConnection);
}

} // namespace vigil::reason
