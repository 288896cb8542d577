#include "ui/auditview.h"

#include "ui/audittablemodel.h"

#include "core/reason/diagnosis.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDateTimeEdit>
#include <QFile>
#include <QFileDialog>
#include <QFontDatabase>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSaveFile>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

namespace vigil::ui {
namespace {

QString plural(qint64 n, const QString &one, const QString &many)
{
    return QString::number(n) + u' ' + (n == 1 ? one : many);
}

} // namespace

AuditView::AuditView(audit::AuditLog *log, QWidget *parent)
    : QWidget(parent)
    , m_log(log)
{
    auto *layout = new QVBoxLayout(this);
    auto *filters = new QHBoxLayout;
    m_useFrom = new QCheckBox(tr("From"), this);
    m_from = new QDateTimeEdit(QDateTime::currentDateTime().addDays(-1), this);
    m_from->setCalendarPopup(true);
    m_from->setDisplayFormat(QStringLiteral("yyyy-MM-dd HH:mm"));
    m_useTo = new QCheckBox(tr("To"), this);
    m_to = new QDateTimeEdit(QDateTime::currentDateTime(), this);
    m_to->setCalendarPopup(true);
    m_to->setDisplayFormat(QStringLiteral("yyyy-MM-dd HH:mm"));
    m_namespace = new QLineEdit(this);
    m_namespace->setPlaceholderText(tr("Namespace"));
    m_namespace->setMaximumWidth(140);
    m_action = new QComboBox(this);
    m_action->addItem(tr("Any action"), QString());
    for (ActionKind k : {ActionKind::None, ActionKind::RestartPod, ActionKind::ScaleDeployment,
                         ActionKind::CordonNode, ActionKind::CreateAlert})
        m_action->addItem(actionName(k), actionName(k));
    m_outcome = new QComboBox(this);
    m_outcome->addItem(tr("Any outcome"), QString());
    for (const char *o : {"success", "failure", "blocked", "rejected", "approved", "pending"})
        m_outcome->addItem(QString::fromLatin1(o), QString::fromLatin1(o));
    m_outcome->setEditable(true);
    m_text = new QLineEdit(this);
    m_text->setPlaceholderText(tr("Search target, actor, decision, payload…"));
    m_text->setClearButtonEnabled(true);
    auto *refreshButton =
        new QPushButton(QIcon::fromTheme(QStringLiteral("view-refresh")), tr("Refresh"), this);
    filters->addWidget(m_useFrom);
    filters->addWidget(m_from);
    filters->addWidget(m_useTo);
    filters->addWidget(m_to);
    filters->addWidget(m_namespace);
    filters->addWidget(m_action);
    filters->addWidget(m_outcome);
    filters->addWidget(m_text, 1);
    filters->addWidget(refreshButton);
    layout->addLayout(filters);

    m_model = new AuditTableModel(this);
    m_proxy = new QSortFilterProxyModel(this);
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(AuditTableModel::SortRole);
    m_view = new QTableView(this);
    m_view->setObjectName(QStringLiteral("auditTable"));
    m_view->setModel(m_proxy);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_view->setAlternatingRowColors(true);
    m_view->setShowGrid(false);
    m_view->setWordWrap(false);
    m_view->setSortingEnabled(true);
    m_view->verticalHeader()->setVisible(false);
    m_view->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_view->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 8);
    m_view->horizontalHeader()->setStretchLastSection(true);
    m_view->sortByColumn(AuditTableModel::Time, Qt::DescendingOrder);
    const QList<int> widths{140, 80, 80, 90, 220, 120, 80};
    for (int c = 0; c < widths.size(); ++c)
        m_view->setColumnWidth(c, widths[c]);
    m_details = new QPlainTextEdit(this);
    m_details->setObjectName(QStringLiteral("auditDetails"));
    m_details->setReadOnly(true);
    m_details->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_details->setPlaceholderText(tr("Select a row to see everything recorded with it."));
    auto *split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(m_view);
    split->addWidget(m_details);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    layout->addWidget(split, 1);

    auto *bottom = new QHBoxLayout;
    m_count = new QLabel(this);
    m_verify = new QLabel(this);
    m_verify->setObjectName(QStringLiteral("verifyResult"));
    m_verify->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_verifyButton =
        new QPushButton(QIcon::fromTheme(QStringLiteral("security-high")), tr("&Verify Chain"), this);
    m_export = new QPushButton(QIcon::fromTheme(QStringLiteral("document-save-as")), tr("&Export…"), this);
    m_export->setObjectName(QStringLiteral("exportAudit"));
    bottom->addWidget(m_count);
    bottom->addWidget(m_verify, 1);
    bottom->addWidget(m_verifyButton);
    bottom->addWidget(m_export);
    layout->addLayout(bottom);

    // Typing refreshes after a short pause rather than on every key.
    auto *debounce = new QTimer(this);
    debounce->setSingleShot(true);
    debounce->setInterval(250);
    connect(debounce, &QTimer::timeout, this, &AuditView::refresh);
    auto later = [debounce] { debounce->start(); };
    connect(m_text, &QLineEdit::textChanged, this, later);
    connect(m_namespace, &QLineEdit::textChanged, this, later);
    connect(m_action, &QComboBox::currentIndexChanged, this, later);
    connect(m_outcome, &QComboBox::currentTextChanged, this, later);
    connect(m_useFrom, &QCheckBox::toggled, this, later);
    connect(m_useTo, &QCheckBox::toggled, this, later);
    connect(m_from, &QDateTimeEdit::dateTimeChanged, this, later);
    connect(m_to, &QDateTimeEdit::dateTimeChanged, this, later);
    connect(refreshButton, &QPushButton::clicked, this, &AuditView::refresh);
    connect(m_verifyButton, &QPushButton::clicked, this, [this] { verify(); });
    connect(m_export, &QPushButton::clicked, this, &AuditView::exportWithDialog);
    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            &AuditView::onCurrentChanged);

    refresh();
}

