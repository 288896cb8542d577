#include "ui/settingsdialog.h"

#include "core/guard/policy.h"
#include "core/kube/config/execallowlistfile.h"
#include "core/kube/config/yamlguard.h"
#include "core/reason/llm/reasoningstack.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSaveFile>
#include <QSet>
#include <QSettings>
#include <QStyledItemDelegate>
#include <QTableWidget>
#include <QVBoxLayout>

#include <qt6keychain/keychain.h>
#include <yaml-cpp/yaml.h>

#include <cmath>

namespace vigil::ui {
namespace {

constexpr qint64 kMaxProviderFileBytes = 256 * 1024;

QString errorStyle(const QString &text)
{
    return QStringLiteral("<span style=\"color:#cf222e\">%1</span>").arg(text.toHtmlEscaped());
}

// USD per 1M tokens: a spin box, so a price is always a number and never negative.
class PriceDelegate final : public QStyledItemDelegate {
public:
    using QStyledItemDelegate::QStyledItemDelegate;

    QWidget *createEditor(QWidget *parent, const QStyleOptionViewItem &, const QModelIndex &) const override
    {
        auto *spin = new QDoubleSpinBox(parent);
        spin->setRange(0, 100000);
        spin->setDecimals(4);
        spin->setPrefix(QStringLiteral("$ "));
        spin->setFrame(false);
        return spin;
    }
};

std::string str(const QString &s)
{
    return s.toStdString();
}

QString scalar(const YAML::Node &node)
{
    return node && node.IsScalar() ? QString::fromStdString(node.Scalar()) : QString();
}

} // namespace

SettingsDialog::SettingsDialog(QWidget *parent, const QString &keychainService, const QString &providerFile)
    : QDialog(parent)
    , m_service(keychainService)
    , m_providerFile(providerFile.isEmpty() ? llm::defaultProviderSettingsPath() : providerFile)
{
    setWindowTitle(tr("Vigil Settings"));
    QSettings s;
    auto *layout = new QVBoxLayout(this);

    auto *llmBox = new QGroupBox(tr("Language model"), this);
    auto *llmForm = new QFormLayout(llmBox);
    m_provider = new QComboBox(llmBox);
    m_provider->setObjectName(QStringLiteral("provider"));
    m_provider->addItem(tr("None (rules only)"), QStringLiteral("rules"));
    m_provider->addItem(QStringLiteral("OpenAI"), QStringLiteral("openai"));
    m_provider->addItem(QStringLiteral("Anthropic"), QStringLiteral("anthropic"));
    m_provider->addItem(QStringLiteral("Ollama"), QStringLiteral("ollama"));
    m_baseUrl = new QLineEdit(llmBox);
    m_baseUrl->setObjectName(QStringLiteral("baseUrl"));
    m_baseUrl->setPlaceholderText(tr("provider default"));
    m_smallModel = new QLineEdit(llmBox);
    m_smallModel->setObjectName(QStringLiteral("smallModel"));
    m_strongModel = new QLineEdit(llmBox);
    m_strongModel->setObjectName(QStringLiteral("strongModel"));
    m_apiKey = new QLineEdit(llmBox);
    m_apiKey->setEchoMode(QLineEdit::Password);
    m_apiKey->setPlaceholderText(tr("leave empty to keep the stored key"));
    m_keyStatus = new QLabel(tr("Stored in the system keychain, never in a file."), llmBox);
    m_keyStatus->setObjectName(QStringLiteral("keyStatus"));
    m_keyStatus->setWordWrap(true);
    m_budget = new QDoubleSpinBox(llmBox);
    m_budget->setObjectName(QStringLiteral("budget"));
    m_budget->setRange(0, 10000);
    m_budget->setDecimals(2);
    m_budget->setPrefix(QStringLiteral("$ "));
    m_budget->setSuffix(tr(" per day"));
    m_budget->setSpecialValueText(tr("no cap"));
    m_budget->setToolTip(tr("Model calls stop for the rest of the UTC day once this is spent; 0 is no cap."));

    m_prices = new QTableWidget(0, PriceColumnCount, llmBox);
    m_prices->setObjectName(QStringLiteral("prices"));
    m_prices->setHorizontalHeaderLabels(
        {tr("Model"), tr("Input, USD / 1M tokens"), tr("Output, USD / 1M tokens")});
    m_prices->setItemDelegateForColumn(PriceInput, new PriceDelegate(m_prices));
    m_prices->setItemDelegateForColumn(PriceOutput, new PriceDelegate(m_prices));
    m_prices->verticalHeader()->setVisible(false);
    m_prices->horizontalHeader()->setSectionResizeMode(PriceModel, QHeaderView::Stretch);
    m_prices->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_prices->setMinimumHeight(120);
    m_prices->setToolTip(tr("A model's price is the longest entry its name starts with; models not "
                            "listed use the built-in list prices."));
    auto *priceButtons = new QVBoxLayout;
    auto *addPrice = new QPushButton(tr("Add"), llmBox);
    addPrice->setObjectName(QStringLiteral("addPrice"));
    auto *removePrice = new QPushButton(tr("Remove"), llmBox);
    removePrice->setObjectName(QStringLiteral("removePrice"));
    priceButtons->addWidget(addPrice);
    priceButtons->addWidget(removePrice);
    priceButtons->addStretch();
    auto *priceRow = new QHBoxLayout;
    priceRow->addWidget(m_prices, 1);
    priceRow->addLayout(priceButtons);
    m_providerError = new QLabel(llmBox);
    m_providerError->setObjectName(QStringLiteral("providerError"));
    m_providerError->setWordWrap(true);
    m_providerError->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto *fileNote =
        new QLabel(tr("Saved to %1, which vigilctl reads too.").arg(m_providerFile.toHtmlEscaped()), llmBox);
    fileNote->setEnabled(false);
    fileNote->setWordWrap(true);

    llmForm->addRow(tr("Provider:"), m_provider);
    llmForm->addRow(tr("Base URL:"), m_baseUrl);
    llmForm->addRow(tr("Small model:"), m_smallModel);
    llmForm->addRow(tr("Strong model:"), m_strongModel);
    llmForm->addRow(tr("API key:"), m_apiKey);
    llmForm->addRow(QString(), m_keyStatus);
    llmForm->addRow(tr("Budget:"), m_budget);
    llmForm->addRow(tr("Prices:"), priceRow);
    llmForm->addRow(QString(), m_providerError);
    llmForm->addRow(QString(), fileNote);
    layout->addWidget(llmBox);

    auto *guardBox = new QGroupBox(tr("Guardrails"), this);
    auto *guardForm = new QFormLayout(guardBox);
    auto *pathRow = new QHBoxLayout;
    m_policyPath = new QLineEdit(s.value(QStringLiteral("policy/path")).toString(), guardBox);
    m_policyPath->setObjectName(QStringLiteral("policyPath"));
    m_policyPath->setPlaceholderText(tr("built-in default policy"));
    auto *browse = new QPushButton(tr("Browse…"), guardBox);
    pathRow->addWidget(m_policyPath, 1);
    pathRow->addWidget(browse);
    m_policyError = new QLabel(guardBox);
    m_policyError->setObjectName(QStringLiteral("policyError"));
    m_policyError->setWordWrap(true);
    m_policyError->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_mode = new QComboBox(guardBox);
    for (guard::PolicyMode m :
         {guard::PolicyMode::SuggestOnly, guard::PolicyMode::Approve, guard::PolicyMode::AutoWithinPolicy})
        m_mode->addItem(guard::policyModeName(m), guard::policyModeName(m));
    m_mode->setCurrentIndex(std::max(
        0, m_mode->findData(s.value(QStringLiteral("policy/mode"), QStringLiteral("approve")).toString())));
    guardForm->addRow(tr("Policy file:"), pathRow);
    guardForm->addRow(QString(), m_policyError);
    guardForm->addRow(tr("Mode:"), m_mode);
    layout->addWidget(guardBox);

    auto *execBox = new QGroupBox(tr("Credential plugins allowed to run"), this);
    auto *execLayout = new QGridLayout(execBox);
    m_allowlist = new QListWidget(execBox);
    m_allowlist->setObjectName(QStringLiteral("allowlist"));
    m_allowlist->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_newCommand = new QLineEdit(execBox);
    m_newCommand->setObjectName(QStringLiteral("newCommand"));
    m_newCommand->setPlaceholderText(tr("exact command line, e.g. aws eks get-token --cluster-name prod"));
    auto *addCommand = new QPushButton(tr("Add"), execBox);
    addCommand->setObjectName(QStringLiteral("addCommand"));
    auto *removeCommand = new QPushButton(tr("Remove"), execBox);
    auto *execNote = new QLabel(
        tr("Shared with vigilctl: %1").arg(kube::defaultExecAllowlistPath().toHtmlEscaped()), execBox);
    execNote->setEnabled(false);
    execNote->setWordWrap(true);
    execLayout->addWidget(m_allowlist, 0, 0);
    execLayout->addWidget(removeCommand, 0, 1, Qt::AlignTop);
    execLayout->addWidget(m_newCommand, 1, 0);
    execLayout->addWidget(addCommand, 1, 1);
    execLayout->addWidget(execNote, 2, 0, 1, 2);
    layout->addWidget(execBox);
    Result<kube::ExecAllowlist> allow = kube::loadExecAllowlistFile(kube::defaultExecAllowlistPath());
    if (allow) {
        QStringList lines(allow->commandLines.cbegin(), allow->commandLines.cend());
        lines.sort();
        m_allowlist->addItems(lines);
    } else {
        execNote->setText(errorStyle(allow.errorMessage()));
        execNote->setEnabled(true);
    }

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    layout->addWidget(buttons);

    loadProviderFile();

    connect(buttons, &QDialogButtonBox::accepted, this, &SettingsDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(addPrice, &QPushButton::clicked, this, [this] {
        addPriceRow(QString(), 0, 0);
        m_prices->setCurrentCell(m_prices->rowCount() - 1, PriceModel);
        m_prices->editItem(m_prices->item(m_prices->rowCount() - 1, PriceModel));
    });
    connect(removePrice, &QPushButton::clicked, this, [this] {
        QList<int> rows;
        for (const QModelIndex &i : m_prices->selectionModel()->selectedRows())
            rows.append(i.row());
        std::sort(rows.begin(), rows.end(), std::greater<>());
        for (int r : rows)
            m_prices->removeRow(r);
        validateProvider();
    });
    connect(m_prices, &QTableWidget::itemChanged, this, &SettingsDialog::validateProvider);
    connect(m_provider, &QComboBox::currentIndexChanged, this, &SettingsDialog::validateProvider);
    for (QLineEdit *e : {m_baseUrl, m_smallModel, m_strongModel})
        connect(e, &QLineEdit::textChanged, this, &SettingsDialog::validateProvider);
    connect(m_budget, &QDoubleSpinBox::valueChanged, this, &SettingsDialog::validateProvider);
    connect(addCommand, &QPushButton::clicked, this, &SettingsDialog::addAllowed);
    connect(m_newCommand, &QLineEdit::returnPressed, this, &SettingsDialog::addAllowed);
    connect(removeCommand, &QPushButton::clicked, this, [this] { qDeleteAll(m_allowlist->selectedItems()); });
    connect(m_policyPath, &QLineEdit::textChanged, this, &SettingsDialog::validatePolicy);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Policy File"), m_policyPath->text(),
                                                          tr("YAML (*.yaml *.yml)"));
        if (!path.isEmpty())
            m_policyPath->setText(path);
    });
    validatePolicy();
    validateProvider();
}

