#pragma once

// A generic informer: LIST then WATCH one resource, keeping an ObjectStore
// of compact projections and handing consumers batched deltas. Follows
// client-go's reflector: bookmarks advance the resourceVersion, 410 Gone
// relists from scratch (reconciling deletions), failures back off
// exponentially with jitter, and an idle watch is reconnected. Where the
// server supports it the list is streamed (a watch with sendInitialEvents
// that ends its initial state with a bookmark, paced over HTTP/1.1 so the
// server cannot outrun the decoder, then an ordinary watch from that
// bookmark) and otherwise it falls back to paged LIST + WATCH.

#include "core/kube/restclient.h"
#include "core/kube/store.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QMetaType>
#include <QObject>
#include <QTimer>

#include <functional>

namespace vigil::kube {

struct InformerOptions {
    ResourceType type;
    QString namespaceName; ///< empty: all namespaces
    QString labelSelector;
    QString fieldSelector;
    int pageLimit = 500;
    int batchIntervalMs = 100; ///< deltas are emitted at most this often
    int idleTimeoutMs = 70000; ///< no event or bookmark for this long: reconnect the watch
    int minWatchSeconds = 300; ///< server-side watch timeout, randomized in [min, max]
    int maxWatchSeconds = 600;
    int backoffInitialMs = 800;
    int backoffMaxMs = 30000;
    int shortWatchMs = 1000;        ///< a watch ending sooner with no event counts as a failure
    bool streamingList = true;      ///< list via sendInitialEvents when the server allows it
    std::function<double()> random; ///< uniform in [0, 1); null = QRandomGenerator
    Projector projector;            ///< null = projectorFor(type), and managedFields are not even parsed
};

/// What the connection indicator shows.
struct InformerHealth {
    enum class State { Stopped, Listing, Watching, BackingOff };
    State state = State::Stopped;
    bool synced = false; ///< a list has completed; the store is usable
    int failures = 0;    ///< consecutive
    QDateTime nextRetry; ///< when BackingOff
    QString lastError;
};

class Informer final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Informer)

public:
    /// client is not owned and must outlive the informer.
    Informer(RestClient *client, InformerOptions options, QObject *parent = nullptr);
    ~Informer() override;

    void start();
    void stop();

    const ObjectStore &store() const { return m_store; }
    InformerHealth health() const { return m_health; }
    QString resourceVersion() const { return m_resourceVersion; }
    /// Whether the next (re)list streams: enabled and not refused by the server.
    bool streamsLists() const { return m_options.streamingList && !m_streamingRefused; }

    /// Delay before retry number `failures` (1-based): initial * 2^(failures-1), plus up to 50 % jitter,
    /// capped.
    static int backoffDelayMs(int failures, int initialMs, int maxMs, double random);

Q_SIGNALS:
    void deltas(const vigil::kube::DeltaBatch &batch);
    void healthChanged(const vigil::kube::InformerHealth &health);

private:
    void list();
    void streamList();
    void finishInitialEvents(const QString &resourceVersion);
    void watch(bool sendInitialEvents = false);
    void onWatchEvents(const QList<WatchEvent> &events);
    void onWatchClosed(const Result<void> &result);
    void fail(const Error &error, bool relist);
    void queue(QList<Delta> deltas, bool resynced);
    void flush();
    void setState(InformerHealth::State state);
    ResourcePath collectionPath() const;
    double random() const;

    RestClient *m_client; // not owned
    InformerOptions m_options;
    ObjectStore m_store;
    InformerHealth m_health;
    QString m_resourceVersion;
    StreamHandle m_watch;
    uint64_t m_generation = 0; ///< bumped on every list/watch/stop: stale callbacks compare and bail
    bool m_running = false;
    bool m_relistPending = false;
    bool m_ownProjector = false;     ///< projectorFor(type): it never reads managedFields
    bool m_streamingRefused = false; ///< the server rejected sendInitialEvents: LIST from now on
    bool m_initialEvents = false;    ///< a streaming list is delivering the initial state
    QList<KubeObject> m_initial;     ///< that state, applied at once at its closing bookmark
    int m_watchEvents = 0;
    QElapsedTimer m_watchAge;
    QTimer m_idleTimer;
    QTimer m_retryTimer;
    QTimer m_batchTimer;
    QList<Delta> m_pending;
    QHash<QString, qsizetype>
        m_pendingIndex; ///< uid -> slot in m_pending; built when a second queue() coalesces
    bool m_pendingIndexed = false;
    QList<qsizetype> m_pendingDropped; ///< slots whose delta cancelled out (added, then deleted)
    bool m_pendingResync = false;
};

} // namespace vigil::kube

Q_DECLARE_METATYPE(vigil::kube::InformerHealth)
