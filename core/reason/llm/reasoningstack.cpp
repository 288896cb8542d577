#include "core/reason/llm/reasoningstack.h"

#include "core/kube/config/yamlguard.h"
#include "core/reason/llm/anthropicprovider.h"
#include "core/reason/llm/clock.h"
#include "core/reason/llm/diagnosiscache.h"
#include "core/reason/llm/ollamaprovider.h"
#include "core/reason/llm/openaiprovider.h"
#include "core/reason/llm/providerutil.h"
#include "core/reason/llm/resilientprovider.h"
#include "core/reason/llm/secretstore.h"
#include "core/reason/prompts.h"
#include "core/reason/router.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QUuid>

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <exception>

namespace vigil::llm {
namespace {

constexpr qsizetype kMaxSettingsBytes = 256 * 1024;
constexpr int kMaxSettingsDepth = 16; // the file nests 3 deep
const QStringList kProviders{QStringLiteral("rules"), QStringLiteral("openai"), QStringLiteral("anthropic"),
                             QStringLiteral("ollama")};

QString shortValue(const std::string &raw)
{
    QString s = QString::fromStdString(raw);
    if (s.size() > 60)
        s = s.left(60) + QStringLiteral("...");
    return u'\'' + s + u'\'';
}

// A key that looks like it holds a credential: refused wherever it appears.
bool looksLikeSecretKey(const QString &key)
{
    static const QRegularExpression re(
        QStringLiteral("^(api[-_]?key|key|secret|password|token|bearer|x-api-key|authorization)$"),
        QRegularExpression::CaseInsensitiveOption);
    return re.match(key).hasMatch();
}

// Reads one settings document; the first error names source:line and the dotted field.
class Loader final {
public:
    explicit Loader(QString source)
        : m_source(std::move(source))
    {
    }

    Error fail(const YAML::Node &node, const QString &field, const QString &what) const
    {
        return fail(node.Mark().is_null() ? 0 : node.Mark().line + 1, field, what);
    }
    Error fail(int line, const QString &field, const QString &what) const
    {
        QString where = m_source;
        if (line > 0)
            where += u':' + QString::number(line);
        if (field.isEmpty())
            return Error(where + QStringLiteral(": ") + what);
        return Error(where + QStringLiteral(": field '") + field + QStringLiteral("': ") + what);
    }

    static QString describe(const YAML::Node &node)
    {
        switch (node.Type()) {
        case YAML::NodeType::Null:
            return QStringLiteral("nothing (null)");
        case YAML::NodeType::Sequence:
            return QStringLiteral("a list");
        case YAML::NodeType::Map:
            return QStringLiteral("a mapping");
        case YAML::NodeType::Scalar:
            return (node.Tag() == "?" ? QString() : QStringLiteral("the string ")) +
                   shortValue(node.Scalar());
        default:
            return QStringLiteral("an undefined value");
        }
    }

    // Every key of `map` must be one of `known`; credentials get their own message.
    Result<void> keys(const YAML::Node &map, const QString &prefix, const QStringList &known) const
    {
        for (const auto &entry : map) {
            const QString key =
                entry.first.IsScalar() ? QString::fromStdString(entry.first.Scalar()) : QString();
            const QString field = prefix.isEmpty() ? key : prefix + u'.' + key;
            if (looksLikeSecretKey(key))
                return fail(entry.first, field,
                            QStringLiteral("API keys are never read from a file; set the provider's "
                                           "environment variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...) "
                                           "or store it in the system keychain, and remove this field"));
            if (!known.contains(key))
                return fail(entry.first, field,
                            QStringLiteral("unknown field; expected one of: ") +
                                known.join(QStringLiteral(", ")));
        }
        return {};
    }

    Result<void> map(const YAML::Node &node, const QString &field) const
    {
        if (!node.IsMap())
            return fail(node, field, QStringLiteral("expected a mapping, got ") + describe(node));
        return {};
    }

    Result<QString> string(const YAML::Node &node, const QString &field) const
    {
        if (!node.IsScalar() || node.Scalar().empty())
            return fail(node, field, QStringLiteral("expected a non-empty string, got ") + describe(node));
        return QString::fromStdString(node.Scalar());
    }

