#pragma once

#include "core/reason/llm/costmeter.h"

#include <QDialog>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QTableWidget;

namespace vigil::ui {

/// Provider, models, API key (system keychain only), price table, daily
/// budget, policy file (validated as it is typed), mode and the exec plugin
/// allowlist. The provider settings go to the YAML file vigilctl reads
/// (llm::defaultProviderSettingsPath(); fields the dialog does not edit are
/// kept), the allowlist to the file vigilctl reads
/// (kube::defaultExecAllowlistPath()), policy path and mode to QSettings.
class SettingsDialog final : public QDialog {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SettingsDialog)

public:
    enum PriceColumn { PriceModel, PriceInput, PriceOutput, PriceColumnCount };

    /// keychainService: the keychain's service name the key is stored under.
    /// providerFile: empty for llm::defaultProviderSettingsPath().
    explicit SettingsDialog(QWidget *parent = nullptr,
                            const QString &keychainService = QStringLiteral("vigil"),
                            const QString &providerFile = QString());

    /// The policy validation message shown under the path ("" when valid or empty).
    QString policyError() const;
    /// What is wrong with the provider settings or the price table ("" when nothing).
    QString providerError() const;
    QString keyStatus() const;
    QString providerFile() const { return m_providerFile; }
    QTableWidget *priceTable() const { return m_prices; }
    QListWidget *allowlist() const { return m_allowlist; }

    /// The price table as entered; an error names the row and the field at fault.
    Result<llm::PriceTable> prices() const;

    /// Stores the settings; the API key goes to the keychain first and the
    /// dialog closes only when that succeeded.
    void accept() override;

    /// "<provider>-api-key": the keychain entry for a provider's key.
    static QString keychainKey(const QString &provider);

private:
    void loadProviderFile();
    void addPriceRow(const QString &model, double input, double output);
    void addAllowed();
    void validatePolicy();
    void validateProvider();
    Result<QByteArray> providerYaml() const;
    void saveAndClose();

    QString m_service;
    QString m_providerFile;
    QByteArray m_providerText; ///< the file as read; the fields the dialog does not edit are kept
    QString m_loadError;
    QComboBox *m_provider;
    QLineEdit *m_baseUrl;
    QLineEdit *m_smallModel;
    QLineEdit *m_strongModel;
    QLineEdit *m_apiKey;
    QLabel *m_keyStatus;
    QDoubleSpinBox *m_budget;
    QTableWidget *m_prices;
    QLabel *m_providerError;
    QLineEdit *m_policyPath;
    QLabel *m_policyError;
    QComboBox *m_mode;
    QListWidget *m_allowlist;
    QLineEdit *m_newCommand;
    bool m_saving = false;
};

} // namespace vigil::ui
