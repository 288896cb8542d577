#pragma once

#include "core/guard/policy.h"
#include "core/kube/config/kubeconfig.h"
#include "core/pipeline/clustersession.h"
#include "ui/diagnosispanel.h"

#include <QMainWindow>
#include <QPointer>
#include <QProcessEnvironment>
#include <QThread>
#include <QTimer>

#include <functional>
#include <memory>

class QCheckBox;
class QComboBox;
class QDockWidget;
class QLabel;
class QLineEdit;
class QSplitter;
class QSystemTrayIcon;
class QTabWidget;
class QTableView;
class QSortFilterProxyModel;

namespace vigil::audit {
class AuditLog;
}

namespace vigil::ui {

class AgentDecisionView;
class ChartsPanel;
class AuditView;
class EventTableModel;
class IncidentModel;
class PodFilterProxyModel;
class PodTableModel;

/// The command line: vigil --kubeconfig F --context C --namespace N --policy P --read-only.
struct MainWindowOptions {
    QString kubeconfig;
    QString context;
    QString namespaceName; ///< empty: all namespaces
    QString policyPath;    ///< empty: the one in the settings, else the built-in default
    bool readOnly = false; ///< never offer to act
    QString auditPath;     ///< empty: audit.db in the data folder (shared with vigilctl)
    QString dataDir;       ///< decisions.db and audit.db; empty: $VIGIL_DATA_DIR, else the app data folder
    bool connectOnStart = true;
    int verifyTimeoutMs = 120000; ///< how long a verification waits for the effect
    /// Builds the session's Router on its thread; empty: a ReasoningStack from the provider
    /// settings file and the keychain's API key (rules when the file says so or is absent).
    std::function<pipeline::ReasonerSetup(QObject *parent)> reasoner;
    QString providerFile;                              ///< empty: llm::defaultProviderSettingsPath()
    QString keychainService = QStringLiteral("vigil"); ///< where SettingsDialog stores the API key
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
};

/// The desktop's main window. Owns the worker thread on which the
/// ClusterSession runs; it only ever talks to it through queued signals.
class MainWindow final : public QMainWindow {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MainWindow)

public:
    explicit MainWindow(MainWindowOptions options, QWidget *parent = nullptr);
    ~MainWindow() override;

    /// Resolves a context of the loaded kubeconfig and (re)starts the session.
    void connectToContext(const QString &context);
    /// Reconnects the current context (F5, after consent, after settings changed).
    void reconnect();
    /// The lead's pipeline reports progress of the incident's decision here.
    void setIncidentState(const QString &fingerprint, DiagnosisPanel::State state,
                          const QString &outcome = QString());
    /// Attaches a dry-run preview to an incident (shown when it is selected).
    void setDryRunPreview(const QString &fingerprint, const QString &preview);

    QString healthSentence() const;
    pipeline::SessionHealth health() const { return m_health; }
    PodTableModel *podModel() const { return m_podModel; }
    PodFilterProxyModel *podProxy() const { return m_podProxy; }
    QTableView *podView() const { return m_podView; }
    EventTableModel *eventModel() const { return m_eventModel; }
    IncidentModel *incidentModel() const { return m_incidentModel; }
    QTableView *incidentView() const { return m_incidentView; }
    DiagnosisPanel *diagnosisPanel() const { return m_panel; }
    AuditView *auditView() const { return m_auditView; }
    AgentDecisionView *agentDecisionView() const { return m_agentView; }
    ChartsPanel *chartsPanel() const { return m_charts; }
    QDockWidget *chartsDock() const { return m_chartsDock; }
    QTabWidget *tabs() const { return m_tabs; }
    const guard::Policy &policy() const { return m_policy; }
    bool suggestOnly() const;
    /// Which reasoner the session diagnoses with, as it said ("rules only", ...).
    QString reasonerDescription() const { return m_reasoner; }

    /// Replaces the save dialog "Record Incident…" asks with (tests); returns the path, empty: cancel.
    void setRecordPathPrompt(std::function<QString(const QString &suggested)> prompt)
    {
        m_recordPrompt = std::move(prompt);
    }
    /// Writes the selected incident's record (its redacted evidence, versioned JSON for
    /// `vigilctl replay`) to a file chosen in a dialog; the write happens off the GUI thread.
    void recordSelectedIncident();

