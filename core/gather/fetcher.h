#pragma once

// GatherFetcher: the I/O half of gathering. For one incident subject it
// reads, over the REST client, everything the pure Gatherer needs: the pod,
// its events, the last log lines of the failing container (and of its
// previous instance), the owner chain, the node, metrics.k8s.io usage and the
// last rollout. Secret objects are never read. Every request has a timeout;
// a part that fails is noted, not fatal.

#include "core/gather/gatherer.h"
#include "core/util/result.h"

#include <QObject>
#include <QStringList>

#include <functional>

#include <nlohmann/json.hpp>

namespace vigil::kube {
class RestClient;
}

namespace vigil::gather {

struct FetchOptions {
    int timeoutMs = 10000; ///< per request
    int logLines = 50;     ///< tailLines for each log
    int maxEvents = 200;   ///< per events list request
};

/// What was fetched, ready for Gatherer::gather, plus notes: parts that could
/// not be read ("not gathered: ..."). appendNotes() renders them into the evidence.
struct FetchResult {
    GatherInput input;
    QStringList notes;
    QStringList requestPaths; ///< every request path sent, in order (for audit and tests)
};

/// A metrics.k8s.io/v1beta1 NodeMetrics document as NodeUsage; the error
/// says what is missing or malformed (usage.cpu, usage.memory).
Result<NodeUsage> projectNodeMetrics(const nlohmann::json &nodeMetrics);

/// Adds the fetch notes to rendered evidence (through `redactor`: they can
/// quote server messages) as a "## Gathering notes" section.
void appendNotes(Evidence *evidence, const QStringList &notes, Redactor &redactor);

/// Lives on the RestClient's thread; never blocks.
class GatherFetcher final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(GatherFetcher)

public:
    using Callback = std::function<void(Result<FetchResult>)>;
    using Options = FetchOptions;

    /// client is not owned and must outlive this fetcher.
    explicit GatherFetcher(kube::RestClient *client, Options options = Options{}, QObject *parent = nullptr);
    ~GatherFetcher() override;

    /// Fetches for a pod subject (subject.podName) or a node subject
    /// (subject.nodeName, no pod). The result is an Error only when the focus
    /// object itself cannot be read (e.g. the pod does not exist). The callback
    /// runs once, later, never after `context` is destroyed (null: always).
    void fetch(const IncidentSubject &subject, QObject *context, Callback callback);

    /// Every request path this fetcher has sent, in order.
    const QStringList &requestPaths() const { return m_paths; }

private:
    struct Job;
    using BodyCallback = std::function<void(Result<QByteArray>)>;

    void request(const std::shared_ptr<Job> &job, const QString &path,
                 const QList<QPair<QString, QString>> &query, BodyCallback callback);
    void onPod(const std::shared_ptr<Job> &job, const QByteArray &body);
    void fetchOwner(const std::shared_ptr<Job> &job, const QString &kind, const QString &name, int depth);
    void fetchRollout(const std::shared_ptr<Job> &job, const QString &deployment);
    void fetchNode(const std::shared_ptr<Job> &job, const QString &node);
    void fetchEvents(const std::shared_ptr<Job> &job, const QString &kind, const QString &name,
                     const QString &namespaceName);
    void fetchLogs(const std::shared_ptr<Job> &job, const QString &container, bool previous);
    void fetchPodMetrics(const std::shared_ptr<Job> &job);
    void done(const std::shared_ptr<Job> &job);

    kube::RestClient *m_client;
    Options m_options;
    QStringList m_paths;
};

} // namespace vigil::gather
