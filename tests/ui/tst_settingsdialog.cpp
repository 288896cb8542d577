#include "ui/settingsdialog.h"

#include <QApplication>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFile>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using vigil::ui::SettingsDialog;

class TestSettingsDialog final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void policyValidation_data();
    void policyValidation();
    void invalidPolicyKeepsTheDialogOpen();
    void keychainFailureStoresNothing();
    void savesPlainSettings();

private:
    QTemporaryDir m_dir;
};

void TestSettingsDialog::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QApplication::setOrganizationName("VigilTest");
    QApplication::setApplicationName("tst_settingsdialog");
    QSettings().clear();
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
    if (!yaml.isEmpty()) {
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(yaml);
    }
    SettingsDialog dialog;
    if (setPath)
        dialog.findChild<QLineEdit *>("policyPath")->setText(path);
    if (errorContains.isEmpty())
        QCOMPARE(dialog.policyError(), QString());
    else
        QVERIFY2(dialog.policyError().contains(errorContains), qPrintable(dialog.policyError()));
}

void TestSettingsDialog::invalidPolicyKeepsTheDialogOpen()
{
    SettingsDialog dialog;
    dialog.findChild<QLineEdit *>("policyPath")->setText(m_dir.filePath("absent.yaml"));
    dialog.show();
    dialog.accept();
    QVERIFY(dialog.isVisible());
    QCOMPARE(dialog.result(), int(QDialog::Rejected));
}

void TestSettingsDialog::keychainFailureStoresNothing()
{
    // No session bus: the keychain cannot be reached, and the key must not land anywhere else.
    qputenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/vigil-test-bus");
    const QString secret = "sk-test-do-not-store-0123456789";
    SettingsDialog dialog(nullptr, "vigil-test");
    auto *provider = dialog.findChildren<QComboBox *>().first();
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
}

void TestSettingsDialog::savesPlainSettings()
{
    SettingsDialog dialog;
    QList<QLineEdit *> edits = dialog.findChildren<QLineEdit *>();
    for (QLineEdit *e : edits) {
        if (e->placeholderText().startsWith("first try"))
            e->setText("gpt-4o-mini");
    }
    dialog.show();
    dialog.accept();
    QCOMPARE(dialog.result(), int(QDialog::Accepted));
    QCOMPARE(QSettings().value("llm/smallModel").toString(), QString("gpt-4o-mini"));
}

QTEST_MAIN(TestSettingsDialog)
#include "tst_settingsdialog.moc"
