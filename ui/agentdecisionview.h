#pragma once

#include "core/pipeline/clustersession.h"

#include <QWidget>

class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;
class QTextBrowser;

namespace vigil::ui {

class AgentDecisionModel;

/// The in-cluster agent's AgentDecisions: what it proposes, what it did
/// (phase and status conditions), and Approve / Reject for a person. It only
/// emits intents; whoever owns the session carries them out and reports back
/// through setActed().
class AgentDecisionView final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AgentDecisionView)

public:
    explicit AgentDecisionView(QWidget *parent = nullptr);

    /// Whether the cluster has the CRD (and lets us list it); why not, in one sentence.
    void setAvailability(bool available, const QString &why);
    void apply(const pipeline::AgentDecisionBatch &batch);
    void clear();
    /// The result of an approve or reject, shown under the buttons.
    void setActed(const QString &namespaceName, const QString &name, bool ok, const QString &message);
    /// Approve and reject are not offered (read-only / suggest-only).
    void setReadOnly(bool on);
    /// Whether this desktop's own decisions are mirrored as AgentDecisions, or why not
    /// (ClusterSession::decisionsMirrored); shown as one sentence above the table.
    void setMirrorState(bool mirrored, const QString &message);

    AgentDecisionModel *model() const { return m_model; }
    QTableView *view() const { return m_view; }
    /// Selects the decision with this uid; false when it is not listed.
    bool select(const QString &uid);
    QString detailsText() const;
    QString statusText() const;
    /// The mirror sentence; empty until setMirrorState() and after clear().
    QString mirrorText() const;

Q_SIGNALS:
    void approveRequested(const QString &namespaceName, const QString &name);
    void rejectRequested(const QString &namespaceName, const QString &name, const QString &reason);

private:
    const pipeline::AgentDecisionInfo *current() const;
    void updateDetails();

    AgentDecisionModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QTableView *m_view;
    QTextBrowser *m_details;
    QLabel *m_status;
    QLabel *m_mirror;
    QLineEdit *m_rejectReason;
    QPushButton *m_approve;
    QPushButton *m_reject;
    bool m_readOnly = false;
    QString m_currentUid;
};

} // namespace vigil::ui
