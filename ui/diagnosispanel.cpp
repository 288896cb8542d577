#include "ui/diagnosispanel.h"

#include <QFont>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGuiApplication>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QIcon>
#include <QLabel>
#include <QLineEdit>
#include <QPalette>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QStyle>
#include <QTabWidget>
#include <QVBoxLayout>

namespace vigil::ui {
namespace {

bool darkPalette()
{
    return QGuiApplication::palette().color(QPalette::Base).lightness() < 128;
}

QString colorFor(guard::Verdict::Decision d)
{
    const bool dark = darkPalette();
    switch (d) {
    case guard::Verdict::Allowed:
        return dark ? QStringLiteral("#56d364") : QStringLiteral("#1a7f37");
    case guard::Verdict::NeedsApproval:
        return dark ? QStringLiteral("#e3b341") : QStringLiteral("#9a6700");
    case guard::Verdict::Blocked:
        return dark ? QStringLiteral("#ff7b72") : QStringLiteral("#b31d28");
    }
    return {};
}

QLabel *wrapped(QWidget *parent)
{
    auto *l = new QLabel(parent);
    l->setWordWrap(true);
    l->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return l;
}

QString parametersText(const nlohmann::json &params)
{
    if (!params.is_object() || params.empty())
        return QObject::tr("(none)");
    QStringList lines;
    for (auto it = params.begin(); it != params.end(); ++it) {
        const QString value = it->is_string() ? QString::fromStdString(it->get<std::string>())
                                              : QString::fromStdString(it->dump());
        lines << QString::fromStdString(it.key()) + QStringLiteral(" = ") + value;
    }
    return lines.join(u'\n');
}

} // namespace

DiagnosisPanel::DiagnosisPanel(QWidget *parent)
    : QWidget(parent)
{
    auto *outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);

    m_placeholder = new QLabel(tr("Select an incident to see its diagnosis."), this);
    m_placeholder->setAlignment(Qt::AlignCenter);
    m_placeholder->setEnabled(false);
    outer->addWidget(m_placeholder);

    // The details scroll; the buttons below them stay in view.
    m_body = new QWidget(this);
    outer->addWidget(m_body, 1);
    auto *bodyLayout = new QVBoxLayout(m_body);
    bodyLayout->setContentsMargins(0, 0, 0, 0);
    auto *scroll = new QScrollArea(m_body);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    auto *content = new QWidget(scroll);
    scroll->setWidget(content);
    bodyLayout->addWidget(scroll, 1);
    auto *layout = new QVBoxLayout(content);
    layout->setContentsMargins(8, 8, 8, 8);

    auto *header = new QHBoxLayout;
    m_title = new QLabel(m_body);
    QFont titleFont = m_title->font();
    titleFont.setPointSizeF(titleFont.pointSizeF() * 1.25);
    titleFont.setBold(true);
    m_title->setFont(titleFont);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_stateBadge = new QLabel(m_body);
    m_stateBadge->setObjectName(QStringLiteral("stateBadge"));
    header->addWidget(m_title, 1);
    header->addWidget(m_stateBadge);
    layout->addLayout(header);
    m_subtitle = new QLabel(m_body);
    m_subtitle->setEnabled(false);
    layout->addWidget(m_subtitle);

    m_pendingRow = new QWidget(m_body);
    auto *pending = new QHBoxLayout(m_pendingRow);
    pending->setContentsMargins(0, 0, 0, 0);
    auto *busy = new QProgressBar(m_pendingRow);
    busy->setRange(0, 0);
    busy->setMaximumWidth(120);
    busy->setTextVisible(false);
    m_pendingLabel = new QLabel(m_pendingRow);
    m_cancel = new QPushButton(QIcon::fromTheme(QStringLiteral("process-stop")), tr("Cancel"), m_pendingRow);
    pending->addWidget(busy);
    pending->addWidget(m_pendingLabel, 1);
    pending->addWidget(m_cancel);
    layout->addWidget(m_pendingRow);

