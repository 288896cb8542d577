#pragma once

#include "core/audit/auditlog.h"

#include <QWidget>

#include <functional>

class QCheckBox;
class QComboBox;
class QDateTimeEdit;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace vigil::ui {

class AuditTableModel;

/// The audit log: filters, a table, the full row, export and chain verification.
class AuditView final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AuditView)

public:
    /// What Export… should write: a path (empty: cancelled) and whether only the filtered rows.
    struct ExportChoice {
        QString path;
        bool filtered = true;
    };
    using ExportPrompt = std::function<ExportChoice(QWidget *parent)>;

    /// log is not owned and may be null (then the view says why via setUnavailable).
    explicit AuditView(audit::AuditLog *log, QWidget *parent = nullptr);

    void setUnavailable(const QString &reason);
    /// The filter the controls describe.
    audit::AuditFilter filter() const;
    /// Re-reads the rows matching the filter.
    void refresh();
    /// Walks the whole chain and shows the result; returns it.
    audit::VerifyReport verify();
    /// Writes JSONL (".jsonl") or CSV (".csv") to path; filtered or the whole log.
    Result<qint64> exportTo(const QString &path, bool filtered);
    /// Replaces the file dialog and question Export… asks with (tests, scripted exports).
    void setExportPrompt(ExportPrompt prompt);
    /// Sets the free-text filter (target, actor, decision, payload) and refreshes.
    void setTextFilter(const QString &text);
    /// The row count, or the last export's result ("Exported 7 rows to …").
    QString statusText() const;

    AuditTableModel *model() const { return m_model; }
    QTableView *view() const { return m_view; }
    QString verifyText() const;
    QString detailsText() const;

private:
    void onCurrentChanged();
    void exportWithDialog();
    static ExportChoice askWithDialogs(QWidget *parent);

    audit::AuditLog *m_log; // not owned
    AuditTableModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QTableView *m_view;
    QPlainTextEdit *m_details;
    QCheckBox *m_useFrom;
    QDateTimeEdit *m_from;
    QCheckBox *m_useTo;
    QDateTimeEdit *m_to;
    QLineEdit *m_namespace;
    QComboBox *m_action;
    QComboBox *m_outcome;
    QLineEdit *m_text;
    QLabel *m_verify;
    QLabel *m_count;
    QPushButton *m_export;
    QPushButton *m_verifyButton;
    ExportPrompt m_exportPrompt;
};

} // namespace vigil::ui