    Result<bool> boolean(const YAML::Node &node, const QString &field) const
    {
        if (node.IsScalar() && node.Tag() == "?") {
            const std::string s = node.Scalar();
            if (s == "true")
                return true;
            if (s == "false")
                return false;
        }
        return fail(node, field, QStringLiteral("expected true or false, got ") + describe(node));
    }

    Result<qint64> integer(const YAML::Node &node, const QString &field, qint64 lo, qint64 hi) const
    {
        static const QRegularExpression re(QStringLiteral("^[+]?[0-9]{1,15}$"));
        if (!node.IsScalar() || node.Tag() != "?" ||
            !re.match(QString::fromStdString(node.Scalar())).hasMatch())
            return fail(node, field, QStringLiteral("expected a whole number, got ") + describe(node));
        const qint64 v = QString::fromStdString(node.Scalar()).toLongLong();
        if (v < lo || v > hi)
            return fail(node, field, QStringLiteral("%1 is out of range %2..%3").arg(v).arg(lo).arg(hi));
        return v;
    }

    Result<double> number(const YAML::Node &node, const QString &field, double lo, double hi) const
    {
        static const QRegularExpression re(
            QStringLiteral("^[+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?$"));
        if (!node.IsScalar() || node.Tag() != "?" ||
            !re.match(QString::fromStdString(node.Scalar())).hasMatch())
            return fail(node, field, QStringLiteral("expected a non-negative number, got ") + describe(node));
        bool ok = false;
        const double v = QString::fromStdString(node.Scalar()).toDouble(&ok);
        if (!ok || !std::isfinite(v))
            return fail(node, field, QStringLiteral("expected a finite number, got ") + describe(node));
        if (v < lo || v > hi)
            return fail(node, field, QStringLiteral("%1 is out of range %2..%3").arg(v).arg(lo).arg(hi));
        return v;
    }

