#include "ui/settingsdialog.h"

#include "core/guard/policy.h"
#include "ui/mainwindow.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSettings>
#include <QVBoxLayout>

#include <qt6keychain/keychain.h>

namespace vigil::ui {
namespace {

QString errorStyle(const QString &text)
{
    return QStringLiteral("<span style=\"color:#cf222e\">%1</span>").arg(text.toHtmlEscaped());
}

} // namespace

SettingsDialog::SettingsDialog(QWidget *parent, const QString &keychainService)
    : QDialog(parent)
    , m_service(keychainService)
{
    setWindowTitle(tr("Vigil Settings"));
    QSettings s;
    auto *layout = new QVBoxLayout(this);

    auto *llm = new QGroupBox(tr("Language model"), this);
    auto *llmForm = new QFormLayout(llm);
    m_provider = new QComboBox(llm);
    m_provider->addItem(tr("None (rules only)"), QString());
    m_provider->addItem(QStringLiteral("OpenAI"), QStringLiteral("openai"));
    m_provider->addItem(QStringLiteral("Anthropic"), QStringLiteral("anthropic"));
    m_provider->addItem(QStringLiteral("Ollama"), QStringLiteral("ollama"));
    m_provider->setCurrentIndex(
        std::max(0, m_provider->findData(s.value(QStringLiteral("llm/provider")).toString())));
    m_baseUrl = new QLineEdit(s.value(QStringLiteral("llm/baseUrl")).toString(), llm);
    m_baseUrl->setPlaceholderText(tr("provider default"));
    m_smallModel = new QLineEdit(s.value(QStringLiteral("llm/smallModel")).toString(), llm);
    m_smallModel->setPlaceholderText(tr("first try, e.g. gpt-4o-mini"));
    m_strongModel = new QLineEdit(s.value(QStringLiteral("llm/strongModel")).toString(), llm);
    m_strongModel->setPlaceholderText(tr("for low confidence and \"Re-diagnose\""));
    m_apiKey = new QLineEdit(llm);
    m_apiKey->setEchoMode(QLineEdit::Password);
    m_apiKey->setPlaceholderText(tr("leave empty to keep the stored key"));
    m_keyStatus = new QLabel(tr("Stored in the system keychain, never in a file."), llm);
    m_keyStatus->setObjectName(QStringLiteral("keyStatus"));
    m_keyStatus->setWordWrap(true);
    m_budget = new QDoubleSpinBox(llm);
    m_budget->setRange(0, 10000);
    m_budget->setDecimals(2);
    m_budget->setPrefix(QStringLiteral("$ "));
    m_budget->setSuffix(tr(" per day"));
    m_budget->setValue(s.value(QStringLiteral("llm/budgetUsdPerDay"), 5.0).toDouble());
    llmForm->addRow(tr("Provider:"), m_provider);
    llmForm->addRow(tr("Base URL:"), m_baseUrl);
    llmForm->addRow(tr("Small model:"), m_smallModel);
    llmForm->addRow(tr("Strong model:"), m_strongModel);
    llmForm->addRow(tr("API key:"), m_apiKey);
    llmForm->addRow(QString(), m_keyStatus);
    llmForm->addRow(tr("Budget:"), m_budget);
    layout->addWidget(llm);

    auto *guard = new QGroupBox(tr("Guardrails"), this);
    auto *guardForm = new QFormLayout(guard);
    auto *pathRow = new QHBoxLayout;
    m_policyPath = new QLineEdit(s.value(QStringLiteral("policy/path")).toString(), guard);
    m_policyPath->setObjectName(QStringLiteral("policyPath"));
    m_policyPath->setPlaceholderText(tr("built-in default policy"));
    auto *browse = new QPushButton(tr("Browse…"), guard);
    pathRow->addWidget(m_policyPath, 1);
    pathRow->addWidget(browse);
    m_policyError = new QLabel(guard);
    m_policyError->setObjectName(QStringLiteral("policyError"));
    m_policyError->setWordWrap(true);
    m_policyError->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_mode = new QComboBox(guard);
    for (guard::PolicyMode m :
         {guard::PolicyMode::SuggestOnly, guard::PolicyMode::Approve, guard::PolicyMode::AutoWithinPolicy})
        m_mode->addItem(guard::policyModeName(m), guard::policyModeName(m));
    m_mode->setCurrentIndex(std::max(
        0, m_mode->findData(s.value(QStringLiteral("policy/mode"), QStringLiteral("approve")).toString())));
    guardForm->addRow(tr("Policy file:"), pathRow);
    guardForm->addRow(QString(), m_policyError);
    guardForm->addRow(tr("Mode:"), m_mode);
    layout->addWidget(guard);

    auto *exec = new QGroupBox(tr("Credential plugins allowed to run"), this);
    auto *execLayout = new QHBoxLayout(exec);
    m_allowlist = new QListWidget(exec);
    const kube::ExecAllowlist allow = MainWindow::loadExecAllowlist();
    QStringList lines(allow.commandLines.cbegin(), allow.commandLines.cend());
    lines.sort();
    m_allowlist->addItems(lines);
    auto *remove = new QPushButton(tr("Remove"), exec);
    execLayout->addWidget(m_allowlist, 1);
    execLayout->addWidget(remove, 0, Qt::AlignTop);
    layout->addWidget(exec);

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    layout->addWidget(buttons);
    connect(buttons, &QDialogButtonBox::accepted, this, &SettingsDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(remove, &QPushButton::clicked, this, [this] { qDeleteAll(m_allowlist->selectedItems()); });
    connect(m_policyPath, &QLineEdit::textChanged, this, &SettingsDialog::validatePolicy);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Policy File"), m_policyPath->text(),
                                                          tr("YAML (*.yaml *.yml)"));
        if (!path.isEmpty())
            m_policyPath->setText(path);
    });
    validatePolicy();
}

