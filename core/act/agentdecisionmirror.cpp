#include "core/act/agentdecisionmirror.h"

#include "core/act/executor.h"
#include "core/util/jsondepth.h"

#include <QTimer>

#include <iterator>
#include <memory>

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
            f["f:spec"].contains("f:approved") && jsonValue(entry, "manager", std::string()) != "vigil")
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
    // A diagnosis without a model (the rules, or their fallback) still says where it came from.
    const bool rules = d.diagnosis.source.provider.isEmpty();
    doc["spec"] = {
        {"observation", s(d.observation.left(8192))},
        {"diagnosis", s(d.diagnosis.diagnosis.left(8192))},
        {"action", s(actionName(d.diagnosis.action))},
        {"parameters", d.diagnosis.parameters.is_object() ? d.diagnosis.parameters : json::object()},
        {"target", s(d.targetKey().left(512))},
        {"reasoning", s(d.diagnosis.reasoning.left(8192))},
        {"provider", rules ? std::string("rules") : s(d.diagnosis.source.provider.left(128))},
        {"model", rules ? std::string("rules") : s(d.diagnosis.source.model.left(256))},
        {"confidence", d.diagnosis.confidence},
        {"executed", d.state == DecisionState::Executed || d.state == DecisionState::Verified ||
                         d.state == DecisionState::VerifyFailed || d.state == DecisionState::Undone}};
    return doc;
}

void AgentDecisionMirror::start(kube::RestClient *client, Executor *executor, const QString &namespaceName,
                                QObject *parent, std::function<void(Result<AgentDecisionMirror *>)> callback)
{
    checkAvailable(client, namespaceName, parent,
                   [client, executor, namespaceName, parent, callback](Result<void> available) {
                       if (!available)
                           return callback(available.error());
                       auto *mirror = new AgentDecisionMirror(client, executor, parent);
                       mirror->follow();
                       mirror->watch(namespaceName);
                       callback(mirror);
                   });
}