QString SettingsDialog::keychainKey(const QString &provider)
{
    return provider + QStringLiteral("-api-key");
}

QString SettingsDialog::policyError() const
{
    return m_policyError->property("error").toString();
}

QString SettingsDialog::providerError() const
{
    return m_providerError->property("error").toString();
}

QString SettingsDialog::keyStatus() const
{
    return m_keyStatus->text();
}

void SettingsDialog::loadProviderFile()
{
    QFile file(m_providerFile);
    if (file.exists()) {
        if (!file.open(QIODevice::ReadOnly)) {
            m_loadError = tr("cannot read %1: %2").arg(m_providerFile, file.errorString());
            return;
        }
        if (file.size() > kMaxProviderFileBytes) {
            m_loadError = tr("%1 is larger than 256 KiB").arg(m_providerFile);
            return;
        }
        m_providerText = file.readAll();
    }
    Result<YAML::Node> root = kube::parseYaml(m_providerText, m_providerFile);
    if (!root) {
        // A file the dialog cannot read is never overwritten: the person fixes or removes it.
        m_loadError = root.errorMessage();
        return;
    }
    try {
        const YAML::Node &y = *root;
        if (!y.IsMap())
            return;
        const int p = m_provider->findData(scalar(y["provider"]));
        m_provider->setCurrentIndex(std::max(0, p));
        m_baseUrl->setText(scalar(y["baseUrl"]));
        if (const YAML::Node models = y["models"]; models && models.IsMap()) {
            m_smallModel->setText(scalar(models["small"]));
            m_strongModel->setText(scalar(models["strong"]));
        }
        if (const YAML::Node budget = y["budget"]; budget && budget.IsMap() && budget["dailyUsd"])
            m_budget->setValue(budget["dailyUsd"].as<double>(0.0));
        if (const YAML::Node prices = y["prices"]; prices && prices.IsMap()) {
            for (auto it = prices.begin(); it != prices.end(); ++it) {
                const YAML::Node price = it->second;
                if (!price.IsMap())
                    continue;
                addPriceRow(QString::fromStdString(it->first.as<std::string>("")),
                            price["input"].as<double>(0.0), price["output"].as<double>(0.0));
            }
        }
    } catch (const YAML::Exception &e) {
        m_loadError = tr("%1: %2").arg(m_providerFile, QString::fromStdString(e.what()));
    }
}

