#include "core/act/actions.h"

#include "core/kube/restclient.h"

#include "core/act/jsonfield.h"
#include "core/guard/policy.h"

#include <QDateTime>
#include <QDeadlineTimer>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QPointer>
#include <QTimer>
#include <QUuid>

#include <algorithm>
#include <memory>

namespace vigil::act {
namespace {

using json = nlohmann::json;
using kube::ResourcePath;
using kube::ResourceType;

QString str(const json &doc, const char *key)
{
    const auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? QString::fromStdString(it->get<std::string>()) : QString();
}

std::string s(const QString &text)
{
    return text.toStdString();
}

json at(const json &doc, std::initializer_list<const char *> path)
{
    const json *cur = &doc;
    for (const char *key : path) {
        if (!cur->is_object())
            return json();
        const auto it = cur->find(key);
        if (it == cur->end())
            return json();
        cur = &*it;
    }
    return *cur;
}

ActionRunner::Callback guarded(QObject *context, ActionRunner::Callback cb)
{
    QPointer<QObject> guard(context);
    const bool hadContext = context != nullptr;
    return [guard, hadContext, cb = std::move(cb)](Result<ActionOutcome> r) {
        if (hadContext && !guard)
            return;
        cb(std::move(r));
    };
}

ActionOutcome outcome(ActionOutcome::Status status, QString message, json facts = json::object(),
                      json response = json::object())
{
    ActionOutcome o;
    o.status = status;
    o.message = std::move(message);
    o.facts = std::move(facts);
    o.response = std::move(response);
    return o;
}

ResourceType scaleType()
{
    return ResourceType::deployments();
}

ResourceType budgets()
{
    return {QStringLiteral("policy"), QStringLiteral("v1"), QStringLiteral("poddisruptionbudgets"), true};
}

QString alertEventName(const ActionRequest &r)
{
    const QString id =
        r.decisionId.isEmpty() ? QUuid::createUuid().toString(QUuid::WithoutBraces) : r.decisionId;
    return QStringLiteral("vigil-alert-") + id.toLower();
}

QString alertNamespace(const ActionRequest &r)
{
    return r.namespaceName.isEmpty() ? QStringLiteral("default") : r.namespaceName;
}

bool podReady(const json &pod)
{
    if (!at(pod, {"metadata", "deletionTimestamp"}).is_null())
        return false;
    const json conditions = at(pod, {"status", "conditions"});
    if (!conditions.is_array())
        return false;
    for (const json &c : conditions) {
        if (str(c, "type") == u"Ready" && str(c, "status") == u"True")
            return true;
    }
    return false;
}

bool hasOwner(const json &pod, const QString &ownerUid)
{
    const json owners = at(pod, {"metadata", "ownerReferences"});
    if (!owners.is_array())
        return false;
    for (const json &o : owners) {
        if (str(o, "uid") == ownerUid)
            return true;
    }
    return false;
}

// A label selector's matchLabels and matchExpressions against a pod's labels.
bool selects(const json &selector, const json &labels)
{
    if (!selector.is_object())
        return false;
    auto label = [&](const std::string &key) -> std::optional<std::string> {
        if (labels.is_object() && labels.contains(key) && labels[key].is_string())
            return labels[key].get<std::string>();
        return std::nullopt;
    };
    const json ml = at(selector, {"matchLabels"});
    if (ml.is_object()) {
        for (auto it = ml.begin(); it != ml.end(); ++it) {
            if (!it->is_string() || label(it.key()) != it->get<std::string>())
                return false;
        }
    }
    const json me = at(selector, {"matchExpressions"});
    if (me.is_array()) {
        for (const json &e : me) {
            const std::string key = s(str(e, "key"));
            const QString op = str(e, "operator");
            const auto value = label(key);
            bool in = false;
            if (value && at(e, {"values"}).is_array()) {
                for (const json &v : e["values"])
                    in = in || (v.is_string() && v.get<std::string>() == *value);
            }
            if ((op == u"In" && !in) || (op == u"NotIn" && in) || (op == u"Exists" && !value) ||
                (op == u"DoesNotExist" && value))
                return false;
        }
    }
    return ml.is_object() || me.is_array();
}

} // namespace

QString outcomeStatusName(ActionOutcome::Status status)
{
    switch (status) {
    case ActionOutcome::Done:
        return QStringLiteral("done");
    case ActionOutcome::Blocked:
        return QStringLiteral("blocked");
    case ActionOutcome::NotDone:
        return QStringLiteral("not-done");
    }
    return QStringLiteral("not-done");
}

Result<QUrl> parseAlertUrl(const QString &text, const QString &what)
{
    Result<QUrl> url = guard::checkAlertUrl(text);
    if (!url)
        return Error(what + u' ' + url.errorMessage());
    return url;
}

Result<AlertConfig> alertConfig(const guard::AlertDestinations &destinations, const QProcessEnvironment &env)
{
    AlertConfig config;
    config.alertmanagerUrl = destinations.alertmanagerUrl;
    config.slackWebhookUrl = destinations.slackWebhookUrl;
    config.webhookUrl = destinations.webhookUrl;
    const std::pair<const char *, QUrl *> urls[] = {{"VIGIL_ALERTMANAGER_URL", &config.alertmanagerUrl},
                                                    {"VIGIL_SLACK_WEBHOOK_URL", &config.slackWebhookUrl},
                                                    {"VIGIL_WEBHOOK_URL", &config.webhookUrl}};
    for (const auto &[name, into] : urls) {
        const QString value = env.value(QLatin1String(name)).trimmed();
        if (value.isEmpty())
            continue;
        Result<QUrl> url =
            parseAlertUrl(value, QStringLiteral("environment variable %1").arg(QLatin1String(name)));
        if (!url)
            return url.error();
        *into = *url;
    }
    const std::pair<const char *, QByteArray *> tokens[] = {
        {"VIGIL_ALERTMANAGER_TOKEN", &config.alertmanagerToken},
        {"VIGIL_WEBHOOK_TOKEN", &config.webhookToken}};
    for (const auto &[name, into] : tokens) {
        const QByteArray value = env.value(QLatin1String(name)).trimmed().toUtf8();
        // A header value cannot carry line breaks or other control bytes.
        if (std::any_of(value.begin(), value.end(), [](char c) { return uchar(c) < 0x20 || c == 0x7f; }))
            return Error(
                QStringLiteral("environment variable %1 holds a control character").arg(QLatin1String(name)));
        *into = value;
    }
    return config;
}

json alertDocument(const ActionRequest &r)
{
    return {{"source", "vigil"},
            {"decision", s(r.decisionId)},
            {"summary", field(r.parameters, "summary", std::string())},
            {"severity", field(r.parameters, "severity", std::string("warning"))},
            {"namespace", s(r.namespaceName)},
            {"pod", s(r.podName)},
            {"node", s(r.nodeName)},
            {"diagnosis", s(r.diagnosis)}};
}

ActionRunner::ActionRunner(kube::RestClient *client, AlertConfig alerts, QObject *parent)
    : QObject(parent)
    , m_client(client)
    , m_alerts(std::move(alerts))
    , m_nam(new QNetworkAccessManager(this))
{
}

ActionRunner::~ActionRunner() = default;

void ActionRunner::preconditions(const ActionRequest &r, QObject *context, Callback callback)
{
    Callback cb = guarded(context, std::move(callback));
    const json &p = r.parameters;
    switch (r.kind) {
    case ActionKind::RestartPod:
        restartPrecheck(r, context, std::move(cb));
        return;
    case ActionKind::ScaleDeployment: {
        const QString ns = QString::fromStdString(field(p, "namespace", std::string()));
        const QString name = QString::fromStdString(field(p, "deployment", std::string()));
        const int target = field(p, "replicas", -1);
        m_client->get(
            ResourcePath{scaleType(), ns, name, QStringLiteral("scale")}, this,
            [cb, ns, name, target](Result<json> scale) {
                if (!scale)
                    return cb(Error(
                        QStringLiteral("scale_deployment %1/%2: %3").arg(ns, name, scale.errorMessage()),
                        scale.error().code));
                const int previous = at(*scale, {"spec", "replicas"}).is_number_integer()
                                         ? at(*scale, {"spec", "replicas"}).get<int>()
                                         : 0;
                json facts = {{"previousReplicas", previous},
                              {"targetReplicas", target},
                              {"namespace", s(ns)},
                              {"deployment", s(name)}};
                cb(outcome(ActionOutcome::Done,
                           QStringLiteral("deployment %1/%2 has %3 replicas").arg(ns, name).arg(previous),
                           facts, {{"scale", *scale}}));
            });
        return;
    }
    case ActionKind::CordonNode: {
        const QString node = QString::fromStdString(field(p, "node", std::string()));
        m_client->get(
            ResourcePath{ResourceType::nodes(), QString(), node, QString()}, this,
            [cb, node](Result<json> n) {
                if (!n)
                    return cb(Error(QStringLiteral("cordon_node %1: %2").arg(node, n.errorMessage()),
                                    n.error().code));
                const bool was = at(*n, {"spec", "unschedulable"}) == true;
                cb(outcome(
                    ActionOutcome::Done,
                    QStringLiteral("node %1 is %2")
                        .arg(node, was ? QStringLiteral("already cordoned") : QStringLiteral("schedulable")),
                    {{"node", s(node)},
                     {"wasUnschedulable", was},
                     {"uid", s(str(at(*n, {"metadata"}), "uid"))}}));
            });
        return;
    }
    case ActionKind::CreateAlert:
        cb(outcome(ActionOutcome::Done, QStringLiteral("an alert needs nothing from the cluster"),
                   {{"event", s(alertEventName(r))}, {"eventNamespace", s(alertNamespace(r))}}));
        return;
    case ActionKind::None:
        cb(outcome(ActionOutcome::Done, QStringLiteral("notify only")));
        return;
    }
    cb(Error(QStringLiteral("action #%1 is not in the catalog").arg(int(r.kind))));
}

void ActionRunner::restartPrecheck(const ActionRequest &r, QObject *, Callback cb)
{
    const QString ns = QString::fromStdString(field(r.parameters, "namespace", std::string()));
    const QString pod = QString::fromStdString(field(r.parameters, "pod", std::string()));
    m_client->get(
        ResourcePath{ResourceType::pods(), ns, pod, QString()}, this, [cb, ns, pod](Result<json> p) {
            if (!p)
                return cb(Error(QStringLiteral("restart_pod %1/%2: %3").arg(ns, pod, p.errorMessage()),
                                p.error().code));
            if (!at(*p, {"metadata", "deletionTimestamp"}).is_null())
                return cb(
                    Error(QStringLiteral("restart_pod %1/%2: the pod is already terminating").arg(ns, pod)));
            const json owners = at(*p, {"metadata", "ownerReferences"});
            json owner;
            if (owners.is_array()) {
                for (const json &o : owners) {
                    if (field(o, "controller", false))
                        owner = o;
                }
            }
            if (owner.is_null())
                return cb(Error(
                    QStringLiteral("restart_pod %1/%2: the pod has no controller owner, so evicting it would "
                                   "remove it for good")
                        .arg(ns, pod)));
            json facts = {{"namespace", s(ns)},
                          {"pod", s(pod)},
                          {"podUid", s(str(at(*p, {"metadata"}), "uid"))},
                          {"podLabels", at(*p, {"metadata", "labels"}).is_object()
                                            ? at(*p, {"metadata", "labels"})
                                            : json::object()},
                          {"ownerKind", s(str(owner, "kind"))},
                          {"ownerName", s(str(owner, "name"))},
                          {"ownerUid", s(str(owner, "uid"))}};
            cb(outcome(ActionOutcome::Done,
                       QStringLiteral("pod %1/%2 is owned by %3 %4")
                           .arg(ns, pod, str(owner, "kind"), str(owner, "name")),
                       facts));
        });
}

void ActionRunner::dryRun(const ActionRequest &r, const json &facts, QObject *context, Callback callback)
{
    Callback cb = guarded(context, std::move(callback));
    switch (r.kind) {
    case ActionKind::RestartPod:
        evict(r, facts, true, context, std::move(cb));
        return;
    case ActionKind::ScaleDeployment:
        scaleTo(r, facts, field(facts, "targetReplicas", -1), true, QStringLiteral("would scale"), context,
                std::move(cb));
        return;
    case ActionKind::CordonNode:
        setUnschedulable(r, facts, true, true, QStringLiteral("would cordon"), context, std::move(cb));
        return;
    case ActionKind::CreateAlert:
        alert(r, true, context, std::move(cb));
        return;
    case ActionKind::None:
        cb(outcome(ActionOutcome::Done, QStringLiteral("notify only: nothing in the cluster changes"),
                   facts));
        return;
    }
    cb(Error(QStringLiteral("action #%1 is not in the catalog").arg(int(r.kind))));
}

void ActionRunner::execute(const ActionRequest &r, const json &facts, QObject *context, Callback callback)
{
    Callback cb = guarded(context, std::move(callback));
    switch (r.kind) {
    case ActionKind::RestartPod:
        evict(r, facts, false, context, std::move(cb));
        return;
    case ActionKind::ScaleDeployment:
        scaleTo(r, facts, field(facts, "targetReplicas", -1), false, QStringLiteral("scaled"), context,
                std::move(cb));
        return;
    case ActionKind::CordonNode:
        setUnschedulable(r, facts, true, false, QStringLiteral("cordoned"), context, std::move(cb));
        return;
    case ActionKind::CreateAlert:
        alert(r, false, context, std::move(cb));
        return;
    case ActionKind::None:
        cb(outcome(ActionOutcome::Done, QStringLiteral("notified; nothing in the cluster changed"), facts));
        return;
    }
    cb(Error(QStringLiteral("action #%1 is not in the catalog").arg(int(r.kind))));
}

void ActionRunner::evict(const ActionRequest &, const json &facts, bool dryRun, QObject *context, Callback cb)
{
    const QString ns = str(facts, "namespace");
    const QString pod = str(facts, "pod");
    kube::DeleteOptions options;
    options.uid = str(facts, "podUid"); // never evict a replacement that took the name
    options.dryRun = dryRun;
    m_client->evict(ns, pod, options, this, [this, cb, facts, ns, pod, dryRun, context](Result<json> res) {
        if (!res) {
            if (res.error().code == 429)
                return findBudget({}, facts,
                                  {{"eviction", {{"status", 429}, {"error", s(res.errorMessage())}}}},
                                  context, cb);
            return cb(Error(QStringLiteral("restart_pod %1/%2: %3").arg(ns, pod, res.errorMessage()),
                            res.error().code));
        }
        cb(outcome(ActionOutcome::Done,
                   QStringLiteral("%1 pod %2/%3 (owned by %4 %5); its controller creates a replacement")
                       .arg(dryRun ? QStringLiteral("would evict") : QStringLiteral("evicted"), ns, pod,
                            str(facts, "ownerKind"), str(facts, "ownerName")),
                   facts, {{"eviction", *res}}));
    });
}

void ActionRunner::findBudget(const ActionRequest &, const json &facts, json response, QObject *, Callback cb)
{
    const QString ns = str(facts, "namespace");
    const QString pod = str(facts, "pod");
    kube::ListOptions options;
    m_client->list(
        ResourcePath{budgets(), ns, QString(), QString()}, options, this,
        [cb, facts, ns, pod, response](Result<kube::ListResult> list) mutable {
            QStringList names;
            if (list) {
                for (const json &pdb : list->items) {
                    if (selects(at(pdb, {"spec", "selector"}), field(facts, "podLabels", json::object())))
                        names << str(at(pdb, {"metadata"}), "name");
                }
            }
            response["budgets"] = json::array();
            for (const QString &n : names)
                response["budgets"].push_back(s(n));
            const QString which =
                names.isEmpty() ? QStringLiteral("a PodDisruptionBudget")
                                : QStringLiteral("PodDisruptionBudget ") + names.join(QStringLiteral(", "));
            cb(outcome(
                ActionOutcome::Blocked,
                QStringLiteral("blocked by %1: evicting pod %2/%3 would violate it").arg(which, ns, pod),
                facts, response));
        });
}

void ActionRunner::scaleTo(const ActionRequest &, const json &facts, int replicas, bool dryRun,
                           const QString &verb, QObject *, Callback cb)
{
    const QString ns = str(facts, "namespace");
    const QString name = str(facts, "deployment");
    if (replicas < 0)
        return cb(Error(QStringLiteral("scale_deployment %1/%2: no target replica count").arg(ns, name)));
    kube::WriteOptions options;
    options.dryRun = dryRun;
    options.fieldManager = QStringLiteral("vigil");
    const json patch = {{"spec", {{"replicas", replicas}}}};
    m_client->patch(
        ResourcePath{scaleType(), ns, name, QStringLiteral("scale")}, kube::PatchType::Merge,
        QByteArray::fromStdString(patch.dump()), options, this,
        [cb, facts, ns, name, replicas, verb](Result<json> res) {
            if (!res)
                return cb(
                    Error(QStringLiteral("scale_deployment %1/%2: %3").arg(ns, name, res.errorMessage()),
                          res.error().code));
            cb(outcome(ActionOutcome::Done,
                       QStringLiteral("%1 deployment %2/%3 from %4 to %5 replicas")
                           .arg(verb, ns, name)
                           .arg(field(facts, "previousReplicas", 0))
                           .arg(replicas),
                       facts, {{"scale", *res}}));
        });
}

void ActionRunner::setUnschedulable(const ActionRequest &, const json &facts, bool value, bool dryRun,
                                    const QString &verb, QObject *, Callback cb)
{
    const QString node = str(facts, "node");
    kube::WriteOptions options;
    options.dryRun = dryRun;
    options.fieldManager = QStringLiteral("vigil");
    // null removes the field, as kubectl uncordon leaves it.
    const json patch = {{"spec", {{"unschedulable", value ? json(true) : json(nullptr)}}}};
    m_client->patch(ResourcePath{ResourceType::nodes(), QString(), node, QString()}, kube::PatchType::Merge,
                    QByteArray::fromStdString(patch.dump()), options, this,
                    [cb, facts, node, verb](Result<json> res) {
                        if (!res)
                            return cb(Error(QStringLiteral("node %1: %2").arg(node, res.errorMessage()),
                                            res.error().code));
                        json meta = at(*res, {"metadata"});
                        cb(outcome(ActionOutcome::Done,
                                   QStringLiteral("%1 node %2 (%3)")
                                       .arg(verb, node,
                                            field(facts, "wasUnschedulable", false)
                                                ? QStringLiteral("it was already unschedulable")
                                                : QStringLiteral("it was schedulable")),
                                   facts,
                                   {{"node",
                                     {{"spec", at(*res, {"spec"})},
                                      {"resourceVersion", field(meta, "resourceVersion", std::string())}}}}));
                    });
}

void ActionRunner::alert(const ActionRequest &r, bool dryRun, QObject *context, Callback cb)
{
    const bool onNode = r.podName.isEmpty();
    const QString ns = alertNamespace(r);
    const QString name = alertEventName(r);
    const std::string summary = field(r.parameters, "summary", std::string());
    const std::string now = s(QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs));
    json event = {
        {"apiVersion", "v1"},
        {"kind", "Event"},
        {"metadata", {{"name", s(name)}, {"namespace", s(ns)}}},
        {"involvedObject",
         onNode ? json{{"kind", "Node"}, {"name", s(r.nodeName)}, {"apiVersion", "v1"}}
                : json{{"kind", "Pod"}, {"name", s(r.podName)}, {"namespace", s(ns)}, {"apiVersion", "v1"}}},
        {"reason", "VigilAlert"},
        {"type", "Warning"},
        {"message", summary},
        {"source", {{"component", "vigil"}}},
        {"firstTimestamp", now},
        {"lastTimestamp", now},
        {"count", 1}};
    kube::WriteOptions options;
    options.dryRun = dryRun;
    m_client->create(
        ResourcePath{ResourceType::events(), ns, QString(), QString()}, event, options, this,
        [this, r, cb, dryRun, ns, name, context](Result<json> res) {
            if (!res)
                return cb(
                    Error(QStringLiteral("create_alert event %1/%2: %3").arg(ns, name, res.errorMessage()),
                          res.error().code));
            json response = {{"event", {{"name", s(name)}, {"namespace", s(ns)}}}};
            QStringList sinks;
            if (!m_alerts.alertmanagerUrl.isEmpty())
                sinks << QStringLiteral("Alertmanager");
            if (!m_alerts.slackWebhookUrl.isEmpty())
                sinks << QStringLiteral("Slack webhook");
            if (!m_alerts.webhookUrl.isEmpty())
                sinks << QStringLiteral("webhook");
            if (dryRun) {
                QString text =
                    QStringLiteral("would record Warning Event %1/%2 (reason VigilAlert)").arg(ns, name);
                if (!sinks.isEmpty())
                    text += QStringLiteral(" and notify ") + sinks.join(QStringLiteral(", "));
                return cb(outcome(ActionOutcome::Done, text, {{"event", s(name)}, {"eventNamespace", s(ns)}},
                                  response));
            }
            sendSinks(r, response, context, cb);
        });
}

