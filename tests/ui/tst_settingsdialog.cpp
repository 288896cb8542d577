#include "ui/settingsdialog.h"

#include "core/cli/kubeoptions.h"
#include "core/kube/config/execallowlistfile.h"
#include "core/reason/llm/reasoningstack.h"

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFile>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSettings>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

using vigil::ui::SettingsDialog;
using namespace vigil;

namespace {

void writeFile(const QString &path, const QByteArray &text)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(text);
}

QByteArray readFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

void setPriceRow(SettingsDialog &dialog, int row, const QString &model, double input, double output)
{
    QTableWidget *t = dialog.priceTable();
    while (t->rowCount() <= row)
        dialog.findChild<QPushButton *>("addPrice")->click();
    t->item(row, SettingsDialog::PriceModel)->setText(model);
    t->item(row, SettingsDialog::PriceInput)->setData(Qt::EditRole, input);
    t->item(row, SettingsDialog::PriceOutput)->setData(Qt::EditRole, output);
}

} // namespace

class TestSettingsDialog final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void policyValidation_data();
    void policyValidation();
    void invalidPolicyKeepsTheDialogOpen();
    void keychainFailureStoresNothing();
    void writesTheProviderFileVigilctlReads();
    void keepsFieldsItDoesNotEdit();
    void showsTheFile();
    void priceErrors_data();
    void priceErrors();
    void fileVigilctlWouldRefuse_data();
    void fileVigilctlWouldRefuse();
    void allowlistIsShared_data();
    void allowlistIsShared();
    void savesPolicySettings();

private:
    QString providerPath() const { return m_dir.filePath("providers.yaml"); }
    QTemporaryDir m_dir;
};

void TestSettingsDialog::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QApplication::setOrganizationName("VigilTest");
    QApplication::setApplicationName("tst_settingsdialog");
    QVERIFY(m_dir.isValid());
}

void TestSettingsDialog::init()
{
    QSettings().clear();
    QFile::remove(providerPath());
    QFile::remove(kube::defaultExecAllowlistPath());
}

void TestSettingsDialog::policyValidation_data()
{
    QTest::addColumn<QByteArray>("yaml"); // empty: no file at that path
    QTest::addColumn<bool>("setPath");
    QTest::addColumn<QString>("errorContains"); // empty: valid

    QTest::newRow("no path: the built-in default") << QByteArray() << false << "";
    QTest::newRow("valid policy") << QByteArray("mode: suggest-only\n") << true << "";
    QTest::newRow("unknown key names file and field")
        << QByteArray("mode: approve\nfrobnicate: 1\n") << true << "frobnicate";
    QTest::newRow("bad mode value") << QByteArray("mode: yolo\n") << true << "mode";
    QTest::newRow("missing file") << QByteArray() << true << "cannot open policy file";
}

void TestSettingsDialog::policyValidation()
{
    QFETCH(QByteArray, yaml);
    QFETCH(bool, setPath);
    QFETCH(QString, errorContains);
    const QString path = m_dir.filePath(
        QString("policy-%1.yaml").arg(QTest::currentDataTag()).replace(' ', '_').replace(':', '_'));
    QFile::remove(path);
    if (!yaml.isEmpty())
        writeFile(path, yaml);
    SettingsDialog dialog(nullptr, "vigil-test", providerPath());
    if (setPath)
        dialog.findChild<QLineEdit *>("policyPath")->setText(path);
    if (errorContains.isEmpty())
        QCOMPARE(dialog.policyError(), QString());
    else
        QVERIFY2(dialog.policyError().contains(errorContains), qPrintable(dialog.policyError()));
}

void TestSettingsDialog::invalidPolicyKeepsTheDialogOpen()
{
    SettingsDialog dialog(nullptr, "vigil-test", providerPath());
    dialog.findChild<QLineEdit *>("policyPath")->setText(m_dir.filePath("absent.yaml"));
    dialog.show();
    dialog.accept();
    QVERIFY(dialog.isVisible());
    QCOMPARE(dialog.result(), int(QDialog::Rejected));
    QVERIFY(!QFile::exists(providerPath()));
}