    Result<ProviderSettings> load(const YAML::Node &root) const;

private:
    QString m_source;
};

#define VIGIL_TRY(var, expr)                                                                                 \
    auto var = (expr);                                                                                       \
    if (!var)                                                                                                \
        return var.error();

Result<ProviderSettings> Loader::load(const YAML::Node &root) const
{
    ProviderSettings s;
    s.source = m_source;
    if (!root.IsMap())
        return fail(root, QString(),
                    QStringLiteral("expected a mapping of settings (provider, models, ...), got ") +
                        describe(root));
    VIGIL_TRY(top, keys(root, QString(),
                        {QStringLiteral("provider"), QStringLiteral("baseUrl"), QStringLiteral("models"),
                         QStringLiteral("escalationThreshold"), QStringLiteral("timeoutMs"),
                         QStringLiteral("maxTokens"), QStringLiteral("local"), QStringLiteral("apiKeyEnv"),
                         QStringLiteral("structuredOutput"), QStringLiteral("stream"),
                         QStringLiteral("azure"), QStringLiteral("rateLimits"), QStringLiteral("retry"),
                         QStringLiteral("circuitBreaker"), QStringLiteral("prices"), QStringLiteral("budget"),
                         QStringLiteral("cache"), QStringLiteral("redact")}));

    if (const YAML::Node n = root["provider"]) {
        VIGIL_TRY(p, string(n, QStringLiteral("provider")));
        if (!kProviders.contains(*p))
            return fail(n, QStringLiteral("provider"),
                        shortValue(n.Scalar()) + QStringLiteral(" is not a provider; expected one of: ") +
                            kProviders.join(QStringLiteral(", ")));
        s.provider = *p;
    }
    if (const YAML::Node n = root["baseUrl"]) {
        VIGIL_TRY(u, string(n, QStringLiteral("baseUrl")));
        if (auto url = parseBaseUrl(*u, QStringLiteral("baseUrl")); !url)
            return fail(n, QStringLiteral("baseUrl"),
                        shortValue(n.Scalar()) + QStringLiteral(" is not an http(s) URL"));
        s.baseUrl = *u;
    }
    const DefaultModels defaults = defaultModels(s.provider);
    s.smallModel = defaults.small;
    s.strongModel = defaults.strong;
    if (const YAML::Node n = root["models"]) {
        if (auto m = map(n, QStringLiteral("models")); !m)
            return m.error();
        VIGIL_TRY(k, keys(n, QStringLiteral("models"), {QStringLiteral("small"), QStringLiteral("strong")}));
        // Naming any model replaces both defaults: an unnamed tier is off.
        s.smallModel.clear();
        s.strongModel.clear();
        if (const YAML::Node m = n["small"]) {
            if (!m.IsNull()) {
                VIGIL_TRY(v, string(m, QStringLiteral("models.small")));
                s.smallModel = *v;
            }
        }
        if (const YAML::Node m = n["strong"]) {
            VIGIL_TRY(v, string(m, QStringLiteral("models.strong")));
            s.strongModel = *v;
        }
        if (s.usesModel() && s.strongModel.isEmpty())
            return fail(n, QStringLiteral("models.strong"),
                        QStringLiteral("missing; the %1 provider needs a strong model").arg(s.provider));
    }
    if (const YAML::Node n = root["escalationThreshold"]) {
        VIGIL_TRY(v, number(n, QStringLiteral("escalationThreshold"), 0, 1));
        s.escalationThreshold = *v;
    }
    if (const YAML::Node n = root["timeoutMs"]) {
        VIGIL_TRY(v, integer(n, QStringLiteral("timeoutMs"), 1000, 600000));
        s.timeoutMs = int(*v);
    }
    if (const YAML::Node n = root["maxTokens"]) {
        VIGIL_TRY(v, integer(n, QStringLiteral("maxTokens"), 64, 65536));
        s.maxTokens = int(*v);
    }
    if (const YAML::Node n = root["local"]) {
        VIGIL_TRY(v, boolean(n, QStringLiteral("local")));
        s.local = *v;
    }
    if (const YAML::Node n = root["apiKeyEnv"]) {
        static const QRegularExpression re(QStringLiteral("^[A-Za-z_][A-Za-z0-9_]{0,127}$"));
        VIGIL_TRY(v, string(n, QStringLiteral("apiKeyEnv")));
        if (!re.match(*v).hasMatch())
            return fail(n, QStringLiteral("apiKeyEnv"),
                        shortValue(n.Scalar()) +
                            QStringLiteral(" is not an environment variable name (it names where the key "
                                           "is, it is not the key)"));
        s.apiKeyEnv = *v;
    }
    if (const YAML::Node n = root["structuredOutput"]) {
        VIGIL_TRY(v, string(n, QStringLiteral("structuredOutput")));
        if (*v != QLatin1String("tool") && *v != QLatin1String("output_config"))
            return fail(n, QStringLiteral("structuredOutput"),
                        shortValue(n.Scalar()) + QStringLiteral(" is not one of: tool, output_config"));
        if (s.provider != QLatin1String("anthropic"))
            return fail(n, QStringLiteral("structuredOutput"),
                        QStringLiteral("applies to provider: anthropic only (got %1)").arg(s.provider));
        s.structuredOutput = *v;
    }
    if (const YAML::Node n = root["stream"]) {
        VIGIL_TRY(v, boolean(n, QStringLiteral("stream")));
        if (*v && !s.usesModel())
            return fail(n, QStringLiteral("stream"),
                        QStringLiteral("applies to provider: openai, anthropic or ollama only (got %1)")
                            .arg(s.provider));
        s.stream = *v;
    }
    if (const YAML::Node n = root["azure"]) {
        if (auto m = map(n, QStringLiteral("azure")); !m)
            return m.error();
        VIGIL_TRY(k, keys(n, QStringLiteral("azure"),
                          {QStringLiteral("deployment"), QStringLiteral("apiVersion")}));
        if (s.provider != QLatin1String("openai"))
            return fail(
                n, QStringLiteral("azure"),
                QStringLiteral("Azure OpenAI settings need provider: openai (got %1)").arg(s.provider));
        const YAML::Node d = n["deployment"];
        if (!d)
            return fail(n, QStringLiteral("azure.deployment"),
                        QStringLiteral("missing; name the deployment"));
        VIGIL_TRY(dep, string(d, QStringLiteral("azure.deployment")));
        s.azure = true;
        s.azureDeployment = *dep;
        if (const YAML::Node v = n["apiVersion"]) {
            VIGIL_TRY(ver, string(v, QStringLiteral("azure.apiVersion")));
            s.azureApiVersion = *ver;
        }
    }
    if (const YAML::Node n = root["rateLimits"]) {
        if (auto m = map(n, QStringLiteral("rateLimits")); !m)
            return m.error();
        VIGIL_TRY(k, keys(n, QStringLiteral("rateLimits"),
                          {QStringLiteral("requestsPerMinute"), QStringLiteral("tokensPerMinute"),
                           QStringLiteral("maxConcurrent")}));
        if (const YAML::Node v = n["requestsPerMinute"]) {
            VIGIL_TRY(i, integer(v, QStringLiteral("rateLimits.requestsPerMinute"), 0, 100000));
            s.limits.requestsPerMinute = int(*i);
        }
        if (const YAML::Node v = n["tokensPerMinute"]) {
            VIGIL_TRY(i, integer(v, QStringLiteral("rateLimits.tokensPerMinute"), 0, 100000000));
            s.limits.tokensPerMinute = int(*i);
        }
        if (const YAML::Node v = n["maxConcurrent"]) {
            VIGIL_TRY(i, integer(v, QStringLiteral("rateLimits.maxConcurrent"), 0, 1000));
            s.limits.maxConcurrent = int(*i);
        }
    }
    if (const YAML::Node n = root["redact"]) {
        if (auto m = map(n, QStringLiteral("redact")); !m)
            return m.error();
        VIGIL_TRY(k, keys(n, QStringLiteral("redact"), {QStringLiteral("emails"), QStringLiteral("ips")}));
        if (const YAML::Node v = n["emails"]) {
            VIGIL_TRY(b, boolean(v, QStringLiteral("redact.emails")));
            s.redact.emails = *b;
        }
        if (const YAML::Node v = n["ips"]) {
            VIGIL_TRY(b, boolean(v, QStringLiteral("redact.ips")));
            s.redact.ipAddresses = *b;
        }
    }
    if (const YAML::Node n = root["retry"]) {
        if (auto m = map(n, QStringLiteral("retry")); !m)
            return m.error();
        VIGIL_TRY(k, keys(n, QStringLiteral("retry"), {QStringLiteral("maxAttempts")}));
        if (const YAML::Node v = n["maxAttempts"]) {
            VIGIL_TRY(i, integer(v, QStringLiteral("retry.maxAttempts"), 1, 10));
            s.maxAttempts = int(*i);
        }
    }
    if (const YAML::Node n = root["circuitBreaker"]) {
        if (auto m = map(n, QStringLiteral("circuitBreaker")); !m)
            return m.error();
        VIGIL_TRY(k, keys(n, QStringLiteral("circuitBreaker"),
                          {QStringLiteral("failures"), QStringLiteral("coolDownSeconds")}));
        if (const YAML::Node v = n["failures"]) {
            VIGIL_TRY(i, integer(v, QStringLiteral("circuitBreaker.failures"), 1, 1000));
            s.breaker.failureThreshold = int(*i);
        }
        if (const YAML::Node v = n["coolDownSeconds"]) {
            VIGIL_TRY(i, integer(v, QStringLiteral("circuitBreaker.coolDownSeconds"), 1, 86400));
            s.breaker.coolDownMs = *i * 1000;
        }
    }
    if (const YAML::Node n = root["prices"]) {
        if (auto m = map(n, QStringLiteral("prices")); !m)
            return m.error();
        for (const auto &entry : n) {
            VIGIL_TRY(model, string(entry.first, QStringLiteral("prices")));
            const QString field = QStringLiteral("prices.") + *model;
            const YAML::Node price = entry.second;
            if (auto m = map(price, field); !m)
                return m.error();
            VIGIL_TRY(k, keys(price, field, {QStringLiteral("input"), QStringLiteral("output")}));
            ModelPrice p;
            for (const char *which : {"input", "output"}) {
                const QString f = field + u'.' + QLatin1String(which);
                const YAML::Node v = price[which];
                if (!v)
                    return fail(price, f, QStringLiteral("missing; USD per 1M tokens"));
                VIGIL_TRY(usd, number(v, f, 0, 10000));
                (qstrcmp(which, "input") == 0 ? p.inputPerMTok : p.outputPerMTok) = *usd;
            }
            s.prices.set(*model, p);
        }
    }
    if (const YAML::Node n = root["budget"]) {
        if (auto m = map(n, QStringLiteral("budget")); !m)
            return m.error();
        VIGIL_TRY(
            k, keys(n, QStringLiteral("budget"), {QStringLiteral("dailyUsd"), QStringLiteral("sessionUsd")}));
        if (const YAML::Node v = n["dailyUsd"]) {
            VIGIL_TRY(d, number(v, QStringLiteral("budget.dailyUsd"), 0, 1e6));
            s.budget.dailyUsd = *d;
        }
        if (const YAML::Node v = n["sessionUsd"]) {
            VIGIL_TRY(d, number(v, QStringLiteral("budget.sessionUsd"), 0, 1e6));
            s.budget.sessionUsd = *d;
        }
    }
    if (const YAML::Node n = root["cache"]) {
        if (auto m = map(n, QStringLiteral("cache")); !m)
            return m.error();
        VIGIL_TRY(k, keys(n, QStringLiteral("cache"), {QStringLiteral("ttlSeconds")}));
        if (const YAML::Node v = n["ttlSeconds"]) {
            VIGIL_TRY(i, integer(v, QStringLiteral("cache.ttlSeconds"), 0, 30LL * 86400));
            s.cacheTtlMs = *i * 1000;
        }
    }
    if (s.local && s.provider != QLatin1String("openai"))
        return fail(root["local"], QStringLiteral("local"),
                    QStringLiteral("applies to OpenAI-compatible servers (provider: openai) only"));
    return s;
}

#undef VIGIL_TRY

// The environment overrides the file's endpoint; keys are read later, by the SecretStore.
Result<void> applyEnvironment(ProviderSettings *s, const QProcessEnvironment &env)
{
    QString variable;
    if (s->provider == QLatin1String("openai"))
        variable = s->azure ? QStringLiteral("AZURE_OPENAI_ENDPOINT") : QStringLiteral("OPENAI_BASE_URL");
    else if (s->provider == QLatin1String("anthropic"))
        variable = QStringLiteral("ANTHROPIC_BASE_URL");
    else if (s->provider == QLatin1String("ollama"))
        variable = QStringLiteral("OLLAMA_HOST");
    if (variable.isEmpty())
        return {};
    const QString value = env.value(variable).trimmed();
    if (value.isEmpty())
        return {};
    if (auto url = parseBaseUrl(value, QStringLiteral("environment variable ") + variable); !url)
        return url.error();
    s->baseUrl = value;
    return {};
}

} // namespace

DefaultModels defaultModels(const QString &provider)
{
    if (provider == QLatin1String("openai"))
        return {QStringLiteral("gpt-4o-mini"), QStringLiteral("gpt-4o")};
    if (provider == QLatin1String("anthropic"))
        return {QStringLiteral("claude-3-5-haiku-latest"), QStringLiteral("claude-sonnet-4-5")};
    if (provider == QLatin1String("ollama"))
        return {QString(), QStringLiteral("llama3.1")};
    return {};
}

QString defaultProviderSettingsPath()
{
    QString base = qEnvironmentVariable("XDG_CONFIG_HOME");
    if (base.isEmpty())
        base = QDir::homePath() + QStringLiteral("/.config");
    return base + QStringLiteral("/vigil/providers.yaml");
}

Result<ProviderSettings> parseProviderSettings(const QByteArray &yaml, const QString &source,
                                               const QProcessEnvironment &environment)
{
    const Loader loader(source);
    if (yaml.size() > kMaxSettingsBytes)
        return loader.fail(0, QString(),
                           QStringLiteral("provider settings are %1 bytes, more than the %2 allowed")
                               .arg(yaml.size())
                               .arg(kMaxSettingsBytes));
    if (yaml.contains('\0'))
        return loader.fail(0, QString(), QStringLiteral("provider settings contain a NUL byte"));
    if (kube::yamlNestingDepth(yaml, kMaxSettingsDepth) > kMaxSettingsDepth)
        return loader.fail(
            0, QString(),
            QStringLiteral("provider settings nest more than %1 levels deep").arg(kMaxSettingsDepth));
    const kube::SingleYamlDocument doc = kube::loadSingleYamlDocument(yaml);
    if (doc.multipleDocuments)
        return loader.fail(doc.line, QString(),
                           QStringLiteral("provider settings must be a single YAML document"));
    if (!doc.error.isEmpty())
        return loader.fail(doc.line, QString(), doc.error);
    if (doc.node.IsNull())
        return loader.fail(0, QString(), QStringLiteral("the file is empty; give at least 'provider:'"));
    Result<ProviderSettings> settings = Error(QString());
    try {
        settings = loader.load(doc.node);
    } catch (const std::exception &e) {
        return loader.fail(0, QString(), QStringLiteral("invalid settings: ") + QString::fromUtf8(e.what()));
    }
    if (!settings)
        return settings;
    if (auto env = applyEnvironment(&*settings, environment); !env)
        return env.error();
    if (settings->azure && settings->baseUrl.isEmpty())
        return loader.fail(
            0, QStringLiteral("baseUrl"),
            QStringLiteral("missing; Azure OpenAI needs the resource endpoint "
                           "(https://<resource>.openai.azure.com) here or in AZURE_OPENAI_ENDPOINT"));
    return settings;
}

Result<ProviderSettings> loadProviderSettings(const QString &path, const QProcessEnvironment &environment)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return Error(path + QStringLiteral(": cannot open provider settings: ") + f.errorString());
    return parseProviderSettings(f.read(kMaxSettingsBytes + 1), path, environment);
}

