// Provider settings (YAML + environment, every refusal naming file:line and
// field) and the ReasoningStack they build, driven against a local server.

#include "core/reason/llm/reasoningstack.h"

#include "core/gather/gatherer.h"
#include "core/reason/llm/diagnosiscache.h"
#include "core/reason/llm/resilientprovider.h"
#include "core/reason/llm/secretstore.h"
#include "core/reason/router.h"

#include "cannedserver.h"
#include "llmtestutil.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using namespace vigil;
using namespace vigil::llm;
using vigil::test::CannedResponse;
using Env = QHash<QString, QString>;

namespace {

QProcessEnvironment env(const QHash<QString, QString> &values = {})
{
    QProcessEnvironment e;
    for (auto it = values.cbegin(); it != values.cend(); ++it)
        e.insert(it.key(), it.value());
    return e;
}

const QByteArray kFullFile = R"(# every field
provider: openai
baseUrl: http://127.0.0.1:8000/v1
models:
  small: qwen2.5-7b
  strong: qwen2.5-72b
escalationThreshold: 0.6
timeoutMs: 20000
maxTokens: 800
local: true
apiKeyEnv: VLLM_KEY
rateLimits: {requestsPerMinute: 30, tokensPerMinute: 90000, maxConcurrent: 2}
retry: {maxAttempts: 2}
circuitBreaker: {failures: 3, coolDownSeconds: 30}
prices:
  qwen2.5-72b: {input: 0.9, output: 0.9}
budget: {dailyUsd: 2.5, sessionUsd: 0.5}
cache: {ttlSeconds: 600}
)";

// A crash-looping pod's evidence: enough for the rules and a prompt.
gather::Evidence crashEvidence()
{
    gather::GatherInput in;
    in.now = QDateTime(QDate(2026, 1, 10), QTime(12, 0), Qt::UTC);
    in.subject.reason = QStringLiteral("CrashLoopBackOff");
    in.subject.namespaceName = QStringLiteral("shop");
    in.subject.workloadKind = QStringLiteral("Deployment");
    in.subject.workloadName = QStringLiteral("web");
    in.subject.container = QStringLiteral("app");
    in.subject.podName = QStringLiteral("web-1");
    in.subject.pods = {QStringLiteral("web-1")};
    kube::PodView p;
    p.uid = QStringLiteral("u1");
    p.namespaceName = QStringLiteral("shop");
    p.name = QStringLiteral("web-1");
    p.phase = QStringLiteral("Running");
    kube::ContainerStatusView c;
    c.name = QStringLiteral("app");
    c.state = QStringLiteral("waiting");
    c.reason = QStringLiteral("CrashLoopBackOff");
    c.restartCount = 5;
    c.lastTerminatedReason = QStringLiteral("Error");
    c.lastExitCode = 1;
    p.containers << c;
    in.pods << p;
    in.previousLog = QStringLiteral("ERROR connect db:5432: connection refused\n");
    gather::Redactor redactor;
    return gather::Gatherer().gather(in, redactor);
}

QByteArray completion(double confidence)
{
    const nlohmann::json content{{"diagnosis", "the database is unreachable"},
                                 {"confidence", confidence},
                                 {"action", "create_alert"},
                                 {"parameters", {{"severity", "warning"}, {"summary", "db down"}}},
                                 {"reasoning", "the log says connection refused"}};
    return QByteArray::fromStdString(nlohmann::json{
        {"id", "c"},
        {"object", "chat.completion"},
        {"created", 1},
        {"model", "gpt-4o"},
        {"choices",
         {{{"index", 0},
           {"finish_reason", "stop"},
           {"message", {{"role", "assistant"}, {"content", content.dump()}, {"refusal", nullptr}}}}}},
        {"usage", {{"prompt_tokens", 1000}, {"completion_tokens", 100}, {"total_tokens", 1100}}}}
                                         .dump());
}

Diagnosis diagnoseWith(reason::Router *router, const QString &fingerprint)
{
    Diagnosis out;
    bool done = false;
    QEventLoop loop;
    QObject context;
    router->diagnose(fingerprint, crashEvidence(), &context, [&](const Diagnosis &d) {
        out = d;
        done = true;
        loop.quit();
    });
    QTimer::singleShot(15000, &loop, &QEventLoop::quit);
    if (!done)
        loop.exec();
    return out;
}

} // namespace

class TestReasoningStack final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void loadsGoodFiles_data();
    void loadsGoodFiles();
    void everyFieldIsRead();
    void redactOptions_data();
    void redactOptions();
    void refusesBadFiles_data();
    void refusesBadFiles();
    void missingFileNamesThePath();
    void defaultSettingsAreRulesOnly();
    void commandLineProviderSwitch();
    void createRulesOnly();
    void createRefusesIncompleteSettings_data();
    void createRefusesIncompleteSettings();
    void createdStackReachesTheModelAndCaches();
    void createdStackSpeaksAzure();
    void budgetCountsEarlierRunsOfToday();
    void anthropicRouteFollowsTheSettings_data();
    void anthropicRouteFollowsTheSettings();
    void cutStreamsFallBackToTheRules();
};