void TestSettingsDialog::keychainFailureStoresNothing()
{
    // No session bus: the keychain cannot be reached, and the key must not land anywhere else.
    qputenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/vigil-test-bus");
    const QString secret = "sk-test-do-not-store-0123456789";
    SettingsDialog dialog(nullptr, "vigil-test", providerPath());
    auto *provider = dialog.findChild<QComboBox *>("provider");
    provider->setCurrentIndex(provider->findData("openai"));
    for (QLineEdit *e : dialog.findChildren<QLineEdit *>()) {
        if (e->echoMode() == QLineEdit::Password)
            e->setText(secret);
    }
    dialog.show();
    dialog.accept();
    QTRY_VERIFY_WITH_TIMEOUT(dialog.keyStatus().contains("refused"), 15000);
    QVERIFY(dialog.isVisible());
    QSettings s;
    s.sync();
    for (const QString &k : s.allKeys())
        QVERIFY2(!s.value(k).toString().contains(secret), qPrintable(k));
    QFile file(s.fileName());
    if (file.open(QIODevice::ReadOnly))
        QVERIFY(!file.readAll().contains(secret.toUtf8()));
    QVERIFY(!readFile(providerPath()).contains(secret.toUtf8()));
}

void TestSettingsDialog::writesTheProviderFileVigilctlReads()
{
    SettingsDialog dialog(nullptr, "vigil-test", providerPath());
    QCOMPARE(dialog.providerFile(), providerPath());
    auto *provider = dialog.findChild<QComboBox *>("provider");
    provider->setCurrentIndex(provider->findData("openai"));
    dialog.findChild<QLineEdit *>("baseUrl")->setText("http://127.0.0.1:8000/v1");
    dialog.findChild<QLineEdit *>("smallModel")->setText("gpt-4o-mini");
    dialog.findChild<QLineEdit *>("strongModel")->setText("gpt-4o");
    dialog.findChild<QDoubleSpinBox *>("budget")->setValue(7.5);
    setPriceRow(dialog, 0, "gpt-4o", 2.5, 10);
    setPriceRow(dialog, 1, "my-finetune", 0.15, 0.6);
    QCOMPARE(dialog.providerError(), QString());
    dialog.show();
    dialog.accept();
    QCOMPARE(dialog.result(), int(QDialog::Accepted));

    Result<llm::ProviderSettings> s = llm::loadProviderSettings(providerPath(), QProcessEnvironment());
    QVERIFY2(s.ok(), qPrintable(s.errorMessage() + "\n" + readFile(providerPath())));
    QCOMPARE(s->provider, QString("openai"));
    QCOMPARE(s->baseUrl, QString("http://127.0.0.1:8000/v1"));
    QCOMPARE(s->smallModel, QString("gpt-4o-mini"));
    QCOMPARE(s->strongModel, QString("gpt-4o"));
    QCOMPARE(s->budget.dailyUsd, 7.5);
    QCOMPARE(s->prices.find("my-finetune-2025")->inputPerMTok, 0.15);
    QCOMPARE(s->prices.find("my-finetune")->outputPerMTok, 0.6);
    QCOMPARE(s->prices.find("gpt-4o")->outputPerMTok, 10.0);
    // The price table, as the dialog reports it, is what was saved.
    Result<llm::PriceTable> table = dialog.prices();
    QVERIFY(table.ok());
    QCOMPARE(table->size(), 2);
}

void TestSettingsDialog::keepsFieldsItDoesNotEdit()
{
    writeFile(providerPath(), "provider: ollama\n"
                              "rateLimits: {requestsPerMinute: 42, maxConcurrent: 2}\n"
                              "cache: {ttlSeconds: 120}\n"
                              "budget: {dailyUsd: 1, sessionUsd: 0.5}\n");
    SettingsDialog dialog(nullptr, "vigil-test", providerPath());
    QCOMPARE(dialog.providerError(), QString());
    dialog.findChild<QDoubleSpinBox *>("budget")->setValue(3);
    dialog.accept();
    QCOMPARE(dialog.result(), int(QDialog::Accepted));
    Result<llm::ProviderSettings> s = llm::loadProviderSettings(providerPath(), QProcessEnvironment());
    QVERIFY2(s.ok(), qPrintable(s.errorMessage()));
    QCOMPARE(s->provider, QString("ollama"));
    QCOMPARE(s->limits.requestsPerMinute, 42);
    QCOMPARE(s->limits.maxConcurrent, 2);
    QCOMPARE(s->cacheTtlMs, qint64(120000));
    QCOMPARE(s->budget.dailyUsd, 3.0);
    QCOMPARE(s->budget.sessionUsd, 0.5);
}