    /// Exec plugin command lines the user allowed, in the file vigilctl reads too
    /// (kube::defaultExecAllowlistPath()).
    static kube::ExecAllowlist loadExecAllowlist();
    static void saveExecAllowlist(const kube::ExecAllowlist &allowlist);

Q_SIGNALS:
    void healthUpdated(const vigil::pipeline::SessionHealth &health);
    void batchApplied();
    void incidentsOpened(const QStringList &fingerprints);
    void podDetailsArrived(const vigil::pipeline::PodDetails &details);
    /// A "Record Incident…" finished: the file written, or why not.
    void incidentRecorded(const QString &path, bool ok, const QString &message);
    /// Intents from the diagnosis panel, about the selected incident; the session carries them out.
    void approveRequested(const vigil::pipeline::IncidentReport &report);
    void rejectRequested(const vigil::pipeline::IncidentReport &report, const QString &reason);
    void rediagnoseRequested(const vigil::pipeline::IncidentReport &report);
    void undoRequested(const vigil::pipeline::IncidentReport &report);
    void cancelRequested(const vigil::pipeline::IncidentReport &report);

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void buildUi();
    void buildActions();
    void loadKubeconfig();
    void loadPolicy();
    void startSession(kube::Connection connection);
    void launchSession(kube::Connection connection,
                       std::function<pipeline::ReasonerSetup(QObject *)> reasoner);
    void stopSession();
    void onBatch(const pipeline::SessionBatch &batch);
    void onHealth(const pipeline::SessionHealth &health);
    void onNamespaces(const QStringList &names);
    void onUsage(const pipeline::PodUsageMap &usage);
    void onExecConsent(const QString &commandLine, const QString &message);
    void onIncidentSelected();
    void onDecision(const QString &fingerprint, act::DecisionState state, const QString &outcome);
    void applyReportState(const pipeline::IncidentReport &report);
    static DiagnosisPanel::State panelState(act::DecisionState state);
    void openPodDetails(const QModelIndex &proxyIndex);
    void openSettings();
    void updateHealthLabel();
    void updateCounts();
    void restoreLayout();
    void saveLayout();
    const pipeline::IncidentReport *selectedReport() const;

    MainWindowOptions m_options;
    kube::KubeConfig m_kubeconfig;
    bool m_kubeconfigLoaded = false;
    QString m_currentContext;
    guard::Policy m_policy;
    gather::RedactorOptions m_redact; ///< providers.yaml's `redact:`, for the next session
    QString m_policyError;
    std::unique_ptr<audit::AuditLog> m_audit;
    QString m_auditPath;

    QThread m_thread;
    QPointer<pipeline::ClusterSession> m_session; // lives on m_thread; deleted there
    quint64 m_generation = 0;
    pipeline::SessionHealth m_health;
    QHash<QString, DiagnosisPanel::State> m_incidentStates;
    QHash<QString, QString> m_incidentOutcomes;
    QHash<QString, QString> m_reportedDecisions; // fingerprint -> "id/state" last seen in a report
    QString m_reasoner;
    QString m_clusterVersion;
    std::function<QString(const QString &)> m_recordPrompt;
    QHash<QString, QString> m_previews;

    QComboBox *m_contextBox = nullptr;
    QLabel *m_contextInfo = nullptr;
    QComboBox *m_namespaceBox = nullptr;
    QLineEdit *m_search = nullptr;
    QCheckBox *m_unhealthyOnly = nullptr;
    QLabel *m_healthDot = nullptr;
    QLabel *m_healthLabel = nullptr;
    QLabel *m_countLabel = nullptr;
    QLabel *m_reasonerLabel = nullptr;
    QTabWidget *m_tabs = nullptr;
    QSplitter *m_mainSplitter = nullptr;
    QSplitter *m_leftSplitter = nullptr;
    QSplitter *m_rightSplitter = nullptr;
    PodTableModel *m_podModel = nullptr;
    PodFilterProxyModel *m_podProxy = nullptr;
    QTableView *m_podView = nullptr;
    EventTableModel *m_eventModel = nullptr;
    QTableView *m_eventView = nullptr;
    IncidentModel *m_incidentModel = nullptr;
    QSortFilterProxyModel *m_incidentProxy = nullptr;
    QTableView *m_incidentView = nullptr;
    DiagnosisPanel *m_panel = nullptr;
    AuditView *m_auditView = nullptr;
    AgentDecisionView *m_agentView = nullptr;
    ChartsPanel *m_charts = nullptr;
    QDockWidget *m_chartsDock = nullptr;
    QTimer m_healthChartTimer; ///< pod health is recounted at most once a second
    QSystemTrayIcon *m_tray = nullptr;
    QTimer m_healthTimer;
    QTimer m_ageTimer;
};

} // namespace vigil::ui
