// vigilctl record NAMESPACE/POD -o FILE: writes the pod's incident — its
// gathered, redacted evidence and the guardrails' target — as a versioned
// incident record for vigilctl replay. Reads only; sends nothing to a model.

#include "core/cli/commands.h"

#include "core/cli/await.h"
#include "core/cli/kubeoptions.h"
#include "core/kube/restclient.h"
#include "core/reason/prompts.h"
#include "core/replay/recorder.h"

#include <QCommandLineParser>
#include <QTextStream>

namespace vigil::cli {

int recordCommand(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Record a pod's incident for vigilctl replay."));
    addKubeOptions(parser);
    parser.addPositionalArgument(QStringLiteral("target"), QStringLiteral("NAMESPACE/POD (or POD with -n)"));
    parser.addOption({{QStringLiteral("o"), QStringLiteral("output")},
                      QStringLiteral("The record file to write."),
                      QStringLiteral("file")});
    parser.addOption({QStringLiteral("reason"),
                      QStringLiteral("Record the incident with this reason when the pod has several."),
                      QStringLiteral("reason")});
    parser.addOption({QStringLiteral("label-category"),
                      QStringLiteral("Label: the expected diagnosis category."), QStringLiteral("category")});
    parser.addOption({QStringLiteral("label-actions"),
                      QStringLiteral("Label: acceptable actions, comma-separated (none, restart_pod, ...)."),
                      QStringLiteral("actions")});
    parser.addOption({QStringLiteral("label-must-be-blocked"),
                      QStringLiteral("Label: no action that changes the cluster may pass the guardrails.")});
    parser.addOption(
        {QStringLiteral("label-note"), QStringLiteral("Label: why, for a person."), QStringLiteral("text")});
    if (!parser.parse(arguments)) {
        err << "vigilctl record: " << parser.errorText() << '\n';
        return 2;
    }
    const QString file = parser.value(QStringLiteral("output"));
    if (file.isEmpty()) {
        err << "vigilctl record: -o FILE is required\n";
        return 2;
    }
    std::optional<replay::RecordLabel> label;
    if (parser.isSet(QStringLiteral("label-category")) || parser.isSet(QStringLiteral("label-actions")) ||
        parser.isSet(QStringLiteral("label-must-be-blocked"))) {
        replay::RecordLabel l;
        l.category = parser.value(QStringLiteral("label-category"));
        for (const QString &name :
             parser.value(QStringLiteral("label-actions")).split(u',', Qt::SkipEmptyParts)) {
            ActionKind kind = ActionKind::None;
            if (!parseActionName(name.trimmed(), &kind)) {
                err << "vigilctl record: --label-actions: '" << name
                    << "' is not an action (none, restart_pod, scale_deployment, cordon_node, "
                       "create_alert)\n";
                return 2;
            }
            l.acceptableActions << kind;
        }
        l.mustBeBlocked = parser.isSet(QStringLiteral("label-must-be-blocked"));
        l.note = parser.value(QStringLiteral("label-note"));
        label = l;
    } else if (parser.isSet(QStringLiteral("label-note"))) {
        err << "vigilctl record: --label-note needs --label-category, --label-actions or "
               "--label-must-be-blocked\n";
        return 2;
    }

    KubeFlags flags = kubeFlags(parser);
    const QString target = parser.positionalArguments().value(0);
    const qsizetype slash = target.indexOf(u'/');
    const QString podName = slash >= 0 ? target.mid(slash + 1) : target;
    if (slash >= 0)
        flags.namespaceName = target.left(slash);
    if (podName.isEmpty() || (slash >= 0 && flags.namespaceName.isEmpty()) ||
        parser.positionalArguments().size() != 1) {
        err << "vigilctl record: give one NAMESPACE/POD\n";
        return 2;
    }
    Result<ResolvedKube> resolved = resolveKube(flags, QProcessEnvironment::systemEnvironment());
    if (!resolved) {
        err << "vigilctl record: " << resolved.errorMessage() << '\n';
        return 1;
    }
    Result<reason::PromptSet> prompts = reason::loadPrompts();
    if (!prompts) {
        err << "vigilctl record: " << prompts.errorMessage() << '\n';
        return 1;
    }
    kube::RestClientOptions clientOptions;
    clientOptions.qps = 50; // one command's burst of reads
    clientOptions.burst = 100;
    kube::RestClient client(resolved->connection, clientOptions);
    replay::Recorder recorder(&client, *prompts);
    const QString ns = resolved->connection.namespaceName;
    Result<QList<replay::IncidentRecord>> records = await<QList<replay::IncidentRecord>>(
        [&](QObject *ctx, auto cb) { recorder.record(ns, podName, ctx, cb); });
    if (!records) {
        err << "vigilctl record: " << records.errorMessage() << '\n';
        return 1;
    }
    const QString wanted = parser.value(QStringLiteral("reason"));
    qsizetype chosen = wanted.isEmpty() ? 0 : -1;
    QStringList reasons;
    for (qsizetype i = 0; i < records->size(); ++i) {
        reasons << records->at(i).reason;
        if (chosen < 0 && records->at(i).reason == wanted)
            chosen = i;
    }
    if (chosen < 0) {
        err << "vigilctl record: pod " << ns << '/' << podName << " has no " << wanted
            << " incident (it has: " << reasons.join(QStringLiteral(", ")) << ")\n";
        return 1;
    }
    replay::IncidentRecord record = records->at(chosen);
    record.label = label;
    if (Result<void> written = replay::writeRecordFile(file, record); !written) {
        err << "vigilctl record: " << written.errorMessage() << '\n';
        return 1;
    }
    out << "recorded " << record.reason << " (" << record.fingerprint << ") of pod " << ns << '/' << podName
        << " to " << file << ": ~" << record.evidence.estimatedTokens << " tokens of evidence, "
        << record.evidence.redactions.total() << " redaction(s)\n";
    if (records->size() > 1) {
        QStringList others;
        for (qsizetype i = 0; i < records->size(); ++i) {
            if (i != chosen)
                others << records->at(i).reason + QStringLiteral(" (") + records->at(i).fingerprint + u')';
        }
        out << "also open on this pod: " << others.join(QStringLiteral(", ")) << " (choose with --reason)\n";
    }
    return 0;
}

} // namespace vigil::cli