    auto *form = new QFormLayout;
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    form->setLabelAlignment(Qt::AlignRight | Qt::AlignTop);
    m_diagnosis = wrapped(m_body);
    m_confidence = new QProgressBar(m_body);
    m_confidence->setRange(0, 100);
    m_confidence->setFormat(QStringLiteral("%p %"));
    m_confidence->setMaximumWidth(260);
    m_action = wrapped(m_body);
    m_parameters = wrapped(m_body);
    m_parameters->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_reasoning = wrapped(m_body);
    m_verdict = wrapped(m_body);
    m_verdict->setTextFormat(Qt::RichText);
    m_verdict->setObjectName(QStringLiteral("verdict"));
    m_source = wrapped(m_body);
    m_cost = wrapped(m_body);
    m_outcome = wrapped(m_body);
    form->addRow(tr("Diagnosis:"), m_diagnosis);
    form->addRow(tr("Confidence:"), m_confidence);
    form->addRow(tr("Action:"), m_action);
    form->addRow(tr("Parameters:"), m_parameters);
    form->addRow(tr("Reasoning:"), m_reasoning);
    form->addRow(tr("Guardrails:"), m_verdict);
    form->addRow(tr("Source:"), m_source);
    form->addRow(tr("Usage:"), m_cost);
    form->addRow(tr("Outcome:"), m_outcome);
    layout->addLayout(form);

    m_tabs = new QTabWidget(m_body);
    m_context = new QPlainTextEdit(m_tabs);
    m_context->setReadOnly(true);
    m_context->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_context->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_preview = new QPlainTextEdit(m_tabs);
    m_preview->setReadOnly(true);
    m_preview->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_tabs->addTab(m_context, tr("Context sent"));
    m_tabs->addTab(m_preview, tr("Dry-run preview"));
    m_tabs->setMinimumHeight(160);
    layout->addWidget(m_tabs, 1);

    m_rejectRow = new QWidget(m_body);
    auto *rejectLayout = new QHBoxLayout(m_rejectRow);
    rejectLayout->setContentsMargins(0, 0, 0, 0);
    m_rejectReason = new QLineEdit(m_rejectRow);
    m_rejectReason->setPlaceholderText(tr("Why is this wrong? (recorded in the audit log)"));
    m_confirmReject = new QPushButton(tr("Reject"), m_rejectRow);
    m_confirmReject->setEnabled(false);
    rejectLayout->addWidget(m_rejectReason, 1);
    rejectLayout->addWidget(m_confirmReject);
    bodyLayout->addWidget(m_rejectRow);

    auto *buttons = new QHBoxLayout;
    m_approve = new QPushButton(QIcon::fromTheme(QStringLiteral("media-playback-start")),
                                tr("&Approve && Execute"), m_body);
    m_approve->setObjectName(QStringLiteral("approve"));
    m_approve->setDefault(true);
    m_reject = new QPushButton(QIcon::fromTheme(QStringLiteral("dialog-cancel")), tr("&Reject…"), m_body);
    m_reject->setObjectName(QStringLiteral("reject"));
    m_rediagnose = new QPushButton(QIcon::fromTheme(QStringLiteral("view-refresh")),
                                   tr("Re-diagnose with a &stronger model"), m_body);
    m_rediagnose->setObjectName(QStringLiteral("rediagnose"));
    m_undo = new QPushButton(QIcon::fromTheme(QStringLiteral("edit-undo")), tr("&Undo"), m_body);
    m_undo->setObjectName(QStringLiteral("undo"));
    m_cancel->setObjectName(QStringLiteral("cancel"));
    buttons->addWidget(m_approve);
    buttons->addWidget(m_reject);
    buttons->addStretch(1);
    buttons->addWidget(m_rediagnose);
    buttons->addWidget(m_undo);
    buttons->setContentsMargins(8, 4, 8, 8);
    m_rejectRow->layout()->setContentsMargins(8, 0, 8, 0);
    bodyLayout->addLayout(buttons);

    connect(m_approve, &QPushButton::clicked, this, [this] { Q_EMIT approveRequested(); });
    connect(m_reject, &QPushButton::clicked, this,
            [this] { showRejectReason(!m_rejectRow->isVisibleTo(this)); });
    connect(m_rejectReason, &QLineEdit::textChanged, this,
            [this](const QString &t) { m_confirmReject->setEnabled(!t.trimmed().isEmpty()); });
    auto confirm = [this] {
        const QString reason = m_rejectReason->text().trimmed();
        if (reason.isEmpty())
            return;
        showRejectReason(false);
        Q_EMIT rejectRequested(reason);
    };
    connect(m_confirmReject, &QPushButton::clicked, this, confirm);
    connect(m_rejectReason, &QLineEdit::returnPressed, this, confirm);
    connect(m_rediagnose, &QPushButton::clicked, this, [this] { Q_EMIT rediagnoseRequested(); });
    connect(m_undo, &QPushButton::clicked, this, [this] { Q_EMIT undoRequested(); });
    connect(m_cancel, &QPushButton::clicked, this, [this] { Q_EMIT cancelRequested(); });