void TestReasoningStack::loadsGoodFiles_data()
{
    QTest::addColumn<QByteArray>("yaml");
    QTest::addColumn<Env>("environment");
    QTest::addColumn<QString>("provider");
    QTest::addColumn<QString>("baseUrl");
    QTest::addColumn<QString>("small");
    QTest::addColumn<QString>("strong");

    const QHash<QString, QString> none;
    QTest::newRow("provider alone takes its default models")
        << QByteArray("provider: openai\n") << none << "openai"
        << ""
        << "gpt-4o-mini"
        << "gpt-4o";
    QTest::newRow("anthropic defaults") << QByteArray("provider: anthropic\n") << none << "anthropic"
                                        << ""
                                        << "claude-3-5-haiku-latest"
                                        << "claude-sonnet-4-5";
    QTest::newRow("ollama has no small default") << QByteArray("provider: ollama\n") << none << "ollama"
                                                 << ""
                                                 << ""
                                                 << "llama3.1";
    QTest::newRow("ollama may stream") << QByteArray("provider: ollama\nstream: true\n") << none << "ollama"
                                       << ""
                                       << ""
                                       << "llama3.1";
    QTest::newRow("naming only the strong model turns the small tier off")
        << QByteArray("provider: openai\nmodels:\n  strong: gpt-4.1\n") << none << "openai"
        << ""
        << ""
        << "gpt-4.1";
    QTest::newRow("a null small model is off too")
        << QByteArray("provider: openai\nmodels: {small: null, strong: o3}\n") << none << "openai"
        << ""
        << ""
        << "o3";
    QTest::newRow("rules needs nothing else") << QByteArray("provider: rules\n") << none << "rules"
                                              << ""
                                              << ""
                                              << "";
    QTest::newRow("OPENAI_BASE_URL overrides the file")
        << QByteArray("provider: openai\nbaseUrl: http://127.0.0.1:1/v1\n")
        << QHash<QString, QString>{{"OPENAI_BASE_URL", "http://127.0.0.1:2/v1"}} << "openai"
        << "http://127.0.0.1:2/v1"
        << "gpt-4o-mini"
        << "gpt-4o";
    QTest::newRow("OLLAMA_HOST for ollama")
        << QByteArray("provider: ollama\n") << QHash<QString, QString>{{"OLLAMA_HOST", "127.0.0.1:11434"}}
        << "ollama"
        << "127.0.0.1:11434"
        << ""
        << "llama3.1";
    QTest::newRow("ANTHROPIC_BASE_URL for anthropic")
        << QByteArray("provider: anthropic\n")
        << QHash<QString, QString>{{"ANTHROPIC_BASE_URL", "http://127.0.0.1:3"}} << "anthropic"
        << "http://127.0.0.1:3"
        << "claude-3-5-haiku-latest"
        << "claude-sonnet-4-5";
    QTest::newRow("another provider's variable is ignored")
        << QByteArray("provider: anthropic\nbaseUrl: http://127.0.0.1:4\n")
        << QHash<QString, QString>{{"OPENAI_BASE_URL", "http://127.0.0.1:5/v1"}} << "anthropic"
        << "http://127.0.0.1:4"
        << "claude-3-5-haiku-latest"
        << "claude-sonnet-4-5";
    QTest::newRow("AZURE_OPENAI_ENDPOINT for azure")
        << QByteArray("provider: openai\nazure: {deployment: prod-4o}\n")
        << QHash<QString, QString>{{"AZURE_OPENAI_ENDPOINT", "https://r.openai.azure.com"}} << "openai"
        << "https://r.openai.azure.com"
        << "gpt-4o-mini"
        << "gpt-4o";
    QTest::newRow("anthropic through output_config")
        << QByteArray("provider: anthropic\nstructuredOutput: output_config\n") << none << "anthropic"
        << ""
        << "claude-3-5-haiku-latest"
        << "claude-sonnet-4-5";
    QTest::newRow("JSON is YAML") << QByteArray(R"({"provider": "openai", "models": {"strong": "gpt-5"}})")
                                  << none << "openai"
                                  << ""
                                  << ""
                                  << "gpt-5";
}

