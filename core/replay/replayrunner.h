#pragma once

// ReplayRunner: runs the reasoning half of the pipeline over a corpus of
// incident records — the Router (rules, a live model or recorded replies)
// and then the guardrails — one record at a time, and judges each answer
// (see score.h). It never touches a cluster and never executes anything.

#include "core/guard/policy.h"
#include "core/replay/incidentrecord.h"
#include "core/replay/replayprovider.h"
#include "core/replay/score.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>

namespace vigil::reason {
class Router;
}

namespace vigil::replay {

struct ReplayOptions {
    guard::Policy policy; ///< what the guardrails judge against (the built-in default unless given)
};

class ReplayRunner final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ReplayRunner)

public:
    /// router answers every record (not owned; rules only, or a live model stack).
    ReplayRunner(reason::Router *router, ReplayOptions options, QObject *parent = nullptr);
    ~ReplayRunner() override;

    /// Records with an entry in `replies` (by record id) are answered by
    /// `modelRouter`, whose strong tier is `provider`, serving those replies,
    /// with RouteMode::Strong (always asked; a valid reply wins over the
    /// rules'); the others by the main router. Neither is owned.
    void setRecordedReplies(reason::Router *modelRouter, ReplayProvider *provider,
                            QHash<QString, RecordedReplies> replies);

    /// Starts the replay; returns at once. recordDone() reports each record
    /// and finished() all of them, in corpus order, through the event loop.
    void run(const QList<CorpusEntry> &entries);
    bool isRunning() const { return m_running; }

Q_SIGNALS:
    void recordDone(const vigil::replay::RecordOutcome &outcome);
    void finished(const QList<vigil::replay::RecordOutcome> &outcomes);

private:
    void next();
    void onDiagnosed(const Diagnosis &diagnosis, bool recorded, int llmCallsBefore);

    reason::Router *m_router;
    reason::Router *m_modelRouter = nullptr;
    ReplayProvider *m_provider = nullptr;
    QHash<QString, RecordedReplies> m_replies;
    ReplayOptions m_options;
    QList<CorpusEntry> m_entries;
    QList<RecordOutcome> m_outcomes;
    qsizetype m_index = 0;
    QElapsedTimer m_timer;
    bool m_running = false;
};

} // namespace vigil::replay