void SettingsDialog::addPriceRow(const QString &model, double input, double output)
{
    const QSignalBlocker block(m_prices);
    const int row = m_prices->rowCount();
    m_prices->insertRow(row);
    m_prices->setItem(row, PriceModel, new QTableWidgetItem(model));
    for (int c : {int(PriceInput), int(PriceOutput)}) {
        auto *item = new QTableWidgetItem;
        item->setData(Qt::EditRole, c == PriceInput ? input : output);
        item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        m_prices->setItem(row, c, item);
    }
}

void SettingsDialog::addAllowed()
{
    const QString line = m_newCommand->text().trimmed();
    if (line.isEmpty())
        return;
    if (m_allowlist->findItems(line, Qt::MatchExactly).isEmpty())
        m_allowlist->addItem(line);
    m_newCommand->clear();
}

Result<llm::PriceTable> SettingsDialog::prices() const
{
    llm::PriceTable table;
    QSet<QString> seen;
    for (int r = 0; r < m_prices->rowCount(); ++r) {
        const QString model =
            m_prices->item(r, PriceModel) ? m_prices->item(r, PriceModel)->text().trimmed() : QString();
        if (model.isEmpty())
            return Error(tr("Prices, row %1: the model name is empty.").arg(r + 1));
        if (seen.contains(model))
            return Error(tr("Prices, row %1: '%2' is listed twice.").arg(r + 1).arg(model));
        seen.insert(model);
        double values[2] = {0, 0};
        for (int c : {int(PriceInput), int(PriceOutput)}) {
            const QTableWidgetItem *item = m_prices->item(r, c);
            bool ok = false;
            const double v = item ? item->data(Qt::EditRole).toDouble(&ok) : 0.0;
            if (!ok || !std::isfinite(v) || v < 0)
                return Error(
                    tr("Prices, row %1 (%2): the %3 price must be a number of USD per 1M tokens, 0 or more.")
                        .arg(r + 1)
                        .arg(model, c == PriceInput ? tr("input") : tr("output")));
            values[c - PriceInput] = v;
        }
        table.set(model, llm::ModelPrice{values[0], values[1]});
    }
    return table;
}

