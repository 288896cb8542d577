#pragma once

#include "core/kube/objects.h"

#include <QAbstractTableModel>
#include <QDateTime>
#include <QHash>
#include <QTimer>

#include <functional>
#include <vector>

namespace vigil::ui {

/// CPU and memory in use by one pod, from metrics.k8s.io.
struct PodUsage {
    int64_t cpuMilli = -1;
    int64_t memoryBytes = -1;

    bool operator==(const PodUsage &) const = default;
};

/// The live pod table. Rows have no meaningful order (the proxy sorts);
/// changes arrive in batches and are applied with one insert, one
/// dataChanged per contiguous range (one over the whole span when thousands
/// of scattered rows change at once) and one remove per contiguous range.
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
    /// Signals only the rows whose numbers changed. A large table is updated
    /// in slices of a few milliseconds over several event-loop turns, so a
    /// metrics poll of 50,000 pods never holds the GUI thread for a frame.
    void setUsage(const QHash<QString, PodUsage> &usage);
    /// Unhealthy pods (isUnhealthy) as of the last batch or refreshAges: kept as rows
    /// change, so a status line need not judge every row after every batch.
    int unhealthyCount() const { return m_unhealthyCount; }
    /// True while a setUsage pass is still spread over coming event-loop turns.
    bool usagePending() const { return m_usagePass; }
    /// Ages are relative; call about once every few seconds. Signals only the
    /// rows whose AGE text or startup grace changed since the previous call;
    /// age signals for a large table go out over a few event-loop turns.
    void refreshAges();
    /// True while refreshAges' signals are still being sent.
    bool agesPending() const { return !m_ageSpans.empty(); }

    const kube::PodView *pod(int row) const;
    int rowOfUid(const QString &uid) const;
    /// The row's STATUS text (PodView::displayStatus, computed once per change).
    QString status(int row) const;
    /// isUnhealthy for a row, without recomputing its status.
    bool isUnhealthy(int row, const QDateTime &now) const;
    /// Orders two rows by a column's raw value (numbers as numbers, names as
    /// Kubernetes spells them: ASCII, compared without case). Without
    /// QVariants: the proxy sorts 50,000 rows with it.
    bool lessThan(int leftRow, int rightRow, int column) const;

    /// The table's notion of a pod that needs a person's attention.
    static bool isUnhealthy(const kube::PodView &pod, const QDateTime &now);
    /// kubectl's AGE format: 45s, 12m, 5h, 3d, 2y.
    static QString formatAge(qint64 seconds);

private:
    // A pod and what the table derives from it, computed when it arrives rather than per paint or compare.
    struct Row {
        kube::PodView pod;
        QString status;
        int restarts = 0;
        int ready = 0;
        PodUsage usage;
        bool unhealthy = false; ///< as of when the row was made or refreshAges last re-judged it
    };

    Row makeRow(const kube::PodView &pod, const QDateTime &now) const;
    PodUsage usageOf(const kube::PodView &pod) const;
    static bool isUnhealthy(const kube::PodView &pod, const QString &status, const QDateTime &now);
    QVariant display(const Row &row, int column) const;
    QVariant sortValue(const Row &row, int column) const;
    void emitRowRanges(std::vector<int> rows, int firstColumn, int lastColumn, const QList<int> &roles = {});
    void continueUsage();
    void continueAges();

    std::vector<Row> m_rows;
    QHash<QString, int> m_rowByUid;
    QHash<QString, PodUsage> m_usage;
    int m_unhealthyCount = 0;
    bool m_usagePass = false; ///< a setUsage pass is spread over event-loop turns
    size_t m_usageCursor = 0; ///< the next row that pass visits
    QTimer m_usageSlice;
    Clock m_clock;
    QDateTime m_agesShownAt;                     ///< when refreshAges last brought the Age column up to date
    std::vector<std::pair<int, int>> m_ageSpans; ///< rows whose Age signal is still to be sent
    QTimer m_ageSlice;
};

} // namespace vigil::ui
