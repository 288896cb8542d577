#include "core/cli/cli.h"

#include <QCoreApplication>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("vigilctl"));
    QCoreApplication::setOrganizationName(QStringLiteral("vigil"));
    return vigil::cli::run(app.arguments());
}
