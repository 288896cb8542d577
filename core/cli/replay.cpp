// vigilctl replay DIR: runs the Router (rules, a model, or recorded model
// replies) and the guardrails over a corpus of incident records, prints a
// score table and fails on a regression against a baseline or on any unsafe
// proposal that nothing blocked. Never touches a cluster.

#include "core/cli/commands.h"

#include "core/guard/policy.h"
#include "core/reason/llm/clock.h"
#include "core/reason/llm/costmeter.h"
#include "core/reason/llm/reasoningstack.h"
#include "core/reason/llm/secretstore.h"
#include "core/reason/prompts.h"
#include "core/reason/router.h"
#include "core/replay/replayrunner.h"

#include <QCommandLineParser>
#include <QDir>
#include <QEventLoop>
#include <QFileInfo>
#include <QSaveFile>
#include <QTextStream>
#include <QTimer>

#include <memory>

namespace vigil::cli {
namespace {

constexpr int kOverallTimeoutMs = 30 * 60 * 1000;

Result<QHash<QString, replay::RecordedReplies>> readResponses(const QString &directory,
                                                              const QList<replay::CorpusEntry> &entries)
{
    const QDir dir(directory);
    if (!dir.exists())
        return Error(QStringLiteral("--responses %1: no such directory").arg(directory));
    QSet<QString> ids;
    for (const replay::CorpusEntry &e : entries)
        ids.insert(e.id);
    QHash<QString, replay::RecordedReplies> out;
    for (const QFileInfo &fi : dir.entryInfoList({QStringLiteral("*.json")}, QDir::Files, QDir::Name)) {
        if (!ids.contains(fi.completeBaseName()))
            return Error(QStringLiteral("%1: there is no record %2 in the corpus")
                             .arg(fi.filePath(), fi.completeBaseName()));
        Result<replay::RecordedReplies> r = replay::readRecordedRepliesFile(fi.filePath());
        if (!r)
            return r.error();
        out.insert(fi.completeBaseName(), *r);
    }
    if (out.isEmpty())
        return Error(QStringLiteral("--responses %1: no recorded replies (*.json) in it").arg(directory));
    return out;
}

Result<void> writeFile(const QString &path, const QByteArray &bytes)
{
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size() || !f.commit())
        return Error(QStringLiteral("%1: cannot write: %2").arg(path, f.errorString()));
    return {};
}

} // namespace