Result<QByteArray> SettingsDialog::providerYaml() const
{
    if (!m_loadError.isEmpty())
        return Error(m_loadError);
    Result<llm::PriceTable> table = prices();
    if (!table)
        return table.error();
    Result<YAML::Node> parsed = kube::parseYaml(m_providerText, m_providerFile);
    if (!parsed)
        return parsed.error();
    YAML::Emitter out;
    out.SetDoublePrecision(10);
    try {
        YAML::Node root = *parsed;
        if (!root.IsMap())
            root = YAML::Node(YAML::NodeType::Map);
        const QString provider = m_provider->currentData().toString();
        root["provider"] = str(provider);
        const auto setOrRemove = [](YAML::Node node, const char *key, const QString &value) {
            if (value.isEmpty())
                node.remove(key);
            else
                node[key] = str(value);
        };
        setOrRemove(root, "baseUrl", m_baseUrl->text().trimmed());
        if (!root["models"] || !root["models"].IsMap())
            root["models"] = YAML::Node(YAML::NodeType::Map);
        setOrRemove(root["models"], "small", m_smallModel->text().trimmed());
        setOrRemove(root["models"], "strong", m_strongModel->text().trimmed());
        if (root["models"].size() == 0)
            root.remove("models");
        if (!root["budget"] || !root["budget"].IsMap())
            root["budget"] = YAML::Node(YAML::NodeType::Map);
        root["budget"]["dailyUsd"] = m_budget->value();
        YAML::Node prices(YAML::NodeType::Map);
        for (int r = 0; r < m_prices->rowCount(); ++r) {
            YAML::Node price(YAML::NodeType::Map);
            price.SetStyle(YAML::EmitterStyle::Flow);
            price["input"] = m_prices->item(r, PriceInput)->data(Qt::EditRole).toDouble();
            price["output"] = m_prices->item(r, PriceOutput)->data(Qt::EditRole).toDouble();
            prices[str(m_prices->item(r, PriceModel)->text().trimmed())] = price;
        }
        if (prices.size() == 0)
            root.remove("prices");
        else
            root["prices"] = prices;
        out << root;
    } catch (const YAML::Exception &e) {
        return Error(tr("%1: %2").arg(m_providerFile, QString::fromStdString(e.what())));
    }
    QByteArray text(out.c_str(), qsizetype(out.size()));
    text.append('\n');
    // What vigilctl will read back: the file is only written when it loads. The
    // environment is left out so that it checks the file alone.
    Result<llm::ProviderSettings> check =
        llm::parseProviderSettings(text, m_providerFile, QProcessEnvironment());
    if (!check)
        return check.error();
    return text;
}

