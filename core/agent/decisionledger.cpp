#include "core/agent/decisionledger.h"

#include "core/act/agentdecisionmirror.h"
#include "core/kube/projections.h"
#include "core/kube/restclient.h"

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

// The field manager that set spec.approved, from managedFields (Vigil's own managers excluded).
QString approvedByFromManagedFields(const json &object)
{
    const json &fields = member(member(object, "metadata"), "managedFields");
    if (!fields.is_array())
        return QString();
    for (const json &entry : fields) {
        const QString manager = str(entry, "manager");
        const json &spec = member(member(entry, "fieldsV1"), "f:spec");
        if (spec.is_object() && spec.contains("f:approved") && manager != u"vigil" &&
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

} // namespace

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
    e.approved = member(member(object, "spec"), "approved") == true;
    const json &ours = member(object, "vigil");
    e.approvedBy = ours.is_object() ? str(ours, "approvedBy") : approvedByFromManagedFields(object);
    e.phase = str(member(object, "status"), "phase");
    const json &annotations = member(meta, "annotations");
    e.claimedBy = str(annotations, kClaimedByAnnotation);
    const QString text = str(annotations, kDecisionAnnotation);
    if (!text.isEmpty()) {
        const json doc = json::parse(text.toStdString(), nullptr, false);
        Result<act::Decision> d = act::Decision::fromJson(doc);
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
        copy["vigil"] = {{"approvedBy", s(approvedByFromManagedFields(object))}};
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
            writeMetadata(decision, json::object(), QString(), this, [cb, done](Result<void> r) {
                cb(r);
                done();
            });
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