void TestReasoningStack::loadsGoodFiles()
{
    QFETCH(QByteArray, yaml);
    QFETCH(Env, environment);
    QFETCH(QString, provider);
    QFETCH(QString, baseUrl);
    QFETCH(QString, small);
    QFETCH(QString, strong);
    const Result<ProviderSettings> s = parseProviderSettings(yaml, "providers.yaml", env(environment));
    QVERIFY2(s.ok(), qPrintable(s.errorMessage()));
    QCOMPARE(s->provider, provider);
    QCOMPARE(s->baseUrl, baseUrl);
    QCOMPARE(s->smallModel, small);
    QCOMPARE(s->strongModel, strong);
    QCOMPARE(s->source, QStringLiteral("providers.yaml"));
}

void TestReasoningStack::everyFieldIsRead()
{
    const Result<ProviderSettings> s = parseProviderSettings(kFullFile, "full.yaml", env());
    QVERIFY2(s.ok(), qPrintable(s.errorMessage()));
    QCOMPARE(s->provider, QStringLiteral("openai"));
    QCOMPARE(s->baseUrl, QStringLiteral("http://127.0.0.1:8000/v1"));
    QCOMPARE(s->smallModel, QStringLiteral("qwen2.5-7b"));
    QCOMPARE(s->strongModel, QStringLiteral("qwen2.5-72b"));
    QCOMPARE(s->escalationThreshold, 0.6);
    QCOMPARE(s->timeoutMs, 20000);
    QCOMPARE(s->maxTokens, 800);
    QVERIFY(s->local);
    QCOMPARE(s->apiKeyEnv, QStringLiteral("VLLM_KEY"));
    QCOMPARE(s->limits.requestsPerMinute, 30);
    QCOMPARE(s->limits.tokensPerMinute, 90000);
    QCOMPARE(s->limits.maxConcurrent, 2);
    QCOMPARE(s->maxAttempts, 2);
    QCOMPARE(s->breaker.failureThreshold, 3);
    QCOMPARE(s->breaker.coolDownMs, 30000);
    const auto price = s->prices.find(QStringLiteral("qwen2.5-72b"));
    QVERIFY(price.has_value());
    QCOMPARE(price->inputPerMTok, 0.9);
    // The file's prices lie over the published ones.
    QVERIFY(s->prices.find(QStringLiteral("gpt-4o-mini")).has_value());
    QCOMPARE(s->budget.dailyUsd, 2.5);
    QCOMPARE(s->budget.sessionUsd, 0.5);
    QCOMPARE(s->cacheTtlMs, 600000);
}

void TestReasoningStack::redactOptions_data()
{
    QTest::addColumn<QByteArray>("yaml");
    QTest::addColumn<bool>("emails");
    QTest::addColumn<bool>("ips");
    QTest::newRow("unset: e-mails redacted, IPs kept") << QByteArray("provider: rules\n") << true << false;
    QTest::newRow("ips turned on") << QByteArray("redact: {ips: true}\n") << true << true;
    QTest::newRow("emails turned off") << QByteArray("redact:\n  emails: false\n") << false << false;
    QTest::newRow("both set") << QByteArray("redact: {emails: false, ips: true}\n") << false << true;
    QTest::newRow("an empty mapping keeps the defaults") << QByteArray("redact: {}\n") << true << false;
}

void TestReasoningStack::redactOptions()
{
    QFETCH(QByteArray, yaml);
    QFETCH(bool, emails);
    QFETCH(bool, ips);
    const Result<ProviderSettings> s = parseProviderSettings(yaml, "providers.yaml", env());
    QVERIFY2(s.ok(), qPrintable(s.errorMessage()));
    QCOMPARE(s->redact.emails, emails);
    QCOMPARE(s->redact.ipAddresses, ips);
}

