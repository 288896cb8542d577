#include "core/cli/cli.h"

#include "core/util/version.h"

#include <QTextStream>

#include <cstdio>

namespace vigil::cli {
namespace {

void printUsage(QTextStream &out)
{
    out << "usage: vigilctl <command> [options]\n"
           "\n"
           "commands:\n"
           "  version     print vigilctl's version\n"
           "  help        this text\n";
}

} // namespace

int run(const QStringList &arguments)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    return run(arguments, out, err);
}

int run(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    const QString command = arguments.value(1);
    if (command.isEmpty() || command == u"help" || command == u"--help" || command == u"-h") {
        printUsage(out);
        return command.isEmpty() ? 2 : 0;
    }
    if (command == u"version" || command == u"--version") {
        out << "vigilctl " << versionString() << '\n';
        return 0;
    }
    err << "vigilctl: unknown command '" << command << "'. Run 'vigilctl help'.\n";
    return 2;
}

} // namespace vigil::cli
