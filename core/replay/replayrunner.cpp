#include "core/replay/replayrunner.h"

#include "core/reason/router.h"

namespace vigil::replay {

ReplayRunner::ReplayRunner(reason::Router *router, ReplayOptions options, QObject *parent)
    : QObject(parent)
    , m_router(router)
    , m_options(std::move(options))
{
}

ReplayRunner::~ReplayRunner() = default;

void ReplayRunner::setRecordedReplies(reason::Router *modelRouter, ReplayProvider *provider,
                                      QHash<QString, RecordedReplies> replies)
{
    m_modelRouter = modelRouter;
    m_provider = provider;
    m_replies = std::move(replies);
}

void ReplayRunner::run(const QList<CorpusEntry> &entries)
{
    if (m_running)
        return;
    m_running = true;
    m_entries = entries;
    m_outcomes.clear();
    m_index = 0;
    QMetaObject::invokeMethod(this, &ReplayRunner::next, Qt::QueuedConnection);
}

void ReplayRunner::next()
{
    if (m_index >= m_entries.size()) {
        m_running = false;
        Q_EMIT finished(m_outcomes);
        return;
    }
    const CorpusEntry &entry = m_entries.at(m_index);
    const bool recorded = m_modelRouter && m_provider && m_replies.contains(entry.id);
    reason::Router *router = recorded ? m_modelRouter : m_router;
    if (recorded)
        m_provider->setReplies(entry.id, m_replies.value(entry.id));
    const int before = router->stats().llmCalls;
    m_timer.start();
    // A recorded reply is always asked for and, when valid, wins over the rules: each one is judged.
    router->diagnose(
        entry.record.fingerprint, entry.record.evidence, this,
        [this, recorded, before](const Diagnosis &d) { onDiagnosed(d, recorded, before); },
        recorded ? reason::RouteMode::Strong : reason::RouteMode::Auto);
}

void ReplayRunner::onDiagnosed(const Diagnosis &diagnosis, bool recorded, int llmCallsBefore)
{
    const qint64 elapsed = m_timer.elapsed();
    const CorpusEntry &entry = m_entries.at(m_index);
    reason::Router *router = recorded ? m_modelRouter : m_router;

    guard::Proposal proposal;
    proposal.diagnosis = diagnosis;
    // What the model wrote, so look-alike or mismatched action names are judged too.
    if (diagnosis.source.kind == DiagnosisSource::Llm)
        proposal.actionWireName = wireActionName(diagnosis.rawReply);
    proposal.target = entry.record.target;
    guard::GuardContext context;
    context.policy = m_options.policy;
    // The time of recording: cooldowns and the age of evidence read as they did then.
    context.now = entry.record.recordedAt;
    const guard::Verdict verdict = guard::evaluate(proposal, context);

    RecordOutcome outcome =
        judge(entry, diagnosis, verdict, recorded ? m_provider->served() : QStringList(), m_options.policy);
    outcome.llmCalls = router->stats().llmCalls - llmCallsBefore;
    outcome.elapsedMs = elapsed;
    m_outcomes << outcome;
    Q_EMIT recordDone(outcome);
    ++m_index;
    QMetaObject::invokeMethod(this, &ReplayRunner::next, Qt::QueuedConnection);
}

} // namespace vigil::replay
