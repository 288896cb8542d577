// vigilctl agent: the headless operator (core/agent/agent.h) — watch,
// diagnose, judge, mirror as AgentDecisions, act within the policy or on
// approval — under leader election, with /healthz, /readyz, /metrics and JSON
// logs on stderr. Runs until SIGTERM/SIGINT, then shuts down gracefully.

#include "core/cli/commands.h"

#include "core/act/actions.h"
#include "core/act/datapaths.h"
#include "core/agent/agent.h"
#include "core/agent/httpendpoint.h"
#include "core/agent/shutdownsignals.h"
#include "core/agent/structuredlog.h"
#include "core/cli/kubeoptions.h"
#include "core/guard/policy.h"
#include "core/reason/llm/reasoningstack.h"
#include "core/reason/llm/secretstore.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QEventLoop>
#include <QProcessEnvironment>
#include <QSysInfo>
#include <QTextStream>

#include <cmath>
#include <utility>

namespace vigil::cli {
namespace {

std::string s(const QString &text)
{
    return text.toStdString();
}

// Seconds (fractions allowed, for tests) as milliseconds; -1 when not a positive number.
int secondsToMs(const QString &text)
{
    bool ok = false;
    const double seconds = text.toDouble(&ok);
    if (!ok || !(seconds > 0) || seconds > 86400)
        return -1;
    return static_cast<int>(std::lround(seconds * 1000));
}

// "7d", "12h", "30m", "90s" or plain seconds as milliseconds; 0 ("0") keeps forever; -1 when invalid.
qint64 durationToMs(const QString &text)
{
    QString number = text.trimmed();
    qint64 unit = 1000;
    if (!number.isEmpty()) {
        switch (number.back().unicode()) {
        case 'd':
            unit = 24LL * 3600 * 1000;
            break;
        case 'h':
            unit = 3600LL * 1000;
            break;
        case 'm':
            unit = 60LL * 1000;
            break;
        case 's':
            break;
        default:
            unit = 0;
        }
        if (unit != 0)
            number.chop(1);
        else
            unit = 1000;
    }
    bool ok = false;
    const double value = number.toDouble(&ok);
    if (!ok || !(value >= 0) || value * static_cast<double>(unit) > 366.0 * 24 * 3600 * 1000)
        return -1;
    return std::llround(value * static_cast<double>(unit));
}

QString defaultIdentity()
{
    const QString pod = qEnvironmentVariable("POD_NAME");
    if (!pod.isEmpty())
        return pod;
    return QSysInfo::machineHostName() + u'_' + QString::number(QCoreApplication::applicationPid());
}

} // namespace

int agentCommand(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    Q_UNUSED(out);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Run the headless agent: watch, diagnose, judge and act within the policy, with leader "
        "election, probes, metrics and JSON logs."));
    addKubeOptions(parser);
    parser.addOption(
        {{QStringLiteral("A"), QStringLiteral("all-namespaces")},
         QStringLiteral("Watch every namespace (default: the context's or service account's).")});
    parser.addOption({QStringLiteral("policy"), QStringLiteral("Guardrail policy YAML (default: built in)."),
                      QStringLiteral("file")});
    parser.addOption({QStringLiteral("mode"),
                      QStringLiteral("suggest-only | approve | auto-within-policy (default: the policy's)."),
                      QStringLiteral("mode")});
    parser.addOption({QStringLiteral("lease-name"), QStringLiteral("The Lease used for leader election."),
                      QStringLiteral("name"), QStringLiteral("vigil-agent")});
    parser.addOption({QStringLiteral("lease-namespace"),
                      QStringLiteral("The Lease's namespace (default: the watched or context namespace)."),
                      QStringLiteral("ns")});
    parser.addOption({QStringLiteral("identity"),
                      QStringLiteral("This replica's holder identity (default: $POD_NAME, else host_pid)."),
                      QStringLiteral("id")});
    parser.addOption({QStringLiteral("lease-duration"), QStringLiteral("Seconds (15)."), QStringLiteral("s"),
                      QStringLiteral("15")});
    parser.addOption({QStringLiteral("renew-deadline"), QStringLiteral("Seconds (10)."), QStringLiteral("s"),
                      QStringLiteral("10")});
    parser.addOption({QStringLiteral("retry-period"), QStringLiteral("Seconds (2)."), QStringLiteral("s"),
                      QStringLiteral("2")});
    parser.addOption({QStringLiteral("listen"),
                      QStringLiteral("Address of /healthz, /readyz and /metrics (default 127.0.0.1:8080; "
                                     "0.0.0.0:8080 in a cluster)."),
                      QStringLiteral("addr:port")});
    parser.addOption(
        {QStringLiteral("data-dir"),
         QStringLiteral("Where decisions.db and audit.db live (default: $VIGIL_DATA_DIR or the app "
                        "data dir)."),
         QStringLiteral("dir")});
    parser.addOption({QStringLiteral("provider-config"),
                      QStringLiteral("Provider settings YAML (default: rules only)."),
                      QStringLiteral("file")});
    parser.addOption({QStringLiteral("verify-timeout"),
                      QStringLiteral("Seconds to wait for an action's effect."), QStringLiteral("s"),
                      QStringLiteral("120")});
    parser.addOption({QStringLiteral("shutdown-grace"),
                      QStringLiteral("Seconds a running action may take after SIGTERM."), QStringLiteral("s"),
                      QStringLiteral("15")});
    parser.addOption({QStringLiteral("resync-interval"),
                      QStringLiteral("Seconds between the leader's checks that every local decision's "
                                     "AgentDecision exists and is current (also on taking the lease and at "
                                     "shutdown)."),
                      QStringLiteral("s"), QStringLiteral("30")});
    parser.addOption({QStringLiteral("decision-ttl"),
                      QStringLiteral("Delete finished AgentDecisions this long after they finished: 7d, 12h, "
                                     "30m, 90s; 0 keeps them (7d). Open ones are never deleted."),
                      QStringLiteral("age"), QStringLiteral("7d")});
    parser.addOption({QStringLiteral("alert-webhook"),
                      QStringLiteral("create_alert also POSTs its JSON here."), QStringLiteral("url")});
    parser.addOption({QStringLiteral("alertmanager-url"),
                      QStringLiteral("create_alert also goes to Alertmanager."), QStringLiteral("url")});
    parser.addOption({QStringLiteral("slack-webhook"), QStringLiteral("create_alert also goes to Slack."),
                      QStringLiteral("url")});
    parser.addOption({QStringLiteral("log-level"), QStringLiteral("debug | info | warn | error"),
                      QStringLiteral("level"), QStringLiteral("info")});
    if (!parser.parse(arguments)) {
        err << "vigilctl agent: " << parser.errorText() << '\n';
        return 2;
    }
    if (!parser.positionalArguments().isEmpty()) {
        err << "vigilctl agent: unexpected argument '" << parser.positionalArguments().first() << "'\n";
        return 2;
    }
    const bool allNamespaces = parser.isSet(QStringLiteral("all-namespaces"));
    if (allNamespaces && parser.isSet(QStringLiteral("namespace"))) {
        err << "vigilctl agent: give --namespace or --all-namespaces, not both\n";
        return 2;
    }

    agent::StructuredLog log;
    const QString level = parser.value(QStringLiteral("log-level"));
    if (level == u"debug")
        log.setMinimumLevel(agent::StructuredLog::Level::Debug);
    else if (level == u"warn")
        log.setMinimumLevel(agent::StructuredLog::Level::Warn);
    else if (level == u"error")
        log.setMinimumLevel(agent::StructuredLog::Level::Error);
    else if (level != u"info") {
        err << "vigilctl agent: --log-level must be debug, info, warn or error\n";
        return 2;
    }

    agent::AgentOptions options;
    Result<guard::Policy> policy = parser.isSet(QStringLiteral("policy"))
                                       ? guard::loadPolicyFile(parser.value(QStringLiteral("policy")))
                                       : Result<guard::Policy>(guard::defaultPolicy());
    if (!policy) {
        err << "vigilctl agent: " << policy.errorMessage() << '\n';
        return 1;
    }
    options.policy = *policy;
    if (parser.isSet(QStringLiteral("mode"))) {
        const QString mode = parser.value(QStringLiteral("mode"));
        if (mode == u"suggest-only")
            options.policy.mode = guard::PolicyMode::SuggestOnly;
        else if (mode == u"approve")
            options.policy.mode = guard::PolicyMode::Approve;
        else if (mode == u"auto-within-policy")
            options.policy.mode = guard::PolicyMode::AutoWithinPolicy;
        else {
            err << "vigilctl agent: --mode must be suggest-only, approve or auto-within-policy\n";
            return 2;
        }
    }

    struct Timing {
        const char *flag;
        int *into;
    };
    options.election.identity = parser.isSet(QStringLiteral("identity"))
                                    ? parser.value(QStringLiteral("identity"))
                                    : defaultIdentity();
    options.election.leaseName = parser.value(QStringLiteral("lease-name"));
    for (const Timing &t : {Timing{"lease-duration", &options.election.leaseDurationMs},
                            Timing{"renew-deadline", &options.election.renewDeadlineMs},
                            Timing{"retry-period", &options.election.retryPeriodMs},
                            Timing{"verify-timeout", &options.verifyTimeoutMs},
                            Timing{"shutdown-grace", &options.shutdownGraceMs},
                            Timing{"resync-interval", &options.resyncIntervalMs}}) {
        const QString name = QString::fromLatin1(t.flag);
        *t.into = secondsToMs(parser.value(name));
        if (*t.into < 0) {
            err << "vigilctl agent: --" << name << " must be a positive number of seconds\n";
            return 2;
        }
    }
    // The policy's alerts: section and the environment (act::alertConfig), then the flags on top.
    Result<act::AlertConfig> alerts =
        act::alertConfig(options.policy.alerts, QProcessEnvironment::systemEnvironment());
    if (!alerts) {
        err << "vigilctl agent: " << alerts.errorMessage() << '\n';
        return 2;
    }
    options.alerts = *alerts;
    for (const auto &[flag, into] : {std::pair{"alert-webhook", &options.alerts.webhookUrl},
                                     std::pair{"alertmanager-url", &options.alerts.alertmanagerUrl},
                                     std::pair{"slack-webhook", &options.alerts.slackWebhookUrl}}) {
        const QString value = parser.value(QString::fromLatin1(flag));
        if (value.isEmpty())
            continue;
        Result<QUrl> url = act::parseAlertUrl(value, QStringLiteral("--") + QLatin1String(flag));
        if (!url) {
            err << "vigilctl agent: " << url.errorMessage() << '\n';
            return 2;
        }
        *into = *url;
    }
    options.dataDir = parser.value(QStringLiteral("data-dir"));
    options.decisionTtlMs = durationToMs(parser.value(QStringLiteral("decision-ttl")));
    if (options.decisionTtlMs < 0) {
        err << "vigilctl agent: --decision-ttl must be a duration like 7d, 12h, 30m or 90s (at most 366d), "
               "or 0\n";
        return 2;
    }

    // No settings file: the rules alone (an agent never picks up a person's desktop settings).
    Result<llm::ProviderSettings> settings =
        parser.isSet(QStringLiteral("provider-config"))
            ? llm::loadProviderSettings(parser.value(QStringLiteral("provider-config")))
            : Result<llm::ProviderSettings>(llm::ProviderSettings());
    if (!settings) {
        err << "vigilctl agent: " << settings.errorMessage() << '\n';
        return 1;
    }
    options.diagnoser.redactor = settings->redact;

    Result<ResolvedKube> resolved = resolveKube(kubeFlags(parser), QProcessEnvironment::systemEnvironment());
    if (!resolved) {
        err << "vigilctl agent: " << resolved.errorMessage() << '\n';
        return 1;
    }
    for (const QString &warning : resolved->connection.warnings)
        log.warn(warning);
    options.namespaceName = allNamespaces ? QString() : resolved->connection.namespaceName;
    options.election.leaseNamespace = parser.isSet(QStringLiteral("lease-namespace"))
                                          ? parser.value(QStringLiteral("lease-namespace"))
                                          : resolved->connection.namespaceName;
    if (Result<void> valid = agent::validateOptions(options.election); !valid) {
        err << "vigilctl agent: " << valid.errorMessage() << '\n';
        return 2;
    }
    const QString listenText =
        parser.isSet(QStringLiteral("listen"))
            ? parser.value(QStringLiteral("listen"))
            : (resolved->inCluster ? QStringLiteral("0.0.0.0:8080") : QStringLiteral("127.0.0.1:8080"));
    Result<agent::ListenAddress> listen = agent::parseListenAddress(listenText);
    if (!listen) {
        err << "vigilctl agent: " << listen.errorMessage() << '\n';
        return 2;
    }
    // The agent's reads and writes: more than client-go's 5/s, still bounded.
    options.client.qps = 20;
    options.client.burst = 40;

    // API keys come from the environment (in a cluster: a Secret mapped into env).
    llm::EnvSecretStore secrets;
    const QString cacheDb =
        QDir(act::dataDirectory(options.dataDir)).filePath(QStringLiteral("diagnoses.sqlite"));
    Result<std::unique_ptr<llm::ReasoningStack>> stack =
        llm::ReasoningStack::create(*settings, &secrets, cacheDb);
    if (!stack) {
        err << "vigilctl agent: " << stack.errorMessage() << '\n';
        return 1;
    }
    log.info(
        QStringLiteral("reasoning"),
        {{"provider", s(settings->provider)},
         {"smallModel", s(settings->smallModel)},
         {"strongModel", s(settings->strongModel)},
         {"settings", settings->source.isEmpty() ? std::string("none (rules only)") : s(settings->source)}});

    agent::Agent agent(resolved->connection, options, (*stack)->router(), &log);
    if (Result<void> opened = agent.open(); !opened) {
        err << "vigilctl agent: " << opened.errorMessage() << '\n';
        return 1;
    }
    agent::HttpEndpoint endpoint;
    endpoint.route(QStringLiteral("/healthz"), [] {
        return agent::HttpReply{200, "text/plain; charset=utf-8", "ok\n"};
    });
    endpoint.route(QStringLiteral("/readyz"), [&agent] {
        const QString why = agent.notReadyReason();
        if (!why.isEmpty())
            return agent::HttpReply{503, "text/plain; charset=utf-8", why.toUtf8() + '\n'};
        return agent::HttpReply{200, "text/plain; charset=utf-8",
                                agent.isLeader() ? QByteArray("ready: leader\n")
                                                 : QByteArray("ready: standby\n")};
    });
    endpoint.route(QStringLiteral("/metrics"), [&agent] {
        return agent::HttpReply{200, "text/plain; version=0.0.4; charset=utf-8",
                                agent::renderPrometheus(agent.metrics())};
    });
    if (Result<void> listening = endpoint.listen(*listen); !listening) {
        err << "vigilctl agent: " << listening.errorMessage() << '\n';
        return 1;
    }
    log.info(QStringLiteral("serving probes and metrics"),
             {{"address", s(listen->address.toString())}, {"port", endpoint.port()}});

    Result<std::unique_ptr<agent::ShutdownSignals>> signals = agent::ShutdownSignals::install();
    if (!signals) {
        err << "vigilctl agent: " << signals.errorMessage() << '\n';
        return 1;
    }
    QObject::connect(signals->get(), &agent::ShutdownSignals::received, &agent, [&agent, &log](int number) {
        log.info(QStringLiteral("signal received"), {{"signal", number == 15  ? "SIGTERM"
                                                                : number == 2 ? "SIGINT"
                                                                              : "other"}});
        agent.shutdown();
    });

    int exitCode = 0;
    QEventLoop loop;
    QObject::connect(&agent, &agent::Agent::finished, &loop, [&](int code) {
        exitCode = code;
        loop.quit();
    });
    agent.start();
    loop.exec();
    endpoint.close();
    return exitCode;
}

} // namespace vigil::cli
