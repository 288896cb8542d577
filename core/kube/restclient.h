#pragma once

// The asynchronous Kubernetes REST client. One RestClient per Connection,
// living on the thread that created it; every call returns at once and its
// result arrives later on that thread.
//
// Delivery convention (used by every method): the result is passed to a
// callback together with a context QObject. The callback runs on the
// client's thread, at most once, and never after the context has been
// destroyed (a null context means "always call"). Pending calls die with
// the client without calling back. Streams (watch, followed logs) return a
// StreamHandle: destroying or cancelling it stops the stream and its
// callbacks.

#include "core/kube/connection.h"
#include "core/kube/watchstream.h"
#include "core/util/result.h"

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QPair>
#include <QPointer>
#include <QString>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

class QNetworkAccessManager;
class QNetworkReply;
class QSslConfiguration;

namespace vigil::kube {

/// group/version/resource, plus whether it lives in namespaces.
struct ResourceType {
    QString group;    ///< empty for the core group
    QString version;  ///< "v1"
    QString resource; ///< plural: "pods"
    bool namespaced = true;

    /// "/api/v1" or "/apis/<group>/<version>".
    QString apiPrefix() const;
    QString groupVersion() const; ///< "v1", "apps/v1"

    static ResourceType pods();
    static ResourceType nodes();
    static ResourceType namespaces();
    static ResourceType events();   ///< core/v1 events
    static ResourceType eventsV1(); ///< events.k8s.io/v1 events
    static ResourceType deployments();
    static ResourceType replicaSets();
    static ResourceType statefulSets();
    static ResourceType daemonSets();
};

/// Where a request goes: a collection (no name) or one object, optionally a subresource.
struct ResourcePath {
    ResourceType type;
    QString namespaceName; ///< empty: all namespaces, or cluster-scoped
    QString name;
    QString subresource; ///< "status", "scale", "eviction", "log"