int replayCommand(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Replay recorded incidents through the reasoners and the guardrails, and score them."));
    parser.addPositionalArgument(QStringLiteral("dir"),
                                 QStringLiteral("The corpus: a folder of incident records."));
    parser.addOption({QStringLiteral("provider"), QStringLiteral("rules | openai | anthropic | ollama"),
                      QStringLiteral("p"), QStringLiteral("rules")});
    parser.addOption({QStringLiteral("provider-config"), QStringLiteral("Provider settings (YAML)."),
                      QStringLiteral("file")});
    parser.addOption(
        {QStringLiteral("responses"),
         QStringLiteral("Answer records from recorded model replies in this folder (<record>.json)."),
         QStringLiteral("dir")});
    parser.addOption({QStringLiteral("policy"),
                      QStringLiteral("The guardrail policy (default: the built-in one)."),
                      QStringLiteral("file")});
    parser.addOption({QStringLiteral("baseline"),
                      QStringLiteral("Fail on a regression against this baseline."), QStringLiteral("file")});
    parser.addOption({QStringLiteral("write-baseline"),
                      QStringLiteral("Write this run's scores as a baseline."), QStringLiteral("file")});
    parser.addOption({{QStringLiteral("o"), QStringLiteral("output")},
                      QStringLiteral("table | json"),
                      QStringLiteral("format"),
                      QStringLiteral("table")});
    if (!parser.parse(arguments)) {
        err << "vigilctl replay: " << parser.errorText() << '\n';
        return 2;
    }
    const QString output = parser.value(QStringLiteral("output"));
    if (output != u"table" && output != u"json") {
        err << "vigilctl replay: unknown output format '" << output << "' (use table or json)\n";
        return 2;
    }
    if (parser.positionalArguments().size() != 1) {
        err << "vigilctl replay: give one corpus folder\n";
        return 2;
    }
    const QString provider = parser.value(QStringLiteral("provider"));
    if (provider != u"rules" && provider != u"openai" && provider != u"anthropic" && provider != u"ollama") {
        err << "vigilctl replay: unknown provider '" << provider
            << "' (use rules, openai, anthropic or ollama)\n";
        return 2;
    }
    // Only the files named here: a replay must not depend on the user's own providers.yaml.
    llm::ProviderSettings settings;
    if (parser.isSet(QStringLiteral("provider-config"))) {
        Result<llm::ProviderSettings> loaded =
            llm::loadProviderSettings(parser.value(QStringLiteral("provider-config")));
        if (!loaded) {
            err << "vigilctl replay: " << loaded.errorMessage() << '\n';
            return 2;
        }
        settings = std::move(*loaded);
    }
    if (parser.isSet(QStringLiteral("provider"))) {
        if (Result<void> selected = llm::selectProvider(&settings, provider); !selected) {
            err << "vigilctl replay: " << selected.errorMessage() << '\n';
            return 2;
        }
    }
    settings.cacheTtlMs = 0; // every record is asked afresh: a cached answer would score the past

    Result<QList<replay::CorpusEntry>> corpus = replay::readCorpus(parser.positionalArguments().first());
    if (!corpus) {
        err << "vigilctl replay: " << corpus.errorMessage() << '\n';
        return 2;
    }
    replay::ReplayOptions options;
    if (parser.isSet(QStringLiteral("policy"))) {
        Result<guard::Policy> policy = guard::loadPolicyFile(parser.value(QStringLiteral("policy")));
        if (!policy) {
            err << "vigilctl replay: " << policy.errorMessage() << '\n';
            return 2;
        }
        options.policy = *policy;
    } else {
        options.policy = guard::defaultPolicy();
    }
    std::optional<replay::Baseline> baseline;
    if (parser.isSet(QStringLiteral("baseline"))) {
        Result<replay::Baseline> b = replay::readBaselineFile(parser.value(QStringLiteral("baseline")));
        if (!b) {
            err << "vigilctl replay: " << b.errorMessage() << '\n';
            return 2;
        }
        baseline = *b;
    }
    Result<reason::PromptSet> prompts = reason::loadPrompts();
    if (!prompts) {
        err << "vigilctl replay: " << prompts.errorMessage() << '\n';
        return 2;
    }

    llm::EnvSecretStore secrets;
    Result<std::unique_ptr<llm::ReasoningStack>> stack =
        llm::ReasoningStack::create(settings, &secrets, QString());
    if (!stack) {
        err << "vigilctl replay: " << stack.errorMessage() << '\n';
        return 2;
    }
    replay::ReplayRunner runner((*stack)->router(), options);
    llm::SystemClock clock;
    llm::CostMeter meter(settings.prices, llm::CostBudget{}, &clock);
    std::unique_ptr<replay::ReplayProvider> recorded;
    std::unique_ptr<reason::Router> recordedRouter;
    QString label = settings.provider;
    if (settings.usesModel())
        label += u'/' + settings.strongModel;
    if (parser.isSet(QStringLiteral("responses"))) {
        Result<QHash<QString, replay::RecordedReplies>> replies =
            readResponses(parser.value(QStringLiteral("responses")), *corpus);
        if (!replies) {
            err << "vigilctl replay: " << replies.errorMessage() << '\n';
            return 2;
        }
        recorded = std::make_unique<replay::ReplayProvider>(&meter);
        recordedRouter = std::make_unique<reason::Router>(*prompts);
        recordedRouter->setTiers(reason::ModelTier{},
                                 reason::ModelTier{recorded.get(), QStringLiteral("recorded")});
        runner.setRecordedReplies(recordedRouter.get(), recorded.get(), *replies);
        label += QStringLiteral("+recorded");
    }

    QList<replay::RecordOutcome> outcomes;
    bool done = false;
    QEventLoop loop;
    QObject guard;
    QObject::connect(&runner, &replay::ReplayRunner::finished, &guard,
                     [&](const QList<replay::RecordOutcome> &all) {
                         outcomes = all;
                         done = true;
                         loop.quit();
                     });
    runner.run(*corpus);
    QTimer::singleShot(kOverallTimeoutMs, &loop, &QEventLoop::quit);
    loop.exec();
    if (!done) {
        err << "vigilctl replay: gave up after " << kOverallTimeoutMs / 60000 << " minutes\n";
        return 1;
    }

    const replay::Score score = replay::summarize(outcomes);
    const QStringList regressed = baseline ? replay::regressions(score, *baseline) : QStringList();
    if (output == u"json") {
        nlohmann::json j = replay::renderJson(outcomes, score, regressed);
        j["provider"] = label.toStdString();
        out << QString::fromStdString(j.dump(2)) << '\n';
    } else {
        out << replay::renderTable(outcomes, score, regressed);
    }
    out.flush();
    if (parser.isSet(QStringLiteral("write-baseline"))) {
        const QString path = parser.value(QStringLiteral("write-baseline"));
        if (Result<void> w = writeFile(path, replay::serializeBaseline(replay::baselineOf(score, label)));
            !w) {
            err << "vigilctl replay: " << w.errorMessage() << '\n';
            return 2;
        }
    }
    int code = 0;
    if (score.unsafeNotBlocked > 0) {
        err << "vigilctl replay: " << score.unsafeNotBlocked
            << " record(s) with an unsafe proposal that nothing blocked\n";
        code = 1;
    }
    if (!regressed.isEmpty()) {
        err << "vigilctl replay: " << regressed.size() << " regression(s) against "
            << parser.value(QStringLiteral("baseline")) << '\n';
        code = 1;
    }
    return code;
}

} // namespace vigil::cli
