#include "core/pipeline/diagnoser.h"

#include "core/gather/fetcher.h"
#include "core/reason/router.h"

namespace vigil::pipeline {

Diagnoser::Diagnoser(gather::GatherFetcher *fetcher, reason::Router *router, Options options, QObject *parent)
    : QObject(parent)
    , m_fetcher(fetcher)
    , m_router(router)
    , m_options(options)
    , m_detector(options.detector)
    , m_grouper(options.grouper)
    , m_evidenceBudget(reason::evidenceTokenBudget(router->prompts(), options.promptTokenBudget))
{
    qRegisterMetaType<Incident>();
    qRegisterMetaType<gather::Evidence>();
    qRegisterMetaType<Diagnosis>();
}

Diagnoser::~Diagnoser() = default;

QList<Incident> Diagnoser::observe(const QList<kube::PodView> &pods, const QList<kube::NodeView> &nodes,
                                   const QList<kube::EventView> &events, const QDateTime &now)
{
    QList<Observation> observations;
    for (const kube::NodeView &n : nodes)
        observations += m_detector.detectNode(n, now);
    for (const kube::PodView &p : pods)
        observations += m_detector.detectPod(p, now);
    for (const kube::EventView &e : events)
        observations += m_detector.detectEvent(e, now);
    QList<Incident> opened;
    for (const Observation &o : observations) {
        const IncidentGrouper::AddResult r = m_grouper.add(o);
        if (r.opened)
            opened << r.incident;
    }
    // Report each opened incident as it stands after this whole batch (count, pods).
    const QList<Incident> open = m_grouper.openIncidents(now);
    for (Incident &i : opened) {
        for (const Incident &current : open) {
            if (current.fingerprint == i.fingerprint)
                i = current;
        }
        if (m_options.autoDiagnose)
            diagnose(i);
    }
    return opened;
}

void Diagnoser::diagnose(const Incident &incident, reason::RouteMode mode)
{
    ++m_inFlight;
    m_fetcher->fetch(toSubject(incident), this, [this, incident, mode](Result<gather::FetchResult> fetched) {
        if (!fetched) {
            --m_inFlight;
            Q_EMIT failed(incident, fetched.errorMessage());
            return;
        }
        // One redactor per incident: the same secret gets the same placeholder everywhere in it.
        gather::Redactor redactor(m_options.redactor);
        gather::GatherOptions options = m_options.gather;
        int notesTokens = 0;
        for (const QString &n : fetched->notes)
            notesTokens += gather::estimateTokens(n) + 1;
        options.tokenBudget = std::max(200, m_evidenceBudget - notesTokens - 8);
        gather::Evidence evidence = gather::Gatherer(options).gather(fetched->input, redactor);
        gather::appendNotes(&evidence, fetched->notes, redactor);
        m_router->diagnose(
            incident.fingerprint, evidence, this,
            [this, incident, evidence](const Diagnosis &diagnosis) {
                --m_inFlight;
                Q_EMIT diagnosed(incident, evidence, diagnosis);
            },
            mode);
    });
}

} // namespace vigil::pipeline