    /// The URL path below the server, e.g. "/api/v1/namespaces/default/pods/web/status".
    QString path() const;
};

using QueryItems = QList<QPair<QString, QString>>;

/// A raw request, for send().
struct Request {
    QByteArray verb = "GET";
    QString path; ///< below the server URL's own path
    QueryItems query;
    QByteArray body;
    QByteArray contentType; ///< sent when non-empty
    QByteArray accept = "application/json";
    int timeoutMs = -1; ///< -1: the client's default; 0: none
    /// May go over HTTP/2 (ALPN); false pins it to HTTP/1.1, on a connection of its own.
    bool http2 = true;
};

/// A raw response.
struct Response {
    int status = 0;
    QByteArray body;
    QList<QPair<QByteArray, QByteArray>> headers;
    bool http2 = false; ///< it came over HTTP/2 (negotiated by ALPN when the server offers it)
};

/// One page, or a whole list when paging was followed to its end.
struct ListResult {
    nlohmann::json items = nlohmann::json::array(); ///< empty when ListOptions::onPage took them
    QString resourceVersion;                        ///< the list's metadata.resourceVersion
    QString kind;                                   ///< "PodList", ...
    int pages = 0;
};

struct ListOptions {
    QString labelSelector;
    QString fieldSelector;
    int limit = 500;         ///< page size; 0 = no paging
    QString resourceVersion; ///< "" = most recent (quorum read)
    /// When set, each page's items go here instead of accumulating in ListResult.
    std::function<void(const nlohmann::json &items)> onPage;
    /// When set, each item goes here as soon as it is parsed, so a page is never held as a whole
    /// document (the item may be moved from). Takes precedence over onPage.
    std::function<void(nlohmann::json &item)> onItem;
    /// With onItem: leave metadata.managedFields out of the items (skipped while parsing).
    bool dropManagedFields = false;
};

/// Options of create/update/patch.
struct WriteOptions {
    bool dryRun = false;  ///< dryRun=All: validated and admitted, not persisted
    QString fieldManager; ///< sent when non-empty
};

enum class PatchType {
    Merge,          ///< application/merge-patch+json
    StrategicMerge, ///< application/strategic-merge-patch+json
    Json,           ///< application/json-patch+json
};

/// Server-side apply.
struct ApplyOptions {
    bool force = false;
    bool dryRun = false;
    QString fieldManager = QStringLiteral("vigil");
};

/// Delete and eviction options; preconditions guard against acting on a replaced object.
struct DeleteOptions {
    QString uid;                 ///< precondition: only if the object still has this UID
    QString resourceVersion;     ///< precondition: only if unchanged since
    QString propagationPolicy;   ///< Foreground | Background | Orphan; empty = server default
    int gracePeriodSeconds = -1; ///< -1 = object default
    bool dryRun = false;
};

struct LogOptions {
    QString container;
    int tailLines = -1;    ///< -1 = all
    bool previous = false; ///< the previous (crashed) instance
    bool timestamps = false;
    int64_t limitBytes = -1;
    int sinceSeconds = -1;
};

struct WatchOptions {
    QString resourceVersion;
    QString labelSelector;
    QString fieldSelector;
    int timeoutSeconds = 0; ///< server-side timeout; 0 = server default
    bool allowBookmarks = true;
    /// Streaming list: sendInitialEvents=true&resourceVersionMatch=NotOlderThan.
    bool sendInitialEvents = false;
    /// Leave metadata.managedFields out of the events' objects (skipped while parsing).
    bool dropManagedFields = false;
    /// Hold the server back while the consumer falls behind: the watch goes over HTTP/1.1, where
    /// RestClientOptions::streamReadBufferBytes stops Qt reading the socket. Qt 6.4's HTTP/2 grants
    /// the server more window for every DATA frame as it arrives, read or not, so a streaming list
    /// that outruns its decoder piles up in memory. Takes one of Qt's six HTTP/1.1 connections per
    /// host while it lasts: for a streaming list, not for a long watch.
    bool paced = false;
};

struct RestClientOptions {
    double qps = 5.0; ///< client-side rate limit (client-go's default); <= 0 disables
    int burst = 10;
    int timeoutMs = 30000; ///< per request, not for streams
    int maxRetries = 3;    ///< 429/503 with Retry-After
    int maxRetryAfterMs = 60000;
    /// Bytes a watch/stream reply may hold unread before Qt stops reading its socket (back-pressure
    /// when the consumer falls behind a streaming list); 0 = unbounded. Only over HTTP/1.1
    /// (WatchOptions::paced, Request::http2 = false): Qt 6.4's HTTP/2 keeps receiving regardless.
    qint64 streamReadBufferBytes = 1024 * 1024;
    std::function<int64_t()> clockMs; ///< monotonic milliseconds; null = steady clock
};

/// client-go's token bucket: refills at qps up to burst; reserve() takes a
/// token and says how long to wait for it.
class TokenBucket final {
public:
    TokenBucket(double qps, int burst);
    /// Takes one token at nowMs (monotonic) and returns the wait in ms (0 = go now).
    int64_t reserve(int64_t nowMs);

private:
    double m_qps;
    double m_burst;
    double m_tokens;
    int64_t m_lastMs = -1;
};

class RestClient;

/// Owns a running stream; destroying it cancels the stream (no more callbacks).
class StreamHandle final {
public:
    StreamHandle() = default;
    StreamHandle(RestClient *client, uint64_t id);
    ~StreamHandle();
    StreamHandle(StreamHandle &&other) noexcept;
    StreamHandle &operator=(StreamHandle &&other) noexcept;
    StreamHandle(const StreamHandle &) = delete;
    StreamHandle &operator=(const StreamHandle &) = delete;

    bool active() const;
    void cancel();

private:
    QPointer<RestClient> m_client;
    uint64_t m_id = 0;
};

/// See the file comment for how results are delivered.
class RestClient final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RestClient)

