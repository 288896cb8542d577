#include "ui/eventtablemodel.h"

#include "ui/podtablemodel.h"

#include <algorithm>

namespace vigil::ui {

EventTableModel::EventTableModel(QObject *parent, int capacity, Clock clock)
    : QAbstractTableModel(parent)
    , m_capacity(std::max(1, capacity))
    , m_clock(clock ? std::move(clock) : Clock([] { return QDateTime::currentDateTimeUtc(); }))
{
}

int EventTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_events.size());
}

int EventTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant EventTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case LastSeen:
        return tr("Last seen");
    case Namespace:
        return tr("Namespace");
    case Object:
        return tr("Object");
    case Reason:
        return tr("Reason");
    case Message:
        return tr("Message");
    case Count:
        return tr("Count");
    default:
        return {};
    }
}

QVariant EventTableModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const kube::EventView &e = m_events[size_t(index.row())];
    const int column = index.column();
    if (role == SortRole) {
        if (column == LastSeen)
            return e.lastSeen.toMSecsSinceEpoch();
        if (column == Count)
            return e.count;
    }
    if (role == Qt::ToolTipRole && column == Message)
        return e.message;
    if (role == Qt::TextAlignmentRole && column == Count)
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole && role != SortRole)
        return {};
    switch (column) {
    case LastSeen:
        return e.lastSeen.isValid() ? PodTableModel::formatAge(e.lastSeen.secsTo(m_clock())) : QString();
    case Namespace:
        return e.namespaceName;
    case Object:
        return QString(e.involved.kind.toLower() + u'/' + e.involved.name);
    case Reason:
        return e.reason;
    case Message:
        return e.message.simplified();
    case Count:
        return e.count;
    default:
        return {};
    }
}

void EventTableModel::addEvents(const QList<kube::EventView> &events)
{
    QList<kube::EventView> fresh;
    QHash<QString, qsizetype> freshAt;
    std::vector<int> changed;
    for (const kube::EventView &e : events) {
        if (const auto it = m_rowByUid.constFind(e.uid); it != m_rowByUid.cend()) {
            m_events[size_t(*it)] = e;
            changed.push_back(*it);
        } else if (const auto f = freshAt.constFind(e.uid); f != freshAt.cend()) {
            fresh[*f] = e;
        } else {
            freshAt.insert(e.uid, fresh.size());
            fresh << e;
        }
    }
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    for (size_t i = 0; i < changed.size();) {
        size_t j = i;
        while (j + 1 < changed.size() && changed[j + 1] == changed[j] + 1)
            ++j;
        Q_EMIT dataChanged(index(changed[i], 0), index(changed[j], ColumnCount - 1));
        i = j + 1;
    }
    if (fresh.isEmpty())
        return;
    // Newest at the top; a batch larger than the capacity keeps its newest part.
    std::stable_sort(fresh.begin(), fresh.end(), [](const kube::EventView &a, const kube::EventView &b) {
        return a.lastSeen > b.lastSeen;
    });
    if (fresh.size() > m_capacity)
        fresh.resize(m_capacity);
    const int n = int(fresh.size());
    beginInsertRows({}, 0, n - 1);
    m_events.insert(m_events.begin(), fresh.cbegin(), fresh.cend());
    endInsertRows();
    if (int(m_events.size()) > m_capacity) {
        beginRemoveRows({}, m_capacity, int(m_events.size()) - 1);
        m_events.resize(size_t(m_capacity));
        endRemoveRows();
    }
    reindex();
}

void EventTableModel::clear()
{
    beginResetModel();
    m_events.clear();
    m_rowByUid.clear();
    endResetModel();
}

const kube::EventView *EventTableModel::event(int row) const
{
    return row >= 0 && size_t(row) < m_events.size() ? &m_events[size_t(row)] : nullptr;
}

void EventTableModel::reindex()
{
    m_rowByUid.clear();
    for (size_t i = 0; i < m_events.size(); ++i)
        m_rowByUid.insert(m_events[i].uid, int(i));
}

} // namespace vigil::ui