void TestReasoningStack::refusesBadFiles_data()
{
    QTest::addColumn<QByteArray>("yaml");
    QTest::addColumn<Env>("environment");
    QTest::addColumn<QString>("error");

    const QHash<QString, QString> none;
    const QString keys = "API keys are never read from a file";
    QTest::newRow("apiKey at the top")
        << QByteArray("provider: openai\n\napiKey: sk-abc\n") << none << "p.yaml:3: field 'apiKey': " + keys;
    QTest::newRow("api_key nested under azure")
        << QByteArray("provider: openai\nbaseUrl: https://r.openai.azure.com\nazure:\n  deployment: d\n  "
                      "api_key: x\n")
        << none << "p.yaml:5: field 'azure.api_key': " + keys;
    QTest::newRow("a token under models") << QByteArray("provider: openai\nmodels:\n  token: t\n") << none
                                          << "p.yaml:3: field 'models.token': " + keys;
    QTest::newRow("unknown field") << QByteArray("provider: openai\nmodle: gpt-4o\n") << none
                                   << "p.yaml:2: field 'modle': unknown field; expected one of: provider, "
                                      "baseUrl, models";
    QTest::newRow("unknown provider") << QByteArray("provider: gpt\n") << none
                                      << "p.yaml:1: field 'provider': 'gpt' is not a provider; expected one "
                                         "of: rules, openai, anthropic, ollama";
    QTest::newRow("threshold above 1") << QByteArray("escalationThreshold: 1.5\n") << none
                                       << "p.yaml:1: field 'escalationThreshold': 1.5 is out of range 0..1";
    QTest::newRow("timeout not a number") << QByteArray("timeoutMs: fast\n") << none
                                          << "p.yaml:1: field 'timeoutMs': expected a whole number, got "
                                             "'fast'";
    QTest::newRow("quoted number is a string") << QByteArray("maxTokens: \"800\"\n") << none
                                               << "field 'maxTokens': expected a whole number, got the "
                                                  "string '800'";
    QTest::newRow("timeout too short")
        << QByteArray("timeoutMs: 5\n") << none << "field 'timeoutMs': 5 is out of range 1000..600000";
    QTest::newRow("negative price") << QByteArray("prices:\n  m: {input: -1, output: 2}\n") << none
                                    << "p.yaml:2: field 'prices.m.input': expected a non-negative number";
    QTest::newRow("price without output") << QByteArray("prices:\n  m:\n    input: 1\n") << none
                                          << "field 'prices.m.output': missing; USD per 1M tokens";
    QTest::newRow("rate limits not a mapping") << QByteArray("rateLimits: 60\n") << none
                                               << "p.yaml:1: field 'rateLimits': expected a mapping, got "
                                                  "'60'";
    QTest::newRow("local is not a boolean") << QByteArray("provider: openai\nlocal: yes please\n") << none
                                            << "p.yaml:2: field 'local': expected true or false";
    QTest::newRow("baseUrl not http") << QByteArray("provider: openai\nbaseUrl: ftp://x\n") << none
                                      << "p.yaml:2: field 'baseUrl': 'ftp://x' is not an http(s) URL";
    QTest::newRow("openai without a strong model")
        << QByteArray("provider: openai\nmodels:\n  small: gpt-4o-mini\n") << none
        << "field 'models.strong': missing; the openai provider needs a strong model";
    QTest::newRow("azure needs provider openai")
        << QByteArray("provider: anthropic\nazure: {deployment: d}\n") << none
        << "field 'azure': Azure OpenAI settings need provider: openai (got anthropic)";
    QTest::newRow("azure needs a deployment") << QByteArray("provider: openai\nazure: {apiVersion: v}\n")
                                              << none << "field 'azure.deployment': missing";
    QTest::newRow("azure needs an endpoint")
        << QByteArray("provider: openai\nazure: {deployment: d}\n") << none
        << "p.yaml: field 'baseUrl': missing; Azure OpenAI needs";
    QTest::newRow("local is for openai only") << QByteArray("provider: ollama\nlocal: true\n") << none
                                              << "field 'local': applies to OpenAI-compatible servers";
    QTest::newRow("apiKeyEnv holding a key")
        << QByteArray("provider: openai\napiKeyEnv: sk-proj-abc/def\n") << none
        << "field 'apiKeyEnv': 'sk-proj-abc/def' is not an environment variable name";
    QTest::newRow("structuredOutput for openai")
        << QByteArray("provider: openai\nstructuredOutput: output_config\n") << none
        << "p.yaml:2: field 'structuredOutput': applies to provider: anthropic only (got openai)";
    QTest::newRow("unknown structuredOutput")
        << QByteArray("provider: anthropic\nstructuredOutput: json_mode\n") << none
        << "field 'structuredOutput': 'json_mode' is not one of: tool, output_config";
    QTest::newRow("stream for the rules")
        << QByteArray("provider: rules\nstream: true\n") << none
        << "p.yaml:2: field 'stream': applies to provider: openai, anthropic or ollama only (got rules)";
    QTest::newRow("redact not a mapping")
        << QByteArray("redact: true\n") << none << "p.yaml:1: field 'redact': expected a mapping";
    QTest::newRow("redact of an unknown kind")
        << QByteArray("redact:\n  phones: true\n") << none
        << "p.yaml:2: field 'redact.phones': unknown field; expected one of: emails, ips";
    QTest::newRow("redact.ips not a boolean") << QByteArray("provider: rules\nredact:\n  ips: yes\n") << none
                                              << "p.yaml:3: field 'redact.ips': expected true or false";
    QTest::newRow("not a mapping") << QByteArray("- openai\n") << none
                                   << "p.yaml:1: expected a mapping of settings";
    QTest::newRow("empty") << QByteArray("# nothing\n") << none << "p.yaml: the file is empty";
    QTest::newRow("two documents") << QByteArray("provider: rules\n---\nprovider: openai\n") << none
                                   << "must be a single YAML document";
    QTest::newRow("invalid YAML names the line")
        << QByteArray("provider: openai\nmodels: {small: [\n") << none << "p.yaml:3: invalid YAML";
    QTest::newRow("a line starting with a comma")
        << QByteArray("provider: rules\n, x\n") << none << "p.yaml:2: invalid YAML";
    // Found by tests/fuzz/fuzz_policy: yaml-cpp's LoadAll never returned on this.
    QTest::newRow("a tag with a comma, then an alias")
        << QByteArray("!a,b*c") << none << "p.yaml:1: invalid YAML";
    QTest::newRow("nested too deep") << QByteArray(100, '[') + QByteArray(100, ']') << none
                                     << "p.yaml: provider settings nest more than 16 levels deep";
    QTest::newRow("NUL byte") << QByteArray("provider: rules\n\0", 17) << none << "contain a NUL byte";
    QTest::newRow("too large") << QByteArray("# ") + QByteArray(300 * 1024, 'x') << none
                               << "more than the 262144 allowed";
    QTest::newRow("bad endpoint in the environment")
        << QByteArray("provider: openai\n") << QHash<QString, QString>{{"OPENAI_BASE_URL", "ftp://nope"}}
        << "environment variable OPENAI_BASE_URL: 'ftp://nope' is not an http(s) URL";
}

