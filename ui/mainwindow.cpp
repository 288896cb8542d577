#include "ui/mainwindow.h"

#include "core/act/datapaths.h"
#include "core/audit/auditlog.h"
#include "core/kube/config/execallowlistfile.h"
#include "core/reason/llm/reasoningstack.h"
#include "core/reason/llm/secretstore.h"
#include "core/reason/router.h"
#include "core/replay/incidentrecord.h"
#include "ui/agentdecisionview.h"
#include "ui/auditview.h"
#include "ui/chartspanel.h"
#include "ui/eventtablemodel.h"
#include "ui/incidentmodel.h"
#include "ui/poddetailsdialog.h"
#include "ui/podfilterproxymodel.h"
#include "ui/podtablemodel.h"
#include "ui/settingsdialog.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollBar>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStandardPaths>
#include <QStatusBar>
#include <QSystemTrayIcon>
#include <QTabWidget>
#include <QTableView>
#include <QToolBar>
#include <QVBoxLayout>

#include <qt6keychain/keychain.h>

namespace vigil::ui {
namespace {

// Owns the secrets a ReasoningStack reads; the stack is its child, so the store outlives it.
class SecretHolder final : public QObject {
public:
    SecretHolder(QHash<QString, QString> secrets, QObject *parent)
        : QObject(parent)
        , store(std::move(secrets))
    {
    }
    llm::MapSecretStore store;
};

QString describe(const llm::ProviderSettings &s)
{
    const QString models =
        s.smallModel.isEmpty() ? s.strongModel : s.smallModel + QStringLiteral(" → ") + s.strongModel;
    return s.provider + QStringLiteral(": ") + models;
}

// The secret names a provider reads its key under (ProviderSettings::apiKeyEnv wins).
QStringList keyNames(const llm::ProviderSettings &s)
{
    if (!s.apiKeyEnv.isEmpty())
        return {s.apiKeyEnv};
    if (s.provider == u"anthropic")
        return {QStringLiteral("ANTHROPIC_API_KEY")};
    if (s.provider == u"openai")
        return {s.azure ? QStringLiteral("AZURE_OPENAI_API_KEY") : QStringLiteral("OPENAI_API_KEY")};
    return {};
}

std::function<pipeline::ReasonerSetup(QObject *)> rulesOnly(const QString &why)
{
    return [why](QObject *) { return pipeline::ReasonerSetup{nullptr, why}; };
}

// Builds the stack on the session's thread (its SQLite connections are per thread).
std::function<pipeline::ReasonerSetup(QObject *)>
stackReasoner(const llm::ProviderSettings &settings, QHash<QString, QString> secrets, const QString &cacheDb)
{
    return [settings, secrets, cacheDb](QObject *parent) {
        auto *holder = new SecretHolder(secrets, parent);
        Result<std::unique_ptr<llm::ReasoningStack>> stack =
            llm::ReasoningStack::create(settings, &holder->store, cacheDb, holder);
        if (!stack) {
            delete holder;
            return pipeline::ReasonerSetup{nullptr,
                                           QStringLiteral("rules only (%1)").arg(stack.errorMessage())};
        }
        llm::ReasoningStack *owned = stack->release(); // a child of holder from here on
        return pipeline::ReasonerSetup{owned->router(), describe(settings)};
    };
}

QTableView *makeTable(QWidget *parent, int rowHeight)
{
    auto *view = new QTableView(parent);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setSelectionMode(QAbstractItemView::SingleSelection);
    view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    view->setAlternatingRowColors(true);
    view->setShowGrid(false);
    view->setWordWrap(false);
    view->setSortingEnabled(true);
    view->setHorizontalScrollMode(QAbstractItemView::ScrollPerPixel);
    // Fixed row heights: the view never measures rows, whatever the row count.
    view->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    view->verticalHeader()->setDefaultSectionSize(rowHeight);
    view->verticalHeader()->setVisible(false);
    view->horizontalHeader()->setHighlightSections(false);
    view->horizontalHeader()->setStretchLastSection(true);
    view->horizontalHeader()->setSectionsMovable(true);
    return view;
}

QWidget *titled(const QString &title, QWidget *content, QWidget *parent)
{
    auto *box = new QWidget(parent);
    auto *layout = new QVBoxLayout(box);
    layout->setContentsMargins(0, 4, 0, 0);
    layout->setSpacing(2);
    auto *label = new QLabel(QStringLiteral("<b>%1</b>").arg(title.toHtmlEscaped()), box);
    label->setContentsMargins(4, 0, 0, 0);
    layout->addWidget(label);
    content->setParent(box);
    layout->addWidget(content, 1);
    return box;
}

QString healthColor(pipeline::SessionHealth::Kind kind)
{
    using K = pipeline::SessionHealth::Kind;
    switch (kind) {
    case K::Connected:
        return QStringLiteral("#2da44e");
    case K::Connecting:
    case K::Reconnecting:
        return QStringLiteral("#d4a72c");
    case K::CredentialsExpired:
    case K::Forbidden:
    case K::Failed:
        return QStringLiteral("#cf222e");
    }
    return {};
}

} // namespace

MainWindow::MainWindow(MainWindowOptions options, QWidget *parent)
    : QMainWindow(parent)
    , m_options(std::move(options))
{
    qRegisterMetaType<pipeline::SessionBatch>();
    qRegisterMetaType<pipeline::SessionHealth>();
    qRegisterMetaType<pipeline::PodDetails>();
    qRegisterMetaType<pipeline::PodUsageMap>();
    qRegisterMetaType<pipeline::IncidentReport>();
    qRegisterMetaType<act::DecisionState>();
    qRegisterMetaType<pipeline::AgentDecisionBatch>();
    setWindowTitle(tr("Vigil"));
    setWindowIcon(
        QIcon::fromTheme(QStringLiteral("dev.vigil.Vigil"), QIcon(QStringLiteral(":/icons/vigil.svg"))));

    loadPolicy();
    // The session's executor appends to the same audit log (and vigilctl reads it).
    m_auditPath = m_options.auditPath.isEmpty() ? act::auditPath(act::dataDirectory(m_options.dataDir))
                                                : m_options.auditPath;
    Result<std::unique_ptr<audit::AuditLog>> log = audit::AuditLog::open(m_auditPath);
    QString auditError;
    if (log)
        m_audit = std::move(*log);
    else
        auditError = log.errorMessage();

    buildUi();
    buildActions();
    if (!auditError.isEmpty())
        m_auditView->setUnavailable(auditError);
    restoreLayout();

    m_thread.setObjectName(QStringLiteral("vigil-cluster"));
    m_thread.start();

    m_healthTimer.setInterval(1000);
    connect(&m_healthTimer, &QTimer::timeout, this, &MainWindow::updateHealthLabel);
    m_healthTimer.start();
    m_ageTimer.setInterval(5000);
    connect(&m_ageTimer, &QTimer::timeout, this, [this] { m_podModel->refreshAges(); });
    m_ageTimer.start();

    loadKubeconfig();
    if (m_options.connectOnStart && m_kubeconfigLoaded)
        connectToContext(m_currentContext);
}

MainWindow::~MainWindow()
{
    stopSession();
    m_thread.quit();
    m_thread.wait();
}

bool MainWindow::suggestOnly() const
{
    return m_options.readOnly || m_policy.mode == guard::PolicyMode::SuggestOnly;
}

void MainWindow::buildUi()
{
    const int rowHeight = fontMetrics().height() + 8;

    auto *toolbar = addToolBar(tr("Cluster"));
    toolbar->setObjectName(QStringLiteral("clusterToolbar"));
    toolbar->setMovable(false);
    toolbar->addWidget(new QLabel(tr(" Context "), toolbar));
    m_contextBox = new QComboBox(toolbar);
    m_contextBox->setObjectName(QStringLiteral("contextBox"));
    m_contextBox->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_contextBox->setMinimumContentsLength(18);
    toolbar->addWidget(m_contextBox);
    m_contextInfo = new QLabel(toolbar);
    m_contextInfo->setObjectName(QStringLiteral("contextInfo"));
    m_contextInfo->setEnabled(false);
    m_contextInfo->setContentsMargins(6, 0, 6, 0);
    toolbar->addWidget(m_contextInfo);
    toolbar->addWidget(new QLabel(tr("  Namespace "), toolbar));
    m_namespaceBox = new QComboBox(toolbar);
    m_namespaceBox->setObjectName(QStringLiteral("namespaceBox"));
    m_namespaceBox->setMinimumContentsLength(14);
    m_namespaceBox->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_namespaceBox->addItem(tr("All namespaces"), QString());
    if (!m_options.namespaceName.isEmpty())
        m_namespaceBox->addItem(m_options.namespaceName, m_options.namespaceName);
    m_namespaceBox->setCurrentIndex(m_namespaceBox->count() - 1);
    toolbar->addWidget(m_namespaceBox);
    toolbar->addSeparator();
    m_search = new QLineEdit(toolbar);
    m_search->setObjectName(QStringLiteral("search"));
    m_search->setPlaceholderText(tr("Filter pods by name, namespace or status (Ctrl+F)"));
    m_search->setClearButtonEnabled(true);
    m_search->setMinimumWidth(280);
    toolbar->addWidget(m_search);
    m_unhealthyOnly = new QCheckBox(tr("Unhealthy only"), toolbar);
    toolbar->addWidget(m_unhealthyOnly);

    m_tabs = new QTabWidget(this);
    m_tabs->setDocumentMode(true);
    setCentralWidget(m_tabs);

    m_podModel = new PodTableModel(this);
    m_podProxy = new PodFilterProxyModel(this);
    m_podProxy->setSourceModel(m_podModel);
    m_podView = makeTable(this, rowHeight);
    m_podView->setObjectName(QStringLiteral("podView"));
    m_podView->setModel(m_podProxy);
    m_podView->sortByColumn(PodTableModel::Namespace, Qt::AscendingOrder);
    const QList<int> podWidths{95, 205, 48, 130, 64, 48, 95, 150, 55, 70};
    for (int c = 0; c < podWidths.size(); ++c)
        m_podView->setColumnWidth(c, podWidths[c]);

    m_eventModel = new EventTableModel(this);
    auto *eventProxy = new QSortFilterProxyModel(this);
    eventProxy->setSourceModel(m_eventModel);
    eventProxy->setSortRole(EventTableModel::SortRole);
    m_eventView = makeTable(this, rowHeight);
    m_eventView->setObjectName(QStringLiteral("eventView"));
    m_eventView->setModel(eventProxy);
    m_eventView->sortByColumn(EventTableModel::LastSeen, Qt::DescendingOrder);
    const QList<int> eventWidths{85, 95, 210, 120, 400, 55};
    for (int c = 0; c < eventWidths.size(); ++c)
        m_eventView->setColumnWidth(c, eventWidths[c]);
    m_eventView->horizontalHeader()->moveSection(EventTableModel::Count, EventTableModel::Message);

    m_incidentModel = new IncidentModel(this);
    m_incidentProxy = new QSortFilterProxyModel(this);
    m_incidentProxy->setSourceModel(m_incidentModel);
    m_incidentProxy->setSortRole(IncidentModel::SortRole);
    m_incidentProxy->setDynamicSortFilter(true);
    m_incidentView = makeTable(this, rowHeight);
    m_incidentView->setObjectName(QStringLiteral("incidentView"));
    m_incidentView->setModel(m_incidentProxy);
    m_incidentView->sortByColumn(IncidentModel::LastSeen, Qt::DescendingOrder);
    const QList<int> incidentWidths{130, 150, 80, 50, 85, 160};
    for (int c = 0; c < incidentWidths.size(); ++c)
        m_incidentView->setColumnWidth(c, incidentWidths[c]);

    m_panel = new DiagnosisPanel(this);
    m_panel->setObjectName(QStringLiteral("diagnosisPanel"));
    m_panel->setSuggestOnly(suggestOnly());

    m_leftSplitter = new QSplitter(Qt::Vertical, this);
    m_leftSplitter->setObjectName(QStringLiteral("leftSplitter"));
    m_leftSplitter->addWidget(titled(tr("Pods"), m_podView, m_leftSplitter));
    m_leftSplitter->addWidget(titled(tr("Warning events"), m_eventView, m_leftSplitter));
    m_leftSplitter->setStretchFactor(0, 3);
    m_leftSplitter->setStretchFactor(1, 1);
    m_leftSplitter->setSizes({600, 200});
    m_rightSplitter = new QSplitter(Qt::Vertical, this);
    m_rightSplitter->setObjectName(QStringLiteral("rightSplitter"));
    m_rightSplitter->addWidget(titled(tr("Incidents"), m_incidentView, m_rightSplitter));
    m_rightSplitter->addWidget(m_panel);
    m_rightSplitter->setStretchFactor(0, 1);
    m_rightSplitter->setStretchFactor(1, 3);
    m_rightSplitter->setSizes({170, 650});
    m_mainSplitter = new QSplitter(Qt::Horizontal, this);
    m_mainSplitter->setObjectName(QStringLiteral("mainSplitter"));
    m_mainSplitter->addWidget(m_leftSplitter);
    m_mainSplitter->addWidget(m_rightSplitter);
    m_mainSplitter->setStretchFactor(0, 3);
    m_mainSplitter->setStretchFactor(1, 2);
    m_mainSplitter->setSizes({880, 600});
    m_tabs->addTab(m_mainSplitter, QIcon::fromTheme(QStringLiteral("network-server")), tr("Cluster"));

    m_auditView = new AuditView(m_audit.get(), this);
    m_tabs->addTab(m_auditView, QIcon::fromTheme(QStringLiteral("document-properties")), tr("Audit log"));

    m_agentView = new AgentDecisionView(this);
    m_agentView->setObjectName(QStringLiteral("agentDecisionView"));
    m_agentView->setReadOnly(suggestOnly());
    m_tabs->addTab(m_agentView, QIcon::fromTheme(QStringLiteral("system-run")), tr("Agent decisions"));

    // Charts in a dock: where a person would rather look than read. Hidden docks cost nothing.
    m_charts = new ChartsPanel(this);
    m_charts->setObjectName(QStringLiteral("chartsPanel"));
    m_chartsDock = new QDockWidget(tr("Charts"), this);
    m_chartsDock->setObjectName(QStringLiteral("chartsDock"));
    m_chartsDock->setWidget(m_charts);
    m_chartsDock->setAllowedAreas(Qt::BottomDockWidgetArea | Qt::RightDockWidgetArea);
    addDockWidget(Qt::BottomDockWidgetArea, m_chartsDock);
    m_healthChartTimer.setSingleShot(true);
    m_healthChartTimer.setInterval(1000);
    connect(&m_healthChartTimer, &QTimer::timeout, this, [this] {
        if (m_chartsDock->isVisible())
            m_charts->setPodHealth(ChartsPanel::podHealthOf(*m_podModel, QDateTime::currentDateTimeUtc()));
    });
    connect(m_chartsDock, &QDockWidget::visibilityChanged, this, [this](bool visible) {
        if (visible)
            m_healthChartTimer.start();
    });

    m_healthDot = new QLabel(this);
    m_healthLabel = new QLabel(this);
    m_healthLabel->setObjectName(QStringLiteral("healthLabel"));
    m_healthLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_countLabel = new QLabel(this);
    m_reasonerLabel = new QLabel(this);
    m_reasonerLabel->setObjectName(QStringLiteral("reasonerLabel"));
    statusBar()->addWidget(m_healthDot);
    statusBar()->addWidget(m_healthLabel, 1);
    statusBar()->addPermanentWidget(m_reasonerLabel);
    statusBar()->addPermanentWidget(m_countLabel);
    updateHealthLabel();
    updateCounts();

    connect(m_search, &QLineEdit::textChanged, this, [this](const QString &t) {
        m_podProxy->setSearchText(t);
        updateCounts();
    });
    connect(m_unhealthyOnly, &QCheckBox::toggled, this, [this](bool on) {
        m_podProxy->setUnhealthyOnly(on);
        updateCounts();
    });
    connect(m_contextBox, &QComboBox::activated, this,
            [this](int index) { connectToContext(m_contextBox->itemData(index).toString()); });
    connect(m_namespaceBox, &QComboBox::activated, this, [this](int) { reconnect(); });
    connect(m_podView, &QTableView::doubleClicked, this, &MainWindow::openPodDetails);
    connect(m_incidentView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &MainWindow::onIncidentSelected);

    auto forward = [this](auto signal) {
        return [this, signal] {
            if (const pipeline::IncidentReport *r = selectedReport())
                Q_EMIT(this->*signal)(*r);
        };
    };
    connect(m_panel, &DiagnosisPanel::approveRequested, this, forward(&MainWindow::approveRequested));
    connect(m_panel, &DiagnosisPanel::rediagnoseRequested, this, forward(&MainWindow::rediagnoseRequested));
    connect(m_panel, &DiagnosisPanel::undoRequested, this, forward(&MainWindow::undoRequested));
    connect(m_panel, &DiagnosisPanel::cancelRequested, this, forward(&MainWindow::cancelRequested));
    connect(m_panel, &DiagnosisPanel::rejectRequested, this, [this](const QString &reason) {
        if (const pipeline::IncidentReport *r = selectedReport()) {
            setIncidentState(r->incident.fingerprint, DiagnosisPanel::State::Rejected,
                             tr("Rejected: %1").arg(reason));
            Q_EMIT rejectRequested(*r, reason);
        }
    });

    if (QSystemTrayIcon::isSystemTrayAvailable()) {
        m_tray = new QSystemTrayIcon(windowIcon(), this);
        m_tray->setToolTip(tr("Vigil"));
        m_tray->show();
    }
}

void MainWindow::buildActions()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    QAction *settings =
        file->addAction(QIcon::fromTheme(QStringLiteral("preferences-system")), tr("&Settings…"));
    settings->setShortcut(QKeySequence::Preferences);
    if (settings->shortcut().isEmpty())
        settings->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Comma));
    connect(settings, &QAction::triggered, this, &MainWindow::openSettings);
    file->addSeparator();
    QAction *quit = file->addAction(QIcon::fromTheme(QStringLiteral("application-exit")), tr("&Quit"));
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, this, &QWidget::close);

    QMenu *view = menuBar()->addMenu(tr("&View"));
    QAction *find = view->addAction(tr("&Find Pods"));
    find->setShortcut(QKeySequence::Find);
    connect(find, &QAction::triggered, this, [this] {
        m_tabs->setCurrentIndex(0);
        m_search->setFocus();
        m_search->selectAll();
    });
    QAction *cluster = view->addAction(tr("&Cluster"));
    cluster->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_1));
    connect(cluster, &QAction::triggered, this, [this] { m_tabs->setCurrentIndex(0); });
    QAction *audit = view->addAction(tr("&Audit Log"));
    audit->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_2));
    connect(audit, &QAction::triggered, this, [this] { m_tabs->setCurrentWidget(m_auditView); });
    QAction *agent = view->addAction(tr("A&gent Decisions"));
    agent->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_3));
    connect(agent, &QAction::triggered, this, [this] { m_tabs->setCurrentWidget(m_agentView); });
    QAction *charts = m_chartsDock->toggleViewAction();
    charts->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_4));
    view->addAction(charts);
    QAction *refresh = view->addAction(QIcon::fromTheme(QStringLiteral("view-refresh")), tr("&Reconnect"));
    refresh->setShortcut(QKeySequence::Refresh);
    connect(refresh, &QAction::triggered, this, &MainWindow::reconnect);

    QMenu *incident = menuBar()->addMenu(tr("&Incident"));
    QAction *approve = incident->addAction(tr("&Approve && Execute"));
    approve->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
    connect(approve, &QAction::triggered, this, [this] {
        if (!suggestOnly() && selectedReport())
            if (auto *b = m_panel->findChild<QPushButton *>(QStringLiteral("approve")); b && b->isEnabled())
                b->click();
    });
    QAction *record =
        incident->addAction(QIcon::fromTheme(QStringLiteral("document-save")), tr("Re&cord Incident…"));
    record->setObjectName(QStringLiteral("recordIncident"));
    record->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R));
    record->setToolTip(tr("Save the incident's redacted context as a record for vigilctl replay"));
    connect(record, &QAction::triggered, this, &MainWindow::recordSelectedIncident);
    QAction *reject = incident->addAction(tr("&Reject…"));
    reject->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Backspace));
    connect(reject, &QAction::triggered, this, [this] {
        if (auto *b = m_panel->findChild<QPushButton *>(QStringLiteral("reject")); b && b->isEnabled())
            b->click();
    });

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    QAction *about = help->addAction(tr("&About Vigil"));
    connect(about, &QAction::triggered, this, [this] {
        QMessageBox::about(
            this, tr("About Vigil"),
            tr("<b>Vigil %1</b><p>A Kubernetes assistant for SREs: watches the cluster, diagnoses "
               "incidents and proposes guarded fixes you approve.</p>")
                .arg(QApplication::applicationVersion()));
    });
}