void ActionRunner::sendSinks(const ActionRequest &r, json response, QObject *, Callback cb)
{
    const json doc = alertDocument(r);
    const std::string severity = doc["severity"].get<std::string>();
    json labels = {{"alertname", "VigilAlert"}, {"severity", severity}, {"source", "vigil"}};
    for (const char *k : {"namespace", "pod", "node", "decision"}) {
        if (!doc[k].get<std::string>().empty())
            labels[k] = doc[k];
    }
    const json alertmanager =
        json::array({{{"labels", labels},
                      {"annotations", {{"summary", doc["summary"]}, {"description", doc["diagnosis"]}}},
                      {"startsAt", s(QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs))}}});
    const QString where = r.podName.isEmpty()
                              ? QString(QStringLiteral("node ") + r.nodeName)
                              : QString(QStringLiteral("pod ") + r.namespaceName + u'/' + r.podName);
    const json slack = {
        {"text", s(QStringLiteral("[%1] %2 (%3)")
                       .arg(QString::fromStdString(severity),
                            QString::fromStdString(doc["summary"].get<std::string>()), where))}};

    struct Send {
        QString sink;
        QUrl url;
        QByteArray body;
        QByteArray token;
    };
    auto queue = std::make_shared<QList<Send>>();
    if (!m_alerts.alertmanagerUrl.isEmpty()) {
        QUrl u = m_alerts.alertmanagerUrl;
        u.setPath(u.path().chopped(u.path().endsWith(u'/') ? 1 : 0) + QStringLiteral("/api/v2/alerts"));
        queue->append({QStringLiteral("alertmanager"), u, QByteArray::fromStdString(alertmanager.dump()),
                       m_alerts.alertmanagerToken});
    }
    if (!m_alerts.slackWebhookUrl.isEmpty())
        queue->append(
            {QStringLiteral("slack"), m_alerts.slackWebhookUrl, QByteArray::fromStdString(slack.dump()), {}});
    if (!m_alerts.webhookUrl.isEmpty())
        queue->append({QStringLiteral("webhook"), m_alerts.webhookUrl, QByteArray::fromStdString(doc.dump()),
                       m_alerts.webhookToken});

    auto state = std::make_shared<json>(std::move(response));
    auto failures = std::make_shared<QStringList>();
    auto next = std::make_shared<std::function<void()>>();
    // The step holds itself weakly; the reply in flight keeps it alive.
    *next = [this, queue, state, failures, weak = std::weak_ptr<std::function<void()>>(next), cb, r]() {
        if (queue->isEmpty()) {
            const QString event = QString::fromStdString((*state)["event"]["namespace"].get<std::string>()) +
                                  u'/' + QString::fromStdString((*state)["event"]["name"].get<std::string>());
            QString text = QStringLiteral("recorded Warning Event %1").arg(event);
            if (!failures->isEmpty())
                text += QStringLiteral("; not delivered: ") + failures->join(QStringLiteral("; "));
            return cb(outcome(
                ActionOutcome::Done, text,
                {{"event", (*state)["event"]["name"]}, {"eventNamespace", (*state)["event"]["namespace"]}},
                *state));
        }
        const Send one = queue->takeFirst();
        QNetworkRequest request(one.url);
        request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        if (!one.token.isEmpty())
            request.setRawHeader(QByteArrayLiteral("Authorization"),
                                 QByteArrayLiteral("Bearer ") + one.token);
        request.setTransferTimeout(m_alerts.timeoutMs);
        QNetworkReply *reply = m_nam->post(request, one.body);
        connect(reply, &QNetworkReply::finished, this, [reply, one, state, failures, next = weak.lock()]() {
            reply->deleteLater();
            const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            // Only the origin goes into the audit log: a webhook URL's path is often its secret (Slack).
            (*state)["sinks"][s(one.sink)] = {
                {"url", s(one.url.toString(QUrl::RemoveUserInfo | QUrl::RemovePath | QUrl::RemoveQuery |
                                           QUrl::RemoveFragment))},
                {"status", status}};
            if (reply->error() != QNetworkReply::NoError || status < 200 || status >= 300)
                failures->append(
                    QStringLiteral("%1 (HTTP %2: %3)").arg(one.sink).arg(status).arg(reply->errorString()));
            (*next)();
        });
    };
    (*next)();
}