void SettingsDialog::validateProvider()
{
    const QString provider = m_provider->currentData().toString();
    const llm::DefaultModels defaults = llm::defaultModels(provider);
    m_smallModel->setPlaceholderText(defaults.small.isEmpty() ? tr("none")
                                                              : tr("default: %1").arg(defaults.small));
    m_strongModel->setPlaceholderText(defaults.strong.isEmpty() ? tr("none")
                                                                : tr("default: %1").arg(defaults.strong));
    const bool usesModel = provider != QLatin1String("rules");
    for (QWidget *w : {static_cast<QWidget *>(m_baseUrl), static_cast<QWidget *>(m_smallModel),
                       static_cast<QWidget *>(m_strongModel), static_cast<QWidget *>(m_apiKey)})
        w->setEnabled(usesModel);
    Result<QByteArray> yaml = providerYaml();
    const QString error = yaml ? QString() : yaml.errorMessage();
    m_providerError->setProperty("error", error);
    m_providerError->setText(error.isEmpty() ? QString() : errorStyle(error));
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
    validateProvider();
    if (!policyError().isEmpty() || !providerError().isEmpty())
        return; // the errors are already shown where they are
    const QString key = m_apiKey->text();
    const QString provider = m_provider->currentData().toString();
    if (key.isEmpty() || provider == QLatin1String("rules")) {
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
    const auto fail = [this](const QString &error) {
        m_providerError->setProperty("error", error);
        m_providerError->setText(errorStyle(error));
    };
    Result<QByteArray> yaml = providerYaml();
    if (!yaml)
        return fail(yaml.errorMessage());
    if (*yaml != m_providerText) {
        QDir().mkpath(QFileInfo(m_providerFile).absolutePath());
        QSaveFile file(m_providerFile);
        if (!file.open(QIODevice::WriteOnly))
            return fail(tr("cannot write %1: %2").arg(m_providerFile, file.errorString()));
        file.write(*yaml);
        if (!file.commit())
            return fail(tr("cannot write %1: %2").arg(m_providerFile, file.errorString()));
        m_providerText = *yaml;
    }
    kube::ExecAllowlist allow;
    for (int i = 0; i < m_allowlist->count(); ++i)
        allow.allow(m_allowlist->item(i)->text());
    if (Result<void> saved = kube::saveExecAllowlistFile(kube::defaultExecAllowlistPath(), allow); !saved)
        return fail(saved.errorMessage());

    QSettings s;
    s.setValue(QStringLiteral("policy/path"), m_policyPath->text().trimmed());
    s.setValue(QStringLiteral("policy/mode"), m_mode->currentData().toString());
    QDialog::accept();
}

} // namespace vigil::ui