public:
    using ResponseCallback = std::function<void(Result<Response>)>;
    using JsonCallback = std::function<void(Result<nlohmann::json>)>;
    using ListCallback = std::function<void(Result<ListResult>)>;
    using TextCallback = std::function<void(Result<QByteArray>)>;
    using EventsCallback = std::function<void(const QList<WatchEvent> &events)>;
    using DataCallback = std::function<void(const QByteArray &data)>;
    /// A stream ended: ok when the server closed it cleanly.
    using ClosedCallback = std::function<void(Result<void>)>;

    explicit RestClient(Connection connection, RestClientOptions options = {}, QObject *parent = nullptr);
    ~RestClient() override;

    const Connection &connection() const { return m_connection; }

    /// Any request; the response is an error for non-2xx statuses (Status decoded). A request that
    /// changes state (any verb but GET, HEAD, OPTIONS) reaches the server at most once: when the
    /// connection closes after it was sent and before the response, it fails instead of being
    /// sent again (it may or may not have been applied).
    void send(const Request &request, QObject *context, ResponseCallback callback);

    void get(const ResourcePath &path, QObject *context, JsonCallback callback, const QueryItems &query = {});
    /// Follows continue tokens until the list is complete.
    void list(const ResourcePath &path, const ListOptions &options, QObject *context, ListCallback callback);
    void create(const ResourcePath &path, const nlohmann::json &object, const WriteOptions &options,
                QObject *context, JsonCallback callback);
    /// PUT: replaces the object (or subresource such as status or scale).
    void update(const ResourcePath &path, const nlohmann::json &object, const WriteOptions &options,
                QObject *context, JsonCallback callback);
    void patch(const ResourcePath &path, PatchType type, const QByteArray &patch, const WriteOptions &options,
               QObject *context, JsonCallback callback);
    /// Server-side apply of a YAML or JSON manifest.
    void apply(const ResourcePath &path, const QByteArray &manifest, const ApplyOptions &options,
               QObject *context, JsonCallback callback);
    void remove(const ResourcePath &path, const DeleteOptions &options, QObject *context,
                JsonCallback callback);
    /// POST pods/<name>/eviction (policy/v1): honours PodDisruptionBudgets.
    void evict(const QString &namespaceName, const QString &pod, const DeleteOptions &options,
               QObject *context, JsonCallback callback);
    /// GET pods/<name>/log as text.
    void logs(const QString &namespaceName, const QString &pod, const LogOptions &options, QObject *context,
              TextCallback callback);

    /// A watch: decoded events as they arrive, then closed once. Not rate limited, no timeout.
    StreamHandle watch(const ResourcePath &path, const WatchOptions &options, QObject *context,
                       EventsCallback onEvents, ClosedCallback onClosed);
    /// Any long-lived response body (e.g. logs with follow=true), delivered as it arrives.
    StreamHandle stream(const Request &request, QObject *context, DataCallback onData,
                        ClosedCallback onClosed);

    /// Aborts every request in flight (each reports an error) and makes later requests open fresh
    /// connections. For a connection found dead without the TCP stack noticing (a half-open path):
    /// HTTP/2 multiplexes every request over one connection, so a retry alone would land on it again.
    void dropConnections();

    /// "<verb> <path>: <code> <reason>: <message>" from a response, Status decoded when present.
    static Error statusError(const QByteArray &verb, const QString &path, int status,
                             const QByteArray &reasonPhrase, const QByteArray &body);

private:
    struct Call;
    friend class StreamHandle;

    uint64_t start(std::shared_ptr<Call> call);
    void dispatch(uint64_t id);
    void onReadyRead(uint64_t id);
    void onFinished(uint64_t id);
    void finish(uint64_t id, Result<Response> result);
    void cancel(uint64_t id);
    bool isActive(uint64_t id) const;
    void sendJson(Request request, QObject *context, JsonCallback callback);
    void listPage(const ResourcePath &path, const ListOptions &options, const QString &continueToken,
                  std::shared_ptr<ListResult> acc, QObject *context, ListCallback callback);
    void listPageByItem(const ResourcePath &path, const ListOptions &options, QueryItems query,
                        std::shared_ptr<ListResult> acc, QObject *context, ListCallback callback);
    int64_t nowMs() const;
    QNetworkAccessManager *makeNetworkManager();

    Connection m_connection;
    RestClientOptions m_options;
    TokenBucket m_bucket;
    QNetworkAccessManager *m_nam; // child
    std::map<uint64_t, std::shared_ptr<Call>> m_calls;
    uint64_t m_nextId = 1;
};

} // namespace vigil::kube