void ActionRunner::poll(std::function<void(std::function<void(Result<ActionOutcome>, bool)>)> probe,
                        qint64 deadlineMs, QObject *, Callback cb)
{
    auto step = std::make_shared<std::function<void()>>();
    // The step holds itself weakly; the probe and timer in flight keep it alive.
    *step = [this, probe, deadlineMs, cb, weak = std::weak_ptr<std::function<void()>>(step)]() {
        probe([this, deadlineMs, cb, step = weak.lock()](Result<ActionOutcome> r, bool final) {
            if (!r || final || QDateTime::currentMSecsSinceEpoch() >= deadlineMs) {
                if (r && !final)
                    r->status = ActionOutcome::NotDone;
                return cb(std::move(r));
            }
            QTimer::singleShot(m_pollMs, this, [step] { (*step)(); });
        });
    };
    (*step)();
}

void ActionRunner::verify(const ActionRequest &r, const json &facts, int timeoutMs, QObject *context,
                          Callback callback)
{
    Callback cb = guarded(context, std::move(callback));
    const qint64 deadline = QDateTime::currentMSecsSinceEpoch() + timeoutMs;
    using Done = std::function<void(Result<ActionOutcome>, bool)>;
    switch (r.kind) {
    case ActionKind::RestartPod: {
        const QString ns = str(facts, "namespace");
        poll(
            [this, facts, ns](Done done) {
                kube::ListOptions options;
                m_client->list(
                    ResourcePath{ResourceType::pods(), ns, QString(), QString()}, options, this,
                    [facts, done](Result<kube::ListResult> list) {
                        if (!list)
                            return done(list.error(), true);
                        // A sibling replica that existed before the eviction is not its replacement
                        // (creationTimestamp has whole seconds, so compare from the second of the call).
                        const qint64 since = field(facts, "executedAtMs", qint64(0)) / 1000 * 1000;
                        for (const json &pod : list->items) {
                            const QString uid = str(at(pod, {"metadata"}), "uid");
                            const QDateTime created = QDateTime::fromString(
                                str(at(pod, {"metadata"}), "creationTimestamp"), Qt::ISODate);
                            if (since > 0 && created.isValid() && created.toMSecsSinceEpoch() < since)
                                continue;
                            if (uid != str(facts, "podUid") && hasOwner(pod, str(facts, "ownerUid")) &&
                                podReady(pod))
                                return done(
                                    outcome(ActionOutcome::Done,
                                            QStringLiteral("replacement pod %1 of %2 %3 is Ready")
                                                .arg(str(at(pod, {"metadata"}), "name"),
                                                     str(facts, "ownerKind"), str(facts, "ownerName")),
                                            facts, {{"replacement", s(str(at(pod, {"metadata"}), "name"))}}),
                                    true);
                        }
                        done(outcome(ActionOutcome::NotDone,
                                     QStringLiteral("no Ready replacement of %1 %2 appeared in time")
                                         .arg(str(facts, "ownerKind"), str(facts, "ownerName")),
                                     facts),
                             false);
                    });
            },
            deadline, context, cb);
        return;
    }
    case ActionKind::ScaleDeployment: {
        const QString ns = str(facts, "namespace");
        const QString name = str(facts, "deployment");
        const int target = field(facts, "targetReplicas", -1);
        poll(
            [this, facts, ns, name, target](Done done) {
                m_client->get(ResourcePath{ResourceType::deployments(), ns, name, QString()}, this,
                              [facts, ns, name, target, done](Result<json> d) {
                                  if (!d)
                                      return done(d.error(), true);
                                  const json ready = at(*d, {"status", "readyReplicas"});
                                  const int n = ready.is_number_integer() ? ready.get<int>() : 0;
                                  const bool ok = n == target;
                                  done(outcome(ok ? ActionOutcome::Done : ActionOutcome::NotDone,
                                               QStringLiteral("deployment %1/%2 has %3 of %4 replicas ready")
                                                   .arg(ns, name)
                                                   .arg(n)
                                                   .arg(target),
                                               facts, {{"readyReplicas", n}}),
                                       ok);
                              });
            },
            deadline, context, cb);
        return;
    }
    case ActionKind::CordonNode: {
        const QString node = str(facts, "node");
        poll(
            [this, facts, node](Done done) {
                m_client->get(ResourcePath{ResourceType::nodes(), QString(), node, QString()}, this,
                              [facts, node, done](Result<json> n) {
                                  if (!n)
                                      return done(n.error(), true);
                                  const bool ok = at(*n, {"spec", "unschedulable"}) == true;
                                  done(outcome(ok ? ActionOutcome::Done : ActionOutcome::NotDone,
                                               QStringLiteral("node %1 is %2")
                                                   .arg(node, ok ? QStringLiteral("unschedulable")
                                                                 : QStringLiteral("schedulable")),
                                               facts),
                                       ok);
                              });
            },
            deadline, context, cb);
        return;
    }
    case ActionKind::CreateAlert:
        reconcile(r, facts, context, std::move(cb));
        return;
    case ActionKind::None:
        cb(outcome(ActionOutcome::Done, QStringLiteral("notify only: nothing to verify"), facts));
        return;
    }
    cb(Error(QStringLiteral("action #%1 is not in the catalog").arg(int(r.kind))));
}