kube::ExecAllowlist MainWindow::loadExecAllowlist()
{
    // The file vigilctl reads too.
    Result<kube::ExecAllowlist> file = kube::loadExecAllowlistFile(kube::defaultExecAllowlistPath());
    if (!file) {
        qWarning("%s", qPrintable(file.errorMessage()));
        return {};
    }
    return *file;
}

void MainWindow::saveExecAllowlist(const kube::ExecAllowlist &allowlist)
{
    if (Result<void> saved = kube::saveExecAllowlistFile(kube::defaultExecAllowlistPath(), allowlist); !saved)
        qWarning("%s", qPrintable(saved.errorMessage()));
}

void MainWindow::loadPolicy()
{
    QString path = m_options.policyPath;
    if (path.isEmpty())
        path = QSettings().value(QStringLiteral("policy/path")).toString();
    m_policyError.clear();
    if (path.isEmpty()) {
        m_policy = guard::defaultPolicy();
    } else if (Result<guard::Policy> p = guard::loadPolicyFile(path)) {
        m_policy = *p;
    } else {
        m_policy = guard::defaultPolicy();
        m_policyError = p.errorMessage();
    }
    const QVariant mode = QSettings().value(QStringLiteral("policy/mode"));
    if (mode.isValid() && m_options.policyPath.isEmpty()) {
        for (guard::PolicyMode m : {guard::PolicyMode::SuggestOnly, guard::PolicyMode::Approve,
                                    guard::PolicyMode::AutoWithinPolicy}) {
            if (guard::policyModeName(m) == mode.toString())
                m_policy.mode = m;
        }
    }
    if (m_panel)
        m_panel->setSuggestOnly(suggestOnly());
    if (m_agentView)
        m_agentView->setReadOnly(suggestOnly());
}

