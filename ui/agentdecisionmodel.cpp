#include "ui/agentdecisionmodel.h"

#include "ui/podtablemodel.h"

#include <QBrush>
#include <QColor>
#include <QFont>
#include <QGuiApplication>
#include <QPalette>

#include <algorithm>

namespace vigil::ui {

AgentDecisionModel::AgentDecisionModel(QObject *parent, Clock clock)
    : QAbstractTableModel(parent)
    , m_clock(clock ? std::move(clock) : Clock([] { return QDateTime::currentDateTimeUtc(); }))
{
}

int AgentDecisionModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int AgentDecisionModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant AgentDecisionModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Namespace:
        return tr("Namespace");
    case Name:
        return tr("Name");
    case Action:
        return tr("Action");
    case Target:
        return tr("Target");
    case Confidence:
        return tr("Confidence");
    case Phase:
        return tr("Phase");
    case Review:
        return tr("Review");
    case Age:
        return tr("Age");
    default:
        return {};
    }
}

QString AgentDecisionModel::reviewText(const pipeline::AgentDecisionInfo &d)
{
    if (d.rejected) {
        // spec.rejected set by kubectl names its field manager, not a person.
        const QLatin1String byManager("field-manager:");
        QString who = d.rejectedBy;
        if (who.startsWith(byManager)) {
            who = who.mid(byManager.size());
            who = who == u"unknown" ? QString() : tr("%1 (field manager)").arg(who);
        }
        if (who.isEmpty())
            return d.rejectReason.isEmpty() ? tr("rejected") : tr("rejected: %1").arg(d.rejectReason);
        return d.rejectReason.isEmpty() ? tr("rejected by %1").arg(who)
                                        : tr("rejected by %1: %2").arg(who, d.rejectReason);
    }
    if (d.approved)
        return d.approvedBy.isEmpty() ? tr("approved") : tr("approved by %1").arg(d.approvedBy);
    if (d.awaitingDecision())
        return tr("awaiting approval");
    return tr("not approved");
}

QVariant AgentDecisionModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const pipeline::AgentDecisionInfo &d = m_rows[size_t(index.row())];
    switch (role) {
    case UidRole:
        return d.uid;
    case AwaitingRole:
        return d.awaitingDecision();
    case SortRole:
        if (index.column() == Age)
            return d.created.toMSecsSinceEpoch();
        if (index.column() == Confidence)
            return d.confidence;
        return data(index, Qt::DisplayRole);
    case Qt::FontRole:
        if (index.column() == Review && d.awaitingDecision()) {
            QFont bold;
            bold.setBold(true);
            return bold;
        }
        return {};
    case Qt::ForegroundRole:
        if (index.column() == Phase && (d.phase == u"failed" || d.phase == u"verify-failed")) {
            const bool dark = QGuiApplication::palette().color(QPalette::Base).lightness() < 128;
            return QBrush(dark ? QColor(0xff, 0x7b, 0x72) : QColor(0xb3, 0x1d, 0x28));
        }
        return {};
    case Qt::TextAlignmentRole:
        if (index.column() == Confidence)
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case Qt::ToolTipRole:
        return d.diagnosis;
    case Qt::DisplayRole:
        switch (index.column()) {
        case Namespace:
            return d.namespaceName;
        case Name:
            return d.name;
        case Action:
            return d.action;
        case Target:
            return d.target;
        case Confidence:
            return QStringLiteral("%1 %").arg(qRound(d.confidence * 100.0));
        case Phase:
            return d.phase.isEmpty() ? tr("(none)") : d.phase;
        case Review:
            return reviewText(d);
        case Age:
            return d.created.isValid() ? PodTableModel::formatAge(d.created.secsTo(m_clock())) : QString();
        default:
            return {};
        }
    default:
        return {};
    }
}

void AgentDecisionModel::reindex()
{
    m_rowByUid.clear();
    for (size_t row = 0; row < m_rows.size(); ++row)
        m_rowByUid.insert(m_rows[row].uid, int(row));
}

void AgentDecisionModel::apply(const pipeline::AgentDecisionBatch &batch)
{
    if (batch.resynced) {
        beginResetModel();
        m_rows.assign(batch.upserted.cbegin(), batch.upserted.cend());
        reindex();
        endResetModel();
        return;
    }
    // Removals first, from the bottom, one contiguous range at a time.
    std::vector<int> gone;
    for (const QString &uid : batch.deletedUids) {
        if (const auto it = m_rowByUid.constFind(uid); it != m_rowByUid.cend())
            gone.push_back(*it);
    }
    std::sort(gone.begin(), gone.end());
    gone.erase(std::unique(gone.begin(), gone.end()), gone.end());
    for (size_t b = gone.size(); b > 0;) {
        size_t a = b - 1;
        while (a > 0 && gone[a - 1] == gone[a] - 1)
            --a;
        beginRemoveRows({}, gone[a], gone[b - 1]);
        m_rows.erase(m_rows.begin() + gone[a], m_rows.begin() + gone[b - 1] + 1);
        endRemoveRows();
        b = a;
    }
    if (!gone.empty())
        reindex();

    std::vector<int> changed;
    std::vector<pipeline::AgentDecisionInfo> fresh;
    QHash<QString, size_t> freshAt;
    for (const pipeline::AgentDecisionInfo &d : batch.upserted) {
        if (const auto it = m_rowByUid.constFind(d.uid); it != m_rowByUid.cend()) {
            m_rows[size_t(*it)] = d;
            changed.push_back(*it);
        } else if (const auto f = freshAt.constFind(d.uid); f != freshAt.cend()) {
            fresh[*f] = d;
        } else {
            freshAt.insert(d.uid, fresh.size());
            fresh.push_back(d);
        }
    }
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    for (size_t a = 0; a < changed.size();) {
        size_t b = a;
        while (b + 1 < changed.size() && changed[b + 1] == changed[b] + 1)
            ++b;
        Q_EMIT dataChanged(index(changed[a], 0), index(changed[b], ColumnCount - 1));
        a = b + 1;
    }
    if (fresh.empty())
        return;
    const int first = int(m_rows.size());
    beginInsertRows({}, first, first + int(fresh.size()) - 1);
    m_rows.insert(m_rows.end(), fresh.cbegin(), fresh.cend());
    reindex();
    endInsertRows();
}

void AgentDecisionModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_rowByUid.clear();
    endResetModel();
}

const pipeline::AgentDecisionInfo *AgentDecisionModel::decision(int row) const
{
    return row >= 0 && size_t(row) < m_rows.size() ? &m_rows[size_t(row)] : nullptr;
}

int AgentDecisionModel::rowOfUid(const QString &uid) const
{
    return m_rowByUid.value(uid, -1);
}

} // namespace vigil::ui