Result<void> selectProvider(ProviderSettings *settings, const QString &provider,
                            const QProcessEnvironment &environment)
{
    if (!kProviders.contains(provider))
        return Error(
            QStringLiteral("unknown provider '%1' (use rules, openai, anthropic or ollama)").arg(provider));
    if (settings->provider == provider)
        return {};
    const ProviderSettings fresh;
    settings->provider = provider;
    settings->baseUrl.clear();
    const DefaultModels models = defaultModels(provider);
    settings->smallModel = models.small;
    settings->strongModel = models.strong;
    settings->local = fresh.local;
    settings->apiKeyEnv.clear();
    settings->azure = fresh.azure;
    settings->azureDeployment.clear();
    settings->azureApiVersion = fresh.azureApiVersion;
    settings->structuredOutput = fresh.structuredOutput;
    if (provider == QLatin1String("rules"))
        settings->stream = false;
    return applyEnvironment(settings, environment);
}

Result<ProviderSettings> loadDefaultProviderSettings(const QProcessEnvironment &environment)
{
    const QString path = defaultProviderSettingsPath();
    if (QFileInfo::exists(path))
        return loadProviderSettings(path, environment);
    ProviderSettings s;
    s.source = QStringLiteral("<defaults>");
    if (auto env = applyEnvironment(&s, environment); !env)
        return env.error();
    return s;
}