QString SettingsDialog::keychainKey(const QString &provider)
{
    return provider + QStringLiteral("-api-key");
}

QString SettingsDialog::policyError() const
{
    return m_policyError->property("error").toString();
}

QString SettingsDialog::keyStatus() const
{
    return m_keyStatus->text();
}

void SettingsDialog::validatePolicy()
{
    const QString path = m_policyPath->text().trimmed();
    QString error;
    if (!path.isEmpty()) {
        Result<guard::Policy> p = guard::loadPolicyFile(path);
        if (!p)
            error = p.errorMessage();
        else
            m_mode->setCurrentIndex(std::max(0, m_mode->findData(guard::policyModeName(p->mode))));
    }
    m_policyError->setProperty("error", error);
    m_policyError->setText(error.isEmpty() ? (path.isEmpty() ? QString() : tr("Policy is valid."))
                                           : errorStyle(error));
}

void SettingsDialog::accept()
{
    if (m_saving)
        return;
    if (!policyError().isEmpty())
        return; // the error is already shown under the path
    const QString key = m_apiKey->text();
    const QString provider = m_provider->currentData().toString();
    if (key.isEmpty() || provider.isEmpty()) {
        saveAndClose();
        return;
    }
    m_saving = true;
    m_keyStatus->setText(tr("Saving the key to the system keychain…"));
    auto *job = new QKeychain::WritePasswordJob(m_service, this);
    job->setAutoDelete(true);
    job->setKey(keychainKey(provider));
    job->setTextData(key);
    connect(job, &QKeychain::Job::finished, this, [this, job] {
        m_saving = false;
        if (job->error() != QKeychain::NoError) {
            // No plaintext fallback: the key stays unsaved and the dialog open.
            m_keyStatus->setText(
                errorStyle(tr("The system keychain refused the key (%1). It was not saved anywhere.")
                               .arg(job->errorString())));
            return;
        }
        m_apiKey->clear();
        saveAndClose();
    });
    job->start();
}

void SettingsDialog::saveAndClose()
{
    QSettings s;
    s.setValue(QStringLiteral("llm/provider"), m_provider->currentData().toString());
    s.setValue(QStringLiteral("llm/baseUrl"), m_baseUrl->text().trimmed());
    s.setValue(QStringLiteral("llm/smallModel"), m_smallModel->text().trimmed());
    s.setValue(QStringLiteral("llm/strongModel"), m_strongModel->text().trimmed());
    s.setValue(QStringLiteral("llm/budgetUsdPerDay"), m_budget->value());
    s.setValue(QStringLiteral("policy/path"), m_policyPath->text().trimmed());
    s.setValue(QStringLiteral("policy/mode"), m_mode->currentData().toString());
    kube::ExecAllowlist allow;
    for (int i = 0; i < m_allowlist->count(); ++i)
        allow.allow(m_allowlist->item(i)->text());
    MainWindow::saveExecAllowlist(allow);
    QDialog::accept();
}

} // namespace vigil::ui
