#pragma once

// Recorder: records the incidents open on one pod, live. It reads the pods
// and events of the pod's namespace (so replicas group as the agent groups
// them) and the pod's node, runs detection and grouping, and has the
// pipeline's Diagnoser fetch, gather and redact each incident's evidence —
// the same path `vigilctl diagnose` takes — with a rules-only Router, so
// recording never sends anything to a model. Asynchronous; never blocks.

#include "core/pipeline/diagnoser.h"
#include "core/reason/prompts.h"
#include "core/replay/incidentrecord.h"
#include "core/util/result.h"

#include <QObject>
#include <QPointer>

#include <functional>
#include <memory>

namespace vigil::kube {
class RestClient;
}
namespace vigil::gather {
class GatherFetcher;
}
namespace vigil::reason {
class Router;
}

namespace vigil::replay {

class Recorder final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Recorder)

public:
    using Callback = std::function<void(Result<QList<IncidentRecord>>)>;

    /// client is not owned and must outlive the recorder (and live on its thread).
    Recorder(kube::RestClient *client, reason::PromptSet prompts, QObject *parent = nullptr);
    ~Recorder() override;

    /// Records every incident open on the pod: its node's first (the root
    /// cause), then the pod's own. An error when the pod cannot be read, when
    /// it has no incident, or when another record() is still running. The
    /// callback runs once, later, never after `context` is destroyed (null: always).
    void record(const QString &namespaceName, const QString &podName, QObject *context, Callback callback);

private:
    struct Job;
    void readPods(const std::shared_ptr<Job> &job);
    void readEvents(const std::shared_ptr<Job> &job, const QString &node);
    void observe(const std::shared_ptr<Job> &job);
    void finish(const std::shared_ptr<Job> &job, Result<QList<IncidentRecord>> result);
    void onDiagnosed(const pipeline::Incident &incident, const gather::Evidence &evidence);
    void onFailed(const pipeline::Incident &incident, const QString &error);
    void settle(const std::shared_ptr<Job> &job);

    kube::RestClient *m_client;
    std::unique_ptr<gather::GatherFetcher> m_fetcher;
    std::unique_ptr<reason::Router> m_router;
    std::shared_ptr<Job> m_job;
};

} // namespace vigil::replay
