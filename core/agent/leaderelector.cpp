#include "core/agent/leaderelector.h"

#include "core/kube/restclient.h"
#include "core/util/jsondepth.h"

#include <QPointer>
#include <QRandomGenerator>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace vigil::agent {

using json = nlohmann::json;

namespace {

constexpr double kJitterFactor = 1.2; // client-go's JitterFactor

std::string s(const QString &text)
{
    return text.toStdString();
}

QString str(const json &object, const char *key)
{
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? QString::fromStdString(it->get<std::string>()) : QString();
}

int integer(const json &object, const char *key)
{
    const auto it = object.find(key);
    return it != object.end() && it->is_number_integer() ? it->get<int>() : 0;
}

kube::ResourceType leases()
{
    return {QStringLiteral("coordination.k8s.io"), QStringLiteral("v1"), QStringLiteral("leases"), true};
}

} // namespace

Result<void> validateOptions(const LeaderElectionOptions &o)
{
    if (o.leaseName.isEmpty() || o.leaseNamespace.isEmpty())
        return Error(QStringLiteral("leader election: the lease name and namespace must be set"));
    if (o.identity.isEmpty())
        return Error(QStringLiteral("leader election: the identity must not be empty"));
    if (o.retryPeriodMs <= 0 || o.renewDeadlineMs <= 0 || o.leaseDurationMs <= 0)
        return Error(
            QStringLiteral("leader election: lease duration, renew deadline and retry period must be "
                           "positive"));
    if (o.leaseDurationMs <= o.renewDeadlineMs)
        return Error(
            QStringLiteral("leader election: the lease duration (%1 ms) must be greater than the renew "
                           "deadline (%2 ms)")
                .arg(o.leaseDurationMs)
                .arg(o.renewDeadlineMs));
    if (o.renewDeadlineMs <= kJitterFactor * o.retryPeriodMs)
        return Error(
            QStringLiteral("leader election: the renew deadline (%1 ms) must be greater than 1.2 x the "
                           "retry period (%2 ms)")
                .arg(o.renewDeadlineMs)
                .arg(o.retryPeriodMs));
    return {};
}

LeaseRecord LeaseRecord::fromLease(const json &lease)
{
    LeaseRecord r;
    if (!lease.is_object())
        return r;
    const auto spec = lease.find("spec");
    if (spec == lease.end() || !spec->is_object())
        return r;
    r.holderIdentity = str(*spec, "holderIdentity");
    r.leaseDurationSeconds = integer(*spec, "leaseDurationSeconds");
    r.acquireTime = str(*spec, "acquireTime");
    r.renewTime = str(*spec, "renewTime");
    r.leaseTransitions = integer(*spec, "leaseTransitions");
    return r;
}

json LeaseRecord::toSpec() const
{
    json spec = {{"holderIdentity", s(holderIdentity)},
                 {"leaseDurationSeconds", leaseDurationSeconds},
                 {"leaseTransitions", leaseTransitions}};
    if (!acquireTime.isEmpty())
        spec["acquireTime"] = s(acquireTime);
    if (!renewTime.isEmpty())
        spec["renewTime"] = s(renewTime);
    return spec;
}

QString microTime(const QDateTime &time)
{
    return time.toUTC().toString(QStringLiteral("yyyy-MM-ddTHH:mm:ss.zzz")) + QStringLiteral("000Z");
}

LeaderElector::LeaderElector(kube::RestClient *client, LeaderElectionOptions options, QObject *parent)
    : QObject(parent)
    , m_client(client)
    , m_options(std::move(options))
{
    m_retry.setSingleShot(true);
    m_deadline.setSingleShot(true);
    connect(&m_retry, &QTimer::timeout, this, &LeaderElector::tryAcquireOrRenew);
    connect(&m_deadline, &QTimer::timeout, this, [this] {
        if (m_state == State::Leading)
            loseLeadership(QStringLiteral("no renewal of lease %1/%2 succeeded within the renew deadline "
                                          "(%3 ms)")
                               .arg(m_options.leaseNamespace, m_options.leaseName)
                               .arg(m_options.renewDeadlineMs));
    });
}

LeaderElector::~LeaderElector() = default;

