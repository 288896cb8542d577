#pragma once

#include "core/audit/auditlog.h"

#include <QAbstractTableModel>

namespace vigil::ui {

/// Rows of the audit log, newest first.
class AuditTableModel final : public QAbstractTableModel {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AuditTableModel)

public:
    enum Column { Time, Kind, Actor, Namespace, Target, Action, Outcome, Decision, ColumnCount };
    enum Role { SortRole = Qt::UserRole + 1, IdRole };

    explicit AuditTableModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    /// Replaces the rows (events as query() returns them, oldest first).
    void setEvents(const QList<audit::AuditEvent> &events);
    const audit::AuditEvent *event(int row) const;
    /// The full row as indented JSON, for the details pane.
    static QString details(const audit::AuditEvent &event);

private:
    QList<audit::AuditEvent> m_events; // newest first
};

} // namespace vigil::ui
