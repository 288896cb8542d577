// bench_diagnosis: the numbers of the "Diagnosis pipeline" section of
// BENCHMARKS.md.
//
//   bench_diagnosis --kubeconfig K [--namespace demo] [--iterations 200]
//
// 1. LLM calls for 1,000 identical incidents within the cache TTL, against a
//    local OpenAI-shaped server (10 waves of 100 concurrent requests).
// 2. Pipeline time excluding LLM latency, per incident of the scenario
//    catalog applied in --namespace: detect + group, fetch over REST from the
//    real API server, and gather + redact + render + rules (p50 / p99).
// 3. Prompt tokens per incident (system + user prompt + reply schema).

#include "core/cli/await.h"
#include "core/gather/fetcher.h"
#include "core/kube/config/kubeconfig.h"
#include "core/kube/projections.h"
#include "core/kube/restclient.h"
#include "core/pipeline/diagnoser.h"
#include "core/reason/llm/costmeter.h"
#include "core/reason/llm/diagnosiscache.h"
#include "core/reason/llm/openaiprovider.h"
#include "core/reason/llm/resilientprovider.h"
#include "core/reason/llm/secretstore.h"
#include "core/reason/router.h"
#include "core/reason/rulereasoner.h"

#include "httptestserver.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTest>
#include <QTextStream>

#include <algorithm>
#include <cstdio>

using namespace vigil;

