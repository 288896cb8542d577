#pragma once

#include <QDialog>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QListWidget;

namespace vigil::ui {

/// Provider, models, API key (system keychain only), budget, policy file
/// (validated as it is typed), mode and the exec plugin allowlist. Everything
/// but the key is kept in QSettings.
class SettingsDialog final : public QDialog {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SettingsDialog)

public:
    /// keychainService: the keychain's service name the key is stored under.
    explicit SettingsDialog(QWidget *parent = nullptr,
                            const QString &keychainService = QStringLiteral("vigil"));

    /// The policy validation message shown under the path ("" when valid or empty).
    QString policyError() const;
    QString keyStatus() const;

    /// Stores the settings; the API key goes to the keychain first and the
    /// dialog closes only when that succeeded.
    void accept() override;

    /// "<provider>-api-key": the keychain entry for a provider's key.
    static QString keychainKey(const QString &provider);

private:
    void validatePolicy();
    void saveAndClose();

    QString m_service;
    QComboBox *m_provider;
    QLineEdit *m_baseUrl;
    QLineEdit *m_smallModel;
    QLineEdit *m_strongModel;
    QLineEdit *m_apiKey;
    QLabel *m_keyStatus;
    QDoubleSpinBox *m_budget;
    QLineEdit *m_policyPath;
    QLabel *m_policyError;
    QComboBox *m_mode;
    QListWidget *m_allowlist;
    bool m_saving = false;
};

} // namespace vigil::ui
