#pragma once

// Diagnoser: the gather → reason half of one incident's walk, wired:
// Detector → IncidentGrouper → GatherFetcher → Gatherer (+ one Redactor per
// incident) → Router. Meant to live on the pipeline worker thread (move it
// there with its fetcher, router and RestClient, or create them there); it
// never blocks: fetching and model calls are asynchronous and results arrive
// as signals. Cross-thread listeners get queued copies.

#include "core/gather/evidence.h"
#include "core/gather/gatherer.h"
#include "core/pipeline/detector.h"
#include "core/pipeline/incidentgrouper.h"
#include "core/reason/diagnosis.h"
#include "core/reason/router.h"

#include <QMetaType>
#include <QObject>

namespace vigil::gather {
class GatherFetcher;
}
namespace vigil::pipeline {

struct DiagnoserOptions {
    int promptTokenBudget = 3000; ///< system + user prompt + reply schema, estimated
    gather::GatherOptions gather; ///< tokenBudget is derived from promptTokenBudget
    gather::RedactorOptions redactor;
    DetectorOptions detector;
    IncidentGrouperOptions grouper;
    bool autoDiagnose = true; ///< diagnose every newly opened incident as it is observed
};

class Diagnoser final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Diagnoser)

public:
    using Options = DiagnoserOptions;

    /// fetcher and router are not owned and must live on this object's thread.
    Diagnoser(gather::GatherFetcher *fetcher, reason::Router *router, Options options = Options{},
              QObject *parent = nullptr);
    ~Diagnoser() override;

    /// Runs detection over fresh objects and groups the observations. Returns
    /// the incidents this call opened (each diagnosed at once when autoDiagnose).
    QList<Incident> observe(const QList<kube::PodView> &pods, const QList<kube::NodeView> &nodes,
                            const QList<kube::EventView> &events, const QDateTime &now);
    /// Open incidents (within the grouping window of `now`).
    QList<Incident> openIncidents(const QDateTime &now) const { return m_grouper.openIncidents(now); }

    /// Fetches, gathers, redacts and reasons about one incident; ends in
    /// exactly one diagnosed() or failed() for it. mode Strong: see Router.
    void diagnose(const Incident &incident, reason::RouteMode mode = reason::RouteMode::Auto);

    /// The evidence budget handed to the Gatherer, derived from the prompts.
    int evidenceTokenBudget() const { return m_evidenceBudget; }
    /// Incidents between diagnose() and their diagnosed()/failed().
    int inFlight() const { return m_inFlight; }

Q_SIGNALS:
    void diagnosed(const vigil::pipeline::Incident &incident, const vigil::gather::Evidence &evidence,
                   const vigil::Diagnosis &diagnosis);
    /// The incident's subject could not be read (e.g. the pod is gone).
    void failed(const vigil::pipeline::Incident &incident, const QString &error);

private:
    gather::GatherFetcher *m_fetcher;
    reason::Router *m_router;
    Options m_options;
    Detector m_detector;
    IncidentGrouper m_grouper;
    int m_evidenceBudget = 0;
    int m_inFlight = 0;
};

} // namespace vigil::pipeline

Q_DECLARE_METATYPE(vigil::pipeline::Incident)
Q_DECLARE_METATYPE(vigil::gather::Evidence)
Q_DECLARE_METATYPE(vigil::Diagnosis)