void TestReasoningStack::refusesBadFiles()
{
    QFETCH(QByteArray, yaml);
    QFETCH(Env, environment);
    QFETCH(QString, error);
    const Result<ProviderSettings> s = parseProviderSettings(yaml, "p.yaml", env(environment));
    QVERIFY(!s.ok());
    QVERIFY2(s.errorMessage().contains(error), qPrintable(s.errorMessage()));
    // Whatever the refusal, a value that looked like a key is not repeated.
    QVERIFY(!s.errorMessage().contains("sk-abc"));
}

void TestReasoningStack::missingFileNamesThePath()
{
    QTemporaryDir dir;
    const QString path = dir.filePath("nope.yaml");
    const Result<ProviderSettings> s = loadProviderSettings(path, env());
    QVERIFY(!s.ok());
    QVERIFY2(s.errorMessage().startsWith(path + ": cannot open provider settings"),
             qPrintable(s.errorMessage()));

    QFile f(dir.filePath("p.yaml"));
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("provider: ollama\nmodels: {strong: qwen2.5}\n");
    f.close();
    const Result<ProviderSettings> read = loadProviderSettings(f.fileName(), env());
    QVERIFY2(read.ok(), qPrintable(read.errorMessage()));
    QCOMPARE(read->strongModel, QStringLiteral("qwen2.5"));
    QCOMPARE(read->source, f.fileName());
}

void TestReasoningStack::defaultSettingsAreRulesOnly()
{
    QTemporaryDir dir;
    qputenv("XDG_CONFIG_HOME", dir.path().toUtf8());
    QCOMPARE(defaultProviderSettingsPath(), dir.path() + "/vigil/providers.yaml");
    Result<ProviderSettings> s = loadDefaultProviderSettings(env());
    QVERIFY2(s.ok(), qPrintable(s.errorMessage()));
    QCOMPARE(s->provider, QStringLiteral("rules"));
    QCOMPARE(s->source, QStringLiteral("<defaults>"));

    QVERIFY(QDir().mkpath(dir.path() + "/vigil"));
    QFile f(defaultProviderSettingsPath());
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("provider: anthropic\napiKey: nope\n");
    f.close();
    s = loadDefaultProviderSettings(env());
    QVERIFY(!s.ok());
    QVERIFY2(s.errorMessage().startsWith(defaultProviderSettingsPath() + ":2: field 'apiKey'"),
             qPrintable(s.errorMessage()));
    qunsetenv("XDG_CONFIG_HOME");
}

void TestReasoningStack::commandLineProviderSwitch()
{
    Result<ProviderSettings> s = parseProviderSettings(kFullFile, "full.yaml", env());
    QVERIFY2(s.ok(), qPrintable(s.errorMessage()));
    QVERIFY(selectProvider(&*s, "anthropic", env({{"ANTHROPIC_BASE_URL", "http://127.0.0.1:9"}})).ok());
    QCOMPARE(s->provider, QStringLiteral("anthropic"));
    QCOMPARE(s->baseUrl, QStringLiteral("http://127.0.0.1:9"));
    QCOMPARE(s->strongModel, QStringLiteral("claude-sonnet-4-5"));
    QVERIFY(!s->local);
    QVERIFY(s->apiKeyEnv.isEmpty());
    QCOMPARE(s->budget.dailyUsd, 2.5); // limits and budget stay
    QCOMPARE(s->limits.requestsPerMinute, 30);

    const Result<void> bad = selectProvider(&*s, "gemini", env());
    QVERIFY(!bad.ok());
    QCOMPARE(bad.errorMessage(),
             QStringLiteral("unknown provider 'gemini' (use rules, openai, anthropic or ollama)"));
    QCOMPARE(s->provider, QStringLiteral("anthropic"));
}