void MainWindow::loadKubeconfig()
{
    kube::LoadOptions lo;
    lo.explicitPath = m_options.kubeconfig;
    lo.kubeconfigEnv = m_options.env.value(QStringLiteral("KUBECONFIG"));
    lo.homeDir = m_options.env.value(QStringLiteral("HOME"), QDir::homePath());
    lo.contextOverride = m_options.context;
    lo.allowExec = loadExecAllowlist();
    Result<kube::KubeConfig> config = kube::KubeConfig::load(lo);
    m_contextBox->clear();
    if (!config) {
        m_kubeconfigLoaded = false;
        pipeline::SessionHealth h;
        h.kind = pipeline::SessionHealth::Kind::Failed;
        h.detail = config.errorMessage();
        onHealth(h);
        return;
    }
    m_kubeconfig = *config;
    m_kubeconfigLoaded = true;
    for (const kube::ContextInfo &c : m_kubeconfig.contexts()) {
        m_contextBox->addItem(c.name, c.name);
        m_contextBox->setItemData(m_contextBox->count() - 1,
                                  tr("cluster: %1\nuser: %2\nfrom: %3").arg(c.cluster, c.user, c.sourceFile),
                                  Qt::ToolTipRole);
    }
    if (m_currentContext.isEmpty())
        m_currentContext = m_options.context.isEmpty() ? m_kubeconfig.currentContext() : m_options.context;
    m_contextBox->setCurrentIndex(std::max(0, m_contextBox->findData(m_currentContext)));
}

