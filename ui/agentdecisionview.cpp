#include "ui/agentdecisionview.h"

#include "ui/agentdecisionmodel.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QTextBrowser>
#include <QVBoxLayout>

namespace vigil::ui {
namespace {

QString esc(const QString &s)
{
    return s.toHtmlEscaped();
}

} // namespace

AgentDecisionView::AgentDecisionView(QWidget *parent)
    : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    m_status = new QLabel(tr("Looking for AgentDecisions…"), this);
    m_status->setObjectName(QStringLiteral("agentDecisionStatus"));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_status);
    m_mirror = new QLabel(this);
    m_mirror->setObjectName(QStringLiteral("agentDecisionMirrorState"));
    m_mirror->setWordWrap(true);
    m_mirror->setTextFormat(Qt::PlainText);
    m_mirror->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_mirror->hide();
    layout->addWidget(m_mirror);

    m_model = new AgentDecisionModel(this);
    m_proxy = new QSortFilterProxyModel(this);
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(AgentDecisionModel::SortRole);
    m_proxy->setDynamicSortFilter(true);
    m_view = new QTableView(this);
    m_view->setObjectName(QStringLiteral("agentDecisionTable"));
    m_view->setModel(m_proxy);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_view->setAlternatingRowColors(true);
    m_view->setShowGrid(false);
    m_view->setWordWrap(false);
    m_view->setSortingEnabled(true);
    m_view->verticalHeader()->setVisible(false);
    m_view->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_view->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 8);
    m_view->horizontalHeader()->setStretchLastSection(true);
    m_view->sortByColumn(AgentDecisionModel::Age, Qt::DescendingOrder);
    const QList<int> widths{100, 250, 120, 240, 80, 90, 220, 60};
    for (int c = 0; c < widths.size(); ++c)
        m_view->setColumnWidth(c, widths[c]);

    m_details = new QTextBrowser(this);
    m_details->setObjectName(QStringLiteral("agentDecisionDetails"));
    m_details->setPlaceholderText(tr("Select a decision to see what the agent proposed and did."));
    auto *split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_view);
    split->addWidget(m_details);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    layout->addWidget(split, 1);

    auto *buttons = new QHBoxLayout;
    m_approve = new QPushButton(QIcon::fromTheme(QStringLiteral("dialog-ok-apply")), tr("&Approve"), this);
    m_approve->setObjectName(QStringLiteral("approveAgentDecision"));
    m_rejectReason = new QLineEdit(this);
    m_rejectReason->setObjectName(QStringLiteral("agentRejectReason"));
    m_rejectReason->setPlaceholderText(tr("Reason for rejecting (recorded on the object)"));
    m_reject = new QPushButton(QIcon::fromTheme(QStringLiteral("dialog-cancel")), tr("Re&ject"), this);
    m_reject->setObjectName(QStringLiteral("rejectAgentDecision"));
    buttons->addWidget(m_approve);
    buttons->addWidget(m_rejectReason, 1);
    buttons->addWidget(m_reject);
    layout->addLayout(buttons);

    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this] {
        const pipeline::AgentDecisionInfo *d = current();
        m_currentUid = d ? d->uid : QString();
        updateDetails();
    });
    // Rows change under the selection (the agent moves phases): keep the details current.
    connect(m_model, &QAbstractItemModel::dataChanged, this, &AgentDecisionView::updateDetails);
    connect(m_model, &QAbstractItemModel::modelReset, this, [this] {
        if (!m_currentUid.isEmpty())
            select(m_currentUid);
        updateDetails();
    });
    connect(m_rejectReason, &QLineEdit::textChanged, this, &AgentDecisionView::updateDetails);
    connect(m_approve, &QPushButton::clicked, this, [this] {
        if (const pipeline::AgentDecisionInfo *d = current(); d && d->awaitingDecision()) {
            m_approve->setEnabled(false);
            Q_EMIT approveRequested(d->namespaceName, d->name);
        }
    });
    connect(m_reject, &QPushButton::clicked, this, [this] {
        const QString reason = m_rejectReason->text().trimmed();
        if (const pipeline::AgentDecisionInfo *d = current();
            d && d->awaitingDecision() && !reason.isEmpty()) {
            m_reject->setEnabled(false);
            Q_EMIT rejectRequested(d->namespaceName, d->name, reason);
            m_rejectReason->clear();
        }
    });
    updateDetails();
}

void AgentDecisionView::setAvailability(bool available, const QString &why)
{
    m_status->setText(available ? tr("AgentDecisions in this cluster: approve or reject what the in-cluster "
                                     "agent proposes; the agent holding the lease executes approved ones.")
                                : why);
}

