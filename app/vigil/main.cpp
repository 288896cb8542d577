#include "ui/mainwindow.h"

#include <QApplication>
#include <QCommandLineParser>

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("Vigil"));
    QApplication::setOrganizationDomain(QStringLiteral("vigil.dev"));
    QApplication::setApplicationName(QStringLiteral("vigil"));
    QApplication::setApplicationDisplayName(QStringLiteral("Vigil"));
    QApplication::setApplicationVersion(QStringLiteral(VIGIL_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("dev.vigil.Vigil"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Vigil: watches a Kubernetes cluster, diagnoses incidents and "
                       "proposes guarded fixes for you to approve."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption kubeconfig(
        QStringLiteral("kubeconfig"), QStringLiteral("Path to the kubeconfig file."), QStringLiteral("file"));
    const QCommandLineOption context(
        QStringLiteral("context"), QStringLiteral("The kubeconfig context to use."), QStringLiteral("name"));
    const QCommandLineOption ns({QStringLiteral("n"), QStringLiteral("namespace")},
                                QStringLiteral("Watch only this namespace (default: all)."),
                                QStringLiteral("name"));
    const QCommandLineOption policy(QStringLiteral("policy"), QStringLiteral("Guardrail policy YAML file."),
                                    QStringLiteral("file"));
    const QCommandLineOption readOnly(QStringLiteral("read-only"),
                                      QStringLiteral("Diagnose and suggest; never offer to act."));
    const QCommandLineOption audit(
        QStringLiteral("audit-db"),
        QStringLiteral("Audit log database (default: audit.db in the data folder)."), QStringLiteral("file"));
    const QCommandLineOption dataDir(
        QStringLiteral("data-dir"),
        QStringLiteral("Folder of decisions.db and audit.db, shared with vigilctl "
                       "(default: $VIGIL_DATA_DIR, else the app data folder)."),
        QStringLiteral("dir"));
    parser.addOptions({kubeconfig, context, ns, policy, readOnly, audit, dataDir});
    parser.process(app);

    vigil::ui::MainWindowOptions options;
    options.kubeconfig = parser.value(kubeconfig);
    options.context = parser.value(context);
    options.namespaceName = parser.value(ns);
    options.policyPath = parser.value(policy);
    options.readOnly = parser.isSet(readOnly);
    options.auditPath = parser.value(audit);
    options.dataDir = parser.value(dataDir);

    vigil::ui::MainWindow window(options);
    window.show();
    return QApplication::exec();
}