namespace {

QTextStream &out()
{
    static QTextStream s(stdout);
    return s;
}

double percentile(QList<double> v, double p)
{
    if (v.isEmpty())
        return 0;
    std::sort(v.begin(), v.end());
    const qsizetype i =
        std::min<qsizetype>(v.size() - 1, static_cast<qsizetype>(p * static_cast<double>(v.size())));
    return v[i];
}

QString ms(double v)
{
    return QString::number(v, 'f', 2) + QStringLiteral(" ms");
}

int llmCallsForIdenticalIncidents(const reason::PromptSet &prompts, const gather::Evidence &evidence)
{
    const QByteArray reply = QByteArray::fromStdString(nlohmann::json{
        {"id", "c"},
        {"object", "chat.completion"},
        {"created", 1},
        {"model", "gpt-4o-mini"},
        {"choices",
         {{{"index", 0},
           {"finish_reason", "stop"},
           {"message",
            {{"role", "assistant"},
             {"refusal", nullptr},
             {"content", R"({"diagnosis":"db down","confidence":0.9,"action":"create_alert",)"
                         R"("parameters":{"severity":"warning","summary":"db"},"reasoning":"r"})"}}}}}},
        {"usage", {{"prompt_tokens", 1500}, {"completion_tokens", 90}, {"total_tokens", 1590}}}}
                                                           .dump());
    test::HttpTestServer server([reply](test::HttpExchange *ex) {
        // A model takes a while: the waves arrive while the first call is in flight.
        ex->later(300, [ex, reply] { ex->respondJson(200, reply); });
    });
    server.listen();
    llm::MapSecretStore secrets;
    secrets.set(QStringLiteral("OPENAI_API_KEY"), QStringLiteral("sk-bench"));
    llm::SystemClock clock;
    llm::CostMeter meter(llm::PriceTable::defaults(), {}, &clock);
    llm::OpenAiConfig oc;
    oc.baseUrl = server.url().toString() + QStringLiteral("/v1");
    llm::OpenAiProvider inner(oc, &secrets);
    llm::ResilientProvider provider(&inner, &meter, &clock, [] { return 0.5; }, {});
    reason::RouterOptions ro;
    ro.threshold = 1.0; // every incident wants the model
    reason::Router router(prompts, ro);
    router.setTiers({}, {&provider, QStringLiteral("gpt-4o-mini")});
    auto cache = llm::DiagnosisCache::open(QStringLiteral(":memory:"), 3600 * 1000, &clock);
    router.setCache(cache ? cache->get() : nullptr);
    int done = 0;
    QObject context;
    for (int wave = 0; wave < 10; ++wave) {
        for (int i = 0; i < 100; ++i)
            router.diagnose(QStringLiteral("same-fingerprint"), evidence, &context,
                            [&done](const Diagnosis &) { ++done; });
        QTest::qWait(50);
    }
    if (!QTest::qWaitFor([&done] { return done == 1000; }, 30000))
        std::fprintf(stderr, "bench_diagnosis: only %d of 1000 answered\n", done);
    out() << "| LLM calls for 1,000 identical incidents within the TTL | " << server.requests().size() << " ("
          << router.stats().coalesced << " joined the in-flight call, " << router.stats().cacheHits
          << " cache hits, " << done << " answered) | ≤ 1 |\n";
    return static_cast<int>(server.requests().size());
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    auto value = [&args](const QString &name, const QString &fallback) {
        const qsizetype i = args.indexOf(name);
        return i >= 0 && i + 1 < args.size() ? args[i + 1] : fallback;
    };
    const QString kubeconfig = value(QStringLiteral("--kubeconfig"), QString());
    const QString ns = value(QStringLiteral("--namespace"), QStringLiteral("demo"));
    const int iterations = value(QStringLiteral("--iterations"), QStringLiteral("200")).toInt();
    if (kubeconfig.isEmpty()) {
        std::fprintf(stderr, "usage: bench_diagnosis --kubeconfig K [--namespace demo] [--iterations 200]\n");
        return 2;
    }
    kube::LoadOptions lo;
    lo.explicitPath = kubeconfig;
    Result<kube::KubeConfig> config = kube::KubeConfig::load(lo);
    Result<kube::Connection> connection =
        config ? config->resolve() : Result<kube::Connection>(config.error());
    auto prompts = reason::loadPrompts();
    if (!connection || !prompts) {
        std::fprintf(stderr, "bench_diagnosis: %s\n",
                     qPrintable(connection ? prompts.errorMessage() : connection.errorMessage()));
        return 1;
    }
    kube::RestClientOptions co;
    co.qps = 1000;
    co.burst = 1000;
    kube::RestClient client(*connection, co);
    gather::GatherFetcher fetcher(&client);
    pipeline::DiagnoserOptions dopt;
    dopt.detector.pendingGrace = std::chrono::seconds(0); // as vigilctl diagnose does

    auto list = [&client](const kube::ResourcePath &path) {
        return cli::await<kube::ListResult>(
            [&](QObject *ctx, std::function<void(Result<kube::ListResult>)> cb) {
                client.list(path, kube::ListOptions{}, ctx, std::move(cb));
            });
    };
    QList<kube::PodView> pods;
    QList<kube::EventView> events;
    QList<kube::NodeView> nodes;
    auto podList = list(kube::ResourcePath{kube::ResourceType::pods(), ns, {}, {}});
    auto eventList = list(kube::ResourcePath{kube::ResourceType::events(), ns, {}, {}});
    auto nodeList = list(kube::ResourcePath{kube::ResourceType::nodes(), {}, {}, {}});
    if (!podList || !eventList || !nodeList) {
        std::fprintf(stderr, "bench_diagnosis: listing failed\n");
        return 1;
    }
    for (const auto &i : podList->items)
        if (auto p = kube::projectPod(i))
            pods << *p;
    for (const auto &i : eventList->items)
        if (auto e = kube::projectEvent(i))
            events << *e;
    for (const auto &i : nodeList->items)
        if (auto n = kube::projectNode(i))
            nodes << *n;

    // Detect + group, timed over the whole namespace snapshot.
    QList<double> detectMs;
    QList<pipeline::Incident> incidents;
    for (int k = 0; k < iterations; ++k) {
        pipeline::DiagnoserOptions o = dopt;
        QElapsedTimer t;
        t.start();
        pipeline::Detector detector(o.detector);
        pipeline::IncidentGrouper grouper;
        const QDateTime now = QDateTime::currentDateTimeUtc();
        for (const auto &n : nodes)
            for (const auto &obs : detector.detectNode(n, now))
                grouper.add(obs);
        for (const auto &p : pods)
            for (const auto &obs : detector.detectPod(p, now))
                grouper.add(obs);
        for (const auto &e : events)
            for (const auto &obs : detector.detectEvent(e, now))
                grouper.add(obs);
        incidents = grouper.openIncidents(now);
        detectMs << static_cast<double>(t.nsecsElapsed()) / 1e6;
    }
    if (incidents.isEmpty()) {
        std::fprintf(stderr, "bench_diagnosis: no incidents in namespace %s (apply tests/scenarios first)\n",
                     qPrintable(ns));
        return 1;
    }

    out() << "| Metric | Result | Target |\n|---|---|---|\n";
    QList<double> fetchMs;
    QList<double> reasonMs;
    QStringList tokenRows;
    int maxTokens = 0;
    gather::Evidence sample;
    const int evidenceBudget = reason::evidenceTokenBudget(*prompts, 3000);
    const reason::RuleReasoner rules;
    for (const pipeline::Incident &incident : incidents) {
        const gather::IncidentSubject subject = pipeline::toSubject(incident);
        std::optional<gather::FetchResult> fetched;
        for (int k = 0; k < std::max(1, iterations / 10); ++k) {
            QElapsedTimer t;
            t.start();
            auto r = cli::await<gather::FetchResult>(
                [&](QObject *ctx, std::function<void(Result<gather::FetchResult>)> cb) {
                    fetcher.fetch(subject, ctx, std::move(cb));
                });
            fetchMs << static_cast<double>(t.nsecsElapsed()) / 1e6;
            if (r)
                fetched = *r;
        }
        if (!fetched)
            continue;
        int tokens = 0;
        for (int k = 0; k < iterations; ++k) {
            QElapsedTimer t;
            t.start();
            gather::Redactor redactor;
            gather::GatherOptions go;
            go.tokenBudget = evidenceBudget;
            gather::Evidence ev = gather::Gatherer(go).gather(fetched->input, redactor);
            gather::appendNotes(&ev, fetched->notes, redactor);
            const Result<QString> user = reason::renderUserPrompt(*prompts, ev);
            const Result<Diagnosis> d = rules.diagnose(ev);
            reasonMs << static_cast<double>(t.nsecsElapsed()) / 1e6;
            tokens = gather::estimateTokens(prompts->system) +
                     gather::estimateTokens(prompts->wireSchemaText) +
                     gather::estimateTokens(user ? *user : ev.text);
            if (d && sample.text.isEmpty() && subject.reason.contains(QLatin1String("Crash")))
                sample = ev;
            if (sample.text.isEmpty() && k == 0)
                sample = ev;
        }
        maxTokens = std::max(maxTokens, tokens);
        tokenRows << QStringLiteral("%1 %2/%3: %4")
                         .arg(incident.reason, incident.workload.kind, incident.workload.name)
                         .arg(tokens);
    }

    llmCallsForIdenticalIncidents(*prompts, sample);
    out() << "| Detect + group, whole namespace snapshot (" << pods.size() << " pods, " << events.size()
          << " events) | p50 " << ms(percentile(detectMs, 0.5)) << ", p99 " << ms(percentile(detectMs, 0.99))
          << " | — |\n";
    out() << "| Fetch one incident's context over REST (real API server) | p50 "
          << ms(percentile(fetchMs, 0.5)) << ", p99 " << ms(percentile(fetchMs, 0.99)) << " | — |\n";
    out() << "| Gather + redact + budget + render + rules, per incident | p50 "
          << ms(percentile(reasonMs, 0.5)) << ", p99 " << ms(percentile(reasonMs, 0.99)) << " | — |\n";
    const double p50 = percentile(detectMs, 0.5) + percentile(fetchMs, 0.5) + percentile(reasonMs, 0.5);
    const double p99 = percentile(detectMs, 0.99) + percentile(fetchMs, 0.99) + percentile(reasonMs, 0.99);
    out() << "| Pipeline time excluding LLM latency (sum of the three) | p50 " << ms(p50) << ", p99 "
          << ms(p99) << " | p50 ≤ 50 ms |\n";
    out() << "| Prompt tokens per incident, max over " << tokenRows.size() << " scenario incidents | "
          << maxTokens << " | ≤ 3,000 |\n\n";
    out() << "Prompt tokens per incident (system + user prompt + reply schema in the strict form sent, "
             "~4 chars/token):\n\n";
    for (const QString &row : tokenRows)
        out() << "- " << row << '\n';
    out().flush();
    return 0;
}
