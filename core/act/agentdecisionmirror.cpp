#include "core/act/agentdecisionmirror.h"

#include "core/act/executor.h"

#include <QTimer>

namespace vigil::act {

using json = nlohmann::json;

namespace {

std::string s(const QString &text)
{
    return text.toStdString();
}

const char *kDecisionLabel = "vigil.dev/decision";

json header(const Decision &d)
{
    return {{"apiVersion", "ai.vigil.dev/v1alpha1"},
            {"kind", "AgentDecision"},
            {"metadata",
             {{"name", s(AgentDecisionMirror::objectName(d.id))},
              {"namespace", s(AgentDecisionMirror::objectNamespace(d))},
              {"labels", {{kDecisionLabel, s(d.id)}}}}}};
}

// The field manager that last set spec.approved, from managedFields.
QString approvedBy(const json &object)
{
    const json meta = object.value("metadata", json::object());
    const json fields = meta.value("managedFields", json::array());
    if (!fields.is_array())
        return QStringLiteral("unknown");
    for (const json &entry : fields) {
        if (!entry.is_object())
            continue;
        const json f = entry.value("fieldsV1", json::object());
        if (f.is_object() && f.contains("f:spec") && f["f:spec"].is_object() &&
            f["f:spec"].contains("f:approved") && entry.value("manager", std::string()) != "vigil")
            return QString::fromStdString(entry.value("manager", std::string("unknown")));
    }
    return QStringLiteral("unknown");
}

} // namespace

AgentDecisionMirror::AgentDecisionMirror(kube::RestClient *client, Executor *executor, QObject *parent)
    : QObject(parent)
    , m_client(client)
    , m_executor(executor)
{
}

AgentDecisionMirror::~AgentDecisionMirror() = default;

kube::ResourceType AgentDecisionMirror::resourceType()
{
    return {QStringLiteral("ai.vigil.dev"), QStringLiteral("v1alpha1"), QStringLiteral("agentdecisions"),
            true};
}

QString AgentDecisionMirror::objectName(const QString &decisionId)
{
    return QStringLiteral("vigil-") + decisionId;
}

QString AgentDecisionMirror::objectNamespace(const Decision &decision)
{
    return decision.target.namespaceName.isEmpty() ? QStringLiteral("default")
                                                   : decision.target.namespaceName;
}

json AgentDecisionMirror::specManifest(const Decision &d)
{
    json doc = header(d);
    doc["spec"] = {
        {"diagnosis", s(d.diagnosis.diagnosis.left(8192))},
        {"action", s(actionName(d.diagnosis.action))},
        {"parameters", d.diagnosis.parameters.is_object() ? d.diagnosis.parameters : json::object()},
        {"target", s(d.targetKey().left(512))},
        {"confidence", d.diagnosis.confidence},
        {"executed", d.state == DecisionState::Executed || d.state == DecisionState::Verified ||
                         d.state == DecisionState::VerifyFailed || d.state == DecisionState::Undone}};
    return doc;
}

void AgentDecisionMirror::detect(QObject *context, std::function<void(Result<bool>)> callback)
{
    kube::ResourcePath path{resourceType(), QString(), QString(), QString()};
    kube::ListOptions options;
    options.limit = 1;
    m_client->list(path, options, context, [callback = std::move(callback)](Result<kube::ListResult> r) {
        if (r)
            return callback(true);
        if (r.error().code == 404)
            return callback(false);
        callback(Error(QStringLiteral("AgentDecision CRD: %1").arg(r.errorMessage()), r.error().code));
    });
}

void AgentDecisionMirror::mirror(const Decision &d, QObject *context,
                                 std::function<void(Result<void>)> callback)
{
    const QString ns = objectNamespace(d);
    const QString name = objectName(d.id);
    kube::ApplyOptions options;
    options.force = true; // Vigil is the only writer of the fields it applies
    const QByteArray spec = QByteArray::fromStdString(specManifest(d).dump());
    json status = header(d);
    status["status"] = {{"phase", s(stateName(d.state))}};
    const QByteArray statusDoc = QByteArray::fromStdString(status.dump());
    m_client->apply(
        kube::ResourcePath{resourceType(), ns, name, QString()}, spec, options, context,
        [this, ns, name, statusDoc, options, context, callback](Result<json> r) {
            if (!r)
                return callback(
                    Error(QStringLiteral("AgentDecision %1/%2: %3").arg(ns, name, r.errorMessage()),
                          r.error().code));
            m_client->apply(
                kube::ResourcePath{resourceType(), ns, name, QStringLiteral("status")}, statusDoc, options,
                context, [ns, name, callback](Result<json> st) {
                    if (!st)
                        return callback(Error(
                            QStringLiteral("AgentDecision %1/%2 status: %3").arg(ns, name, st.errorMessage()),
                            st.error().code));
                    callback(Result<void>());
                });
        });
}

void AgentDecisionMirror::watch(const QString &namespaceName)
{
    m_namespace = namespaceName;
    m_watching = true;
    restartWatch();
}

void AgentDecisionMirror::stop()
{
    m_watching = false;
    m_stream = kube::StreamHandle();
}

void AgentDecisionMirror::restartWatch()
{
    if (!m_watching)
        return;
    kube::WatchOptions options;
    options.sendInitialEvents = false;
    // No resourceVersion: the server starts with synthetic ADDED events for what exists.
    m_stream = m_client->watch(
        kube::ResourcePath{resourceType(), m_namespace, QString(), QString()}, options, this,
        [this](const QList<kube::WatchEvent> &events) {
            for (const kube::WatchEvent &e : events) {
                if (e.type == kube::WatchEvent::Type::Added || e.type == kube::WatchEvent::Type::Modified)
                    onObject(e.object);
                else if (e.type == kube::WatchEvent::Type::Error)
                    Q_EMIT failed(QStringLiteral("AgentDecision watch: %1").arg(e.error.message));
            }
        },
        [this](Result<void> closed) {
            if (!closed)
                Q_EMIT failed(QStringLiteral("AgentDecision watch closed: %1").arg(closed.errorMessage()));
            // Watches end routinely (server timeouts); start again after a pause.
            QTimer::singleShot(1000, this, [this] { restartWatch(); });
        });
}

void AgentDecisionMirror::onObject(const json &object)
{
    if (!object.is_object())
        return;
    const json spec = object.value("spec", json::object());
    if (!spec.is_object() || spec.value("approved", false) != true)
        return;
    const json labels = object.value("metadata", json::object()).value("labels", json::object());
    if (!labels.is_object() || !labels.contains(kDecisionLabel) || !labels[kDecisionLabel].is_string())
        return;
    const QString id = QString::fromStdString(labels[kDecisionLabel].get<std::string>());
    if (m_handled.contains(id))
        return;
    m_handled.insert(id);
    const QString by = approvedBy(object);
    Approver approver;
    approver.kubeUser = QStringLiteral("field-manager:") + by;
    approver.via = QStringLiteral("AgentDecision");
    Result<Decision> d = m_executor->approve(id, approver);
    if (!d) {
        Q_EMIT failed(QStringLiteral("AgentDecision %1 approval: %2").arg(objectName(id), d.errorMessage()));
        return;
    }
    Q_EMIT approved(id, by);
    mirror(*d, this, [this, id](Result<void> r) {
        if (!r)
            Q_EMIT failed(r.errorMessage());
    });
}

} // namespace vigil::act
