#include "core/kube/informer.h"

#include <QRandomGenerator>

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

namespace vigil::kube {

Informer::Informer(RestClient *client, InformerOptions options, QObject *parent)
    : QObject(parent)
    , m_client(client)
    , m_options(std::move(options))
{
    if (!m_options.projector) {
        m_options.projector = projectorFor(m_options.type);
        m_ownProjector = true;
    }
    m_idleTimer.setSingleShot(true);
    m_retryTimer.setSingleShot(true);
    m_batchTimer.setSingleShot(true);
    connect(&m_idleTimer, &QTimer::timeout, this, [this] {
        // A silent watch may be a dead connection the TCP stack has not noticed: reconnect.
        m_health.lastError = QStringLiteral("watch %1: no event or bookmark for %2 s; reconnecting")
                                 .arg(collectionPath().path())
                                 .arg(m_options.idleTimeoutMs / 1000.0);
        m_watch.cancel();
        m_client->dropConnections(); // else the new watch shares the dead HTTP/2 connection
        if (m_relistPending)
            list(); // silent in the middle of a streaming list: its partial state is worthless
        else
            watch();
    });
    connect(&m_retryTimer, &QTimer::timeout, this, [this] {
        if (m_relistPending)
            list();
        else
            watch();
    });
    connect(&m_batchTimer, &QTimer::timeout, this, &Informer::flush);
}

Informer::~Informer()
{
    m_watch.cancel();
}

int Informer::backoffDelayMs(int failures, int initialMs, int maxMs, double random)
{
    const double base = std::min<double>(maxMs, initialMs * std::pow(2.0, std::max(0, failures - 1)));
    return static_cast<int>(std::min<double>(maxMs, base * (1.0 + 0.5 * std::clamp(random, 0.0, 1.0))));
}

double Informer::random() const
{
    return m_options.random ? m_options.random() : QRandomGenerator::global()->generateDouble();
}

ResourcePath Informer::collectionPath() const
{
    return ResourcePath{m_options.type, m_options.namespaceName, QString(), QString()};
}

void Informer::start()
{
    if (m_running)
        return;
    m_running = true;
    list();
}

void Informer::stop()
{
    m_running = false;
    m_initialEvents = false;
    m_initial.clear();
    ++m_generation;
    m_watch.cancel();
    m_idleTimer.stop();
    m_retryTimer.stop();
    flush();
    setState(InformerHealth::State::Stopped);
}

void Informer::setState(InformerHealth::State state)
{
    m_health.state = state;
    if (state != InformerHealth::State::BackingOff)
        m_health.nextRetry = QDateTime();
    Q_EMIT healthChanged(m_health);
}

void Informer::list()
{
    // Until the first sync no delta has been emitted, so a store filled in part by an abandoned list
    // has been seen by nobody: start it afresh, and fill it in place (no second copy of the state).
    if (!m_health.synced)
        m_store.clear();
    if (streamsLists()) {
        streamList();
        return;
    }
    const uint64_t gen = ++m_generation;
    m_watch.cancel();
    m_idleTimer.stop();
    m_relistPending = true;
    m_initialEvents = false;
    setState(InformerHealth::State::Listing);
    ListOptions opts;
    opts.labelSelector = m_options.labelSelector;
    opts.fieldSelector = m_options.fieldSelector;
    opts.limit = m_options.pageLimit;
    opts.dropManagedFields = m_ownProjector;
    // Project each item as it is parsed: a page of JSON documents is many times its projections' size.
    auto fresh = std::make_shared<QList<KubeObject>>();
    const bool inPlace = !m_health.synced;
    opts.onItem = [this, gen, fresh, inPlace](nlohmann::json &item) {
        if (gen != m_generation)
            return; // superseded
        Result<KubeObject> o = m_options.projector(item);
        if (!o)
            m_health.lastError = o.errorMessage();
        else if (inPlace)
            m_store.set(std::move(*o));
        else
            fresh->append(std::move(*o));
    };
    m_client->list(collectionPath(), opts, this, [this, gen, fresh, inPlace](Result<ListResult> result) {
        if (gen != m_generation)
            return;
        if (!result) {
            fail(result.error(), true);
            return;
        }
        m_relistPending = false;
        m_resourceVersion = result->resourceVersion;
        m_health.synced = true;
        m_health.failures = 0;
        queue(inPlace ? m_store.added() : m_store.replace(std::exchange(*fresh, {})), true);
        watch();
    });
}

void Informer::streamList()
{
    m_relistPending = true;
    watch(true);
}

void Informer::finishInitialEvents(const QString &resourceVersion)
{
    m_initialEvents = false;
    m_relistPending = false;
    if (!resourceVersion.isEmpty())
        m_resourceVersion = resourceVersion;
    const bool inPlace = !m_health.synced;
    m_health.synced = true;
    m_health.failures = 0;
    queue(inPlace ? m_store.added() : m_store.replace(std::exchange(m_initial, {})), true);
    setState(InformerHealth::State::Watching);
}

void Informer::watch(bool sendInitialEvents)
{
    const uint64_t gen = ++m_generation;
    m_watch.cancel();
    m_watchEvents = 0;
    m_watchAge.start();
    WatchOptions w;
    w.resourceVersion = m_resourceVersion;
    w.labelSelector = m_options.labelSelector;
    w.fieldSelector = m_options.fieldSelector;
    w.allowBookmarks = true;
    w.sendInitialEvents = sendInitialEvents;
    w.dropManagedFields = m_ownProjector;
    w.paced = sendInitialEvents; // the initial state arrives faster than it is projected
    m_initialEvents = sendInitialEvents;
    m_initial.clear();
    const int span = std::max(0, m_options.maxWatchSeconds - m_options.minWatchSeconds);
    w.timeoutSeconds = m_options.minWatchSeconds + static_cast<int>(std::floor(random() * (span + 1)));
    w.timeoutSeconds = std::min(w.timeoutSeconds, m_options.maxWatchSeconds);
    m_watch = m_client->watch(
        collectionPath(), w, this,
        [this, gen](const QList<WatchEvent> &events) {
            if (gen == m_generation)
                onWatchEvents(events);
        },
        [this, gen](Result<void> result) {
            if (gen == m_generation)
                onWatchClosed(result);
        });
    m_idleTimer.start(m_options.idleTimeoutMs);
    setState(sendInitialEvents ? InformerHealth::State::Listing : InformerHealth::State::Watching);
}

void Informer::onWatchEvents(const QList<WatchEvent> &events)
{
    m_idleTimer.start(m_options.idleTimeoutMs);
    QList<Delta> out;
    bool initialStateDone = false;
    for (const WatchEvent &ev : events) {
        ++m_watchEvents;
        if (ev.type == WatchEvent::Type::Error) {
            queue(std::move(out), false);
            if (ev.expired) {
                // Our resourceVersion was compacted away: start over from a fresh list.
                m_health.lastError = ev.error.message;
                m_resourceVersion.clear();
                list();
            } else {
                fail(ev.error, false);
            }
            return;
        }
        // The server is answering again: the next failure starts the back-off afresh, or repeated
        // short outages would push every reconnect towards the 30 s cap.
        if (!m_initialEvents)
            m_health.failures = 0;
        if (ev.type == WatchEvent::Type::Bookmark) {
            if (m_initialEvents) {
                const nlohmann::json &meta = ev.object.value("metadata", nlohmann::json::object());
                const nlohmann::json &notes = meta.value("annotations", nlohmann::json::object());
                if (notes.is_object() && notes.value("k8s.io/initial-events-end", std::string()) == "true") {
                    finishInitialEvents(ev.resourceVersion());
                    initialStateDone = true;
                }
                continue; // a progress bookmark inside the initial state does not move us yet
            }
            if (!ev.resourceVersion().isEmpty())
                m_resourceVersion = ev.resourceVersion();
            continue;
        }
        Result<KubeObject> o = m_options.projector(ev.object);
        if (!o) {
            m_health.lastError = o.errorMessage();
            continue;
        }
        if (m_initialEvents && !m_health.synced) {
            // The first sync fills the store in place (list() emptied it).
            if (ev.type == WatchEvent::Type::Deleted)
                m_store.remove(objectUid(*o));
            else
                m_store.set(std::move(*o));
            continue;
        }
        if (m_initialEvents) {
            const QString uid = objectUid(*o);
            if (ev.type != WatchEvent::Type::Added)
                m_initial.removeIf([&uid](const KubeObject &k) { return objectUid(k) == uid; });
            if (ev.type != WatchEvent::Type::Deleted)
                m_initial.append(std::move(*o));
            continue;
        }
        const QString rv = objectResourceVersion(*o);
        std::optional<Delta> d = ev.type == WatchEvent::Type::Deleted ? m_store.remove(objectUid(*o), *o)
                                                                      : m_store.upsert(std::move(*o));
        if (d)
            out.append(std::move(*d));
        if (!rv.isEmpty())
            m_resourceVersion = rv;
    }
    queue(std::move(out), false);
    // The streaming list held one of the few HTTP/1.1 connections (WatchOptions::paced): carry on
    // from where it ended with an ordinary watch over the shared HTTP/2 connection.
    if (initialStateDone)
        watch();
}

void Informer::onWatchClosed(const Result<void> &result)
{
    m_idleTimer.stop();
    if (m_initialEvents) {
        m_initialEvents = false;
        m_initial.clear();
        const int code = result ? 0 : result.error().code;
        // The server refused sendInitialEvents (400/422 before WatchList, 501), or ended the stream
        // without ever closing the initial state: page through a LIST instead, from now on.
        const bool refused = result || code == 400 || code == 405 || code == 422 || code == 501;
        if (refused) {
            m_streamingRefused = true;
            m_health.lastError =
                result ? QStringLiteral("watch %1: the streaming list ended before its initial state")
                             .arg(collectionPath().path())
                       : result.error().message;
            list();
            return;
        }
        fail(result.error(), true);
        return;
    }
    if (!result) {
        fail(result.error(), result.error().code == 410);
        return;
    }
    if (m_watchEvents == 0 && m_watchAge.elapsed() < m_options.shortWatchMs) {
        fail(Error(QStringLiteral("watch %1: closed after %2 ms without events")
                       .arg(collectionPath().path())
                       .arg(m_watchAge.elapsed())),
             false);
        return;
    }
    // The server's timeoutSeconds ran out: carry on from where we are.
    m_health.failures = 0;
    watch();
}

void Informer::fail(const Error &error, bool relist)
{
    ++m_generation;
    m_watch.cancel();
    m_idleTimer.stop();
    if (!m_running)
        return;
    m_relistPending = m_relistPending || relist;
    ++m_health.failures;
    m_health.lastError = error.message;
    const int delay =
        backoffDelayMs(m_health.failures, m_options.backoffInitialMs, m_options.backoffMaxMs, random());
    m_health.nextRetry = QDateTime::currentDateTimeUtc().addMSecs(delay);
    m_health.state = InformerHealth::State::BackingOff;
    Q_EMIT healthChanged(m_health);
    m_retryTimer.start(delay);
}

void Informer::queue(QList<Delta> deltas, bool resynced)
{
    m_pendingResync = m_pendingResync || resynced;
    if (m_pending.isEmpty() && resynced) {
        // A (re)list's deltas name each object once: take them as they are, without a second
        // array or an index until something needs coalescing with them.
        m_pending = std::move(deltas);
        m_pendingIndexed = false;
        deltas.clear();
    }
    if (!deltas.isEmpty() && !m_pendingIndexed) {
        m_pendingIndex.clear();
        m_pendingIndex.reserve(m_pending.size() + deltas.size());
        for (qsizetype i = 0; i < m_pending.size(); ++i)
            m_pendingIndex.insert(objectUid(m_pending.at(i).object), i);
        m_pendingIndexed = true;
    }
    for (Delta &d : deltas) {
        const QString uid = objectUid(d.object);
        const auto it = m_pendingIndex.constFind(uid);
        if (it != m_pendingIndex.constEnd()) {
            const qsizetype slot = *it;
            Delta &prev = m_pending[slot];
            const Delta::Type before = prev.type;
            if (before == Delta::Type::Added && d.type == Delta::Type::Deleted) {
                m_pendingDropped.append(slot); // never seen by consumers: nothing to tell
                m_pendingIndex.remove(uid);
                continue;
            }
            if (before == Delta::Type::Added && d.type == Delta::Type::Modified)
                d.type = Delta::Type::Added;
            else if (before == Delta::Type::Deleted && d.type == Delta::Type::Added)
                d.type = Delta::Type::Modified;
            prev = std::move(d);
            continue;
        }
        m_pendingIndex.insert(uid, m_pending.size());
        m_pending.append(std::move(d));
    }
    if ((!m_pending.isEmpty() || m_pendingResync) && !m_batchTimer.isActive())
        m_batchTimer.start(m_options.batchIntervalMs);
}

void Informer::flush()
{
    m_batchTimer.stop();
    DeltaBatch batch;
    batch.resynced = m_pendingResync;
    if (!m_pendingDropped.isEmpty()) {
        std::sort(m_pendingDropped.begin(), m_pendingDropped.end(), std::greater<>());
        for (const qsizetype slot : std::as_const(m_pendingDropped))
            m_pending.removeAt(slot);
    }
    batch.deltas = std::exchange(m_pending, {});
    m_pendingIndex.clear();
    m_pendingIndexed = false;
    m_pendingDropped.clear();
    m_pendingResync = false;
    if (!batch.deltas.isEmpty() || batch.resynced)
        Q_EMIT deltas(batch);
}

} // namespace vigil::kube