void ActionRunner::undo(const ActionRequest &r, const json &facts, QObject *context, Callback callback)
{
    Callback cb = guarded(context, std::move(callback));
    switch (r.kind) {
    case ActionKind::ScaleDeployment:
        scaleTo(r, facts, field(facts, "previousReplicas", -1), false, QStringLiteral("undone: scaled"),
                context, std::move(cb));
        return;
    case ActionKind::CordonNode:
        if (field(facts, "wasUnschedulable", false))
            return cb(outcome(ActionOutcome::Done,
                              QStringLiteral("node %1 was cordoned before Vigil acted; left cordoned")
                                  .arg(str(facts, "node")),
                              facts));
        setUnschedulable(r, facts, false, false, QStringLiteral("uncordoned"), context, std::move(cb));
        return;
    case ActionKind::RestartPod:
        cb(Error(QStringLiteral(
            "restart_pod cannot be undone: the evicted pod is gone and its replacement runs")));
        return;
    case ActionKind::CreateAlert:
        cb(Error(QStringLiteral("create_alert cannot be undone: the alert was already delivered")));
        return;
    case ActionKind::None:
        cb(Error(QStringLiteral("none changed nothing, so there is nothing to undo")));
        return;
    }
    cb(Error(QStringLiteral("action #%1 is not in the catalog").arg(int(r.kind))));
}