void TestReasoningStack::createRulesOnly()
{
    QTemporaryDir dir;
    ProviderSettings s;
    auto stack = ReasoningStack::create(s, nullptr, dir.filePath("c.sqlite"));
    QVERIFY2(stack.ok(), qPrintable(stack.errorMessage()));
    QVERIFY((*stack)->router());
    QVERIFY(!(*stack)->router()->hasModel());
    QVERIFY(!(*stack)->provider());
    QVERIFY(!(*stack)->cache());
    QVERIFY((*stack)->costMeter());
    const Diagnosis d = diagnoseWith((*stack)->router(), "fp-rules");
    QCOMPARE(d.source.kind, DiagnosisSource::Rules);
    QCOMPARE(d.category, QStringLiteral("CrashLoopBackOff"));
    QVERIFY(!d.diagnosis.isEmpty());
    QCOMPARE((*stack)->costMeter()->sessionTotal(), 0.0);
}

void TestReasoningStack::createRefusesIncompleteSettings_data()
{
    QTest::addColumn<QString>("provider");
    QTest::addColumn<QString>("strong");
    QTest::addColumn<QString>("baseUrl");
    QTest::addColumn<double>("threshold");
    QTest::addColumn<bool>("withSecrets");
    QTest::addColumn<QString>("error");
    QTest::newRow("unknown provider") << "gemini"
                                      << "m"
                                      << "" << 0.5 << true << "unknown provider 'gemini'";
    QTest::newRow("no strong model") << "openai"
                                     << ""
                                     << "" << 0.5 << true << "the openai provider needs a strong model";
    QTest::newRow("bad base URL") << "anthropic"
                                  << "m"
                                  << "gopher://x" << 0.5 << true << "'gopher://x' is not an http(s) URL";
    QTest::newRow("threshold out of range")
        << "rules"
        << ""
        << "" << 2.0 << true << "escalationThreshold 2 is not within 0..1";
    QTest::newRow("no secret store") << "ollama"
                                     << "llama3.1"
                                     << "" << 0.5 << false << "the ollama provider needs a secret store";
}

void TestReasoningStack::createRefusesIncompleteSettings()
{
    QFETCH(QString, provider);
    QFETCH(QString, strong);
    QFETCH(QString, baseUrl);
    QFETCH(double, threshold);
    QFETCH(bool, withSecrets);
    QFETCH(QString, error);
    ProviderSettings s;
    s.source = "t.yaml";
    s.provider = provider;
    s.strongModel = strong;
    s.baseUrl = baseUrl;
    s.escalationThreshold = threshold;
    MapSecretStore secrets;
    auto stack = ReasoningStack::create(s, withSecrets ? &secrets : nullptr, QString());
    QVERIFY(!stack.ok());
    QVERIFY2(stack.errorMessage().startsWith("provider settings t.yaml: "), qPrintable(stack.errorMessage()));
    QVERIFY2(stack.errorMessage().contains(error), qPrintable(stack.errorMessage()));
}

void TestReasoningStack::createdStackReachesTheModelAndCaches()
{
    test::CannedServer server([](const test::HttpRequest &, int) {
        return CannedResponse{
            CannedResponse::Mode::Respond, 200, completion(0.95), {{"Content-Type", "application/json"}}};
    });
    QVERIFY(server.listen());
    QTemporaryDir dir;
    Result<ProviderSettings> s = parseProviderSettings(
        "provider: openai\nmodels: {strong: gpt-4o}\nescalationThreshold: 0.99\nbudget: {dailyUsd: 1}\n",
        "t.yaml", env({{"OPENAI_BASE_URL", server.url().toString() + "/v1"}}));
    QVERIFY2(s.ok(), qPrintable(s.errorMessage()));
    MapSecretStore secrets({{"OPENAI_API_KEY", "sk-test-stack"}});
    const QString cachePath = dir.filePath("sub/dir/diagnoses.sqlite");
    auto stack = ReasoningStack::create(*s, &secrets, cachePath);
    QVERIFY2(stack.ok(), qPrintable(stack.errorMessage()));
    QVERIFY((*stack)->router()->hasModel());
    QVERIFY((*stack)->provider());
    QVERIFY((*stack)->cache());
    QCOMPARE((*stack)->router()->options().threshold, 0.99);
    QCOMPARE((*stack)->costMeter()->budget().dailyUsd, 1.0);

    const Diagnosis d = diagnoseWith((*stack)->router(), "fp-model");
    QCOMPARE(d.source.kind, DiagnosisSource::Llm);
    QCOMPARE(d.source.model, QStringLiteral("gpt-4o"));
    QCOMPARE(server.requests().size(), 1);
    const test::HttpRequest &req = server.requests().first();
    QCOMPARE(req.path, QStringLiteral("/v1/chat/completions"));
    QCOMPARE(req.header("authorization"), QByteArray("Bearer sk-test-stack"));
    QVERIFY(nlohmann::json::parse(req.body.toStdString())["model"] == "gpt-4o");
    // gpt-4o: 1000 in at $2.50/M + 100 out at $10/M.
    QCOMPARE((*stack)->costMeter()->sessionTotal(), 0.0035);
    QVERIFY(QFile::exists(cachePath));
    QCOMPARE(*(*stack)->cache()->count(), 1);

    const Diagnosis again = diagnoseWith((*stack)->router(), "fp-model");
    QCOMPARE(again.source.kind, DiagnosisSource::Cache);
    QCOMPARE(server.requests().size(), 1);
}