void AgentDecisionView::setMirrorState(bool mirrored, const QString &message)
{
    QString text;
    if (mirrored) {
        text = tr("This desktop's own decisions are mirrored into the cluster as AgentDecisions, so kubectl "
                  "and the in-cluster agent see them too.");
    } else {
        // The session's reason reads "not mirrored because …"; without one, say so plainly.
        QString why = message.trimmed();
        const QLatin1String lead("not mirrored because ");
        if (why.startsWith(lead))
            why = why.mid(lead.size());
        if (why.endsWith(u'.'))
            why.chop(1);
        text =
            why.isEmpty()
                ? tr("This desktop's own decisions are not mirrored into the cluster; they stay in the "
                     "decision store and audit log on this computer.")
                : tr("This desktop's own decisions are not mirrored into the cluster because %1. They stay "
                     "in the decision store and audit log on this computer.")
                      .arg(why);
    }
    m_mirror->setText(text);
    m_mirror->setToolTip(message);
    m_mirror->show();
}

QString AgentDecisionView::mirrorText() const
{
    return m_mirror->isHidden() ? QString() : m_mirror->text();
}

void AgentDecisionView::apply(const pipeline::AgentDecisionBatch &batch)
{
    m_model->apply(batch);
}

void AgentDecisionView::clear()
{
    m_model->clear();
    m_currentUid.clear();
    // The next session says again whether it mirrors.
    m_mirror->clear();
    m_mirror->hide();
    updateDetails();
}

void AgentDecisionView::setReadOnly(bool on)
{
    m_readOnly = on;
    m_approve->setVisible(!on);
    m_reject->setVisible(!on);
    m_rejectReason->setVisible(!on);
    updateDetails();
}

void AgentDecisionView::setActed(const QString &namespaceName, const QString &name, bool ok,
                                 const QString &message)
{
    Q_UNUSED(namespaceName);
    Q_UNUSED(name);
    m_status->setText(ok ? message
                         : QStringLiteral("<span style=\"color:#cf222e\">%1</span>").arg(esc(message)));
    updateDetails();
}

bool AgentDecisionView::select(const QString &uid)
{
    const int row = m_model->rowOfUid(uid);
    if (row < 0)
        return false;
    const QModelIndex idx = m_proxy->mapFromSource(m_model->index(row, 0));
    m_view->selectionModel()->setCurrentIndex(idx, QItemSelectionModel::ClearAndSelect |
                                                       QItemSelectionModel::Rows);
    return true;
}

const pipeline::AgentDecisionInfo *AgentDecisionView::current() const
{
    const QModelIndex idx = m_view->selectionModel()->currentIndex();
    if (!idx.isValid())
        return nullptr;
    return m_model->decision(m_proxy->mapToSource(idx).row());
}

QString AgentDecisionView::detailsText() const
{
    return m_details->toPlainText();
}

QString AgentDecisionView::statusText() const
{
    return m_status->text();
}

void AgentDecisionView::updateDetails()
{
    const pipeline::AgentDecisionInfo *d = current();
    const bool awaiting = d && d->awaitingDecision() && !m_readOnly;
    m_approve->setEnabled(awaiting);
    m_reject->setEnabled(awaiting && !m_rejectReason->text().trimmed().isEmpty());
    m_rejectReason->setEnabled(awaiting);
    if (!d) {
        m_details->clear();
        return;
    }
    QString html = QStringLiteral("<h3>%1 · %2</h3>").arg(esc(d->action), esc(d->target));
    html += QStringLiteral("<p><b>%1</b> %2<br><b>%3</b> %4 %<br><b>%5</b> %6</p>")
                .arg(tr("Diagnosis:"), esc(d->diagnosis), tr("Confidence:"))
                .arg(qRound(d->confidence * 100.0))
                .arg(tr("Review:"), esc(AgentDecisionModel::reviewText(*d)));
    if (!d->reasoning.isEmpty())
        html += QStringLiteral("<p><b>%1</b> %2</p>").arg(tr("Reasoning:"), esc(d->reasoning));
    if (!d->provider.isEmpty() || !d->model.isEmpty())
        html += QStringLiteral("<p><b>%1</b> %2 %3</p>").arg(tr("Source:"), esc(d->provider), esc(d->model));
    html += QStringLiteral("<p><b>%1</b> %2%3</p>")
                .arg(tr("What the agent did:"), esc(d->phase.isEmpty() ? tr("nothing yet") : d->phase),
                     d->executed ? tr(" (executed)") : QString());
    if (!d->conditions.isEmpty()) {
        html += QStringLiteral(
                    "<table cellspacing=\"0\" cellpadding=\"3\" border=\"1\"><tr><th>%1</th><th>%2</th>"
                    "<th>%3</th><th>%4</th><th>%5</th></tr>")
                    .arg(tr("Condition"), tr("Status"), tr("Reason"), tr("Message"), tr("Since"));
        for (const pipeline::AgentDecisionInfo::Condition &c : d->conditions)
            html +=
                QStringLiteral("<tr><td>%1</td><td>%2</td><td>%3</td><td>%4</td><td>%5</td></tr>")
                    .arg(esc(c.type), esc(c.status), esc(c.reason), esc(c.message),
                         esc(c.lastTransition.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"))));
        html += QStringLiteral("</table>");
    }
    html += QStringLiteral("<p style=\"color:gray\">%1/%2 · decision %3</p>")
                .arg(esc(d->namespaceName), esc(d->name), esc(d->decisionId));
    m_details->setHtml(html);
}

} // namespace vigil::ui