void TestSettingsDialog::showsTheFile()
{
    writeFile(providerPath(), "provider: anthropic\n"
                              "models: {small: claude-3-5-haiku-latest, strong: claude-sonnet-4-5}\n"
                              "budget: {dailyUsd: 12.25}\n"
                              "prices:\n"
                              "  claude-3-5-haiku: {input: 0.8, output: 4}\n"
                              "  internal-model: {input: 0, output: 0}\n");
    SettingsDialog dialog(nullptr, "vigil-test", providerPath());
    QCOMPARE(dialog.findChild<QComboBox *>("provider")->currentData().toString(), QString("anthropic"));
    QCOMPARE(dialog.findChild<QLineEdit *>("smallModel")->text(), QString("claude-3-5-haiku-latest"));
    QCOMPARE(dialog.findChild<QLineEdit *>("strongModel")->text(), QString("claude-sonnet-4-5"));
    QCOMPARE(dialog.findChild<QDoubleSpinBox *>("budget")->value(), 12.25);
    QTableWidget *t = dialog.priceTable();
    QCOMPARE(t->rowCount(), 2);
    QCOMPARE(t->item(0, SettingsDialog::PriceModel)->text(), QString("claude-3-5-haiku"));
    QCOMPARE(t->item(0, SettingsDialog::PriceInput)->data(Qt::EditRole).toDouble(), 0.8);
    QCOMPARE(t->item(0, SettingsDialog::PriceOutput)->data(Qt::EditRole).toDouble(), 4.0);
    QCOMPARE(t->item(1, SettingsDialog::PriceModel)->text(), QString("internal-model"));
    QCOMPARE(dialog.providerError(), QString());
    // An empty model field shows the provider's default it stands for.
    auto *provider = dialog.findChild<QComboBox *>("provider");
    provider->setCurrentIndex(provider->findData("openai"));
    dialog.findChild<QLineEdit *>("smallModel")->clear();
    dialog.findChild<QLineEdit *>("strongModel")->clear();
    QVERIFY2(dialog.findChild<QLineEdit *>("strongModel")->placeholderText().contains("gpt-4o"),
             qPrintable(dialog.findChild<QLineEdit *>("strongModel")->placeholderText()));
    QCOMPARE(dialog.providerError(), QString());
    // Naming one tier turns the other off, which vigilctl refuses for a strong tier: shown inline.
    dialog.findChild<QLineEdit *>("smallModel")->setText("gpt-4o-mini");
    QVERIFY2(dialog.providerError().contains("models.strong"), qPrintable(dialog.providerError()));
    // Cancel writes nothing.
    const QByteArray before = readFile(providerPath());
    dialog.reject();
    QCOMPARE(readFile(providerPath()), before);
}

void TestSettingsDialog::priceErrors_data()
{
    QTest::addColumn<QString>("model2");
    QTest::addColumn<double>("input2");
    QTest::addColumn<QString>("errorContains"); // empty: valid

    QTest::newRow("valid second row") << "gpt-4.1" << 2.0 << "";
    QTest::newRow("empty model name names the row") << "  " << 2.0 << "row 2";
    QTest::newRow("a model listed twice") << "gpt-4o" << 1.0 << "listed twice";
    QTest::newRow("a negative price") << "gpt-4.1" << -1.0 << "input price";
    QTest::newRow("not a number") << "gpt-4.1" << qQNaN() << "input price";
}

void TestSettingsDialog::priceErrors()
{
    QFETCH(QString, model2);
    QFETCH(double, input2);
    QFETCH(QString, errorContains);
    SettingsDialog dialog(nullptr, "vigil-test", providerPath());
    setPriceRow(dialog, 0, "gpt-4o", 2.5, 10);
    setPriceRow(dialog, 1, model2, input2, 3);
    dialog.show();
    if (errorContains.isEmpty()) {
        QCOMPARE(dialog.providerError(), QString());
        dialog.accept();
        QCOMPARE(dialog.result(), int(QDialog::Accepted));
        return;
    }
    QVERIFY2(dialog.providerError().contains(errorContains), qPrintable(dialog.providerError()));
    dialog.accept();
    QVERIFY(dialog.isVisible());
    QVERIFY(!QFile::exists(providerPath()));
    // Removing the bad row clears the error.
    dialog.priceTable()->selectRow(1);
    dialog.findChild<QPushButton *>("removePrice")->click();
    QCOMPARE(dialog.priceTable()->rowCount(), 1);
    QCOMPARE(dialog.providerError(), QString());
}