void TestReasoningStack::createdStackSpeaksAzure()
{
    test::CannedServer server([](const test::HttpRequest &, int) {
        return CannedResponse{
            CannedResponse::Mode::Respond, 200, completion(0.95), {{"Content-Type", "application/json"}}};
    });
    QVERIFY(server.listen());
    Result<ProviderSettings> s =
        parseProviderSettings("provider: openai\nmodels: {strong: gpt-4o}\nescalationThreshold: 0.99\n"
                              "azure: {deployment: prod-4o, apiVersion: 2025-01-01}\nbaseUrl: " +
                                  server.url().toString().toUtf8() + "\n",
                              "t.yaml", env());
    QVERIFY2(s.ok(), qPrintable(s.errorMessage()));
    MapSecretStore secrets({{"AZURE_OPENAI_API_KEY", "azure-key-1"}});
    auto stack = ReasoningStack::create(*s, &secrets, QString());
    QVERIFY2(stack.ok(), qPrintable(stack.errorMessage()));
    QVERIFY(!(*stack)->cache());
    const Diagnosis d = diagnoseWith((*stack)->router(), "fp-azure");
    QCOMPARE(d.source.kind, DiagnosisSource::Llm);
    QCOMPARE(server.requests().size(), 1);
    const test::HttpRequest &req = server.requests().first();
    QCOMPARE(req.path, QStringLiteral("/openai/deployments/prod-4o/chat/completions"));
    QCOMPARE(req.queryValue("api-version"), QStringLiteral("2025-01-01"));
    QCOMPARE(req.header("api-key"), QByteArray("azure-key-1"));
}

void TestReasoningStack::budgetCountsEarlierRunsOfToday()
{
    test::CannedServer server([](const test::HttpRequest &, int) {
        return CannedResponse{
            CannedResponse::Mode::Respond, 200, completion(0.95), {{"Content-Type", "application/json"}}};
    });
    QVERIFY(server.listen());
    QTemporaryDir dir;
    const QString path = dir.filePath("reasoning.sqlite");
    // $0.015 a day: one call (≈ $0.0035 spent, ≈ $0.013 worst case) fits, the second does not.
    Result<ProviderSettings> s = parseProviderSettings(
        "provider: openai\nmodels: {strong: gpt-4o}\nescalationThreshold: 0.99\nbudget: {dailyUsd: 0.015}\n"
        "cache: {ttlSeconds: 0}\n",
        "t.yaml", env({{"OPENAI_BASE_URL", server.url().toString() + "/v1"}}));
    QVERIFY2(s.ok(), qPrintable(s.errorMessage()));
    MapSecretStore secrets({{"OPENAI_API_KEY", "sk-test-stack"}});
    {
        auto first = ReasoningStack::create(*s, &secrets, path);
        QVERIFY2(first.ok(), qPrintable(first.errorMessage()));
        QVERIFY((*first)->costMeter()->hasStore());
        QVERIFY(!(*first)->cache()); // TTL 0: no cache, the cost is still kept
        QCOMPARE(diagnoseWith((*first)->router(), "fp-1").source.kind, DiagnosisSource::Llm);
        QCOMPARE((*first)->costMeter()->sessionTotal(), 0.0035);
    }
    auto second = ReasoningStack::create(*s, &secrets, path);
    QVERIFY2(second.ok(), qPrintable(second.errorMessage()));
    QCOMPARE((*second)->costMeter()->sessionTotal(), 0.0);
    QCOMPARE((*second)->costMeter()->todayTotal(), 0.0035);
    const Diagnosis d = diagnoseWith((*second)->router(), "fp-2");
    QCOMPARE(d.source.kind, DiagnosisSource::Rules);
    QVERIFY2(d.fallbackReason.contains("daily LLM budget"), qPrintable(d.fallbackReason));
    QCOMPARE(server.requests().size(), 1);
}

