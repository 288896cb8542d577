#pragma once

#include "core/pipeline/clustersession.h"

#include <QDialog>

class QCheckBox;
class QLabel;
class QPlainTextEdit;
class QTabWidget;
class QTableWidget;

namespace vigil::ui {

/// Events, logs (current or previous container) and YAML of one pod. It asks
/// for its content through detailsRequested and shows whatever arrives.
class PodDetailsDialog final : public QDialog {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PodDetailsDialog)

public:
    PodDetailsDialog(const QString &namespaceName, const QString &name, QWidget *parent = nullptr);

    QString namespaceName() const { return m_namespace; }
    QString podName() const { return m_name; }
    bool previous() const;

    /// Shows details if they are about this pod (and the current log choice).
    void showDetails(const pipeline::PodDetails &details);
    /// Asks again (Refresh, or the previous-container toggle).
    void reload();

Q_SIGNALS:
    void detailsRequested(const QString &namespaceName, const QString &name, bool previous);

private:
    QString m_namespace;
    QString m_name;
    QLabel *m_status;
    QTabWidget *m_tabs;
    QTableWidget *m_events;
    QPlainTextEdit *m_log;
    QCheckBox *m_previous;
    QPlainTextEdit *m_yaml;
};

} // namespace vigil::ui
