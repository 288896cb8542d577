#include "ui/audittablemodel.h"

#include <QDateTime>

#include <algorithm>

namespace vigil::ui {

AuditTableModel::AuditTableModel(QObject *parent)
    : QAbstractTableModel(parent)
{
}

int AuditTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_events.size());
}

int AuditTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant AuditTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Time:
        return tr("Time");
    case Kind:
        return tr("Kind");
    case Actor:
        return tr("Actor");
    case Namespace:
        return tr("Namespace");
    case Target:
        return tr("Target");
    case Action:
        return tr("Action");
    case Outcome:
        return tr("Outcome");
    case Decision:
        return tr("Decision");
    default:
        return {};
    }
}

QVariant AuditTableModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const audit::AuditEvent &e = m_events[index.row()];
    if (role == IdRole)
        return e.id;
    if (role == SortRole && index.column() == Time)
        return e.tsMs;
    if (role != Qt::DisplayRole && role != SortRole && role != Qt::ToolTipRole)
        return {};
    switch (index.column()) {
    case Time:
        return QDateTime::fromMSecsSinceEpoch(e.tsMs, Qt::UTC)
            .toLocalTime()
            .toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
    case Kind:
        return e.kind;
    case Actor:
        return e.actor;
    case Namespace:
        return e.namespaceName;
    case Target:
        return e.target;
    case Action:
        return e.action;
    case Outcome:
        return e.outcome;
    case Decision:
        return e.decisionId;
    default:
        return {};
    }
}

void AuditTableModel::setEvents(const QList<audit::AuditEvent> &events)
{
    beginResetModel();
    m_events = events;
    std::reverse(m_events.begin(), m_events.end());
    endResetModel();
}

const audit::AuditEvent *AuditTableModel::event(int row) const
{
    return row >= 0 && row < m_events.size() ? &m_events[row] : nullptr;
}

QString AuditTableModel::details(const audit::AuditEvent &e)
{
    return QString::fromStdString(
        audit::toJson(e).dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
}

} // namespace vigil::ui
