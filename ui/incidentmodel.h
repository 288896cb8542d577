#pragma once

#include "core/pipeline/clustersession.h"

#include <QAbstractTableModel>
#include <QDateTime>
#include <QHash>

#include <functional>
#include <vector>

namespace vigil::ui {

/// Grouped incidents with their diagnosis and verdict, keyed by fingerprint.
/// New incidents are inserted at the top in one batch; known ones update in place.
class IncidentModel final : public QAbstractTableModel {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(IncidentModel)

public:
    enum Column { Reason, Workload, Namespace, Count, LastSeen, Proposal, ColumnCount };
    enum Role {
        SortRole = Qt::UserRole + 1,
        FingerprintRole, ///< QString
        BlockedRole,     ///< bool: the guardrails blocked the proposal
    };
    using Clock = std::function<QDateTime()>;

    explicit IncidentModel(QObject *parent = nullptr, Clock clock = {});

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    /// Returns the fingerprints that were new.
    QStringList upsert(const QList<pipeline::IncidentReport> &reports);
    void clear();
    const pipeline::IncidentReport *report(int row) const;
    int rowOf(const QString &fingerprint) const;

    /// "restart_pod · needs approval", "no action", "rules failed"
    static QString proposalText(const pipeline::IncidentReport &report);

private:
    std::vector<pipeline::IncidentReport> m_reports;
    QHash<QString, int> m_rowByFingerprint;
    Clock m_clock;
};

} // namespace vigil::ui