int64_t LeaderElector::nowMs() const
{
    if (m_options.clockMs)
        return m_options.clockMs();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

QDateTime LeaderElector::wallNow() const
{
    return m_options.wallClock ? m_options.wallClock() : QDateTime::currentDateTimeUtc();
}

QString LeaderElector::leasePath(bool collection) const
{
    return kube::ResourcePath{leases(), m_options.leaseNamespace,
                              collection ? QString() : m_options.leaseName, QString()}
        .path();
}

void LeaderElector::start()
{
    if (m_state != State::Stopped)
        return;
    m_state = State::Candidate;
    ++m_generation;
    m_inFlight = false;
    schedule(0);
}

void LeaderElector::stop()
{
    const bool led = m_state == State::Leading;
    m_state = State::Stopped;
    ++m_generation;
    m_inFlight = false;
    m_retry.stop();
    m_deadline.stop();
    if (led)
        Q_EMIT stoppedLeading(QStringLiteral("leader election stopped"));
}

void LeaderElector::schedule(int delayMs)
{
    if (m_state == State::Stopped)
        return;
    m_retry.start(std::max(0, delayMs));
}

int LeaderElector::requestTimeoutMs() const
{
    if (m_state != State::Leading)
        return m_options.renewDeadlineMs;
    // A renewal that answers after the deadline is worthless: the replica has stopped leading by then.
    const int64_t left = m_lastRenewMs + m_options.renewDeadlineMs - nowMs();
    return static_cast<int>(std::clamp<int64_t>(left, 100, m_options.renewDeadlineMs));
}

void LeaderElector::tryAcquireOrRenew()
{
    if (m_state == State::Stopped || m_inFlight)
        return;
    m_inFlight = true;
    const uint64_t generation = m_generation;
    kube::Request request;
    request.path = leasePath(false);
    request.timeoutMs = requestTimeoutMs();
    m_client->send(request, this, [this, generation](Result<kube::Response> r) {
        if (!r)
            return onRead(generation, r.error());
        // The lease's metadata is copied out, which recurses per level: deep bodies are refused first.
        Result<json> doc = parseJson(r->body);
        if (!doc)
            return onRead(generation,
                          Error(QStringLiteral("lease %1/%2: the response is %3")
                                    .arg(m_options.leaseNamespace, m_options.leaseName, doc.errorMessage())));
        if (!doc->is_object())
            return onRead(generation, Error(QStringLiteral("lease %1/%2: the response is not a JSON object")
                                                .arg(m_options.leaseNamespace, m_options.leaseName)));
        onRead(generation, std::move(*doc));
    });
}

void LeaderElector::observe(const LeaseRecord &record)
{
    const bool changed = !m_observedAny || !(record == m_observed);
    if (changed) {
        const bool holderChanged = !m_observedAny || record.holderIdentity != m_observed.holderIdentity;
        m_observed = record;
        m_observedAny = true;
        m_observedAtMs = nowMs();
        if (holderChanged)
            Q_EMIT leaderObserved(record.holderIdentity);
    }
}

void LeaderElector::onRead(uint64_t generation, Result<json> lease)
{
    if (generation != m_generation)
        return;
    const int durationSeconds = static_cast<int>(std::ceil(m_options.leaseDurationMs / 1000.0));
    const QString now = microTime(wallNow());
    if (!lease) {
        if (lease.error().code != 404)
            return attemptDone(generation, false, lease.errorMessage());
        LeaseRecord fresh;
        fresh.holderIdentity = m_options.identity;
        fresh.leaseDurationSeconds = durationSeconds;
        fresh.acquireTime = now;
        fresh.renewTime = now;
        write(generation, "POST", fresh, QString());
        return;
    }
    const LeaseRecord old = LeaseRecord::fromLease(*lease);
    m_resourceVersion = str(lease->value("metadata", json::object()), "resourceVersion");
    observe(old);
    const bool mine = old.holderIdentity == m_options.identity;
    // Validity is judged from when this replica saw the record change, on its own clock.
    const bool valid = m_observedAtMs + int64_t(old.leaseDurationSeconds) * 1000 > nowMs();
    if (!old.holderIdentity.isEmpty() && !mine && valid) {
        m_inFlight = false;
        if (m_state == State::Leading)
            return loseLeadership(
                QStringLiteral("lease %1/%2 is held by %3")
                    .arg(m_options.leaseNamespace, m_options.leaseName, old.holderIdentity));
        schedule(static_cast<int>(
            m_options.retryPeriodMs *
            (1.0 + kJitterFactor * (m_options.random ? m_options.random()
                                                     : QRandomGenerator::global()->generateDouble()))));
        return;
    }
    LeaseRecord next;
    next.holderIdentity = m_options.identity;
    next.leaseDurationSeconds = durationSeconds;
    next.renewTime = now;
    if (mine) {
        next.acquireTime = old.acquireTime.isEmpty() ? now : old.acquireTime;
        next.leaseTransitions = old.leaseTransitions;
    } else {
        next.acquireTime = now;
        next.leaseTransitions = old.leaseTransitions + 1;
    }
    write(generation, "PUT", next, m_resourceVersion);
}

void LeaderElector::write(uint64_t generation, const QByteArray &verb, const LeaseRecord &record,
                          const QString &resourceVersion)
{
    json metadata = {{"name", s(m_options.leaseName)}, {"namespace", s(m_options.leaseNamespace)}};
    if (!resourceVersion.isEmpty())
        metadata["resourceVersion"] = s(resourceVersion);
    const json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                        {"kind", "Lease"},
                        {"metadata", metadata},
                        {"spec", record.toSpec()}};
    kube::Request request;
    request.verb = verb;
    request.path = leasePath(verb == "POST");
    request.body = QByteArray::fromStdString(lease.dump());
    request.contentType = "application/json";
    request.timeoutMs = requestTimeoutMs();
    m_client->send(request, this, [this, generation, record](Result<kube::Response> r) {
        if (!r)
            return onWritten(generation, record, r.error());
        Result<json> doc = parseJson(r->body);
        onWritten(generation, record, doc && doc->is_object() ? std::move(*doc) : json::object());
    });
}

