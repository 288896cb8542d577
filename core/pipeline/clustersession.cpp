#include "core/pipeline/clustersession.h"

#include "core/act/actions.h"
#include "core/act/datapaths.h"
#include "core/act/decisionstore.h"
#include "core/act/executor.h"
#include "core/audit/auditlog.h"
#include "core/gather/gatherer.h"
#include "core/gather/redactor.h"
#include "core/kube/config/execcredential.h"
#include "core/kube/projections.h"
#include "core/kube/restclient.h"
#include "core/reason/rulereasoner.h"

#include <QRegularExpression>

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace vigil::pipeline {
namespace {

using nlohmann::json;

template<typename T>
QList<T> viewsOf(const kube::ObjectStore &store)
{
    QList<T> out;
    for (const kube::KubeObject &o : store.objects()) {
        if (const T *v = std::get_if<T>(&o))
            out.append(*v);
    }
    return out;
}

bool needsQuotes(const std::string &s)
{
    // Strings a YAML reader would take for something else: bools, nulls, numbers, empty.
    static const QRegularExpression special(QStringLiteral(
        R"(^(|~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N)$)"));
    static const QRegularExpression number(QStringLiteral(
        R"(^[-+]?(\.?[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+|\.inf|\.nan)$)"));
    const QString q = QString::fromStdString(s);
    return special.match(q).hasMatch() || number.match(q).hasMatch();
}

void emitJson(YAML::Emitter &e, const json &j)
{
    switch (j.type()) {
    case json::value_t::object:
        e << YAML::BeginMap;
        for (auto it = j.begin(); it != j.end(); ++it) {
            e << YAML::Key << it.key() << YAML::Value;
            emitJson(e, *it);
        }
        e << YAML::EndMap;
        return;
    case json::value_t::array:
        e << YAML::BeginSeq;
        for (const json &v : j)
            emitJson(e, v);
        e << YAML::EndSeq;
        return;
    case json::value_t::string: {
        const std::string s = j.get<std::string>();
        if (needsQuotes(s))
            e << YAML::DoubleQuoted << s;
        else
            e << s;
        return;
    }
    case json::value_t::boolean:
        e << j.get<bool>();
        return;
    case json::value_t::number_integer:
        e << j.get<int64_t>();
        return;
    case json::value_t::number_unsigned:
        e << j.get<uint64_t>();
        return;
    case json::value_t::number_float:
        e << j.get<double>();
        return;
    default:
        e << YAML::Null;
        return;
    }
}

int httpStatusIn(const QString &error)
{
    // RestClient::statusError writes "<verb> <path>: <code> <reason>: <message>".
    static const QRegularExpression re(QStringLiteral(R"(: (\d{3}) )"));
    const QRegularExpressionMatch m = re.match(error);
    return m.hasMatch() ? m.captured(1).toInt() : 0;
}

} // namespace

QString SessionHealth::sentence(const QDateTime &now) const
{
    switch (kind) {
    case Kind::Connecting:
        return QStringLiteral("Connecting: listing %1…")
            .arg(resource.isEmpty() ? QStringLiteral("pods") : resource);
    case Kind::Connected:
        return QStringLiteral("Connected: watching %1 pods.").arg(objects);
    case Kind::Reconnecting: {
        const qint64 s = nextRetry.isValid() ? std::max<qint64>(0, (now.msecsTo(nextRetry) + 999) / 1000) : 0;
        return QStringLiteral("Connection lost; retrying in %1 s.").arg(s);
    }
    case Kind::CredentialsExpired:
        return QStringLiteral("Credentials expired (401): the cluster no longer accepts your login. "
                              "Log in again to refresh the kubeconfig; Vigil keeps retrying.");
    case Kind::Forbidden:
        return QStringLiteral("RBAC missing (403): your user may not list and watch %1 here. "
                              "Ask for get/list/watch on %1, or pick a namespace you can read.")
            .arg(resource.isEmpty() ? QStringLiteral("pods") : resource);
    case Kind::Failed:
        return QStringLiteral("Cannot connect: %1").arg(detail);
    }
    return {};
}

SessionHealth SessionHealth::fromInformer(const kube::InformerHealth &health, const QString &resource)
{
    SessionHealth h;
    h.resource = resource;
    h.detail = health.lastError;
    switch (health.state) {
    case kube::InformerHealth::State::Stopped:
    case kube::InformerHealth::State::Listing:
        h.kind = health.synced ? Kind::Connected : Kind::Connecting;
        break;
    case kube::InformerHealth::State::Watching:
        h.kind = Kind::Connected;
        break;
    case kube::InformerHealth::State::BackingOff:
        h.kind = Kind::Reconnecting;
        h.nextRetry = health.nextRetry;
        break;
    }
    if (h.kind != Kind::Connected) {
        const int status = httpStatusIn(health.lastError);
        if (status == 401)
            h.kind = Kind::CredentialsExpired;
        else if (status == 403)
            h.kind = Kind::Forbidden;
    }
    return h;
}

ClusterSession::ClusterSession(kube::Connection connection, SessionOptions options, QObject *parent)
    : QObject(parent)
    , m_connection(std::move(connection))
    , m_options(std::move(options))
    , m_flushTimer(this)
    , m_metricsTimer(this)
{
    m_flushTimer.setSingleShot(true);
    m_flushTimer.setInterval(m_options.batchIntervalMs);
    connect(&m_flushTimer, &QTimer::timeout, this, &ClusterSession::flush);
    m_metricsTimer.setInterval(m_options.metricsIntervalMs);
    connect(&m_metricsTimer, &QTimer::timeout, this, &ClusterSession::pollMetrics);
}

ClusterSession::~ClusterSession()
{
    // The executor and runner hold raw pointers to the client, store and log;
    // informers to the client: they all go first.
    m_executor.reset();
    m_runner.reset();
    delete m_pods;
    delete m_events;
    delete m_nodes;
}

void ClusterSession::start()
{
    // Exec plugins need consent before they run; ask for it once, up front,
    // with the exact command, instead of failing every request.
    if (m_connection.credentials) {
        Result<kube::Credentials> creds = m_connection.credentials->credentials();
        if (!creds && creds.error().code == kube::kExecConsentRequired) {
            QString line;
            if (auto *exec = dynamic_cast<kube::ExecCredentialSource *>(m_connection.credentials.get())) {
                Result<QString> l = exec->commandLine();
                line = l ? *l : QString();
            }
            SessionHealth h;
            h.kind = SessionHealth::Kind::Failed;
            h.detail = creds.errorMessage();
            Q_EMIT healthChanged(h);
            Q_EMIT execConsentRequired(line, creds.errorMessage());
            return;
        }
    }
    m_client = std::make_unique<kube::RestClient>(m_connection);
    openExecutor();
    startInformers();
}

void ClusterSession::openExecutor()
{
    const QString dir = act::dataDirectory(m_options.dataDir);
    Result<std::unique_ptr<act::DecisionStore>> store = act::DecisionStore::open(act::decisionsPath(dir));
    if (!store) {
        m_executorError = store.errorMessage();
        return;
    }
    const QString auditFile = m_options.auditPath.isEmpty() ? act::auditPath(dir) : m_options.auditPath;
    Result<std::unique_ptr<audit::AuditLog>> log = audit::AuditLog::open(auditFile);
    if (!log) {
        m_executorError = log.errorMessage();
        return;
    }
    m_decisions = std::move(*store);
    m_audit = std::move(*log);
    m_runner = std::make_unique<act::ActionRunner>(m_client.get(), act::AlertConfig());
    guard::Policy policy = m_options.policy;
    if (m_options.readOnly)
        policy.mode = guard::PolicyMode::SuggestOnly;
    m_executor = std::make_unique<act::Executor>(m_decisions.get(), m_audit.get(), m_runner.get(), policy);
    act::Executor::fetchKubeUser(m_client.get(), this, [this](Result<QString> user) {
        // Without SelfSubjectReview the approver is the OS user alone.
        if (user)
            m_kubeUser = *user;
    });
}

act::Approver ClusterSession::approver() const
{
    act::Approver a;
    a.osUser = audit::osUserActor().mid(3); // "os:<login>"
    a.kubeUser = m_kubeUser;
    a.via = QStringLiteral("desktop");
    return a;
}

void ClusterSession::proposeFor(IncidentReport &report)
{
    if (!m_executor || !report.diagnosed || !report.judged || report.diagnosis.action == ActionKind::None)
        return;
    const QString fp = report.incident.fingerprint;
    if (const auto it = m_decisionIds.constFind(fp); it != m_decisionIds.cend()) {
        // One decision per incident, unless a still-open proposal now names another action or target.
        Result<act::Decision> existing = m_decisions->load(*it);
        const bool open = existing && (existing->state == act::DecisionState::Proposed ||
                                       existing->state == act::DecisionState::Previewed);
        if (!existing || !open ||
            (existing->diagnosis.action == report.diagnosis.action &&
             existing->targetKey() == report.targetKey)) {
            report.decisionId = *it;
            return;
        }
    }
    Result<act::Decision> d =
        m_executor->propose(act::newDecision(fp, report.target, report.diagnosis, report.verdict));
    if (!d) {
        Q_EMIT previewReady(fp, QStringLiteral("Not proposed: %1").arg(d.errorMessage()));
        return;
    }
    m_decisionIds.insert(fp, d->id);
    report.decisionId = d->id;
    if (report.verdict.decision == guard::Verdict::Blocked)
        return; // nothing will run: no dry run either
    m_executor->preview(d->id, this, [this, fp](Result<act::Decision> p) {
        Q_EMIT previewReady(fp, p ? p->preview : QStringLiteral("Dry run failed: %1").arg(p.errorMessage()));
    });
}

QString ClusterSession::decisionFor(const QString &fingerprint, const QString &verb)
{
    if (!m_executor) {
        Q_EMIT decisionUpdated(
            fingerprint, act::DecisionState::Failed,
            QStringLiteral("Cannot %1: the decision store is not available: %2")
                .arg(verb, m_executorError.isEmpty() ? QStringLiteral("not connected") : m_executorError));
        return {};
    }
    const QString id = m_decisionIds.value(fingerprint);
    if (id.isEmpty())
        Q_EMIT decisionUpdated(fingerprint, act::DecisionState::Failed,
                               QStringLiteral("Cannot %1: this incident has no proposed action.").arg(verb));
    return id;
}

namespace {
QString outcomeMessage(const act::Decision &d)
{
    if (d.outcome.is_object() && d.outcome.contains("message") && d.outcome["message"].is_string())
        return QString::fromStdString(d.outcome["message"].get<std::string>());
    return act::stateName(d.state);
}
} // namespace

void ClusterSession::approve(const QString &fingerprint)
{
    const QString id = decisionFor(fingerprint, QStringLiteral("approve"));
    if (id.isEmpty())
        return;
    Result<act::Decision> approved = m_executor->approve(id, approver());
    if (!approved) {
        Q_EMIT decisionUpdated(fingerprint, act::DecisionState::Failed, approved.errorMessage());
        return;
    }
    Q_EMIT decisionUpdated(fingerprint, act::DecisionState::Executing,
                           QStringLiteral("Executing %1 on %2…")
                               .arg(actionName(approved->diagnosis.action), approved->targetKey()));
    m_executor->execute(id, this, [this, fingerprint, id](Result<act::Decision> done) {
        if (!done) {
            Q_EMIT decisionUpdated(fingerprint, act::DecisionState::Failed, done.errorMessage());
            return;
        }
        const QString executed = outcomeMessage(*done);
        if (done->state != act::DecisionState::Executed) {
            Q_EMIT decisionUpdated(fingerprint, done->state, executed);
            return;
        }
        Q_EMIT decisionUpdated(fingerprint, act::DecisionState::Executed,
                               QStringLiteral("%1; verifying…").arg(executed));
        m_executor->verify(
            id, m_options.verifyTimeoutMs, this, [this, fingerprint, executed](Result<act::Decision> v) {
                if (!v) {
                    Q_EMIT decisionUpdated(
                        fingerprint, act::DecisionState::VerifyFailed,
                        QStringLiteral("%1. Verification failed: %2").arg(executed, v.errorMessage()));
                    return;
                }
                const QString how = v->state == act::DecisionState::Verified
                                        ? QStringLiteral("Verified")
                                        : QStringLiteral("Verification failed");
                Q_EMIT decisionUpdated(fingerprint, v->state,
                                       QStringLiteral("%1. %2: %3").arg(executed, how, outcomeMessage(*v)));
            });
    });
}

void ClusterSession::reject(const QString &fingerprint, const QString &reason)
{
    if (!m_executor || !m_decisionIds.contains(fingerprint)) {
        // Nothing was proposed (no action): the rejection is the person's note alone.
        Q_EMIT decisionUpdated(fingerprint, act::DecisionState::Rejected,
                               QStringLiteral("Rejected: %1").arg(reason));
        return;
    }
    Result<act::Decision> r = m_executor->reject(m_decisionIds.value(fingerprint), approver(), reason);
    Q_EMIT decisionUpdated(
        fingerprint, act::DecisionState::Rejected,
        r ? QStringLiteral("Rejected: %1").arg(reason)
          : QStringLiteral("Rejected: %1 (not recorded: %2)").arg(reason, r.errorMessage()));
}

void ClusterSession::undo(const QString &fingerprint)
{
    const QString id = decisionFor(fingerprint, QStringLiteral("undo"));
    if (id.isEmpty())
        return;
    m_executor->undo(id, approver(), this, [this, fingerprint](Result<act::Decision> d) {
        if (!d) {
            Q_EMIT decisionUpdated(fingerprint, act::DecisionState::Failed,
                                   QStringLiteral("Undo failed: %1").arg(d.errorMessage()));
            return;
        }
        Q_EMIT decisionUpdated(fingerprint, d->state, QStringLiteral("Undone: %1").arg(outcomeMessage(*d)));
    });
}

void ClusterSession::startInformers()
{
    auto make = [this](kube::ResourceType type, const QString &fieldSelector, bool namespaced) {
        kube::InformerOptions o;
        o.type = std::move(type);
        o.namespaceName = namespaced ? m_options.namespaceName : QString();
        o.fieldSelector = fieldSelector;
        o.batchIntervalMs = m_options.batchIntervalMs;
        return new kube::Informer(m_client.get(), std::move(o), this);
    };
    m_pods = make(kube::ResourceType::pods(), {}, true);
    m_events = make(kube::ResourceType::events(), QStringLiteral("type=Warning"), true);
    m_nodes = make(kube::ResourceType::nodes(), {}, false);
    connect(m_pods, &kube::Informer::deltas, this, &ClusterSession::onPodDeltas);
    connect(m_events, &kube::Informer::deltas, this, &ClusterSession::onEventDeltas);
    connect(m_nodes, &kube::Informer::deltas, this, &ClusterSession::onNodeDeltas);
    connect(m_pods, &kube::Informer::healthChanged, this,
            [this](const kube::InformerHealth &h) { onHealth(h, QStringLiteral("pods")); });
    connect(m_events, &kube::Informer::healthChanged, this,
            [this](const kube::InformerHealth &h) { onHealth(h, QStringLiteral("events")); });
    connect(m_nodes, &kube::Informer::healthChanged, this,
            [this](const kube::InformerHealth &h) { onHealth(h, QStringLiteral("nodes")); });

    SessionHealth connecting;
    Q_EMIT healthChanged(connecting);
    m_pods->start();
    m_events->start();
    m_nodes->start();

    kube::ListOptions lo;
    m_client->list(kube::ResourcePath{kube::ResourceType::namespaces(), {}, {}, {}}, lo, this,
                   [this](Result<kube::ListResult> r) {
                       QStringList names;
                       if (r) {
                           for (const json &item : r->items)
                               names << QString::fromStdString(item["metadata"].value("name", std::string()));
                       }
                       // No permission to list namespaces: offer the context's own.
                       if (names.isEmpty() && !m_connection.namespaceName.isEmpty())
                           names << m_connection.namespaceName;
                       names.sort();
                       Q_EMIT namespacesListed(names);
                   });
    pollMetrics();
    m_metricsTimer.start();
}

void ClusterSession::scheduleFlush()
{
    if (!m_flushTimer.isActive())
        m_flushTimer.start();
}

void ClusterSession::flush()
{
    if (!m_pending.podsResynced && m_pending.pods.isEmpty() && m_pending.deletedPodUids.isEmpty() &&
        m_pending.warnings.isEmpty() && m_pending.incidents.isEmpty())
        return;
    SessionBatch out = std::move(m_pending);
    m_pending = SessionBatch();
    m_pendingPodIndex.clear();
    m_pendingIncidentIndex.clear();
    Q_EMIT batchReady(out);
}

void ClusterSession::onPodDeltas(const kube::DeltaBatch &batch)
{
    if (batch.resynced) {
        // The informer already reconciled; hand the GUI the whole set once.
        m_pending.podsResynced = true;
        m_pending.pods = viewsOf<kube::PodView>(m_pods->store());
        m_pending.deletedPodUids.clear();
        m_pendingPodIndex.clear();
        for (qsizetype i = 0; i < m_pending.pods.size(); ++i)
            m_pendingPodIndex.insert(m_pending.pods[i].uid, i);
    } else {
        for (const kube::Delta &d : batch.deltas) {
            const auto *pod = std::get_if<kube::PodView>(&d.object);
            if (!pod)
                continue;
            if (d.type == kube::Delta::Type::Deleted) {
                if (const auto it = m_pendingPodIndex.constFind(pod->uid); it != m_pendingPodIndex.cend()) {
                    m_pending.pods.removeAt(*it);
                    m_pendingPodIndex.clear();
                    for (qsizetype i = 0; i < m_pending.pods.size(); ++i)
                        m_pendingPodIndex.insert(m_pending.pods[i].uid, i);
                }
                if (!m_pending.podsResynced)
                    m_pending.deletedPodUids << pod->uid;
            } else if (const auto it = m_pendingPodIndex.constFind(pod->uid);
                       it != m_pendingPodIndex.cend()) {
                m_pending.pods[*it] = *pod;
            } else {
                m_pendingPodIndex.insert(pod->uid, m_pending.pods.size());
                m_pending.pods << *pod;
            }
        }
    }
    if (m_options.interimRules) {
        QList<Observation> seen;
        for (const kube::Delta &d : batch.deltas) {
            if (const auto *pod = std::get_if<kube::PodView>(&d.object);
                pod && d.type != kube::Delta::Type::Deleted)
                seen << m_detector.detectPod(*pod);
        }
        observe(seen);
    }
    scheduleFlush();
}

void ClusterSession::onEventDeltas(const kube::DeltaBatch &batch)
{
    QList<Observation> seen;
    for (const kube::Delta &d : batch.deltas) {
        const auto *event = std::get_if<kube::EventView>(&d.object);
        if (!event || d.type == kube::Delta::Type::Deleted || event->type != u"Warning")
            continue;
        m_pending.warnings << *event;
        if (m_options.interimRules)
            seen << m_detector.detectEvent(*event);
    }
    if (m_pending.warnings.size() > m_options.maxWarnings)
        m_pending.warnings = m_pending.warnings.mid(m_pending.warnings.size() - m_options.maxWarnings);
    observe(seen);
    scheduleFlush();
}

void ClusterSession::onNodeDeltas(const kube::DeltaBatch &batch)
{
    if (!m_options.interimRules)
        return;
    QList<Observation> seen;
    for (const kube::Delta &d : batch.deltas) {
        if (const auto *node = std::get_if<kube::NodeView>(&d.object);
            node && d.type != kube::Delta::Type::Deleted)
            seen << m_detector.detectNode(*node);
    }
    observe(seen);
    scheduleFlush();
}

void ClusterSession::onHealth(const kube::InformerHealth &health, const QString &resource)
{
    m_health.insert(resource, health);
    // The pods informer speaks for the connection; another informer only when it is in trouble.
    SessionHealth summary =
        SessionHealth::fromInformer(m_health.value(QStringLiteral("pods")), QStringLiteral("pods"));
    if (summary.kind == SessionHealth::Kind::Connected) {
        for (auto it = m_health.cbegin(); it != m_health.cend(); ++it) {
            const SessionHealth other = SessionHealth::fromInformer(*it, it.key());
            if (other.kind == SessionHealth::Kind::CredentialsExpired ||
                other.kind == SessionHealth::Kind::Forbidden) {
                summary = other;
                break;
            }
        }
    }
    summary.objects = m_pods ? int(m_pods->store().size()) : 0;
    Q_EMIT healthChanged(summary);
    m_lastHealth = summary;
}

PodUsageMap ClusterSession::parsePodMetrics(const json &list)
{
    PodUsageMap out;
    if (!list.is_object() || !list.contains("items") || !list["items"].is_array())
        return out;
    for (const json &item : list["items"]) {
        if (!item.is_object() || !item.contains("metadata") || !item["metadata"].is_object())
            continue;
        const json &meta = item["metadata"];
        const QString key = QString::fromStdString(meta.value("namespace", std::string())) + u'/' +
                            QString::fromStdString(meta.value("name", std::string()));
        PodUsageSample s;
        if (item.contains("containers") && item["containers"].is_array()) {
            for (const json &c : item["containers"]) {
                if (!c.is_object() || !c.contains("usage") || !c["usage"].is_object())
                    continue;
                const int64_t cpu =
                    kube::cpuMilli(QString::fromStdString(c["usage"].value("cpu", std::string())));
                const int64_t mem =
                    kube::quantityBytes(QString::fromStdString(c["usage"].value("memory", std::string())));
                if (cpu >= 0)
                    s.cpuMilli = std::max<int64_t>(s.cpuMilli, 0) + cpu;
                if (mem >= 0)
                    s.memoryBytes = std::max<int64_t>(s.memoryBytes, 0) + mem;
            }
        }
        out.insert(key, s);
    }
    return out;
}

void ClusterSession::pollMetrics()
{
    if (!m_client)
        return;
    kube::ResourceType metrics{QStringLiteral("metrics.k8s.io"), QStringLiteral("v1beta1"),
                               QStringLiteral("pods"), true};
    kube::ResourcePath path{metrics, m_options.namespaceName, {}, {}};
    m_client->get(path, this, [this](Result<json> r) {
        // No metrics-server is normal: the columns stay empty.
        if (r)
            Q_EMIT usageUpdated(parsePodMetrics(*r));
    });
}

QString ClusterSession::toYaml(const json &object)
{
    try {
        YAML::Emitter e;
        e.SetIndent(2);
        e.SetSeqFormat(YAML::Block);
        emitJson(e, object);
        return QString::fromUtf8(e.c_str());
    } catch (const std::exception &ex) {
        return QStringLiteral("# could not render YAML: %1").arg(QString::fromUtf8(ex.what()));
    }
}

void ClusterSession::requestPodDetails(const QString &namespaceName, const QString &name, bool previous)
{
    if (!m_client)
        return;
    // Three independent requests; the dialog gets one answer when all have returned.
    auto details = std::make_shared<PodDetails>();
    details->namespaceName = namespaceName;
    details->name = name;
    details->previous = previous;
    if (m_events) {
        for (const kube::EventView &e : viewsOf<kube::EventView>(m_events->store())) {
            if (e.involved.namespaceName == namespaceName && e.involved.name == name)
                details->events << e;
        }
    }
    std::sort(details->events.begin(), details->events.end(),
              [](const kube::EventView &a, const kube::EventView &b) { return a.lastSeen > b.lastSeen; });
    auto remaining = std::make_shared<int>(2);
    auto done = [this, details, remaining] {
        if (--*remaining == 0)
            Q_EMIT podDetailsReady(*details);
    };
    m_client->get(kube::ResourcePath{kube::ResourceType::pods(), namespaceName, name, {}}, this,
                  [details, done](Result<json> r) {
                      if (r) {
                          json obj = *r;
                          if (obj.contains("metadata") && obj["metadata"].is_object())
                              obj["metadata"].erase("managedFields");
                          details->yaml = toYaml(obj);
                      } else {
                          details->yamlError = r.errorMessage();
                      }
                      done();
                  });
    kube::LogOptions lo;
    lo.previous = previous;
    lo.tailLines = 500;
    lo.limitBytes = 512 * 1024;
    m_client->logs(namespaceName, name, lo, this, [details, done](Result<QByteArray> r) {
        if (r)
            details->log = QString::fromUtf8(*r);
        else
            details->logError = r.errorMessage();
        done();
    });
}

// Interim rules-only diagnosis, until core/pipeline/diagnoser lands.

void ClusterSession::observe(const QList<Observation> &observations)
{
    for (const Observation &o : observations) {
        const IncidentGrouper::AddResult added = m_grouper.add(o);
        if (added.duplicate)
            continue;
        IncidentReport report = diagnoseWithRules(added.incident);
        proposeFor(report);
        const QString fp = added.incident.fingerprint;
        if (const auto it = m_pendingIncidentIndex.constFind(fp); it != m_pendingIncidentIndex.cend()) {
            m_pending.incidents[*it] = std::move(report);
        } else {
            m_pendingIncidentIndex.insert(fp, m_pending.incidents.size());
            m_pending.incidents << std::move(report);
        }
    }
}

IncidentReport ClusterSession::diagnoseWithRules(const Incident &incident) const
{
    IncidentReport report;
    report.incident = incident;

    gather::GatherInput in;
    in.subject = toSubject(incident);
    in.now = QDateTime::currentDateTimeUtc();
    if (m_pods) {
        for (const kube::PodView &p : viewsOf<kube::PodView>(m_pods->store())) {
            if (p.namespaceName == incident.namespaceName && incident.pods.contains(p.name))
                in.pods << p;
        }
    }
    if (m_events) {
        for (const kube::EventView &e : viewsOf<kube::EventView>(m_events->store())) {
            if (e.namespaceName == incident.namespaceName || incident.namespaceName.isEmpty())
                in.events << e;
        }
    }
    if (m_nodes)
        in.nodes = viewsOf<kube::NodeView>(m_nodes->store());
    gather::Redactor redactor;
    const gather::Evidence evidence = gather::Gatherer().gather(in, redactor);
    report.evidenceText = evidence.text;
    report.evidenceCut = evidence.cut;
    report.evidenceTokens = evidence.estimatedTokens;

    const reason::RuleReasoner rules;
    Result<Diagnosis> d = rules.diagnose(evidence);
    if (!d) {
        report.diagnosisError = d.errorMessage();
        return report;
    }
    report.diagnosed = true;
    report.diagnosis = *d;

    guard::Proposal proposal;
    proposal.diagnosis = *d;
    proposal.target.namespaceName = incident.namespaceName;
    proposal.target.ownerKind = incident.workload.kind;
    proposal.target.ownerName = incident.workload.name;
    if (incident.latest.object.kind == u"Node") {
        proposal.target.nodeName = incident.latest.object.name;
    } else {
        proposal.target.podName = incident.latest.object.name;
        if (evidence.pod) {
            proposal.target.nodeName = evidence.pod->nodeName;
            proposal.target.podLabels = evidence.pod->labels;
        }
    }
    if (evidence.node)
        proposal.target.nodeLabels = evidence.node->labels;
    guard::GuardContext ctx;
    ctx.policy = m_options.policy;
    ctx.now = in.now;
    report.verdict = guard::evaluate(proposal, ctx);
    report.judged = true;
    report.targetKey = guard::targetKey(d->action, proposal.target);
    report.target = proposal.target;
    return report;
}

} // namespace vigil::pipeline
