#include "core/cli/cli.h"

#include "core/cli/commands.h"
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
           "  agent       run the headless agent: watch, diagnose, act within the policy, leader election\n"
           "              [-n NS | -A] [--policy F] [--mode suggest-only|approve|auto-within-policy]\n"
           "              [--lease-name N] [--lease-namespace NS] [--identity ID] [--listen ADDR:PORT]\n"
           "              [--data-dir D] [--provider-config F]\n"
           "  act         DECISION_ID --approve|--reject [--reason R] [--dry-run] | --undo DECISION_ID\n"
           "              [--policy F] [--db DIR] [--verify-timeout S]\n"
           "              [--alertmanager-url U] [--slack-webhook-url U] [--webhook-url U]\n"
           "  audit       list | show ID | export --format jsonl|csv [-o F] | verify [--input F.jsonl]\n"
           "              [--since T] [--until T] [-n NS] [--action A] [--outcome O] [--db DIR]\n"
           "              | prune --days N|--policy F [--db DIR]: drop old rows, keep the chain verifiable\n"
           "  doctor      check the kubeconfig, the connection and Vigil's permissions\n"
           "              [--kubeconfig F] [--context C] [--offline] [-o json]\n"
           "  diagnose    NAMESPACE/POD | --all -n NS: propose a diagnosis (no execution)\n"
           "              [--provider rules|openai|anthropic|ollama] [--model M] [--small-model M]\n"
           "              [--base-url U] [--threshold C] [--no-cache] [-o json]\n"
           "  get         pods|nodes|events [-n NS | -A] [--watch] [-o wide|name|json]\n"
           "  record      NAMESPACE/POD -o FILE: write the pod's incident (redacted evidence) as a record\n"
           "              [--reason R] [--label-category C] [--label-actions A,B] [--label-must-be-blocked]\n"
           "  replay      DIR: run the reasoners and guardrails over recorded incidents and score them\n"
           "              [--provider rules|openai|anthropic|ollama] [--provider-config F]\n"
           "              [--responses DIR] [--policy F] [--baseline F] [--write-baseline F] [-o "
           "table|json]\n"
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
    // QCommandLineParser wants a program name first; the command name stands in for it.
    const QStringList rest = arguments.mid(1);
    if (command == u"agent")
        return agentCommand(rest, out, err);
    if (command == u"act")
        return actCommand(rest, out, err);
    if (command == u"audit")
        return auditCommand(rest, out, err);
    if (command == u"doctor")
        return doctorCommand(rest, out, err);
    if (command == u"diagnose")
        return diagnoseCommand(rest, out, err);
    if (command == u"get")
        return getCommand(rest, out, err);
    if (command == u"record")
        return recordCommand(rest, out, err);
    if (command == u"replay")
        return replayCommand(rest, out, err);
    err << "vigilctl: unknown command '" << command << "'. Run 'vigilctl help'.\n";
    return 2;
}

} // namespace vigil::cli
