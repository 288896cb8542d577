#pragma once

#include "core/pipeline/clustersession.h"

#include <QAbstractTableModel>
#include <QDateTime>
#include <QHash>

#include <functional>
#include <vector>

namespace vigil::ui {

/// The cluster's AgentDecisions, keyed by uid. Batches insert at the end in
/// one step, update in place (one dataChanged per contiguous range) and
/// remove deleted rows; a resync replaces the whole set.
class AgentDecisionModel final : public QAbstractTableModel {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AgentDecisionModel)

public:
    enum Column { Namespace, Name, Action, Target, Confidence, Phase, Review, Age, ColumnCount };
    enum Role {
        SortRole = Qt::UserRole + 1,
        UidRole,      ///< QString
        AwaitingRole, ///< bool: a person can still approve or reject it
    };
    using Clock = std::function<QDateTime()>;

    explicit AgentDecisionModel(QObject *parent = nullptr, Clock clock = {});

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    void apply(const pipeline::AgentDecisionBatch &batch);
    void clear();
    const pipeline::AgentDecisionInfo *decision(int row) const;
    int rowOfUid(const QString &uid) const;

    /// "approved by os:alice …", "rejected by …: reason", "awaiting approval", "executed".
    static QString reviewText(const pipeline::AgentDecisionInfo &decision);

private:
    void reindex();

    std::vector<pipeline::AgentDecisionInfo> m_rows;
    QHash<QString, int> m_rowByUid;
    Clock m_clock;
};

} // namespace vigil::ui