void MainWindow::connectToContext(const QString &context)
{
    if (!m_kubeconfigLoaded)
        return;
    Result<kube::Connection> connection = m_kubeconfig.resolve(context);
    m_currentContext = context.isEmpty() ? m_kubeconfig.currentContext() : context;
    m_contextBox->setCurrentIndex(std::max(0, m_contextBox->findData(m_currentContext)));
    if (!connection) {
        stopSession();
        pipeline::SessionHealth h;
        h.kind = pipeline::SessionHealth::Kind::Failed;
        h.detail = connection.errorMessage();
        onHealth(h);
        return;
    }
    for (const kube::ContextInfo &c : m_kubeconfig.contexts()) {
        if (c.name == m_currentContext) {
            m_contextBox->setToolTip(tr("cluster %1 as user %2").arg(c.cluster, c.user));
            m_contextInfo->setText(tr("cluster %1 · user %2").arg(c.cluster, c.user));
        }
    }
    setWindowTitle(tr("%1 — Vigil").arg(m_currentContext));
    startSession(std::move(*connection));
}

void MainWindow::reconnect()
{
    loadKubeconfig();
    connectToContext(m_currentContext);
}

void MainWindow::stopSession()
{
    ++m_generation;
    if (m_session) {
        // Deleted on its own thread; late signals are dropped by the generation check.
        m_session->deleteLater();
        m_session = nullptr;
    }
}