void LeaderElector::onWritten(uint64_t generation, const LeaseRecord &record, Result<json> written)
{
    if (generation != m_generation)
        return;
    if (!written) {
        // 409: another replica wrote the Lease since it was read; this attempt lost the race.
        return attemptDone(generation, false, written.errorMessage());
    }
    m_resourceVersion = str(written->value("metadata", json::object()), "resourceVersion");
    observe(record);
    m_lastRenewMs = nowMs();
    m_deadline.start(m_options.renewDeadlineMs);
    if (m_state == State::Candidate)
        becomeLeader();
    else
        ++m_renewals;
    attemptDone(generation, true, QString());
}

void LeaderElector::attemptDone(uint64_t generation, bool ok, const QString &error)
{
    if (generation != m_generation)
        return;
    m_inFlight = false;
    if (!ok)
        Q_EMIT attemptFailed(error);
    if (m_state == State::Leading) {
        schedule(m_options.retryPeriodMs);
        return;
    }
    schedule(static_cast<int>(
        m_options.retryPeriodMs *
        (1.0 + kJitterFactor *
                   (m_options.random ? m_options.random() : QRandomGenerator::global()->generateDouble()))));
}

void LeaderElector::becomeLeader()
{
    m_state = State::Leading;
    m_renewals = 0;
    Q_EMIT startedLeading();
}

void LeaderElector::loseLeadership(const QString &reason)
{
    m_state = State::Candidate;
    ++m_generation;
    m_inFlight = false;
    m_deadline.stop();
    Q_EMIT stoppedLeading(reason);
    schedule(m_options.retryPeriodMs);
}

void LeaderElector::release(QObject *context, std::function<void(Result<void>)> callback)
{
    QPointer<QObject> guard(context);
    const bool hadContext = context != nullptr;
    auto done = [guard, hadContext, callback = std::move(callback)](Result<void> r) {
        if (hadContext && !guard)
            return;
        callback(std::move(r));
    };
    const bool led = m_state == State::Leading;
    const LeaseRecord held = m_observed;
    stop();
    if (!led)
        return done({});
    // client-go's release: no holder, a one-second duration, the transitions kept.
    LeaseRecord released;
    released.leaseDurationSeconds = 1;
    released.acquireTime = microTime(wallNow());
    released.renewTime = released.acquireTime;
    released.leaseTransitions = held.leaseTransitions;
    auto attempt = std::make_shared<std::function<void(const QString &, int)>>();
    *attempt = [this, released, done,
                weak = std::weak_ptr<std::function<void(const QString &, int)>>(attempt)](
                   const QString &resourceVersion, int left) {
        json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                      {"kind", "Lease"},
                      {"metadata",
                       {{"name", s(m_options.leaseName)},
                        {"namespace", s(m_options.leaseNamespace)},
                        {"resourceVersion", s(resourceVersion)}}},
                      {"spec", released.toSpec()}};
        kube::Request request;
        request.verb = "PUT";
        request.path = leasePath(false);
        request.body = QByteArray::fromStdString(lease.dump());
        request.contentType = "application/json";
        request.timeoutMs = m_options.renewDeadlineMs;
        m_client->send(request, this, [this, done, left, next = weak.lock()](Result<kube::Response> r) {
            if (r) {
                m_observed = LeaseRecord();
                return done({});
            }
            if (r.error().code != 409 || left <= 0 || !next)
                return done(Error(QStringLiteral("releasing lease %1/%2: %3")
                                      .arg(m_options.leaseNamespace, m_options.leaseName, r.errorMessage()),
                                  r.error().code));
            // A renewal landed first: read the new version and release again while it is still ours.
            kube::Request get;
            get.path = leasePath(false);
            get.timeoutMs = m_options.renewDeadlineMs;
            m_client->send(get, this, [this, done, left, next](Result<kube::Response> g) {
                if (!g)
                    return done(g.error());
                const Result<json> parsed = parseJson(g->body);
                if (!parsed)
                    return done(Error(
                        QStringLiteral("releasing lease %1/%2: the response is %3")
                            .arg(m_options.leaseNamespace, m_options.leaseName, parsed.errorMessage())));
                const json &doc = *parsed;
                if (LeaseRecord::fromLease(doc).holderIdentity != m_options.identity)
                    return done({}); // no longer ours: nothing to release
                (*next)(str(doc.value("metadata", json::object()), "resourceVersion"), left - 1);
            });
        });
    };
    (*attempt)(m_resourceVersion, 2);
}

} // namespace vigil::agent