void ActionRunner::reconcile(const ActionRequest &r, const json &facts, QObject *context, Callback callback)
{
    Callback cb = guarded(context, std::move(callback));
    switch (r.kind) {
    case ActionKind::RestartPod: {
        const QString ns = str(facts, "namespace");
        const QString pod = str(facts, "pod");
        m_client->get(
            ResourcePath{ResourceType::pods(), ns, pod, QString()}, this,
            [cb, facts, ns, pod](Result<json> p) {
                if (!p && p.error().code != 404)
                    return cb(p.error());
                const bool gone = !p || str(at(*p, {"metadata"}), "uid") != str(facts, "podUid") ||
                                  !at(*p, {"metadata", "deletionTimestamp"}).is_null();
                cb(outcome(
                    gone ? ActionOutcome::Done : ActionOutcome::NotDone,
                    gone ? QStringLiteral("pod %1/%2 (uid %3) was evicted").arg(ns, pod, str(facts, "podUid"))
                         : QStringLiteral("pod %1/%2 still runs: the eviction never reached the server")
                               .arg(ns, pod),
                    facts));
            });
        return;
    }
    case ActionKind::ScaleDeployment: {
        const QString ns = str(facts, "namespace");
        const QString name = str(facts, "deployment");
        const int target = field(facts, "targetReplicas", -1);
        m_client->get(ResourcePath{scaleType(), ns, name, QStringLiteral("scale")}, this,
                      [cb, facts, ns, name, target](Result<json> sc) {
                          if (!sc)
                              return cb(sc.error());
                          const json n = at(*sc, {"spec", "replicas"});
                          const bool done = n.is_number_integer() && n.get<int>() == target;
                          cb(outcome(done ? ActionOutcome::Done : ActionOutcome::NotDone,
                                     QStringLiteral("deployment %1/%2 wants %3 replicas (target %4)")
                                         .arg(ns, name, QString::fromStdString(n.dump()))
                                         .arg(target),
                                     facts));
                      });
        return;
    }
    case ActionKind::CordonNode: {
        const QString node = str(facts, "node");
        m_client->get(
            ResourcePath{ResourceType::nodes(), QString(), node, QString()}, this,
            [cb, facts, node](Result<json> n) {
                if (!n)
                    return cb(n.error());
                const bool done = at(*n, {"spec", "unschedulable"}) == true;
                cb(outcome(done ? ActionOutcome::Done : ActionOutcome::NotDone,
                           QStringLiteral("node %1 is %2")
                               .arg(node, done ? QStringLiteral("cordoned") : QStringLiteral("schedulable")),
                           facts));
            });
        return;
    }
    case ActionKind::CreateAlert: {
        const QString ns = str(facts, "eventNamespace");
        const QString name = str(facts, "event");
        m_client->get(ResourcePath{ResourceType::events(), ns, name, QString()}, this,
                      [cb, facts, ns, name](Result<json> e) {
                          if (!e && e.error().code != 404)
                              return cb(e.error());
                          cb(outcome(e ? ActionOutcome::Done : ActionOutcome::NotDone,
                                     e ? QStringLiteral("alert Event %1/%2 exists").arg(ns, name)
                                       : QStringLiteral("alert Event %1/%2 was never recorded").arg(ns, name),
                                     facts));
                      });
        return;
    }
    case ActionKind::None:
        cb(outcome(ActionOutcome::Done, QStringLiteral("notify only"), facts));
        return;
    }
    cb(Error(QStringLiteral("action #%1 is not in the catalog").arg(int(r.kind))));
}

} // namespace vigil::act