void MainWindow::startSession(kube::Connection connection)
{
    stopSession();
    m_podModel->resetPods({});
    m_podModel->setUsage({});
    m_eventModel->clear();
    m_incidentModel->clear();
    m_agentView->clear();
    m_panel->clear();
    m_incidentStates.clear();
    m_incidentOutcomes.clear();
    m_reportedDecisions.clear();
    m_previews.clear();

    if (m_options.reasoner) {
        launchSession(std::move(connection), m_options.reasoner);
        return;
    }
    // The provider settings vigilctl reads too; the key from the system keychain only.
    const QString file =
        m_options.providerFile.isEmpty() ? llm::defaultProviderSettingsPath() : m_options.providerFile;
    if (!QFileInfo::exists(file)) {
        m_redact = gather::RedactorOptions();
        launchSession(std::move(connection), rulesOnly(tr("rules only")));
        return;
    }
    Result<llm::ProviderSettings> settings = llm::loadProviderSettings(file, m_options.env);
    m_redact = settings ? settings->redact : gather::RedactorOptions();
    if (!settings) {
        launchSession(std::move(connection), rulesOnly(tr("rules only (%1)").arg(settings.errorMessage())));
        return;
    }
    if (!settings->usesModel()) {
        launchSession(std::move(connection), rulesOnly(tr("rules only")));
        return;
    }
    const QString cacheDb = act::dataDirectory(m_options.dataDir) + QStringLiteral("/diagnoses.sqlite");
    const QStringList names = keyNames(*settings);
    if (names.isEmpty() || settings->local) {
        launchSession(std::move(connection), stackReasoner(*settings, {}, cacheDb));
        return;
    }
    // The keychain answers asynchronously: the session starts when it has.
    auto *job = new QKeychain::ReadPasswordJob(m_options.keychainService, this);
    job->setAutoDelete(true);
    job->setKey(SettingsDialog::keychainKey(settings->provider));
    const quint64 gen = m_generation;
    connect(job, &QKeychain::Job::finished, this,
            [this, job, gen, connection = std::move(connection), s = *settings, names, cacheDb]() mutable {
                if (gen != m_generation)
                    return; // reconnected meanwhile
                if (job->error() != QKeychain::NoError) {
                    launchSession(std::move(connection),
                                  rulesOnly(tr("rules only: no %1 API key in the system keychain (%2)")
                                                .arg(s.provider, job->errorString())));
                    return;
                }
                QHash<QString, QString> secrets;
                for (const QString &n : names)
                    secrets.insert(n, job->textData());
                launchSession(std::move(connection), stackReasoner(s, secrets, cacheDb));
            });
    job->start();
}

void MainWindow::launchSession(kube::Connection connection,
                               std::function<pipeline::ReasonerSetup(QObject *)> reasoner)
{
    pipeline::SessionOptions so;
    so.namespaceName = m_namespaceBox->currentData().toString();
    so.policy = m_policy;
    so.dataDir = m_options.dataDir;
    so.auditPath = m_auditPath;
    so.readOnly = m_options.readOnly;
    so.reasoner = std::move(reasoner);
    so.diagnoser.redactor = m_redact;
    so.verifyTimeoutMs = m_options.verifyTimeoutMs;
    auto *session = new pipeline::ClusterSession(std::move(connection), so);
    session->moveToThread(&m_thread);
    m_session = session;
    const quint64 gen = m_generation;
    connect(session, &pipeline::ClusterSession::batchReady, this,
            [this, gen](const pipeline::SessionBatch &b) {
                if (gen == m_generation)
                    onBatch(b);
            });
    connect(session, &pipeline::ClusterSession::healthChanged, this,
            [this, gen](const pipeline::SessionHealth &h) {
                if (gen == m_generation)
                    onHealth(h);
            });
    connect(session, &pipeline::ClusterSession::namespacesListed, this, [this, gen](const QStringList &n) {
        if (gen == m_generation)
            onNamespaces(n);
    });
    connect(session, &pipeline::ClusterSession::usageUpdated, this,
            [this, gen](const pipeline::PodUsageMap &u) {
                if (gen == m_generation)
                    onUsage(u);
            });
    connect(session, &pipeline::ClusterSession::execConsentRequired, this,
            [this, gen](const QString &line, const QString &message) {
                if (gen == m_generation)
                    onExecConsent(line, message);
            });
    connect(session, &pipeline::ClusterSession::podDetailsReady, this,
            [this, gen](const pipeline::PodDetails &d) {
                if (gen == m_generation)
                    Q_EMIT podDetailsArrived(d);
            });
    connect(session, &pipeline::ClusterSession::previewReady, this,
            [this, gen](const QString &fp, const QString &text) {
                if (gen == m_generation)
                    setDryRunPreview(fp, text);
            });
    connect(session, &pipeline::ClusterSession::decisionUpdated, this,
            [this, gen](const QString &fp, act::DecisionState state, const QString &outcome) {
                if (gen == m_generation)
                    onDecision(fp, state, outcome);
            });
    // The session's context runs these on the worker thread; they die with the session.
    connect(
        this, &MainWindow::approveRequested, session,
        [session](const pipeline::IncidentReport &r) { session->approve(r.incident.fingerprint); },
        Qt::QueuedConnection);
    connect(
        this, &MainWindow::rejectRequested, session,
        [session](const pipeline::IncidentReport &r, const QString &reason) {
            session->reject(r.incident.fingerprint, reason);
        },
        Qt::QueuedConnection);
    connect(
        this, &MainWindow::undoRequested, session,
        [session](const pipeline::IncidentReport &r) { session->undo(r.incident.fingerprint); },
        Qt::QueuedConnection);
    connect(
        this, &MainWindow::rediagnoseRequested, session,
        [session](const pipeline::IncidentReport &r) { session->rediagnose(r.incident.fingerprint); },
        Qt::QueuedConnection);
    connect(
        this, &MainWindow::cancelRequested, session,
        [session](const pipeline::IncidentReport &r) { session->cancelDiagnosis(r.incident.fingerprint); },
        Qt::QueuedConnection);
    connect(session, &pipeline::ClusterSession::reasonerReady, this, [this, gen](const QString &description) {
        if (gen != m_generation)
            return;
        m_reasoner = description;
        m_reasonerLabel->setText(tr("Diagnosis: %1").arg(description));
    });
    connect(session, &pipeline::ClusterSession::clusterVersionKnown, this, [this, gen](const QString &v) {
        if (gen == m_generation)
            m_clusterVersion = v;
    });
    connect(session, &pipeline::ClusterSession::notice, this, [this, gen](const QString &message) {
        if (gen == m_generation)
            statusBar()->showMessage(message, 15000);
    });
    connect(session, &pipeline::ClusterSession::agentDecisionsAvailable, this,
            [this, gen](bool available, const QString &why) {
                if (gen == m_generation)
                    m_agentView->setAvailability(available, why);
            });
    connect(session, &pipeline::ClusterSession::decisionsMirrored, this,
            [this, gen](bool mirrored, const QString &message) {
                if (gen == m_generation)
                    m_agentView->setMirrorState(mirrored, message);
            });
    connect(session, &pipeline::ClusterSession::agentDecisionsChanged, this,
            [this, gen](const pipeline::AgentDecisionBatch &batch) {
                if (gen == m_generation)
                    m_agentView->apply(batch);
            });
    connect(session, &pipeline::ClusterSession::agentDecisionActed, this,
            [this, gen](const QString &ns, const QString &name, bool ok, const QString &message) {
                if (gen == m_generation)
                    m_agentView->setActed(ns, name, ok, message);
            });
    connect(
        m_agentView, &AgentDecisionView::approveRequested, session,
        [session](const QString &ns, const QString &name) { session->approveAgentDecision(ns, name); },
        Qt::QueuedConnection);
    connect(
        m_agentView, &AgentDecisionView::rejectRequested, session,
        [session](const QString &ns, const QString &name, const QString &reason) {
            session->rejectAgentDecision(ns, name, reason);
        },
        Qt::QueuedConnection);
    m_thread.setObjectName(QStringLiteral("vigil-cluster"));
    connect(&m_thread, &QThread::finished, session, &QObject::deleteLater);
    QMetaObject::invokeMethod(session, &pipeline::ClusterSession::start, Qt::QueuedConnection);
}