ReasoningStack::ReasoningStack(ProviderSettings settings, QObject *parent)
    : QObject(parent)
    , m_settings(std::move(settings))
    , m_clock(std::make_unique<SystemClock>())
{
}

ReasoningStack::~ReasoningStack()
{
    // The router and providers hold the cache and meter: they go first.
    delete m_router;
    delete m_resilient;
    delete m_raw;
}

Result<std::unique_ptr<ReasoningStack>> ReasoningStack::create(const ProviderSettings &settings,
                                                               SecretStore *secrets,
                                                               const QString &cacheDbPath, QObject *parent)
{
    const QString where = QStringLiteral("provider settings %1").arg(settings.source);
    if (!kProviders.contains(settings.provider))
        return Error(QStringLiteral("%1: unknown provider '%2' (use rules, openai, anthropic or ollama)")
                         .arg(where, settings.provider));
    if (settings.escalationThreshold < 0 || settings.escalationThreshold > 1)
        return Error(QStringLiteral("%1: escalationThreshold %2 is not within 0..1")
                         .arg(where)
                         .arg(settings.escalationThreshold));
    if (settings.usesModel() && settings.strongModel.isEmpty())
        return Error(
            QStringLiteral("%1: the %2 provider needs a strong model").arg(where, settings.provider));
    if (settings.usesModel() && !settings.baseUrl.isEmpty()) {
        if (auto url = parseBaseUrl(settings.baseUrl, where + QStringLiteral(": baseUrl")); !url)
            return url.error();
    }
    if (settings.usesModel() && !secrets)
        return Error(QStringLiteral("%1: the %2 provider needs a secret store for its key")
                         .arg(where, settings.provider));
    Result<reason::PromptSet> prompts = reason::loadPrompts();
    if (!prompts)
        return prompts.error();

    std::unique_ptr<ReasoningStack> stack(new ReasoningStack(settings, parent));
    const ProviderSettings &s = stack->m_settings;
    stack->m_meter = std::make_unique<CostMeter>(s.prices, s.budget, stack->m_clock.get());

    reason::RouterOptions options;
    options.threshold = s.escalationThreshold;
    options.timeoutMs = s.timeoutMs;
    options.maxTokens = s.maxTokens;
    stack->m_router = new reason::Router(*prompts, options, stack.get());
    if (!s.usesModel())
        return stack;

    if (s.provider == QLatin1String("openai")) {
        OpenAiConfig c;
        c.local = s.local;
        c.keyRequired = !s.local;
        if (!s.apiKeyEnv.isEmpty())
            c.keyName = s.apiKeyEnv;
        c.stream = s.stream;
        if (s.azure) {
            c.azure = true;
            c.azureEndpoint = s.baseUrl;
            c.azureDeployment = s.azureDeployment;
            c.azureApiVersion = s.azureApiVersion;
        } else {
            c.baseUrl = s.baseUrl;
        }
        stack->m_raw = new OpenAiProvider(c, secrets, nullptr, stack->m_clock.get(), stack.get());
    } else if (s.provider == QLatin1String("anthropic")) {
        AnthropicConfig c;
        c.baseUrl = s.baseUrl;
        if (!s.apiKeyEnv.isEmpty())
            c.keyName = s.apiKeyEnv;
        c.stream = s.stream;
        if (s.structuredOutput == QLatin1String("output_config"))
            c.structuredOutput = AnthropicConfig::StructuredOutput::OutputConfig;
        stack->m_raw = new AnthropicProvider(c, secrets, nullptr, stack->m_clock.get(), stack.get());
    } else {
        OllamaConfig c;
        c.host = s.baseUrl;
        c.stream = s.stream;
        stack->m_raw = new OllamaProvider(c, secrets, nullptr, stack.get());
    }

    ResilienceConfig rc;
    rc.limits = s.limits;
    rc.retry.maxAttempts = s.maxAttempts;
    rc.breaker = s.breaker;
    stack->m_resilient = new ResilientProvider(
        stack->m_raw, stack->m_meter.get(), stack->m_clock.get(),
        [] { return QRandomGenerator::global()->generateDouble(); }, rc, stack.get());
    stack->m_router->setTiers(
        reason::ModelTier{s.smallModel.isEmpty() ? nullptr : stack->m_resilient, s.smallModel},
        reason::ModelTier{stack->m_resilient, s.strongModel});

    if (!cacheDbPath.isEmpty() && cacheDbPath != QLatin1String(":memory:") &&
        !QDir().mkpath(QFileInfo(cacheDbPath).absolutePath()))
        return Error(QStringLiteral("diagnosis cache %1: cannot create its folder").arg(cacheDbPath));
    if (!cacheDbPath.isEmpty() && cacheDbPath != QLatin1String(":memory:")) {
        // Spend survives restarts, so the daily budget counts every run of today.
        const QString session = QStringLiteral("%1-%2").arg(
            QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyyMMddTHHmmss")),
            QUuid::createUuid().toString(QUuid::WithoutBraces).left(8));
        if (auto opened = stack->m_meter->openStore(cacheDbPath, session); !opened)
            return opened.error();
    }
    if (!cacheDbPath.isEmpty() && s.cacheTtlMs > 0) {
        auto cache = DiagnosisCache::open(cacheDbPath, s.cacheTtlMs, stack->m_clock.get());
        if (!cache)
            return cache.error();
        stack->m_cache = std::move(*cache);
        stack->m_router->setCache(stack->m_cache.get());
    }
    return stack;
}

} // namespace vigil::llm