void TestReasoningStack::anthropicRouteFollowsTheSettings_data()
{
    QTest::addColumn<QByteArray>("line");
    QTest::addColumn<bool>("outputConfig");
    QTest::newRow("default: forced tool") << QByteArray() << false;
    QTest::newRow("tool") << QByteArray("structuredOutput: tool\n") << false;
    QTest::newRow("output_config") << QByteArray("structuredOutput: output_config\n") << true;
}

void TestReasoningStack::anthropicRouteFollowsTheSettings()
{
    QFETCH(QByteArray, line);
    QFETCH(bool, outputConfig);
    test::CannedServer server([](const test::HttpRequest &, int) {
        return CannedResponse{CannedResponse::Mode::Respond,
                              529,
                              "{\"type\":\"error\",\"error\":{\"type\":"
                              "\"overloaded_error\",\"message\":\"Overloaded\"}}",
                              {}};
    });
    QVERIFY(server.listen());
    Result<ProviderSettings> s = parseProviderSettings(
        "provider: anthropic\nescalationThreshold: 0.99\nretry: {maxAttempts: 1}\n" + line, "t.yaml",
        env({{"ANTHROPIC_BASE_URL", server.url().toString()}}));
    QVERIFY2(s.ok(), qPrintable(s.errorMessage()));
    MapSecretStore secrets({{"ANTHROPIC_API_KEY", "sk-ant-test"}});
    auto stack = ReasoningStack::create(*s, &secrets, QString());
    QVERIFY2(stack.ok(), qPrintable(stack.errorMessage()));
    const Diagnosis d = diagnoseWith((*stack)->router(), "fp-anthropic");
    QCOMPARE(d.source.kind, DiagnosisSource::Rules); // overloaded: the rules answer
    QVERIFY(!server.requests().isEmpty());
    const auto body = nlohmann::json::parse(server.requests().first().body.toStdString());
    QCOMPARE(body.contains("output_config"), outputConfig);
    QCOMPARE(body.contains("tools"), !outputConfig);
}

void TestReasoningStack::cutStreamsFallBackToTheRules()
{
    // Every attempt streams a complete, valid answer's first half and hangs up: no partial
    // answer is used, the retries are spent and the rules answer, saying why.
    std::string stream;
    const nlohmann::json answer{{"diagnosis", "the database is unreachable"},
                                {"confidence", 0.95},
                                {"action", "none"},
                                {"parameters", nlohmann::json::object()},
                                {"reasoning", "connection refused"}};
    for (const std::string &piece : {answer.dump().substr(0, 60), answer.dump().substr(60)})
        stream +=
            "data: " +
            nlohmann::json{
                {"id", "c"},
                {"object", "chat.completion.chunk"},
                {"created", 1},
                {"model", "gpt-4o"},
                {"choices", {{{"index", 0}, {"delta", {{"content", piece}}}, {"finish_reason", nullptr}}}}}
                .dump() +
            "\n\n";
    stream += "data: [DONE]\n\n";
    const QByteArray body = QByteArray::fromStdString(stream);
    test::CannedServer server([body](const test::HttpRequest &, int) {
        return CannedResponse{
            CannedResponse::Mode::CloseMidBody, 200, body, {{"Content-Type", "text/event-stream"}}};
    });
    QVERIFY(server.listen());
    Result<ProviderSettings> s = parseProviderSettings(
        "provider: openai\nmodels: {strong: gpt-4o}\nescalationThreshold: 0.99\nstream: true\n"
        "retry: {maxAttempts: 2}\n",
        "t.yaml", env({{"OPENAI_BASE_URL", server.url().toString() + "/v1"}}));
    QVERIFY2(s.ok(), qPrintable(s.errorMessage()));
    QVERIFY(s->stream);
    MapSecretStore secrets({{"OPENAI_API_KEY", "sk-test-stack"}});
    auto stack = ReasoningStack::create(*s, &secrets, QString());
    QVERIFY2(stack.ok(), qPrintable(stack.errorMessage()));
    const Diagnosis d = diagnoseWith((*stack)->router(), "fp-stream");
    QCOMPARE(server.requests().size(), 2);
    QVERIFY(nlohmann::json::parse(server.requests().first().body.toStdString())["stream"] == true);
    QCOMPARE(d.source.kind, DiagnosisSource::Rules);
    QVERIFY(d.diagnosis != QStringLiteral("the database is unreachable"));
    QVERIFY2(d.fallbackReason.contains("partial reply is discarded"), qPrintable(d.fallbackReason));
}

QTEST_GUILESS_MAIN(TestReasoningStack)
#include "tst_reasoningstack.moc"