void AgentDecisionMirror::checkAvailable(kube::RestClient *client, const QString &namespaceName,
                                         QObject *context, std::function<void(Result<void>)> callback)
{
    const kube::ResourceType type = resourceType();
    kube::Request discovery;
    discovery.path = type.apiPrefix();
    client->send(
        discovery, context, [client, namespaceName, context, callback, type](Result<kube::Response> r) {
            const QString gv = type.groupVersion();
            if (!r) {
                if (r.error().code == 404)
                    return callback(
                        Error(QStringLiteral("not mirrored because the AgentDecision CRD is not installed "
                                             "(%1 is not served; apply resources/crd/agentdecision.yaml)")
                                  .arg(gv),
                              404));
                return callback(Error(QStringLiteral("not mirrored because discovery of %1 failed: %2")
                                          .arg(gv, r.errorMessage()),
                                      r.error().code));
            }
            const Result<json> parsed = parseJson(r->body);
            if (!parsed)
                return callback(Error(QStringLiteral("not mirrored because discovery of %1 failed: the "
                                                     "response is %2")
                                          .arg(gv, parsed.errorMessage())));
            const json &doc = *parsed;
            bool served = false;
            if (doc.is_object() && doc.contains("resources") && doc["resources"].is_array()) {
                for (const json &res : doc["resources"])
                    served = served ||
                             (res.is_object() && jsonValue(res, "name", std::string()) == s(type.resource));
            }
            if (!served)
                return callback(
                    Error(QStringLiteral("not mirrored because %1 is served without %2 (is the "
                                         "AgentDecision CRD from resources/crd/agentdecision.yaml "
                                         "installed?)")
                              .arg(gv, type.resource)));

            struct Check {
                const char *verb;
                const char *subresource;
            };
            static const Check kChecks[] = {{"get", ""},    {"list", ""},  {"watch", ""},
                                            {"create", ""}, {"patch", ""}, {"patch", "status"}};
            constexpr int kCount = int(std::size(kChecks));
            auto denied = std::make_shared<QStringList>();
            for (int i = 0; i < kCount; ++i)
                denied->append(QString()); // per check, in order: empty = allowed
            auto failure = std::make_shared<QString>();
            auto left = std::make_shared<int>(kCount);
            for (int i = 0; i < kCount; ++i) {
                const Check c = kChecks[i];
                json attributes = {{"group", s(type.group)},
                                   {"version", s(type.version)},
                                   {"resource", s(type.resource)},
                                   {"verb", c.verb}};
                if (*c.subresource)
                    attributes["subresource"] = c.subresource;
                if (!namespaceName.isEmpty())
                    attributes["namespace"] = s(namespaceName);
                const json review = {{"apiVersion", "authorization.k8s.io/v1"},
                                     {"kind", "SelfSubjectAccessReview"},
                                     {"spec", {{"resourceAttributes", attributes}}}};
                kube::Request request;
                request.verb = "POST";
                request.path = QStringLiteral("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews");
                request.contentType = "application/json";
                request.body = QByteArray::fromStdString(review.dump());
                client->send(
                    request, context,
                    [i, c, type, namespaceName, denied, failure, left, callback](Result<kube::Response> a) {
                        const QString what =
                            QLatin1String(c.verb) + u' ' + type.resource +
                            (*c.subresource ? u'/' + QLatin1String(c.subresource) : QString());
                        // status is copied out, which recurses per level: deep bodies are refused first.
                        const Result<json> parsed = a ? parseJson(a->body) : Result<json>(a.error());
                        if (!parsed) {
                            if (failure->isEmpty())
                                *failure = QStringLiteral("cannot ask whether %1 is allowed: %2%3")
                                               .arg(what, a ? QStringLiteral("the response is ") : QString(),
                                                    parsed.errorMessage());
                        } else {
                            const json &st = *parsed;
                            const json status =
                                st.is_object() ? st.value("status", json::object()) : json::object();
                            if (!status.is_object() || jsonValue(status, "allowed", false) != true) {
                                const std::string why = status.is_object() && status.contains("reason") &&
                                                                status["reason"].is_string()
                                                            ? status["reason"].get<std::string>()
                                                            : std::string();
                                (*denied)[i] = why.empty() ? what
                                                           : what + QStringLiteral(" (") +
                                                                 QString::fromStdString(why) + u')';
                            }
                        }
                        if (--*left > 0)
                            return;
                        if (!failure->isEmpty())
                            return callback(Error(QStringLiteral("not mirrored because ") + *failure));
                        QStringList no;
                        for (const QString &d : *denied) {
                            if (!d.isEmpty())
                                no << d;
                        }
                        if (!no.isEmpty())
                            return callback(
                                Error(QStringLiteral("not mirrored because RBAC denies %1 %2")
                                          .arg(no.join(QStringLiteral(", ")),
                                               namespaceName.isEmpty()
                                                   ? QStringLiteral("cluster-wide")
                                                   : QStringLiteral("in namespace ") + namespaceName),
                                      403));
                        callback(Result<void>());
                    });
            }
        });
}

void AgentDecisionMirror::follow()
{
    if (m_following)
        return;
    m_following = true;
    connect(m_executor, &Executor::decisionChanged, this, [this](const Decision &d) { enqueue(d); });
}

void AgentDecisionMirror::enqueue(const Decision &decision)
{
    if (m_writing.contains(decision.id)) {
        m_queued.insert(decision.id, decision);
        return;
    }
    m_writing.insert(decision.id);
    const QString id = decision.id;
    mirror(decision, this, [this, id](Result<void> r) {
        m_writing.remove(id);
        if (!r)
            Q_EMIT failed(r.errorMessage());
        if (m_queued.contains(id))
            enqueue(m_queued.take(id));
    });
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
    if (!spec.is_object() || jsonValue(spec, "approved", false) != true)
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
    if (!m_following) // when following, Executor::decisionChanged has queued the write already
        enqueue(*d);
}

} // namespace vigil::act
