#pragma once

#include "core/kube/objects.h"

#include <QAbstractTableModel>
#include <QDateTime>
#include <QHash>

#include <functional>
#include <vector>

namespace vigil::ui {

/// CPU and memory in use by one pod, from metrics.k8s.io.
struct PodUsage {
    int64_t cpuMilli = -1;
    int64_t memoryBytes = -1;
};

/// The live pod table. Rows have no meaningful order (the proxy sorts);
/// changes arrive in batches and are applied with one insert, one
/// dataChanged per contiguous range and one remove per contiguous range.
class PodTableModel final : public QAbstractTableModel {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PodTableModel)

public:
    enum Column { Namespace, Name, Ready, Status, Restarts, Age, Node, Owner, Cpu, Memory, ColumnCount };
    enum Role {
        SortRole = Qt::UserRole + 1, ///< numbers for numeric columns, text otherwise
        UnhealthyRole,               ///< bool
        UidRole,                     ///< QString
    };

    using Clock = std::function<QDateTime()>;

    explicit PodTableModel(QObject *parent = nullptr, Clock clock = {});

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    /// Replaces everything (initial sync, context switch).
    void resetPods(const QList<kube::PodView> &pods);
    /// One batch: pods added or modified (matched by UID) and UIDs deleted.
    void applyChanges(const QList<kube::PodView> &upserts, const QStringList &deletedUids);
    /// Usage keyed by "namespace/name"; pods missing from the map show no numbers.
    void setUsage(const QHash<QString, PodUsage> &usage);
    /// Ages are relative; call about once every few seconds to refresh the column.
    void refreshAges();

    const kube::PodView *pod(int row) const;
    int rowOfUid(const QString &uid) const;

    /// The table's notion of a pod that needs a person's attention.
    static bool isUnhealthy(const kube::PodView &pod, const QDateTime &now);
    /// kubectl's AGE format: 45s, 12m, 5h, 3d, 2y.
    static QString formatAge(qint64 seconds);

private:
    QVariant display(const kube::PodView &pod, int column) const;
    QVariant sortValue(const kube::PodView &pod, int column) const;
    void emitRowRanges(std::vector<int> rows, int firstColumn, int lastColumn);

    std::vector<kube::PodView> m_pods;
    QHash<QString, int> m_rowByUid;
    QHash<QString, PodUsage> m_usage;
    Clock m_clock;
};

} // namespace vigil::ui