void TestSettingsDialog::fileVigilctlWouldRefuse_data()
{
    QTest::addColumn<QByteArray>("yaml");
    QTest::addColumn<QString>("errorContains");

    QTest::newRow("not YAML") << QByteArray("provider: [openai\n") << "providers.yaml";
    QTest::newRow("a field out of range")
        << QByteArray("provider: openai\nescalationThreshold: 7\n") << "escalationThreshold";
    QTest::newRow("an API key in the file") << QByteArray("provider: openai\napiKey: sk-123\n") << "apiKey";
    QTest::newRow("a field the dialog does not edit") << QByteArray("rateLimits: 3\n") << "rateLimits";
}

void TestSettingsDialog::fileVigilctlWouldRefuse()
{
    QFETCH(QByteArray, yaml);
    QFETCH(QString, errorContains);
    writeFile(providerPath(), yaml);
    SettingsDialog dialog(nullptr, "vigil-test", providerPath());
    QVERIFY2(dialog.providerError().contains(errorContains), qPrintable(dialog.providerError()));
    dialog.show();
    dialog.accept();
    QVERIFY(dialog.isVisible());
    QCOMPARE(readFile(providerPath()), yaml); // never overwritten
}

void TestSettingsDialog::allowlistIsShared_data()
{
    QTest::addColumn<QStringList>("before");
    QTest::addColumn<QStringList>("add");
    QTest::addColumn<QString>("remove"); // empty: none
    QTest::addColumn<QStringList>("after");

    QTest::newRow("add to an empty list")
        << QStringList{} << QStringList{"aws eks get-token --cluster-name prod"} << ""
        << QStringList{"aws eks get-token --cluster-name prod"};
    QTest::newRow("remove one of two") << QStringList{"a-plugin", "b-plugin --x"} << QStringList{}
                                       << "a-plugin" << QStringList{"b-plugin --x"};
    QTest::newRow("duplicates and blanks are not added")
        << QStringList{"a-plugin"} << QStringList{"a-plugin", "   ", " c-plugin "} << ""
        << QStringList{"a-plugin", "c-plugin"};
    QTest::newRow("remove everything")
        << QStringList{"a-plugin"} << QStringList{} << "a-plugin" << QStringList{};
}

void TestSettingsDialog::allowlistIsShared()
{
    QFETCH(QStringList, before);
    QFETCH(QStringList, add);
    QFETCH(QString, remove);
    QFETCH(QStringList, after);
    kube::ExecAllowlist initial;
    for (const QString &line : before)
        initial.allow(line);
    QVERIFY(kube::saveExecAllowlistFile(kube::defaultExecAllowlistPath(), initial).ok());

    SettingsDialog dialog(nullptr, "vigil-test", providerPath());
    QListWidget *list = dialog.allowlist();
    QCOMPARE(list->count(), before.size());
    auto *edit = dialog.findChild<QLineEdit *>("newCommand");
    for (const QString &line : add) {
        edit->setText(line);
        dialog.findChild<QPushButton *>("addCommand")->click();
    }
    if (!remove.isEmpty()) {
        const QList<QListWidgetItem *> items = list->findItems(remove, Qt::MatchExactly);
        QCOMPARE(items.size(), 1);
        delete items.first();
    }
    dialog.accept();
    QCOMPARE(dialog.result(), int(QDialog::Accepted));

    Result<kube::ExecAllowlist> saved = kube::loadExecAllowlistFile(kube::defaultExecAllowlistPath());
    QVERIFY(saved.ok());
    QCOMPARE(saved->commandLines, QSet<QString>(after.cbegin(), after.cend()));
    // vigilctl's flags resolution reads the same list.
    const kube::LoadOptions o = cli::loadOptions({}, QProcessEnvironment());
    QCOMPARE(o.allowExec.commandLines, saved->commandLines);
}

void TestSettingsDialog::savesPolicySettings()
{
    const QString policy = m_dir.filePath("policy.yaml");
    writeFile(policy, "mode: suggest-only\n");
    SettingsDialog dialog(nullptr, "vigil-test", providerPath());
    dialog.findChild<QLineEdit *>("policyPath")->setText(policy);
    dialog.show();
    dialog.accept();
    QCOMPARE(dialog.result(), int(QDialog::Accepted));
    QCOMPARE(QSettings().value("policy/path").toString(), policy);
    QCOMPARE(QSettings().value("policy/mode").toString(), QString("suggest-only"));
    // The provider file is written, rules only, and loads.
    Result<llm::ProviderSettings> s = llm::loadProviderSettings(providerPath(), QProcessEnvironment());
    QVERIFY2(s.ok(), qPrintable(s.errorMessage()));
    QVERIFY(!s->usesModel());
}

QTEST_MAIN(TestSettingsDialog)
#include "tst_settingsdialog.moc"
