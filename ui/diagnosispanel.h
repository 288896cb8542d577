#pragma once

#include "core/guard/guardrails.h"
#include "core/reason/diagnosis.h"

#include <QDateTime>
#include <QStringList>
#include <QTimer>
#include <QWidget>

class QFormLayout;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QTabWidget;

namespace vigil::ui {

/// What the panel shows: plain values, no pipeline objects.
struct DiagnosisPanelData {
    QString title;    ///< "CrashLoopBackOff · Deployment/web"
    QString subtitle; ///< "demo · 3 pods · first seen 5m ago"
    bool hasDiagnosis = false;
    Diagnosis diagnosis;
    bool hasVerdict = false;
    guard::Verdict verdict;
    QString evidenceText; ///< exactly what was (or would be) sent
    QStringList evidenceCut;
    int evidenceTokens = 0;
    QString dryRunPreview; ///< empty: "no preview yet"
    QString error;         ///< why there is no diagnosis
    bool undoAvailable = false;
    QString pendingWith; ///< the model a pending diagnosis waits for ("openai/gpt-4o"); empty: gathering
};

/// Shows one incident's diagnosis and verdict, and turns clicks into intents.
/// It never acts itself: whoever owns the pipeline connects the *Requested
/// signals and reports progress back through setState().
class DiagnosisPanel final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DiagnosisPanel)

public:
    enum class State {
        Empty,     ///< nothing selected
        Pending,   ///< a reasoner is working (elapsed time, Cancel)
        Proposed,  ///< diagnosis and verdict ready: approve or reject
        Executing, ///< approved; the executor is running and verifying
        Executed,  ///< done and verified (outcome text)
        Failed,    ///< reasoning or execution failed (outcome text)
        Rejected,  ///< a person rejected it
    };
    Q_ENUM(State)

    explicit DiagnosisPanel(QWidget *parent = nullptr);

    void setData(const DiagnosisPanelData &data);
    /// outcome: the verified result or the failure, one sentence.
    void setState(State state, const QString &outcome = QString());
    /// Suggest-only (or read-only): the execute button is not offered.
    void setSuggestOnly(bool on);
    /// When the in-flight call began (for the elapsed time); default: now.
    void setPendingSince(const QDateTime &since);
    void clear();

    State state() const { return m_state; }
    /// The elapsed text shown while Pending, e.g. "Diagnosing… 12 s" or "Asking openai/gpt-4o… 12 s".
    QString pendingText() const;

Q_SIGNALS:
    void approveRequested();
    void rejectRequested(const QString &reason);
    void rediagnoseRequested();
    void undoRequested();
    void cancelRequested();

private:
    void updateButtons();
    void updatePending();
    void showRejectReason(bool on);

    DiagnosisPanelData m_data;
    State m_state = State::Empty;
    bool m_suggestOnly = false;
    QDateTime m_pendingSince;
    QTimer m_elapsedTimer;

    QLabel *m_title;
    QLabel *m_subtitle;
    QLabel *m_stateBadge;
    QLabel *m_diagnosis;
    QProgressBar *m_confidence;
    QLabel *m_action;
    QLabel *m_parameters;
    QLabel *m_reasoning;
    QLabel *m_verdict;
    QLabel *m_source;
    QLabel *m_cost;
    QLabel *m_outcome;
    QTabWidget *m_tabs;
    QPlainTextEdit *m_context;
    QPlainTextEdit *m_preview;
    QWidget *m_pendingRow;
    QLabel *m_pendingLabel;
    QPushButton *m_cancel;
    QPushButton *m_approve;
    QPushButton *m_reject;
    QPushButton *m_rediagnose;
    QPushButton *m_undo;
    QWidget *m_rejectRow;
    QLineEdit *m_rejectReason;
    QPushButton *m_confirmReject;
    QWidget *m_body;
    QLabel *m_placeholder;
};

} // namespace vigil::ui