void MainWindow::onBatch(const pipeline::SessionBatch &batch)
{
    if (batch.podsResynced) {
        // A reset loses the view's selection and scroll position: put them back.
        const QModelIndex current = m_podView->currentIndex();
        const QString uid = current.isValid() ? current.data(PodTableModel::UidRole).toString() : QString();
        const int scroll = m_podView->verticalScrollBar()->value();
        m_podModel->resetPods(batch.pods);
        if (!uid.isEmpty()) {
            const int row = m_podModel->rowOfUid(uid);
            if (row >= 0) {
                const QModelIndex idx = m_podProxy->mapFromSource(m_podModel->index(row, current.column()));
                m_podView->selectionModel()->setCurrentIndex(idx, QItemSelectionModel::ClearAndSelect |
                                                                      QItemSelectionModel::Rows);
            }
        }
        m_podView->verticalScrollBar()->setValue(scroll);
    } else if (!batch.pods.isEmpty() || !batch.deletedPodUids.isEmpty()) {
        m_podModel->applyChanges(batch.pods, batch.deletedPodUids);
    }
    if (!batch.warnings.isEmpty())
        m_eventModel->addEvents(batch.warnings);
    if (batch.podsResynced || !batch.pods.isEmpty() || !batch.deletedPodUids.isEmpty()) {
        if (!m_healthChartTimer.isActive())
            m_healthChartTimer.start();
    }
    if (!batch.incidents.isEmpty()) {
        const QDateTime now = QDateTime::currentDateTimeUtc();
        for (const pipeline::IncidentReport &r : batch.incidents) {
            // A model's answer arriving (not a cached one): one call on the LLM chart.
            const pipeline::IncidentReport *before =
                m_incidentModel->report(m_incidentModel->rowOf(r.incident.fingerprint));
            const bool answered = r.diagnosed && !r.diagnosing && (!before || before->diagnosing);
            if (answered && r.diagnosis.source.kind == DiagnosisSource::Llm)
                m_charts->addLlmCall(now, r.diagnosis.costUsd,
                                     r.diagnosis.promptTokens + r.diagnosis.completionTokens);
        }
        const QStringList opened = m_incidentModel->upsert(batch.incidents);
        for (const QString &fp : opened) {
            if (const pipeline::IncidentReport *r = m_incidentModel->report(m_incidentModel->rowOf(fp)))
                m_charts->addIncident(r->incident.firstSeen.isValid() ? r->incident.firstSeen : now);
        }
        for (const pipeline::IncidentReport &r : batch.incidents)
            applyReportState(r);
        onIncidentSelected(); // the selected incident may have changed
        if (!opened.isEmpty()) {
            if (m_tray && !isActiveWindow()) {
                const pipeline::IncidentReport *r =
                    m_incidentModel->report(m_incidentModel->rowOf(opened.first()));
                if (r)
                    m_tray->showMessage(tr("New incident: %1").arg(r->incident.reason),
                                        tr("%1/%2 in %3")
                                            .arg(r->incident.workload.kind, r->incident.workload.name,
                                                 r->incident.namespaceName),
                                        QSystemTrayIcon::Warning, 8000);
            }
            Q_EMIT incidentsOpened(opened);
        }
    }
    updateCounts();
    Q_EMIT batchApplied();
}

void MainWindow::onHealth(const pipeline::SessionHealth &health)
{
    m_health = health;
    updateHealthLabel();
    Q_EMIT healthUpdated(health);
}

QString MainWindow::healthSentence() const
{
    if (!m_kubeconfigLoaded && m_health.kind != pipeline::SessionHealth::Kind::Failed)
        return tr("No kubeconfig loaded.");
    return m_health.sentence(QDateTime::currentDateTimeUtc());
}