void AuditView::setUnavailable(const QString &reason)
{
    m_log = nullptr;
    m_verify->setText(tr("The audit log is not available: %1").arg(reason));
    m_export->setEnabled(false);
    m_verifyButton->setEnabled(false);
}

audit::AuditFilter AuditView::filter() const
{
    audit::AuditFilter f;
    if (m_useFrom->isChecked())
        f.fromMs = m_from->dateTime().toMSecsSinceEpoch();
    if (m_useTo->isChecked())
        f.toMs = m_to->dateTime().toMSecsSinceEpoch();
    f.namespaceName = m_namespace->text().trimmed();
    f.action = m_action->currentData().toString();
    f.outcome = m_outcome->currentIndex() == 0 && m_outcome->currentText() == m_outcome->itemText(0)
                    ? QString()
                    : m_outcome->currentText().trimmed();
    f.text = m_text->text().trimmed();
    return f;
}

void AuditView::refresh()
{
    if (!m_log) {
        m_model->setEvents({});
        return;
    }
    audit::AuditFilter f = filter();
    f.limit = 0;
    Result<QList<audit::AuditEvent>> rows = m_log->query(f);
    if (!rows) {
        m_count->setText(tr("Query failed: %1").arg(rows.errorMessage()));
        return;
    }
    m_model->setEvents(*rows);
    m_count->setText(plural(rows->size(), tr("row"), tr("rows")));
}

audit::VerifyReport AuditView::verify()
{
    audit::VerifyReport report;
    if (!m_log) {
        report.ok = false;
        report.message = tr("no audit log");
        return report;
    }
    Result<audit::VerifyReport> r = m_log->verify();
    if (!r) {
        report.ok = false;
        report.message = r.errorMessage();
        m_verify->setText(QStringLiteral("<span style=\"color:#cf222e\">✗ %1</span>")
                              .arg(tr("Could not verify: %1").arg(report.message).toHtmlEscaped()));
        return report;
    }
    report = *r;
    if (report.ok)
        m_verify->setText(QStringLiteral("<span style=\"color:#2da44e\">✓ %1</span>")
                              .arg(tr("Chain intact: %1 verified.")
                                       .arg(plural(report.rowsChecked, tr("row"), tr("rows")))
                                       .toHtmlEscaped()));
    else
        m_verify->setText(QStringLiteral("<span style=\"color:#cf222e\">✗ %1</span>")
                              .arg(tr("Chain broken at row %1: %2")
                                       .arg(report.firstBadId)
                                       .arg(report.message)
                                       .toHtmlEscaped()));
    return report;
}

QString AuditView::verifyText() const
{
    return m_verify->text();
}

QString AuditView::detailsText() const
{
    return m_details->toPlainText();
}

Result<qint64> AuditView::exportTo(const QString &path, bool filtered)
{
    if (!m_log)
        return Error(tr("no audit log to export"));
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return Error(tr("%1: %2").arg(path, file.errorString()));
    const audit::AuditFilter f = filtered ? filter() : audit::AuditFilter();
    Result<qint64> n = path.endsWith(QLatin1String(".csv"), Qt::CaseInsensitive)
                           ? m_log->exportCsv(&file, f)
                           : m_log->exportJsonl(&file, f);
    if (!n) {
        file.cancelWriting();
        return n;
    }
    if (!file.commit())
        return Error(tr("%1: %2").arg(path, file.errorString()));
    return n;
}

AuditView::ExportChoice AuditView::askWithDialogs(QWidget *parent)
{
    ExportChoice choice;
    QString selected;
    choice.path =
        QFileDialog::getSaveFileName(parent, tr("Export Audit Log"), QStringLiteral("vigil-audit.jsonl"),
                                     tr("JSON Lines (*.jsonl);;CSV (*.csv)"), &selected);
    if (choice.path.isEmpty())
        return choice;
    choice.filtered =
        QMessageBox::question(parent, tr("Export"), tr("Export only the rows matching the current filter?"),
                              QMessageBox::Yes | QMessageBox::No, QMessageBox::Yes) == QMessageBox::Yes;
    return choice;
}

void AuditView::setExportPrompt(ExportPrompt prompt)
{
    m_exportPrompt = std::move(prompt);
}

void AuditView::setTextFilter(const QString &text)
{
    m_text->setText(text);
    refresh();
}

QString AuditView::statusText() const
{
    return m_count->text();
}

void AuditView::exportWithDialog()
{
    const ExportChoice choice = m_exportPrompt ? m_exportPrompt(this) : askWithDialogs(this);
    if (choice.path.isEmpty())
        return;
    Result<qint64> n = exportTo(choice.path, choice.filtered);
    if (n)
        m_count->setText(tr("Exported %1 to %2").arg(plural(*n, tr("row"), tr("rows")), choice.path));
    else if (m_exportPrompt)
        m_count->setText(tr("Export failed: %1").arg(n.errorMessage()));
    else
        QMessageBox::warning(this, tr("Export failed"), n.errorMessage());
}

void AuditView::onCurrentChanged()
{
    const QModelIndex current = m_view->selectionModel()->currentIndex();
    const audit::AuditEvent *e =
        current.isValid() ? m_model->event(m_proxy->mapToSource(current).row()) : nullptr;
    m_details->setPlainText(e ? AuditTableModel::details(*e) : QString());
}

} // namespace vigil::ui
