#include "core/cli/commands.h"

#include "core/act/actions.h"
#include "core/act/datapaths.h"
#include "core/act/decisionstore.h"
#include "core/act/executor.h"
#include "core/act/jsonfield.h"
#include "core/audit/auditlog.h"
#include "core/cli/await.h"
#include "core/cli/kubeoptions.h"
#include "core/guard/policy.h"
#include "core/kube/restclient.h"

#include <QCommandLineParser>
#include <QDateTime>
#include <QProcessEnvironment>
#include <QTextStream>
#include <QUrl>

namespace vigil::cli {

int actCommand(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Approve, reject or undo a decision."));
    parser.addPositionalArgument(QStringLiteral("decision"),
                                 QStringLiteral("the decision id (or a unique prefix)"));
    addKubeOptions(parser);
    parser.addOption({QStringLiteral("approve"), QStringLiteral("approve, execute and verify the decision")});
    parser.addOption({QStringLiteral("reject"), QStringLiteral("reject the decision")});
    parser.addOption({QStringLiteral("reason"), QStringLiteral("why (recorded in the audit log)"),
                      QStringLiteral("text")});
    parser.addOption(
        {QStringLiteral("dry-run"), QStringLiteral("only preview (server-side dry run); change nothing")});
    parser.addOption(
        {QStringLiteral("undo"), QStringLiteral("undo an executed decision"), QStringLiteral("id")});
    parser.addOption({QStringLiteral("policy"),
                      QStringLiteral("guardrail policy YAML (default: the built-in policy)"),
                      QStringLiteral("file")});
    parser.addOption({QStringLiteral("db"),
                      QStringLiteral("data directory (default: $VIGIL_DATA_DIR or the app data dir)"),
                      QStringLiteral("dir")});
    parser.addOption({QStringLiteral("verify-timeout"), QStringLiteral("seconds to wait for verification"),
                      QStringLiteral("s"), QStringLiteral("60")});
    parser.addOption({QStringLiteral("alertmanager-url"),
                      QStringLiteral("create_alert also posts to this Alertmanager (v2 API base URL; "
                                     "overrides the policy's alerts.alertmanagerUrl)"),
                      QStringLiteral("url")});
    parser.addOption(
        {QStringLiteral("slack-webhook-url"),
         QStringLiteral("create_alert also posts {\"text\": ...} to this Slack-compatible webhook"),
         QStringLiteral("url")});
    parser.addOption({QStringLiteral("webhook-url"),
                      QStringLiteral("create_alert also posts its JSON document to this webhook"),
                      QStringLiteral("url")});
    if (!parser.parse(arguments)) {
        err << "vigilctl act: " << parser.errorText() << '\n';
        return 2;
    }
    const bool approve = parser.isSet(QStringLiteral("approve"));
    const bool reject = parser.isSet(QStringLiteral("reject"));
    const bool undo = parser.isSet(QStringLiteral("undo"));
    const QString id = undo ? parser.value(QStringLiteral("undo")) : parser.positionalArguments().value(0);
    if (parser.isSet(QStringLiteral("dry-run")) && !approve) {
        err << "vigilctl act: --dry-run previews an approval; use it with --approve\n";
        return 2;
    }
    if (int(approve) + int(reject) + int(undo) != 1 || id.isEmpty()) {
        err << "vigilctl act: use 'act DECISION_ID --approve|--reject [--reason R] [--dry-run]' or 'act "
               "--undo DECISION_ID'\n";
        return 2;
    }

    Result<guard::Policy> policy = parser.isSet(QStringLiteral("policy"))
                                       ? guard::loadPolicyFile(parser.value(QStringLiteral("policy")))
                                       : Result<guard::Policy>(guard::defaultPolicy());
    if (!policy) {
        err << "vigilctl act: " << policy.errorMessage() << '\n';
        return 1;
    }
    // The policy's alerts: section and the environment, then the flags on top.
    Result<act::AlertConfig> configured =
        act::alertConfig(policy->alerts, QProcessEnvironment::systemEnvironment());
    if (!configured) {
        err << "vigilctl act: " << configured.errorMessage() << '\n';
        return 2;
    }
    act::AlertConfig alerts = *configured;
    const struct {
        const char *flag;
        QUrl *url;
    } sinks[] = {{"alertmanager-url", &alerts.alertmanagerUrl},
                 {"slack-webhook-url", &alerts.slackWebhookUrl},
                 {"webhook-url", &alerts.webhookUrl}};
    for (const auto &sink : sinks) {
        const QString flag = QLatin1String(sink.flag);
        if (!parser.isSet(flag))
            continue;
        Result<QUrl> url = act::parseAlertUrl(parser.value(flag), QStringLiteral("--") + flag);
        if (!url) {
            err << "vigilctl act: " << url.errorMessage() << '\n';
            return 2;
        }
        *sink.url = *url;
    }

    const QString dir = act::dataDirectory(parser.value(QStringLiteral("db")));
    auto store = act::DecisionStore::open(act::decisionsPath(dir));
    if (!store) {
        err << "vigilctl act: " << store.errorMessage() << '\n';
        return 1;
    }
    auto log = audit::AuditLog::open(act::auditPath(dir));
    if (!log) {
        err << "vigilctl act: " << log.errorMessage() << '\n';
        return 1;
    }
    if (policy->auditRetentionDays > 0) {
        // Retention never blocks acting: a log that cannot be pruned is still appended to.
        Result<qint64> dropped = (*log)->applyRetention(
            policy->auditRetentionDays, QDateTime::currentDateTimeUtc(), audit::osUserActor());
        if (!dropped)
            err << "vigilctl act: audit retention not applied: " << dropped.errorMessage() << '\n';
    }
    act::Approver approver;
    approver.osUser = audit::osUserActor().mid(3);
    approver.via = QStringLiteral("vigilctl");

    if (reject) {
        if (parser.value(QStringLiteral("reason")).isEmpty()) {
            err << "vigilctl act: --reject needs --reason\n";
            return 2;
        }
    }
    Result<ResolvedKube> kube = resolveKube(kubeFlags(parser), QProcessEnvironment::systemEnvironment());
    if (!kube) {
        err << "vigilctl act: " << kube.errorMessage() << '\n';
        return 1;
    }
    kube::RestClient client(kube->connection);
    act::ActionRunner runner(&client, alerts);
    act::Executor executor(store->get(), log->get(), &runner, *policy);

    // Settle anything a crash left mid-execution before acting again.
    auto settled = await<QList<act::Decision>>([&](QObject *ctx, auto cb) { executor.reconcile(ctx, cb); });
    if (!settled) {
        err << "vigilctl act: " << settled.errorMessage() << '\n';
        return 1;
    }
    for (const act::Decision &d : *settled)
        err << "reconciled decision " << d.id << " after an interrupted run: " << act::stateName(d.state)
            << '\n';

    auto user =
        await<QString>([&](QObject *ctx, auto cb) { act::Executor::fetchKubeUser(&client, ctx, cb); });
    if (user)
        approver.kubeUser = *user;
    else
        err << "vigilctl act: warning: cannot tell the Kubernetes user: " << user.errorMessage() << '\n';

    auto report = [&](const act::Decision &d) {
        out << "decision " << d.id << ": " << act::stateName(d.state);
        const QString message = QString::fromStdString(act::field(d.outcome, "message", std::string()));
        if (!message.isEmpty())
            out << " - " << message;
        out << '\n';
    };

    if (reject) {
        Result<act::Decision> d = executor.reject(id, approver, parser.value(QStringLiteral("reason")));
        if (!d) {
            err << "vigilctl act: " << d.errorMessage() << '\n';
            return 1;
        }
        report(*d);
        return 0;
    }
    if (undo) {
        auto d = await<act::Decision>([&](QObject *ctx, auto cb) { executor.undo(id, approver, ctx, cb); });
        if (!d) {
            err << "vigilctl act: " << d.errorMessage() << '\n';
            return 1;
        }
        report(*d);
        return 0;
    }

    Result<act::Decision> current = store->get()->load(id);
    if (!current) {
        err << "vigilctl act: " << current.errorMessage() << '\n';
        return 1;
    }
    const QString fullId = current->id;
    const bool pending =
        current->state == act::DecisionState::Proposed || current->state == act::DecisionState::Previewed;
    // Approved but not run (approved through its AgentDecision, or a run stopped before the call): run it.
    if (!pending && current->state != act::DecisionState::Approved) {
        err << "vigilctl act: refused: decision " << fullId << " is already "
            << act::stateName(current->state)
            << "; a decision is executed at most once (a new incident gets a new decision)\n";
        return 1;
    }
    if (pending) {
        auto previewed =
            await<act::Decision>([&](QObject *ctx, auto cb) { executor.preview(fullId, ctx, cb); });
        if (!previewed) {
            err << "vigilctl act: preview failed: " << previewed.errorMessage() << '\n';
            return 1;
        }
        out << "preview: " << previewed->preview << '\n';
    }
    if (parser.isSet(QStringLiteral("dry-run")))
        return 0;
    if (pending) {
        Result<act::Decision> approved = executor.approve(fullId, approver);
        if (!approved) {
            err << "vigilctl act: " << approved.errorMessage() << '\n';
            return 1;
        }
    }
    auto executed = await<act::Decision>([&](QObject *ctx, auto cb) { executor.execute(fullId, ctx, cb); });
    if (!executed) {
        err << "vigilctl act: " << executed.errorMessage() << '\n';
        return 1;
    }
    if (executed->state != act::DecisionState::Executed) {
        report(*executed);
        return 1;
    }
    const int timeoutMs = parser.value(QStringLiteral("verify-timeout")).toInt() * 1000;
    auto verified =
        await<act::Decision>([&](QObject *ctx, auto cb) { executor.verify(fullId, timeoutMs, ctx, cb); });
    if (!verified) {
        err << "vigilctl act: " << verified.errorMessage() << '\n';
        return 1;
    }
    report(*verified);
    return verified->state == act::DecisionState::Verified ? 0 : 1;
}

} // namespace vigil::cli