    m_elapsedTimer.setInterval(1000);
    connect(&m_elapsedTimer, &QTimer::timeout, this, &DiagnosisPanel::updatePending);

    clear();
}

void DiagnosisPanel::clear()
{
    m_data = DiagnosisPanelData();
    m_state = State::Empty;
    m_placeholder->setVisible(true);
    m_body->setVisible(false);
    m_elapsedTimer.stop();
}

void DiagnosisPanel::setData(const DiagnosisPanelData &data)
{
    m_data = data;
    m_placeholder->setVisible(false);
    m_body->setVisible(true);
    showRejectReason(false);
    m_title->setText(data.title);
    m_subtitle->setText(data.subtitle);

    const Diagnosis &d = data.diagnosis;
    if (data.hasDiagnosis) {
        m_diagnosis->setText(d.diagnosis);
        m_confidence->setValue(int(d.confidence * 100.0 + 0.5));
        m_action->setText(d.action == ActionKind::None ? tr("none (notify only)") : actionName(d.action));
        m_parameters->setText(parametersText(d.parameters));
        m_reasoning->setText(d.reasoning);
        QString source = d.source.describe();
        if (!d.promptVersion.isEmpty())
            source += tr(" · prompt %1").arg(d.promptVersion.left(12));
        if (!d.fallbackReason.isEmpty())
            source += tr(" · no model answer used: %1").arg(d.fallbackReason);
        m_source->setText(source);
        m_cost->setText(d.source.kind == DiagnosisSource::Rules ? tr("no tokens, no cost (rules run locally)")
                                                                : tr("%1 prompt + %2 completion tokens · $%3")
                                                                      .arg(d.promptTokens)
                                                                      .arg(d.completionTokens)
                                                                      .arg(d.costUsd, 0, 'f', 4));
    } else {
        m_diagnosis->setText(data.error.isEmpty() ? tr("No diagnosis yet.") : data.error);
        m_confidence->setValue(0);
        m_action->setText(QStringLiteral("—"));
        m_parameters->setText(QStringLiteral("—"));
        m_reasoning->setText(QStringLiteral("—"));
        m_source->setText(QStringLiteral("—"));
        m_cost->setText(QStringLiteral("—"));
    }

    if (data.hasVerdict) {
        const guard::Verdict &v = data.verdict;
        const QString label = v.decision == guard::Verdict::Allowed         ? tr("Allowed by policy")
                              : v.decision == guard::Verdict::NeedsApproval ? tr("Needs your approval")
                                                                            : tr("Blocked");
        m_verdict->setText(
            QStringLiteral("<b style=\"color:%1\">%2</b>").arg(colorFor(v.decision), label.toHtmlEscaped()));
        // Every reason, blocking ones marked, in the guardrails' own order.
        QStringList rows;
        for (const guard::VerdictReason &r : v.reasons) {
            const QString mark = r.blocking ? QStringLiteral("<span style=\"color:%1\">✖</span>")
                                                  .arg(colorFor(guard::Verdict::Blocked))
                                            : QStringLiteral("<span style=\"color:%1\">●</span>")
                                                  .arg(colorFor(guard::Verdict::NeedsApproval));
            rows << QStringLiteral("%1&nbsp;<code>%2</code> — %3")
                        .arg(mark, r.code.toHtmlEscaped(), r.message.toHtmlEscaped());
        }
        // One label for the verdict and its reasons: a second word-wrapped label leaves a gap in the form.
        m_verdict->setText(m_verdict->text() + QStringLiteral("<br>") + rows.join(QStringLiteral("<br>")));
    } else {
        m_verdict->setText(tr("not judged yet"));
    }

    QString context = data.evidenceText;
    if (!data.evidenceCut.isEmpty())
        context +=
            QStringLiteral("\n\n# cut by the token budget: ") + data.evidenceCut.join(QStringLiteral(", "));
    m_context->setPlainText(context.isEmpty() ? tr("(no context gathered)") : context);
    m_tabs->setTabText(0, data.evidenceTokens > 0 ? tr("Context sent (~%1 tokens)").arg(data.evidenceTokens)
                                                  : tr("Context sent"));
    m_preview->setPlainText(
        data.dryRunPreview.isEmpty()
            ? tr("No dry-run preview yet: the server-side dry run runs when the executor is connected.")
            : data.dryRunPreview);
    updateButtons();
}

