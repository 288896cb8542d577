#pragma once

#include "core/kube/objects.h"

#include <QAbstractTableModel>
#include <QDateTime>
#include <QHash>

#include <functional>
#include <vector>

namespace vigil::ui {

/// Warning events, newest first, capped. Batches insert once at the top and
/// update existing rows (same UID) in place.
class EventTableModel final : public QAbstractTableModel {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(EventTableModel)

public:
    enum Column { LastSeen, Namespace, Object, Reason, Message, Count, ColumnCount };
    enum Role { SortRole = Qt::UserRole + 1 };
    using Clock = std::function<QDateTime()>;

    explicit EventTableModel(QObject *parent = nullptr, int capacity = 1000, Clock clock = {});

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    void addEvents(const QList<kube::EventView> &events);
    void clear();
    const kube::EventView *event(int row) const;

private:
    void reindex();

    std::vector<kube::EventView> m_events; // newest first
    QHash<QString, int> m_rowByUid;
    int m_capacity;
    Clock m_clock;
};

} // namespace vigil::ui
