#include "core/agent/decisionledger.h"

#include "core/act/agentdecisionmirror.h"
#include "core/kube/projections.h"
#include "core/kube/restclient.h"
#include "core/util/jsondepth.h"

#include <QDateTime>
#include <QPointer>

namespace vigil::agent {

using json = nlohmann::json;

namespace {

constexpr const char *kDecisionLabel = "vigil.dev/decision"; // set by AgentDecisionMirror
constexpr qsizetype kMaxObjectBytes = 1024 * 1024;

std::string s(const QString &text)
{
    return text.toStdString();
}

QString str(const json &object, const char *key)
{
    if (!object.is_object())
        return QString();
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? QString::fromStdString(it->get<std::string>()) : QString();
}

const json &member(const json &object, const char *key)
{
    static const json null;
    if (!object.is_object())
        return null;
    const auto it = object.find(key);
    return it == object.end() ? null : *it;
}

// The field manager that set spec.<field> ("f:approved"), from managedFields (Vigil's own managers excluded).
QString setByFromManagedFields(const json &object, const char *field)
{
    const json &fields = member(member(object, "metadata"), "managedFields");
    if (!fields.is_array())
        return QString();
    for (const json &entry : fields) {
        const QString manager = str(entry, "manager");
        const json &spec = member(member(entry, "fieldsV1"), "f:spec");
        if (spec.is_object() && spec.contains(field) && manager != u"vigil" &&
            manager != QLatin1String(kLedgerFieldManager))
            return manager.isEmpty() ? QStringLiteral("unknown") : manager;
    }
    return QString();
}

template<typename Cb>
Cb guarded(QObject *context, Cb callback)
{
    QPointer<QObject> guard(context);
    const bool hadContext = context != nullptr;
    return [guard, hadContext, callback = std::move(callback)](auto result) {
        if (hadContext && !guard)
            return;
        callback(std::move(result));
    };
}

// The condition types the agent owns on status.conditions.
bool isAgentCondition(const QString &type)
{
    return type == u"Rejected" || type == u"ApprovalRefused" || type == u"RejectionRefused" ||
           type == u"Failed";
}

QString who(const act::Approver &approver)
{
    return approver.kubeUser.isEmpty() ? approver.actor() : approver.kubeUser;
}

QString outcomeMessage(const act::Decision &d)
{
    return str(d.outcome, "message");
}

} // namespace

bool LedgerEntry::hasCondition(const QString &type) const
{
    if (!conditions.is_array())
        return false;
    for (const json &c : conditions) {
        if (str(c, "type") == type)
            return true;
    }
    return false;
}

std::optional<DecisionCondition> stateCondition(const act::Decision &d)
{
    if (d.state == act::DecisionState::Rejected) {
        const QString why = d.rejectReason.isEmpty() ? QStringLiteral("no reason given") : d.rejectReason;
        return DecisionCondition{
            QStringLiteral("Rejected"), QStringLiteral("True"), QStringLiteral("RejectedByUser"),
            QStringLiteral("rejected by %1: %2; it is never executed").arg(who(d.approver), why)};
    }
    if (d.state == act::DecisionState::Failed) {
        const QString status = str(d.outcome, "status");
        if (status == u"rejected")
            return DecisionCondition{QStringLiteral("Rejected"), QStringLiteral("True"),
                                     QStringLiteral("RejectedByUser"), outcomeMessage(d)};
        const QString reason = status == u"refused"   ? QStringLiteral("BlockedByGuardrails")
                               : status == u"blocked" ? QStringLiteral("BlockedByDisruptionBudget")
                                                      : QStringLiteral("ActionFailed");
        const QString message = outcomeMessage(d);
        return DecisionCondition{QStringLiteral("Failed"), QStringLiteral("True"), reason,
                                 message.isEmpty() ? QStringLiteral("the action failed") : message};
    }
    return std::nullopt;
}

DecisionCondition approvalRefused(const act::Decision &d, const QString &error)
{
    using S = act::DecisionState;
    DecisionCondition c{QStringLiteral("ApprovalRefused"), QStringLiteral("True"), QString(), QString()};
    switch (d.state) {
    case S::Rejected:
        c.reason = QStringLiteral("AlreadyRejected");
        c.message =
            QStringLiteral("approval refused: the decision was rejected by %1 (%2); it is never executed")
                .arg(who(d.approver),
                     d.rejectReason.isEmpty() ? QStringLiteral("no reason given") : d.rejectReason);
        return c;
    case S::Executing:
    case S::Executed:
    case S::Verified:
    case S::VerifyFailed:
    case S::Undone:
        c.reason = QStringLiteral("AlreadyExecuted");
        c.message = QStringLiteral("approval ignored: the decision is already %1 (approved by %2 via %3); "
                                   "it is executed at most once")
                        .arg(act::stateName(d.state), who(d.approver),
                             d.approver.via.isEmpty() ? QStringLiteral("unknown") : d.approver.via);
        return c;
    case S::Failed:
        c.reason = QStringLiteral("AlreadyFailed");
        c.message =
            QStringLiteral("approval ignored: the decision already failed: %1").arg(outcomeMessage(d));
        return c;
    case S::Proposed:
    case S::Previewed:
    case S::Approved:
        break;
    }
    if (d.verdict.decision == guard::Verdict::Blocked)
        c.reason = QStringLiteral("BlockedByGuardrails");
    else if (error.contains(QLatin1String("suggest-only")))
        c.reason = QStringLiteral("SuggestOnly");
    else
        c.reason = QStringLiteral("Refused");
    c.message =
        error.isEmpty() ? QStringLiteral("approval refused") : QStringLiteral("approval refused: ") + error;
    return c;
}

std::optional<qint64> finishedAtMs(const LedgerEntry &entry)
{
    if (!entry.decision)
        return std::nullopt;
    using S = act::DecisionState;
    const S state = entry.decision->state;
    // Executed counts as finished: the action ran; only its verification may be missing.
    if (!act::isTerminal(state) && state != S::Executed)
        return std::nullopt;
    const qint64 at = entry.decision->updatedMs > 0 ? entry.decision->updatedMs : entry.createdMs;
    return at > 0 ? std::optional<qint64>(at) : std::nullopt;
}

bool expired(const LedgerEntry &entry, qint64 nowMs, qint64 ttlMs)
{
    if (ttlMs <= 0)
        return false;
    const std::optional<qint64> at = finishedAtMs(entry);
    return at && nowMs - *at >= ttlMs;
}

QString labelValue(const QString &text)
{
    QString out;
    for (const QChar c : text) {
        if (c.isLetterOrNumber() && c.unicode() < 128)
            out += c;
        else if (c == u'-' || c == u'_' || c == u'.')
            out += c;
        if (out.size() == 63)
            break;
    }
    while (!out.isEmpty() && !out.back().isLetterOrNumber())
        out.chop(1);
    while (!out.isEmpty() && !out.front().isLetterOrNumber())
        out.remove(0, 1);
    return out;
}

Result<LedgerEntry> LedgerEntry::fromObject(const json &object)
{
    const json &meta = member(object, "metadata");
    const QString where =
        QStringLiteral("AgentDecision %1/%2").arg(str(meta, "namespace"), str(meta, "name"));
    if (!meta.is_object())
        return Error(QStringLiteral("AgentDecision: the object has no metadata"));
    LedgerEntry e;
    e.namespaceName = str(meta, "namespace");
    e.name = str(meta, "name");
    e.resourceVersion = str(meta, "resourceVersion");
    e.decisionId = str(member(meta, "labels"), kDecisionLabel);
    if (e.decisionId.isEmpty())
        return Error(QStringLiteral("%1: no label %2").arg(where, QLatin1String(kDecisionLabel)));
    const json &spec = member(object, "spec");
    e.approved = member(spec, "approved") == true;
    const json &ours = member(object, "vigil");
    e.approvedBy = ours.is_object() ? str(ours, "approvedBy") : setByFromManagedFields(object, "f:approved");
    e.phase = str(member(object, "status"), "phase");
    const json &conditions = member(member(object, "status"), "conditions");
    if (conditions.is_array())
        e.conditions = conditions;
    const json &annotations = member(meta, "annotations");
    e.claimedBy = str(annotations, kClaimedByAnnotation);
    e.rejectedBy = str(annotations, kRejectedByAnnotation).trimmed();
    e.rejected = member(spec, "rejected") == true || !e.rejectedBy.isEmpty();
    if (e.rejected && e.rejectedBy.isEmpty()) {
        const QString manager =
            ours.is_object() ? str(ours, "rejectedBy") : setByFromManagedFields(object, "f:rejected");
        e.rejectedBy =
            QStringLiteral("field-manager:") + (manager.isEmpty() ? QStringLiteral("unknown") : manager);
    }
    e.rejectReason = str(spec, "rejectReason").trimmed();
    if (e.rejectReason.isEmpty())
        e.rejectReason = str(annotations, kRejectReasonAnnotation).trimmed();
    const QDateTime created = QDateTime::fromString(str(meta, "creationTimestamp"), Qt::ISODate);
    if (created.isValid())
        e.createdMs = created.toMSecsSinceEpoch();
    const QString text = str(annotations, kDecisionAnnotation);
    if (!text.isEmpty()) {
        // Anyone who can edit the object writes this text; Decision::fromJson copies it recursively.
        const QByteArray utf8 = text.toUtf8();
        const Result<json> doc = parseJson(utf8);
        Result<act::Decision> d = doc ? act::Decision::fromJson(*doc) : Result<act::Decision>(doc.error());
        if (d && d->id == e.decisionId)
            e.decision = std::move(*d);
    }
    return e;
}

DecisionLedger::DecisionLedger(kube::RestClient *client, act::Executor *executor, QString agentName,
                               QString identity, QString namespaceName, QObject *parent)
    : QObject(parent)
    , m_client(client)
    , m_mirror(new act::AgentDecisionMirror(client, executor, this))
    , m_agentName(std::move(agentName))
    , m_identity(std::move(identity))
{
    kube::InformerOptions options;
    options.type = act::AgentDecisionMirror::resourceType();
    options.namespaceName = namespaceName;
    options.labelSelector = QLatin1String(kAgentLabel) + u'=' + labelValue(m_agentName);
    options.projector = projector();
    m_informer = new kube::Informer(client, options, this);
}

DecisionLedger::~DecisionLedger() = default;

kube::Projector DecisionLedger::projector()
{
    return [](const json &object) -> Result<kube::KubeObject> {
        if (!object.is_object())
            return Error(QStringLiteral("AgentDecision: not a JSON object"));
        json copy = object;
        copy["vigil"] = {{"approvedBy", s(setByFromManagedFields(object, "f:approved"))},
                         {"rejectedBy", s(setByFromManagedFields(object, "f:rejected"))}};
        Result<kube::GenericView> view = kube::projectGeneric(copy, kMaxObjectBytes);
        if (!view)
            return view.error();
        return kube::KubeObject(std::move(*view));
    };
}

void DecisionLedger::detect(QObject *context, std::function<void(Result<bool>)> callback)
{
    m_mirror->detect(context, std::move(callback));
}

QList<LedgerEntry> DecisionLedger::entries() const
{
    QList<LedgerEntry> out;
    for (const kube::KubeObject &object : m_informer->store().objects()) {
        const auto *view = std::get_if<kube::GenericView>(&object);
        if (!view || view->json.isEmpty())
            continue;
        const json doc = json::parse(view->json.constBegin(), view->json.constEnd(), nullptr, false);
        if (Result<LedgerEntry> e = LedgerEntry::fromObject(doc))
            out.append(std::move(*e));
    }
    return out;
}

std::optional<LedgerEntry> DecisionLedger::entry(const QString &decisionId) const
{
    for (LedgerEntry &e : entries()) {
        if (e.decisionId == decisionId)
            return std::move(e);
    }
    return std::nullopt;
}

void DecisionLedger::enqueue(const QString &decisionId, Operation operation)
{
    QList<Operation> &queue = m_queues[decisionId];
    queue.append(std::move(operation));
    if (queue.size() == 1)
        runNext(decisionId);
}

void DecisionLedger::runNext(const QString &decisionId)
{
    const auto it = m_queues.find(decisionId);
    if (it == m_queues.end() || it->isEmpty())
        return;
    Operation head = it->first();
    QPointer<DecisionLedger> self(this);
    head([self, decisionId] {
        if (!self)
            return;
        QList<Operation> &queue = self->m_queues[decisionId];
        if (!queue.isEmpty())
            queue.removeFirst();
        if (queue.isEmpty())
            self->m_queues.remove(decisionId);
        else
            self->runNext(decisionId);
    });
}

void DecisionLedger::writeMetadata(const act::Decision &d, const json &extraAnnotations,
                                   const QString &resourceVersion, QObject *context, Callback callback)
{
    json annotations = {
        {kDecisionAnnotation, d.toJson().dump(-1, ' ', false, json::error_handler_t::replace)}};
    for (auto it = extraAnnotations.begin(); it != extraAnnotations.end(); ++it)
        annotations[it.key()] = *it;
    json metadata = {
        {"labels",
         {{kAgentLabel, s(labelValue(m_agentName))}, {kIncidentLabel, s(labelValue(d.incidentFingerprint))}}},
        {"annotations", annotations}};
    // A resourceVersion in a patch is a precondition: the server answers 409 if the object moved on.
    if (!resourceVersion.isEmpty())
        metadata["resourceVersion"] = s(resourceVersion);
    kube::WriteOptions options;
    options.fieldManager = QLatin1String(kLedgerFieldManager);
    const QString ns = act::AgentDecisionMirror::objectNamespace(d);
    const QString name = act::AgentDecisionMirror::objectName(d.id);
    m_client->patch(kube::ResourcePath{act::AgentDecisionMirror::resourceType(), ns, name, QString()},
                    kube::PatchType::Merge, QByteArray::fromStdString(json{{"metadata", metadata}}.dump()),
                    options, context, [ns, name, callback](Result<json> r) {
                        if (!r)
                            return callback(Error(
                                QStringLiteral("AgentDecision %1/%2: %3").arg(ns, name, r.errorMessage()),
                                r.error().code));
                        callback(Result<void>());
                    });
}

void DecisionLedger::record(const act::Decision &decision, QObject *context, Callback callback)
{
    Callback cb = guarded(context, std::move(callback));
    enqueue(decision.id, [this, decision, cb](std::function<void()> done) {
        m_mirror->mirror(decision, this, [this, decision, cb, done](Result<void> mirrored) {
            if (!mirrored) {
                cb(mirrored);
                return done();
            }
            writeMetadata(decision, json::object(), QString(), this,
                          [this, decision, cb, done](Result<void> r) {
                              const std::optional<DecisionCondition> condition = stateCondition(decision);
                              if (!r || !condition) {
                                  cb(r);
                                  return done();
                              }
                              applyCondition(decision, *condition, [cb, done](Result<void> applied) {
                                  cb(applied);
                                  done();
                              });
                          });
        });
    });
}

void DecisionLedger::setCondition(const act::Decision &decision, const DecisionCondition &condition,
                                  QObject *context, Callback callback)
{
    Callback cb = guarded(context, std::move(callback));
    enqueue(decision.id, [this, decision, condition, cb](std::function<void()> done) {
        applyCondition(decision, condition, [cb, done](Result<void> r) {
            cb(r);
            done();
        });
    });
}

void DecisionLedger::applyCondition(const act::Decision &d, const DecisionCondition &condition,
                                    Callback callback)
{
    const QString now = QDateTime::currentDateTimeUtc().toString(Qt::ISODate);
    // An apply sets the whole list this manager owns: carry the agent's other conditions along.
    json conditions = json::array();
    bool replaced = false;
    // Our own last answer is never older than the informer's copy.
    json current = m_conditions.value(d.id);
    if (current.is_null()) {
        if (const std::optional<LedgerEntry> e = entry(d.id))
            current = e->conditions;
    }
    if (current.is_array()) {
        for (const json &c : current) {
            const QString type = str(c, "type");
            if (!isAgentCondition(type))
                continue;
            if (type != condition.type) {
                conditions.push_back(c);
                continue;
            }
            replaced = true;
            const bool same = str(c, "status") == condition.status;
            conditions.push_back({{"type", s(condition.type)},
                                  {"status", s(condition.status)},
                                  {"reason", s(condition.reason)},
                                  {"message", s(condition.message.left(4096))},
                                  {"lastTransitionTime", same && !str(c, "lastTransitionTime").isEmpty()
                                                             ? s(str(c, "lastTransitionTime"))
                                                             : s(now)}});
        }
    }
    if (!replaced)
        conditions.push_back({{"type", s(condition.type)},
                              {"status", s(condition.status)},
                              {"reason", s(condition.reason)},
                              {"message", s(condition.message.left(4096))},
                              {"lastTransitionTime", s(now)}});
    const QString ns = act::AgentDecisionMirror::objectNamespace(d);
    const QString name = act::AgentDecisionMirror::objectName(d.id);
    const json doc = {{"apiVersion", "ai.vigil.dev/v1alpha1"},
                      {"kind", "AgentDecision"},
                      {"metadata", {{"name", s(name)}, {"namespace", s(ns)}}},
                      {"status", {{"conditions", conditions}}}};
    kube::ApplyOptions options;
    options.fieldManager = QLatin1String(kLedgerFieldManager);
    options.force = true;
    m_client->apply(
        kube::ResourcePath{act::AgentDecisionMirror::resourceType(), ns, name, QStringLiteral("status")},
        QByteArray::fromStdString(doc.dump(-1, ' ', false, json::error_handler_t::replace)), options, this,
        [this, id = d.id, ns, name, callback](Result<json> r) {
            if (!r)
                return callback(Error(QStringLiteral("AgentDecision %1/%2 status conditions: %3")
                                          .arg(ns, name, r.errorMessage()),
                                      r.error().code));
            m_conditions.insert(id, member(member(*r, "status"), "conditions"));
            callback(Result<void>());
        });
}

void DecisionLedger::remove(const LedgerEntry &e, QObject *context, Callback callback)
{
    Callback cb = guarded(context, std::move(callback));
    enqueue(e.decisionId, [this, e, cb](std::function<void()> done) {
        kube::DeleteOptions options;
        options.resourceVersion = e.resourceVersion; // an approval or claim since then: 409, kept
        m_client->remove(
            kube::ResourcePath{act::AgentDecisionMirror::resourceType(), e.namespaceName, e.name, QString()},
            options, this, [this, e, cb, done](Result<json> r) {
                if (r)
                    m_conditions.remove(e.decisionId);
                if (!r)
                    cb(Error(QStringLiteral("deleting AgentDecision %1/%2: %3")
                                 .arg(e.namespaceName, e.name, r.errorMessage()),
                             r.error().code));
                else
                    cb(Result<void>());
                done();
            });
    });
}

void DecisionLedger::claim(const act::Decision &executing, QObject *context, Callback callback)
{
    Callback cb = guarded(context, std::move(callback));
    enqueue(executing.id, [this, executing, cb](std::function<void()> done) {
        const QString ns = act::AgentDecisionMirror::objectNamespace(executing);
        const QString name = act::AgentDecisionMirror::objectName(executing.id);
        m_client->get(
            kube::ResourcePath{act::AgentDecisionMirror::resourceType(), ns, name, QString()}, this,
            [this, executing, ns, name, cb, done](Result<json> object) {
                if (!object) {
                    cb(Error(QStringLiteral("claiming AgentDecision %1/%2: %3")
                                 .arg(ns, name, object.errorMessage()),
                             object.error().code));
                    return done();
                }
                Result<LedgerEntry> e = LedgerEntry::fromObject(*object);
                if (!e) {
                    cb(e.error());
                    return done();
                }
                if (e->rejected) {
                    cb(Error(QStringLiteral("AgentDecision %1/%2 was rejected by %3; not executing")
                                 .arg(ns, name, e->rejectedBy),
                             409));
                    return done();
                }
                if (!e->claimedBy.isEmpty()) {
                    cb(Error(QStringLiteral("AgentDecision %1/%2 is already claimed by %3")
                                 .arg(ns, name, e->claimedBy),
                             409));
                    return done();
                }
                if (!e->phase.isEmpty() && e->phase != u"proposed" && e->phase != u"previewed" &&
                    e->phase != u"approved") {
                    cb(Error(QStringLiteral("AgentDecision %1/%2 is already %3").arg(ns, name, e->phase),
                             409));
                    return done();
                }
                const json claim = {
                    {kClaimedByAnnotation, s(m_identity)},
                    {kClaimedAtAnnotation, s(QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs))}};
                writeMetadata(executing, claim, e->resourceVersion, this, [cb, done](Result<void> r) {
                    cb(r);
                    done();
                });
            });
    });
}

} // namespace vigil::agent
