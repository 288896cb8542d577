#include "ui/poddetailsdialog.h"

#include "ui/podtablemodel.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

namespace vigil::ui {

PodDetailsDialog::PodDetailsDialog(const QString &namespaceName, const QString &name, QWidget *parent)
    : QDialog(parent)
    , m_namespace(namespaceName)
    , m_name(name)
{
    setWindowTitle(tr("Pod %1/%2").arg(namespaceName, name));
    setAttribute(Qt::WA_DeleteOnClose);
    resize(900, 600);
    auto *layout = new QVBoxLayout(this);
    m_status = new QLabel(tr("Loading…"), this);
    layout->addWidget(m_status);
    m_tabs = new QTabWidget(this);
    layout->addWidget(m_tabs, 1);

    m_events = new QTableWidget(0, 4, m_tabs);
    m_events->setHorizontalHeaderLabels({tr("Last seen"), tr("Type"), tr("Reason"), tr("Message")});
    m_events->horizontalHeader()->setStretchLastSection(true);
    m_events->verticalHeader()->setVisible(false);
    m_events->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_tabs->addTab(m_events, tr("Events"));

    auto *logPage = new QWidget(m_tabs);
    auto *logLayout = new QVBoxLayout(logPage);
    m_previous = new QCheckBox(tr("Previous container (the instance that crashed)"), logPage);
    logLayout->addWidget(m_previous);
    m_log = new QPlainTextEdit(logPage);
    m_log->setObjectName(QStringLiteral("log"));
    m_log->setReadOnly(true);
    m_log->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_log->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    logLayout->addWidget(m_log, 1);
    m_tabs->addTab(logPage, tr("Logs"));

    m_yaml = new QPlainTextEdit(m_tabs);
    m_yaml->setObjectName(QStringLiteral("yaml"));
    m_yaml->setReadOnly(true);
    m_yaml->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_yaml->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_tabs->addTab(m_yaml, tr("YAML"));

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    QPushButton *refresh = buttons->addButton(tr("&Refresh"), QDialogButtonBox::ActionRole);
    layout->addWidget(buttons);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(refresh, &QPushButton::clicked, this, &PodDetailsDialog::reload);
    connect(m_previous, &QCheckBox::toggled, this, &PodDetailsDialog::reload);
}

bool PodDetailsDialog::previous() const
{
    return m_previous->isChecked();
}

void PodDetailsDialog::reload()
{
    m_status->setText(tr("Loading…"));
    m_log->setPlainText(QString());
    Q_EMIT detailsRequested(m_namespace, m_name, previous());
}

void PodDetailsDialog::showDetails(const pipeline::PodDetails &details)
{
    if (details.namespaceName != m_namespace || details.name != m_name || details.previous != previous())
        return;
    m_status->setText(tr("%1/%2 · %3 warning events").arg(m_namespace, m_name).arg(details.events.size()));
    m_events->setRowCount(int(details.events.size()));
    const QDateTime now = QDateTime::currentDateTimeUtc();
    for (int r = 0; r < details.events.size(); ++r) {
        const kube::EventView &e = details.events[r];
        m_events->setItem(r, 0,
                          new QTableWidgetItem(e.lastSeen.isValid()
                                                   ? PodTableModel::formatAge(e.lastSeen.secsTo(now))
                                                   : QString()));
        m_events->setItem(r, 1, new QTableWidgetItem(e.type));
        m_events->setItem(r, 2, new QTableWidgetItem(e.reason));
        m_events->setItem(r, 3, new QTableWidgetItem(e.message.simplified()));
    }
    if (!details.logError.isEmpty())
        m_log->setPlainText(tr("Could not read the log: %1").arg(details.logError));
    else
        m_log->setPlainText(details.log.isEmpty() ? tr("(the log is empty)") : details.log);
    m_yaml->setPlainText(
        details.yamlError.isEmpty() ? details.yaml : tr("Could not read the pod: %1").arg(details.yamlError));
}

} // namespace vigil::ui
