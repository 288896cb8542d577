#include "core/act/executor.h"

#include "core/act/decisionstore.h"
#include "core/audit/auditlog.h"
#include "core/guard/guardrails.h"
#include "core/kube/restclient.h"
#include "core/util/jsondepth.h"

#include "core/act/jsonfield.h"

#include <QDateTime>
#include <QPointer>

#include <memory>

namespace vigil::act {
namespace {

using json = nlohmann::json;

std::string s(const QString &text)
{
    return text.toStdString();
}

template<typename Cb>
Cb guarded(QObject *context, Cb cb)
{
    QPointer<QObject> guard(context);
    const bool hadContext = context != nullptr;
    return [guard, hadContext, cb = std::move(cb)](auto r) {
        if (hadContext && !guard)
            return;
        cb(std::move(r));
    };
}

json outcomeJson(const ActionOutcome &o)
{
    return {{"status", s(outcomeStatusName(o.status))}, {"message", s(o.message)}, {"response", o.response}};
}

json errorJson(const Error &e)
{
    return {{"status", "error"}, {"message", s(e.message)}, {"httpStatus", e.code}};
}

} // namespace

ActionRequest actionRequest(const Decision &d)
{
    ActionRequest r;
    r.decisionId = d.id;
    r.kind = d.diagnosis.action;
    r.parameters = d.diagnosis.parameters.is_object() ? d.diagnosis.parameters : json::object();
    r.namespaceName = d.target.namespaceName;
    r.podName = d.target.podName;
    r.nodeName = d.target.nodeName;
    r.diagnosis = d.diagnosis.diagnosis;
    return r;
}

Executor::Executor(DecisionStore *store, audit::AuditLog *audit, ActionRunner *runner, guard::Policy policy,
                   QObject *parent)
    : QObject(parent)
    , m_store(store)
    , m_audit(audit)
    , m_runner(runner)
    , m_policy(std::move(policy))
{
}

Executor::~Executor() = default;

Result<void> Executor::audit(const Decision &d, const QString &kind, const QString &outcome,
                             const json &extra)
{
    audit::AuditEvent e;
    e.decisionId = d.id;
    e.kind = kind;
    e.actor = d.approver.osUser.isEmpty() && d.approver.kubeUser.isEmpty() ? QStringLiteral("vigil")
                                                                           : d.approver.actor();
    e.namespaceName = d.target.namespaceName;
    e.target = d.targetKey();
    e.action = actionName(d.diagnosis.action);
    e.outcome = outcome;
    e.payload = {{"decision", d.toJson()}};
    if (extra.is_object()) {
        for (auto it = extra.begin(); it != extra.end(); ++it)
            e.payload[it.key()] = *it;
    } else if (!extra.is_null()) {
        e.payload["detail"] = extra;
    }
    Result<qint64> r = m_audit->append(std::move(e));
    if (!r)
        return r.error();
    return {};
}

Result<void> Executor::move(Decision &d, DecisionState to, const QString &kind, const QString &outcome,
                            const json &extra)
{
    const DecisionState from = d.state;
    d.state = to;
    if (Result<void> r = m_store->transition(d, from); !r) {
        d.state = from;
        return r;
    }
    json payload = extra;
    payload["from"] = s(stateName(from));
    payload["to"] = s(stateName(to));
    Result<void> audited = audit(d, kind, outcome, payload);
    Q_EMIT decisionChanged(d);
    return audited;
}

Result<Decision> Executor::loadIn(const QString &id, std::initializer_list<DecisionState> states,
                                  const QString &verb) const
{
    Result<Decision> d = m_store->load(id);
    if (!d)
        return d;
    for (DecisionState st : states) {
        if (d->state == st)
            return d;
    }
    QStringList names;
    for (DecisionState st : states)
        names << stateName(st);
    return Error(QStringLiteral("cannot %1 decision %2: it is %3, not %4")
                     .arg(verb, d->id, stateName(d->state), names.join(QStringLiteral(" or "))));
}

Result<Decision> Executor::propose(const Decision &decision, const json &context)
{
    Decision d = decision;
    d.state = DecisionState::Proposed;
    if (Result<void> r = m_store->insert(d); !r)
        return r.error();
    if (Result<void> r = audit(d, QStringLiteral("proposed"), guard::decisionName(d.verdict.decision),
                               context.is_object() ? context : json::object());
        !r)
        return r.error();
    // The guardrails' judgement is its own event: code decided it, not the model that proposed.
    json reasons = json::array();
    for (const guard::VerdictReason &reason : d.verdict.reasons)
        reasons.push_back(
            {{"code", s(reason.code)}, {"message", s(reason.message)}, {"blocking", reason.blocking}});
    if (Result<void> r =
            audit(d, QStringLiteral("verdict"), guard::decisionName(d.verdict.decision),
                  {{"verdict", s(guard::decisionName(d.verdict.decision))}, {"reasons", reasons}});
        !r)
        return r.error();
    Q_EMIT decisionChanged(d);
    return d;
}

void Executor::preview(const QString &id, QObject *context, Callback callback)
{
    Callback cb = guarded(context, std::move(callback));
    Result<Decision> d =
        loadIn(id, {DecisionState::Proposed, DecisionState::Previewed}, QStringLiteral("preview"));
    if (!d)
        return cb(d.error());
    const ActionRequest request = actionRequest(*d);
    m_runner->preconditions(request, this, [this, request, d = *d, cb](Result<ActionOutcome> pre) mutable {
        if (!pre) {
            d.preview = QStringLiteral("precondition failed: ") + pre.errorMessage();
            (void)audit(d, QStringLiteral("previewed"), QStringLiteral("precondition-failed"),
                        {{"error", errorJson(pre.error())}});
            return cb(pre.error());
        }
        m_runner->dryRun(request, pre->facts, this, [this, d, cb](Result<ActionOutcome> dry) mutable {
            if (!dry) {
                (void)audit(d, QStringLiteral("previewed"), QStringLiteral("error"),
                            {{"error", errorJson(dry.error())}});
                return cb(dry.error());
            }
            d.preview = dry->message;
            d.facts = dry->facts;
            if (Result<void> r = move(d, DecisionState::Previewed, QStringLiteral("previewed"),
                                      outcomeStatusName(dry->status), {{"dryRun", outcomeJson(*dry)}});
                !r)
                return cb(r.error());
            cb(d);
        });
    });
}

Result<Decision> Executor::approve(const QString &id, const Approver &approver)
{
    Result<Decision> d =
        loadIn(id, {DecisionState::Proposed, DecisionState::Previewed}, QStringLiteral("approve"));
    if (!d)
        return d;
    if (m_policy.mode == guard::PolicyMode::SuggestOnly)
        return Error(
            QStringLiteral("cannot approve decision %1: the policy is suggest-only (read-only)").arg(d->id));
    if (d->verdict.decision == guard::Verdict::Blocked) {
        QStringList why;
        for (const guard::VerdictReason &r : d->verdict.reasons) {
            if (r.blocking)
                why << r.message;
        }
        return Error(QStringLiteral("cannot approve decision %1: the guardrails blocked it: %2")
                         .arg(d->id, why.join(QStringLiteral("; "))));
    }
    d->approver = approver;
    if (Result<void> r =
            move(*d, DecisionState::Approved, QStringLiteral("approved"), QStringLiteral("approved"));
        !r)
        return r.error();
    return d;
}

Result<Decision> Executor::reject(const QString &id, const Approver &approver, const QString &reason)
{
    Result<Decision> d =
        loadIn(id, {DecisionState::Proposed, DecisionState::Previewed}, QStringLiteral("reject"));
    if (!d)
        return d;
    d->approver = approver;
    d->rejectReason = reason;
    if (Result<void> r = move(*d, DecisionState::Rejected, QStringLiteral("rejected"),
                              QStringLiteral("rejected"), {{"reason", s(reason)}});
        !r)
        return r.error();
    return d;
}

QList<guard::ExecutionRecord> Executor::recentExecutions() const
{
    QList<guard::ExecutionRecord> out;
    Result<QList<Decision>> all = m_store->list();
    if (!all)
        return out;
    for (const Decision &d : *all) {
        if (!d.facts.contains("executedAtMs"))
            continue;
        out.append({QDateTime::fromMSecsSinceEpoch(field(d.facts, "executedAtMs", qint64(0)), Qt::UTC),
                    d.diagnosis.action, d.targetKey()});
    }
    return out;
}

void Executor::execute(const QString &id, QObject *context, Callback callback)
{
    Callback cb = guarded(context, std::move(callback));
    Result<Decision> loaded = loadIn(id, {DecisionState::Approved}, QStringLiteral("execute"));
    if (!loaded)
        return cb(loaded.error());
    Decision d = *loaded;
    if (m_policy.mode == guard::PolicyMode::SuggestOnly) {
        const Error e(QStringLiteral("refused to execute decision %1: the policy is suggest-only (read-only)")
                          .arg(d.id));
        (void)audit(d, QStringLiteral("refused"), QStringLiteral("suggest-only"), {{"error", errorJson(e)}});
        return cb(e);
    }
    // Judge again now: the policy, the clock and the history may have changed since the verdict.
    guard::Proposal proposal{d.diagnosis, QString(), d.target};
    const guard::Verdict now =
        guard::evaluate(proposal, {m_policy, QDateTime::currentDateTimeUtc(), recentExecutions()});
    if (now.decision == guard::Verdict::Blocked) {
        QStringList why;
        json reasons = json::array();
        for (const guard::VerdictReason &r : now.reasons) {
            if (r.blocking) {
                why << r.message;
                reasons.push_back({{"code", s(r.code)}, {"message", s(r.message)}});
            }
        }
        d.outcome = {{"status", "refused"}, {"message", s(why.join(QStringLiteral("; ")))}};
        if (Result<void> r = move(d, DecisionState::Failed, QStringLiteral("refused"),
                                  QStringLiteral("blocked"), {{"reasons", reasons}});
            !r)
            return cb(r.error());
        return cb(Error(QStringLiteral("refused to execute decision %1 before any API call: %2")
                            .arg(d.id, why.join(QStringLiteral("; ")))));
    }
    const ActionRequest request = actionRequest(d);
    m_runner->preconditions(request, this, [this, request, d, cb](Result<ActionOutcome> pre) mutable {
        if (!pre) {
            d.outcome = errorJson(pre.error());
            (void)move(d, DecisionState::Failed, QStringLiteral("failed"),
                       QStringLiteral("precondition-failed"), {{"error", errorJson(pre.error())}});
            return cb(pre.error());
        }
        d.facts = pre->facts;
        d.facts["executedAtMs"] = QDateTime::currentMSecsSinceEpoch();
        // The point of no return is durable before the call: a crash from here on is reconciled.
        if (Result<void> r = move(d, DecisionState::Executing, QStringLiteral("executing"),
                                  QStringLiteral("started"), {{"preconditions", outcomeJson(*pre)}});
            !r)
            return cb(r.error());
        if (m_afterExecuting)
            m_afterExecuting(d);
        m_runner->execute(request, d.facts, this, [this, d, cb](Result<ActionOutcome> res) mutable {
            if (!res && res.error().code == 0) {
                // No HTTP status: the request may or may not have reached the server. Look, don't retry.
                const Error sent = res.error();
                m_runner->reconcile(actionRequest(d), d.facts, this,
                                    [this, d, cb, sent](Result<ActionOutcome> rec) mutable {
                                        if (rec && rec->status == ActionOutcome::Done)
                                            return finishExecution(d, rec, cb);
                                        finishExecution(d, sent, cb);
                                    });
                return;
            }
            finishExecution(d, std::move(res), cb);
        });
    });
}

void Executor::finishExecution(Decision d, Result<ActionOutcome> res, Callback cb)
{
    if (!res) {
        d.outcome = errorJson(res.error());
        if (Result<void> r = move(d, DecisionState::Failed, QStringLiteral("error"), QStringLiteral("failed"),
                                  {{"error", errorJson(res.error())}});
            !r)
            return cb(r.error());
        return cb(d);
    }
    d.outcome = outcomeJson(*res);
    const bool done = res->status == ActionOutcome::Done;
    if (Result<void> r =
            move(d, done ? DecisionState::Executed : DecisionState::Failed, QStringLiteral("executed"),
                 outcomeStatusName(res->status), {{"result", outcomeJson(*res)}});
        !r)
        return cb(r.error());
    cb(d);
}

void Executor::verify(const QString &id, int timeoutMs, QObject *context, Callback callback)
{
    Callback cb = guarded(context, std::move(callback));
    Result<Decision> loaded = loadIn(id, {DecisionState::Executed}, QStringLiteral("verify"));
    if (!loaded)
        return cb(loaded.error());
    m_runner->verify(actionRequest(*loaded), loaded->facts, timeoutMs, this,
                     [this, d = *loaded, cb](Result<ActionOutcome> res) mutable {
                         const bool ok = res && res->status == ActionOutcome::Done;
                         const json detail = res ? outcomeJson(*res) : errorJson(res.error());
                         d.outcome = detail;
                         if (Result<void> r =
                                 move(d, ok ? DecisionState::Verified : DecisionState::VerifyFailed,
                                      ok ? QStringLiteral("verified") : QStringLiteral("verify_failed"),
                                      ok ? QStringLiteral("verified") : QStringLiteral("not-verified"),
                                      {{"verification", detail}});
                             !r)
                             return cb(r.error());
                         cb(d);
                     });
}

void Executor::undo(const QString &id, const Approver &approver, QObject *context, Callback callback)
{
    Callback cb = guarded(context, std::move(callback));
    Result<Decision> loaded =
        loadIn(id, {DecisionState::Executed, DecisionState::Verified, DecisionState::VerifyFailed},
               QStringLiteral("undo"));
    if (!loaded)
        return cb(loaded.error());
    if (m_policy.mode == guard::PolicyMode::SuggestOnly)
        return cb(Error(QStringLiteral("refused to undo decision %1: the policy is suggest-only (read-only)")
                            .arg(loaded->id)));
    Decision d = *loaded;
    if (Result<void> r = audit(d, QStringLiteral("undo_requested"), QStringLiteral("started"),
                               json::object({{"by", s(approver.actor())}}));
        !r)
        return cb(r.error());
    m_runner->undo(actionRequest(d), d.facts, this,
                   [this, d, approver, cb](Result<ActionOutcome> res) mutable {
                       if (!res) {
                           (void)audit(d, QStringLiteral("error"), QStringLiteral("undo-failed"),
                                       {{"error", errorJson(res.error())}, {"by", s(approver.actor())}});
                           return cb(res.error());
                       }
                       d.outcome = outcomeJson(*res);
                       if (Result<void> r = move(d, DecisionState::Undone, QStringLiteral("undone"),
                                                 outcomeStatusName(res->status),
                                                 {{"undo", outcomeJson(*res)}, {"by", s(approver.actor())}});
                           !r)
                           return cb(r.error());
                       cb(d);
                   });
}

void Executor::reconcile(QObject *context, ListCallback callback)
{
    ListCallback cb = guarded(context, std::move(callback));
    Result<QList<Decision>> pending = m_store->list(DecisionState::Executing);
    if (!pending)
        return cb(pending.error());
    auto queue = std::make_shared<QList<Decision>>(*pending);
    auto settled = std::make_shared<QList<Decision>>();
    auto next = std::make_shared<std::function<void()>>();
    // The step holds itself weakly; the call in flight keeps it alive.
    *next = [this, queue, settled, weak = std::weak_ptr<std::function<void()>>(next), cb]() {
        if (queue->isEmpty())
            return cb(*settled);
        Decision d = queue->takeFirst();
        m_runner->reconcile(
            actionRequest(d), d.facts, this,
            [this, d, settled, next = weak.lock(), cb](Result<ActionOutcome> res) mutable {
                if (!res) {
                    (void)audit(d, QStringLiteral("error"), QStringLiteral("reconcile-failed"),
                                {{"error", errorJson(res.error())}});
                    return cb(Error(
                        QStringLiteral("cannot reconcile decision %1: %2").arg(d.id, res.errorMessage())));
                }
                const bool happened = res->status == ActionOutcome::Done;
                d.outcome = outcomeJson(*res);
                if (Result<void> r =
                        move(d, happened ? DecisionState::Executed : DecisionState::Failed,
                             QStringLiteral("reconciled"),
                             happened ? QStringLiteral("executed") : QStringLiteral("not-executed"),
                             {{"reconcile", outcomeJson(*res)}});
                    !r)
                    return cb(r.error());
                settled->append(d);
                (*next)();
            });
    };
    (*next)();
}

void Executor::fetchKubeUser(kube::RestClient *client, QObject *context,
                             std::function<void(Result<QString>)> callback)
{
    kube::Request request;
    request.verb = "POST";
    request.path = QStringLiteral("/apis/authentication.k8s.io/v1/selfsubjectreviews");
    request.contentType = "application/json";
    request.body =
        QByteArrayLiteral(R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"})");
    client->send(request, context, [callback = std::move(callback)](Result<kube::Response> r) {
        if (!r)
            return callback(r.error());
        const Result<json> parsed = parseJson(r->body);
        if (!parsed)
            return callback(
                Error(QStringLiteral("SelfSubjectReview: the response is %1").arg(parsed.errorMessage())));
        const json &doc = *parsed;
        const json user = doc.is_object()
                              ? field(field(doc, "status", json::object()), "userInfo", json::object())
                              : json();
        if (!user.is_object() || !user.contains("username") || !user["username"].is_string())
            return callback(
                Error(QStringLiteral("SelfSubjectReview: the response has no status.userInfo.username")));
        callback(QString::fromStdString(user["username"].get<std::string>()));
    });
}

} // namespace vigil::act