void MainWindow::updateHealthLabel()
{
    m_healthDot->setText(
        QStringLiteral("<span style=\"color:%1; font-size:large\">●</span>").arg(healthColor(m_health.kind)));
    QString text = healthSentence();
    if (!m_policyError.isEmpty())
        text += tr("  ·  Policy not loaded (using the default): %1").arg(m_policyError);
    m_healthLabel->setText(text);
    m_healthLabel->setToolTip(m_health.detail);
}

void MainWindow::updateCounts()
{
    // Kept by the model as rows change: judging 50,000 rows here after every batch took ~6 ms.
    m_countLabel->setText(tr("%1 of %2 pods shown · %3 unhealthy · %4 incidents")
                              .arg(m_podProxy->rowCount())
                              .arg(m_podModel->rowCount())
                              .arg(m_podModel->unhealthyCount())
                              .arg(m_incidentModel->rowCount()));
}

void MainWindow::onNamespaces(const QStringList &names)
{
    const QString current = m_namespaceBox->currentData().toString();
    m_namespaceBox->clear();
    m_namespaceBox->addItem(tr("All namespaces"), QString());
    for (const QString &n : names)
        m_namespaceBox->addItem(n, n);
    if (!current.isEmpty() && m_namespaceBox->findData(current) < 0)
        m_namespaceBox->addItem(current, current);
    m_namespaceBox->setCurrentIndex(std::max(0, m_namespaceBox->findData(current)));
}

void MainWindow::onUsage(const pipeline::PodUsageMap &usage)
{
    QHash<QString, PodUsage> out;
    out.reserve(usage.size());
    for (auto it = usage.cbegin(); it != usage.cend(); ++it)
        out.insert(it.key(), PodUsage{it->cpuMilli, it->memoryBytes});
    m_podModel->setUsage(out);
}