void DiagnosisPanel::setState(State state, const QString &outcome)
{
    m_state = state;
    if (state == State::Empty) {
        clear();
        return;
    }
    if (state == State::Pending) {
        if (!m_pendingSince.isValid())
            m_pendingSince = QDateTime::currentDateTimeUtc();
        m_elapsedTimer.start();
    } else {
        m_pendingSince = QDateTime();
        m_elapsedTimer.stop();
    }
    m_outcome->setText(outcome.isEmpty() ? QStringLiteral("—") : outcome);
    updatePending();
    updateButtons();
}

void DiagnosisPanel::setSuggestOnly(bool on)
{
    m_suggestOnly = on;
    updateButtons();
}

void DiagnosisPanel::setPendingSince(const QDateTime &since)
{
    m_pendingSince = since;
    updatePending();
}

QString DiagnosisPanel::pendingText() const
{
    const qint64 s = m_pendingSince.isValid()
                         ? std::max<qint64>(0, m_pendingSince.secsTo(QDateTime::currentDateTimeUtc()))
                         : 0;
    return m_data.pendingWith.isEmpty() ? tr("Diagnosing… %1 s").arg(s)
                                        : tr("Asking %1… %2 s").arg(m_data.pendingWith).arg(s);
}

void DiagnosisPanel::updatePending()
{
    m_pendingRow->setVisible(m_state == State::Pending);
    m_pendingLabel->setText(pendingText());
}

void DiagnosisPanel::showRejectReason(bool on)
{
    m_rejectRow->setVisible(on);
    if (on) {
        m_rejectReason->clear();
        m_rejectReason->setFocus();
    }
}

void DiagnosisPanel::updateButtons()
{
    const bool proposed = m_state == State::Proposed;
    const bool blocked = m_data.hasVerdict && m_data.verdict.decision == guard::Verdict::Blocked;
    const bool actionable = m_data.hasDiagnosis && m_data.diagnosis.action != ActionKind::None;
    m_approve->setVisible(!m_suggestOnly);
    m_approve->setEnabled(!m_suggestOnly && proposed && actionable && m_data.hasVerdict && !blocked);
    m_approve->setToolTip(blocked ? tr("The guardrails blocked this action; see the reasons above.")
                                  : QString());
    m_reject->setEnabled(proposed);
    m_rediagnose->setEnabled(m_state != State::Pending && m_state != State::Executing);
    m_undo->setVisible(m_data.undoAvailable || m_state == State::Executed);
    m_undo->setEnabled(m_state == State::Executed && m_data.undoAvailable);

    QString badge;
    QString color = colorFor(guard::Verdict::NeedsApproval);
    switch (m_state) {
    case State::Empty:
        break;
    case State::Pending:
        badge = tr("Diagnosing");
        break;
    case State::Proposed:
        if (blocked) {
            badge = tr("Blocked by guardrails");
            color = colorFor(guard::Verdict::Blocked);
        } else if (m_suggestOnly) {
            badge = tr("Suggestion");
        } else {
            badge = tr("Needs approval");
        }
        break;
    case State::Executing:
        badge = tr("Executing");
        break;
    case State::Executed:
        badge = tr("Executed");
        color = colorFor(guard::Verdict::Allowed);
        break;
    case State::Failed:
        badge = tr("Failed");
        color = colorFor(guard::Verdict::Blocked);
        break;
    case State::Rejected:
        badge = tr("Rejected");
        break;
    }
    m_stateBadge->setText(badge.isEmpty()
                              ? QString()
                              : QStringLiteral("<span style=\"color:%1; font-weight:600\">● %2</span>")
                                    .arg(color, badge.toHtmlEscaped()));
}

} // namespace vigil::ui
