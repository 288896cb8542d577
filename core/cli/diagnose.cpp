// vigilctl diagnose: one pod (or every open incident of a namespace) through
// detect → group → fetch → gather/redact → route (cache, rules, models).
// Prints the proposal; never executes anything.

#include "core/cli/commands.h"

#include "core/cli/await.h"
#include "core/cli/kubeoptions.h"
#include "core/gather/fetcher.h"
#include "core/kube/projections.h"
#include "core/kube/restclient.h"
#include "core/pipeline/diagnoser.h"
#include "core/reason/llm/costmeter.h"
#include "core/reason/llm/reasoningstack.h"
#include "core/reason/llm/secretstore.h"
#include "core/reason/router.h"

#include <QCommandLineParser>
#include <QDir>
#include <QEventLoop>
#include <QFileInfo>
#include <QSet>
#include <QTextStream>
#include <QTimer>

#include <nlohmann/json.hpp>

#include <memory>

namespace vigil::cli {
namespace {

using nlohmann::json;

constexpr int kOverallTimeoutMs = 300000;

std::string s(const QString &text)
{
    return text.toStdString();
}

struct Outcome {
    pipeline::Incident incident;
    gather::Evidence evidence;
    Diagnosis diagnosis;
    QString error;
    int promptTokens = 0; ///< estimated system + user prompt + reply schema
};

QString cachePath()
{
    QString base = qEnvironmentVariable("XDG_CACHE_HOME");
    if (base.isEmpty())
        base = QDir::homePath() + QStringLiteral("/.cache");
    return base + QStringLiteral("/vigil/diagnoses.sqlite");
}

QString incidentLine(const pipeline::Incident &i)
{
    QString where = i.workload.kind + u' ' +
                    (i.namespaceName.isEmpty() ? QString() : i.namespaceName + u'/') + i.workload.name;
    return QStringLiteral("%1 %2 on %3 (%4 occurrence(s))").arg(i.fingerprint, i.reason, where).arg(i.count);
}

bool sentToModel(const Diagnosis &d)
{
    return d.source.kind == DiagnosisSource::Llm || d.promptTokens > 0 || !d.fallbackReason.isEmpty();
}

json toJson(const Outcome &o)
{
    json j;
    j["incident"] = {
        {"fingerprint", s(o.incident.fingerprint)},
        {"reason", s(o.incident.reason)},
        {"namespace", s(o.incident.namespaceName)},
        {"workload", {{"kind", s(o.incident.workload.kind)}, {"name", s(o.incident.workload.name)}}},
        {"count", o.incident.count}};
    QStringList pods(o.incident.pods.cbegin(), o.incident.pods.cend());
    pods.sort();
    j["incident"]["pods"] = json::array();
    for (const QString &p : pods)
        j["incident"]["pods"].push_back(s(p));
    if (!o.error.isEmpty()) {
        j["error"] = s(o.error);
        return j;
    }
    const Diagnosis &d = o.diagnosis;
    j["category"] = s(d.category);
    j["diagnosis"] = s(d.diagnosis);
    j["confidence"] = d.confidence;
    j["action"] = s(actionName(d.action));
    j["parameters"] = d.parameters;
    j["reasoning"] = s(d.reasoning);
    j["source"] = s(d.source.describe());
    j["route"] = json::array();
    for (const QString &r : d.route)
        j["route"].push_back(s(r));
    j["fallbackReason"] = d.fallbackReason.isEmpty() ? json(nullptr) : json(s(d.fallbackReason));
    j["promptVersion"] = s(d.promptVersion);
    j["promptTokens"] = d.promptTokens;
    j["completionTokens"] = d.completionTokens;
    j["costUsd"] = d.costUsd;
    j["context"] = {{"text", s(o.evidence.text)},
                    {"estimatedTokens", o.evidence.estimatedTokens},
                    {"promptTokensEstimate", o.promptTokens},
                    {"sent", sentToModel(d)},
                    {"cut", json::array()},
                    {"redactions", o.evidence.redactions.total()}};
    for (const QString &c : o.evidence.cut)
        j["context"]["cut"].push_back(s(c));
    return j;
}

void printText(QTextStream &out, const Outcome &o)
{
    out << "incident     " << incidentLine(o.incident) << '\n';
    if (!o.error.isEmpty()) {
        out << "error        " << o.error << "\n\n";
        return;
    }
    const Diagnosis &d = o.diagnosis;
    out << "category     " << d.category << '\n'
        << "diagnosis    " << d.diagnosis << '\n'
        << "confidence   " << QString::number(d.confidence, 'f', 2) << '\n'
        << "action       " << actionName(d.action) << '\n'
        << "parameters   " << QString::fromStdString(d.parameters.dump()) << '\n'
        << "reasoning    " << d.reasoning << '\n'
        << "source       " << d.source.describe() << '\n'
        << "route        " << d.route.join(QStringLiteral(" → ")) << '\n';
    if (!d.fallbackReason.isEmpty())
        out << "fallback     " << d.fallbackReason << '\n';
    out << "tokens       prompt " << d.promptTokens << ", completion " << d.completionTokens << '\n'
        << "cost         $" << QString::number(d.costUsd, 'f', 6) << '\n';
    if (!d.promptVersion.isEmpty())
        out << "prompts      " << d.promptVersion << '\n';
    out << "context      " << (sentToModel(d) ? "sent" : "would have been sent") << ", ~"
        << o.evidence.estimatedTokens << " tokens (whole prompt ~" << o.promptTokens << "), "
        << o.evidence.redactions.total() << " redaction(s)";
    if (!o.evidence.cut.isEmpty())
        out << ", cut: " << o.evidence.cut.join(QStringLiteral(", "));
    out << '\n';
    for (const QString &line : o.evidence.text.split(u'\n'))
        out << "  | " << line << '\n';
    out << '\n';
}

template<typename T>
using Start = std::function<void(QObject *, std::function<void(Result<T>)>)>;

} // namespace

int diagnoseCommand(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Diagnose a pod's incident (no execution)."));
    addKubeOptions(parser);
    parser.addPositionalArgument(QStringLiteral("target"), QStringLiteral("NAMESPACE/POD (or POD with -n)"));
    parser.addOption({QStringLiteral("all"), QStringLiteral("Every open incident in the namespace.")});
    parser.addOption({QStringLiteral("config"),
                      QStringLiteral("Provider settings (YAML; default %1 when it exists).")
                          .arg(llm::defaultProviderSettingsPath()),
                      QStringLiteral("FILE")});
    parser.addOption(
        {QStringLiteral("provider"),
         QStringLiteral("rules | openai | anthropic | ollama (default: the settings', else rules)"),
         QStringLiteral("p")});
    parser.addOption({QStringLiteral("model"), QStringLiteral("The (strong) model."), QStringLiteral("M")});
    parser.addOption(
        {QStringLiteral("small-model"), QStringLiteral("The cheap first model tier."), QStringLiteral("M")});
    parser.addOption({QStringLiteral("base-url"), QStringLiteral("Provider endpoint."), QStringLiteral("U")});
    parser.addOption({QStringLiteral("threshold"), QStringLiteral("Escalate below this confidence (0.75)."),
                      QStringLiteral("c")});
    parser.addOption(
        {QStringLiteral("no-cache"), QStringLiteral("Do not read or write the diagnosis cache.")});
    parser.addOption(
        {{QStringLiteral("o"), QStringLiteral("output")}, QStringLiteral("json"), QStringLiteral("format")});
    if (!parser.parse(arguments)) {
        err << "vigilctl diagnose: " << parser.errorText() << '\n';
        return 2;
    }
    const QString output = parser.value(QStringLiteral("output"));
    if (!output.isEmpty() && output != u"json") {
        err << "vigilctl diagnose: unknown output format '" << output << "' (use json)\n";
        return 2;
    }
    Result<llm::ProviderSettings> loaded =
        parser.isSet(QStringLiteral("config"))
            ? llm::loadProviderSettings(parser.value(QStringLiteral("config")))
            : llm::loadDefaultProviderSettings();
    if (!loaded) {
        err << "vigilctl diagnose: " << loaded.errorMessage() << '\n';
        return 2;
    }
    llm::ProviderSettings settings = std::move(*loaded);
    if (parser.isSet(QStringLiteral("provider"))) {
        if (auto selected = llm::selectProvider(&settings, parser.value(QStringLiteral("provider")));
            !selected) {
            err << "vigilctl diagnose: " << selected.errorMessage() << '\n';
            return 2;
        }
    }
    if (parser.isSet(QStringLiteral("base-url")))
        settings.baseUrl = parser.value(QStringLiteral("base-url"));
    if (parser.isSet(QStringLiteral("model"))) {
        settings.strongModel = parser.value(QStringLiteral("model"));
        settings.smallModel.clear();
    }
    if (parser.isSet(QStringLiteral("small-model")))
        settings.smallModel = parser.value(QStringLiteral("small-model"));
    if (parser.isSet(QStringLiteral("no-cache")))
        settings.cacheTtlMs = 0;
    const bool all = parser.isSet(QStringLiteral("all"));
    const QString target = parser.positionalArguments().value(0);
    if (all == !target.isEmpty()) {
        err << "vigilctl diagnose: give NAMESPACE/POD or --all -n NAMESPACE\n";
        return 2;
    }
    if (parser.isSet(QStringLiteral("threshold"))) {
        bool ok = false;
        settings.escalationThreshold = parser.value(QStringLiteral("threshold")).toDouble(&ok);
        if (!ok || settings.escalationThreshold < 0 || settings.escalationThreshold > 1) {
            err << "vigilctl diagnose: --threshold must be a number from 0 to 1\n";
            return 2;
        }
    }

    KubeFlags flags = kubeFlags(parser);
    QString podName;
    if (!target.isEmpty()) {
        const qsizetype slash = target.indexOf(u'/');
        if (slash >= 0) {
            flags.namespaceName = target.left(slash);
            podName = target.mid(slash + 1);
        } else {
            podName = target;
        }
        if (podName.isEmpty() || (slash >= 0 && flags.namespaceName.isEmpty())) {
            err << "vigilctl diagnose: '" << target << "' is not NAMESPACE/POD\n";
            return 2;
        }
    }
    Result<ResolvedKube> resolved = resolveKube(flags, QProcessEnvironment::systemEnvironment());
    if (!resolved) {
        err << "vigilctl diagnose: " << resolved.errorMessage() << '\n';
        return 1;
    }
    const QString ns = resolved->connection.namespaceName;

    // Model tiers behind the production controls; keys come from the environment only.
    llm::EnvSecretStore secrets;
    Result<std::unique_ptr<llm::ReasoningStack>> stack =
        llm::ReasoningStack::create(settings, &secrets, cachePath());
    if (!stack && settings.usesModel() && settings.cacheTtlMs > 0) {
        // A cache that cannot open costs money, not correctness: go on without it.
        const QString why = stack.errorMessage();
        stack = llm::ReasoningStack::create(settings, &secrets, QString());
        if (stack)
            err << "vigilctl diagnose: cache disabled: " << why << '\n';
    }
    if (!stack) {
        err << "vigilctl diagnose: " << stack.errorMessage() << '\n';
        return 2;
    }
    reason::Router &router = *(*stack)->router();
    const reason::PromptSet *prompts = &router.prompts();

    kube::RestClientOptions clientOptions;
    clientOptions.qps = 50; // one command's burst of reads; client-go's 5/s would make it crawl
    clientOptions.burst = 100;
    kube::RestClient client(resolved->connection, clientOptions);
    gather::GatherFetcher fetcher(&client);
    pipeline::DiagnoserOptions diagnoserOptions;
    diagnoserOptions.autoDiagnose = false;
    diagnoserOptions.redactor = settings.redact;
    // Asked explicitly: an unschedulable pod is news now, not after the watcher's grace period.
    diagnoserOptions.detector.pendingGrace = std::chrono::seconds(0);
    if (!all)
        diagnoserOptions.detector.readinessGrace = std::chrono::seconds(0);
    pipeline::Diagnoser diagnoser(&fetcher, &router, diagnoserOptions);

    // The objects detection looks at.
    QList<kube::PodView> pods;
    QList<kube::EventView> events;
    QList<kube::NodeView> nodes;
    auto listItems = [&client](const kube::ResourcePath &path, const QString &fieldSelector) {
        kube::ListOptions lo;
        lo.fieldSelector = fieldSelector;
        return await<kube::ListResult>(Start<kube::ListResult>(
            [&](QObject *ctx, auto cb) { client.list(path, lo, ctx, std::move(cb)); }));
    };
    if (!all) {
        Result<json> pod = await<json>(Start<json>([&](QObject *ctx, auto cb) {
            client.get(kube::ResourcePath{kube::ResourceType::pods(), ns, podName, {}}, ctx, std::move(cb));
        }));
        if (!pod) {
            if (pod.error().code == 404)
                err << "vigilctl diagnose: pod " << ns << '/' << podName << " not found\n";
            else
                err << "vigilctl diagnose: reading pod " << ns << '/' << podName << ": " << pod.errorMessage()
                    << '\n';
            return 1;
        }
        Result<kube::PodView> view = kube::projectPod(*pod);
        if (!view) {
            err << "vigilctl diagnose: " << view.errorMessage() << '\n';
            return 1;
        }
        pods << *view;
    } else {
        Result<kube::ListResult> list =
            listItems(kube::ResourcePath{kube::ResourceType::pods(), ns, {}, {}}, {});
        if (!list) {
            err << "vigilctl diagnose: listing pods in " << ns << ": " << list.errorMessage() << '\n';
            return 1;
        }
        for (const json &item : list->items) {
            if (Result<kube::PodView> p = kube::projectPod(item))
                pods << *p;
        }
    }
    QSet<QString> nodeNames;
    for (const kube::PodView &p : pods) {
        if (!p.nodeName.isEmpty())
            nodeNames.insert(p.nodeName);
    }
    {
        const QString selector =
            all ? QString() : QStringLiteral("involvedObject.kind=Pod,involvedObject.name=") + podName;
        Result<kube::ListResult> list =
            listItems(kube::ResourcePath{kube::ResourceType::events(), ns, {}, {}}, selector);
        if (!list)
            err << "vigilctl diagnose: events not read: " << list.errorMessage() << '\n';
        else {
            for (const json &item : list->items) {
                if (Result<kube::EventView> e = kube::projectEvent(item))
                    events << *e;
            }
        }
    }
    for (const QString &n : nodeNames) {
        Result<json> node = await<json>(Start<json>([&](QObject *ctx, auto cb) {
            client.get(kube::ResourcePath{kube::ResourceType::nodes(), {}, n, {}}, ctx, std::move(cb));
        }));
        if (node) {
            if (Result<kube::NodeView> v = kube::projectNode(*node))
                nodes << *v;
        }
    }

    const QDateTime now = QDateTime::currentDateTimeUtc();
    const QList<pipeline::Incident> opened = diagnoser.observe(pods, nodes, events, now);
    QList<pipeline::Incident> incidents;
    // A node problem under the pod is its root cause: list it first.
    for (const pipeline::Incident &i : opened) {
        if (i.workload.kind == u"Node")
            incidents << i;
    }
    for (const pipeline::Incident &i : opened) {
        if (i.workload.kind != u"Node" && (all || i.pods.contains(podName)))
            incidents << i;
    }
    if (incidents.isEmpty()) {
        if (output == u"json")
            out << QString::fromStdString(json{{"incidents", json::array()}}.dump(2)) << '\n';
        else if (all)
            out << "no open incidents in namespace " << ns << '\n';
        else
            out << "no incident: pod " << ns << '/' << podName << " looks healthy ("
                << pods.first().displayStatus() << ")\n";
        return 0;
    }

    QList<Outcome> outcomes;
    QEventLoop loop;
    QObject guard;
    QObject::connect(&diagnoser, &pipeline::Diagnoser::diagnosed, &guard,
                     [&](const pipeline::Incident &i, const gather::Evidence &e, const Diagnosis &d) {
                         const Result<QString> user = reason::renderUserPrompt(*prompts, e);
                         const int promptTokens = gather::estimateTokens(prompts->system) +
                                                  gather::estimateTokens(prompts->wireSchemaText) +
                                                  gather::estimateTokens(user ? *user : e.text);
                         outcomes << Outcome{i, e, d, {}, promptTokens};
                         if (outcomes.size() == incidents.size())
                             loop.quit();
                     });
    QObject::connect(&diagnoser, &pipeline::Diagnoser::failed, &guard,
                     [&](const pipeline::Incident &i, const QString &error) {
                         outcomes << Outcome{i, {}, {}, error, 0};
                         if (outcomes.size() == incidents.size())
                             loop.quit();
                     });
    for (const pipeline::Incident &i : incidents)
        diagnoser.diagnose(i);
    QTimer::singleShot(kOverallTimeoutMs, &loop, &QEventLoop::quit);
    if (outcomes.size() < incidents.size())
        loop.exec();
    if (outcomes.size() < incidents.size()) {
        err << "vigilctl diagnose: gave up after " << kOverallTimeoutMs / 1000 << " s\n";
        return 1;
    }
    // Report in the order the incidents were found.
    std::stable_sort(outcomes.begin(), outcomes.end(), [&incidents](const Outcome &a, const Outcome &b) {
        auto index = [&incidents](const Outcome &o) {
            for (qsizetype k = 0; k < incidents.size(); ++k) {
                if (incidents[k].fingerprint == o.incident.fingerprint)
                    return k;
            }
            return incidents.size();
        };
        return index(a) < index(b);
    });

    int code = 0;
    for (const Outcome &o : outcomes) {
        if (!o.error.isEmpty()) {
            err << "vigilctl diagnose: " << o.incident.reason << ": " << o.error << '\n';
            code = 1;
        } else if (!o.diagnosis.fallbackReason.isEmpty()) {
            err << "vigilctl diagnose: the model was not used, the rules answered: "
                << o.diagnosis.fallbackReason << '\n';
            code = 1;
        }
    }
    if (output == u"json") {
        json j{{"incidents", json::array()}};
        for (const Outcome &o : outcomes)
            j["incidents"].push_back(toJson(o));
        j["totals"] = {{"llmCalls", router.stats().llmCalls},
                       {"cacheHits", router.stats().cacheHits},
                       {"costUsd", (*stack)->costMeter()->sessionTotal()},
                       {"todayCostUsd", (*stack)->costMeter()->todayTotal()}};
        out << QString::fromStdString(j.dump(2)) << '\n';
    } else {
        for (const Outcome &o : outcomes)
            printText(out, o);
    }
    out.flush();
    return code;
}

} // namespace vigil::cli