void MainWindow::onExecConsent(const QString &commandLine, const QString &message)
{
    auto *box = new QMessageBox(
        QMessageBox::Question, tr("Allow credential plugin?"),
        tr("The context <b>%1</b> gets its credentials by running a program. Vigil runs it only "
           "with your permission.")
            .arg(m_currentContext.toHtmlEscaped()),
        QMessageBox::NoButton, this);
    box->setObjectName(QStringLiteral("execConsent"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setInformativeText(
        tr("It will run exactly this command:<pre>%1</pre>").arg(commandLine.toHtmlEscaped()));
    box->setDetailedText(message);
    QPushButton *allow = box->addButton(tr("Allow and Connect"), QMessageBox::AcceptRole);
    box->addButton(QMessageBox::Cancel);
    connect(box, &QMessageBox::finished, this, [this, box, allow, commandLine] {
        if (box->clickedButton() != allow || commandLine.isEmpty())
            return;
        kube::ExecAllowlist list = loadExecAllowlist();
        list.allow(commandLine);
        saveExecAllowlist(list);
        reconnect();
    });
    box->open();
}

const pipeline::IncidentReport *MainWindow::selectedReport() const
{
    const QModelIndex current = m_incidentView->selectionModel()->currentIndex();
    if (!current.isValid())
        return nullptr;
    return m_incidentModel->report(m_incidentProxy->mapToSource(current).row());
}

void MainWindow::onIncidentSelected()
{
    const pipeline::IncidentReport *r = selectedReport();
    if (!r) {
        m_panel->clear();
        return;
    }
    const pipeline::Incident &i = r->incident;
    DiagnosisPanelData d;
    d.title = i.reason + QStringLiteral(" · ") +
              (i.workload.kind.isEmpty() ? i.workload.name : i.workload.kind + u'/' + i.workload.name);
    d.subtitle = tr("%1 · %2 · %3 · first seen %4 ago")
                     .arg(i.namespaceName.isEmpty() ? tr("cluster") : i.namespaceName)
                     .arg(i.pods.size() == 1 ? tr("1 pod") : tr("%1 pods").arg(i.pods.size()))
                     .arg(i.count == 1 ? tr("1 occurrence") : tr("%1 occurrences").arg(i.count))
                     .arg(PodTableModel::formatAge(i.firstSeen.secsTo(QDateTime::currentDateTimeUtc())));
    d.hasDiagnosis = r->diagnosed;
    d.diagnosis = r->diagnosis;
    d.error = r->diagnosisError;
    d.hasVerdict = r->judged;
    d.verdict = r->verdict;
    d.evidenceText = r->evidence.text;
    d.evidenceCut = r->evidence.cut;
    d.evidenceTokens = r->evidence.estimatedTokens;
    d.dryRunPreview = m_previews.value(i.fingerprint);
    d.undoAvailable = r->undoAvailable;
    d.pendingWith = r->diagnosingWith;
    m_panel->setData(d);
    if (r->diagnosing)
        m_panel->setPendingSince(r->diagnosingSince);
    m_panel->setState(m_incidentStates.value(i.fingerprint, DiagnosisPanel::State::Proposed),
                      m_incidentOutcomes.value(i.fingerprint));
}

void MainWindow::setIncidentState(const QString &fingerprint, DiagnosisPanel::State state,
                                  const QString &outcome)
{
    m_incidentStates.insert(fingerprint, state);
    m_incidentOutcomes.insert(fingerprint, outcome);
    if (const pipeline::IncidentReport *r = selectedReport(); r && r->incident.fingerprint == fingerprint)
        m_panel->setState(state, outcome);
}

void MainWindow::applyReportState(const pipeline::IncidentReport &r)
{
    using P = DiagnosisPanel::State;
    const QString &fp = r.incident.fingerprint;
    if (r.diagnosing) {
        m_incidentStates.insert(fp, P::Pending);
        m_incidentOutcomes.insert(fp, QString());
        m_reportedDecisions.remove(fp);
        return;
    }
    if (!r.decisionId.isEmpty()) {
        // The decision's stored state decides whenever it changed since the last report; in
        // between, what the session reported through decisionUpdated (a refused intent, ...) stands.
        const QString seen = r.decisionId + u'/' + act::stateName(r.decisionState);
        if (m_reportedDecisions.value(fp) == seen && m_incidentStates.contains(fp))
            return;
        m_reportedDecisions.insert(fp, seen);
        m_incidentStates.insert(fp, panelState(r.decisionState));
        m_incidentOutcomes.insert(fp, r.decisionState == act::DecisionState::Proposed ||
                                              r.decisionState == act::DecisionState::Previewed
                                          ? QString()
                                          : r.decisionOutcome);
        return;
    }
    m_reportedDecisions.remove(fp);
    if (r.diagnosed) {
        m_incidentStates.insert(fp, P::Proposed);
        m_incidentOutcomes.insert(fp, r.diagnosisError.isEmpty()
                                          ? QString()
                                          : tr("The new diagnosis failed: %1").arg(r.diagnosisError));
    } else if (!r.diagnosisError.isEmpty()) {
        m_incidentStates.insert(fp, P::Failed);
        m_incidentOutcomes.insert(fp, r.diagnosisError);
    } else {
        m_incidentStates.insert(fp, P::Pending);
    }
}

DiagnosisPanel::State MainWindow::panelState(act::DecisionState state)
{
    using S = act::DecisionState;
    using P = DiagnosisPanel::State;
    P shown = P::Proposed;
    switch (state) {
    case S::Proposed:
    case S::Previewed:
        shown = P::Proposed;
        break;
    case S::Approved:
    case S::Executing:
    case S::Executed:
        shown = P::Executing;
        break; // executed, still verifying
    case S::Verified:
    case S::Undone:
        shown = P::Executed;
        break;
    case S::VerifyFailed:
    case S::Failed:
        shown = P::Failed;
        break;
    case S::Rejected:
        shown = P::Rejected;
        break;
    }
    return shown;
}

void MainWindow::onDecision(const QString &fingerprint, act::DecisionState state, const QString &outcome)
{
    setIncidentState(fingerprint, panelState(state), outcome);
    if (m_audit)
        m_auditView->refresh(); // the executor appended rows
}

void MainWindow::recordSelectedIncident()
{
    const pipeline::IncidentReport *r = selectedReport();
    pipeline::ClusterSession *session = m_session;
    if (!r || !session || r->evidence.text.isEmpty()) {
        const QString why = tr("Select an incident whose context has been gathered to record it.");
        statusBar()->showMessage(why, 10000);
        Q_EMIT incidentRecorded(QString(), false, why);
        return;
    }
    replay::IncidentRecord record =
        replay::makeRecord(r->incident, r->evidence, QDateTime::currentDateTimeUtc(), m_clusterVersion);
    record.recordedBy = QStringLiteral("vigil ") + QApplication::applicationVersion();
    QString suggested =
        (r->incident.reason + u'-' + r->incident.workload.name).toLower() + QStringLiteral(".json");
    suggested.replace(QRegularExpression(QStringLiteral("[^a-z0-9._-]+")), QStringLiteral("-"));
    const QString path = m_recordPrompt ? m_recordPrompt(suggested)
                                        : QFileDialog::getSaveFileName(this, tr("Record Incident"), suggested,
                                                                       tr("Incident record (*.json)"));
    if (path.isEmpty())
        return;
    // The disk write runs on the session's thread; the answer comes back queued.
    QPointer<MainWindow> self(this);
    QMetaObject::invokeMethod(
        session,
        [self, record, path] {
            const Result<void> written = replay::writeRecordFile(path, record);
            const QString message = written
                                        ? tr("Recorded %1 (~%2 tokens of redacted context) to %3")
                                              .arg(record.reason)
                                              .arg(record.evidence.estimatedTokens)
                                              .arg(path)
                                        : tr("Could not record the incident: %1").arg(written.errorMessage());
            if (!self)
                return;
            QMetaObject::invokeMethod(
                self.data(),
                [self, path, ok = written.ok(), message] {
                    if (!self)
                        return;
                    self->statusBar()->showMessage(message, 15000);
                    Q_EMIT self->incidentRecorded(path, ok, message);
                },
                Qt::QueuedConnection);
        },
        Qt::QueuedConnection);
}

void MainWindow::setDryRunPreview(const QString &fingerprint, const QString &preview)
{
    m_previews.insert(fingerprint, preview);
    if (const pipeline::IncidentReport *r = selectedReport(); r && r->incident.fingerprint == fingerprint)
        onIncidentSelected();
}

void MainWindow::openPodDetails(const QModelIndex &proxyIndex)
{
    const kube::PodView *pod = m_podModel->pod(m_podProxy->mapToSource(proxyIndex).row());
    if (!pod)
        return;
    auto *dialog = new PodDetailsDialog(pod->namespaceName, pod->name, this);
    connect(this, &MainWindow::podDetailsArrived, dialog, &PodDetailsDialog::showDetails);
    connect(dialog, &PodDetailsDialog::detailsRequested, this,
            [this](const QString &ns, const QString &name, bool previous) {
                if (pipeline::ClusterSession *s = m_session)
                    QMetaObject::invokeMethod(
                        s, [s, ns, name, previous] { s->requestPodDetails(ns, name, previous); },
                        Qt::QueuedConnection);
            });
    dialog->show();
    dialog->reload();
}

void MainWindow::openSettings()
{
    auto *dialog = new SettingsDialog(this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &QDialog::accepted, this, [this] {
        loadPolicy();
        reconnect();
    });
    dialog->open();
}

void MainWindow::restoreLayout()
{
    QSettings s;
    if (!restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray()))
        resize(1480, 900);
    restoreState(s.value(QStringLiteral("window/state")).toByteArray());
    m_mainSplitter->restoreState(s.value(QStringLiteral("window/mainSplitter")).toByteArray());
    m_leftSplitter->restoreState(s.value(QStringLiteral("window/leftSplitter")).toByteArray());
    m_rightSplitter->restoreState(s.value(QStringLiteral("window/rightSplitter")).toByteArray());
    m_podView->horizontalHeader()->restoreState(s.value(QStringLiteral("window/podHeader")).toByteArray());
}

void MainWindow::saveLayout()
{
    QSettings s;
    s.setValue(QStringLiteral("window/geometry"), saveGeometry());
    s.setValue(QStringLiteral("window/state"), saveState());
    s.setValue(QStringLiteral("window/mainSplitter"), m_mainSplitter->saveState());
    s.setValue(QStringLiteral("window/leftSplitter"), m_leftSplitter->saveState());
    s.setValue(QStringLiteral("window/rightSplitter"), m_rightSplitter->saveState());
    s.setValue(QStringLiteral("window/podHeader"), m_podView->horizontalHeader()->saveState());
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    saveLayout();
    QMainWindow::closeEvent(event);
}

} // namespace vigil::ui
