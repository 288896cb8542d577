#include "core/reason/llm/openaiprovider.h"

#include "core/reason/llm/clock.h"
#include "core/reason/llm/httpexchange.h"
#include "core/reason/llm/providerutil.h"
#include "core/reason/llm/ratelimiter.h"
#include "core/reason/llm/secretstore.h"
#include "core/reason/llm/strictschema.h"
#include "core/util/jsondepth.h"

#include <QNetworkAccessManager>
#include <QUrlQuery>

namespace vigil::llm {
namespace {

const QString kDefaultBase = QStringLiteral("https://api.openai.com/v1");

FinishReason mapFinish(const QString &reason)
{
    if (reason == QLatin1String("stop"))
        return FinishReason::Stop;
    if (reason == QLatin1String("length"))
        return FinishReason::Length;
    if (reason == QLatin1String("content_filter"))
        return FinishReason::ContentFilter;
    if (reason == QLatin1String("tool_calls") || reason == QLatin1String("function_call"))
        return FinishReason::ToolCalls;
    return FinishReason::Unknown;
}

int intField(const nlohmann::json &obj, const char *key)
{
    const auto it = obj.find(key);
    return it != obj.end() && it->is_number_integer() ? it->get<int>() : 0;
}

constexpr qsizetype kMaxStreamedChars = 1024 * 1024;

} // namespace

// What the chunks of a streamed chat completion add up to.
struct OpenAiProvider::StreamState {
    std::string model;
    std::string content;
    std::string refusal;
    std::string toolArguments;
    std::string finishReason;
    nlohmann::json usage;
    StreamEnd end;

    void add(const SseEvent &event)
    {
        if (end.done || !end.errorMessage.isEmpty() || !end.protocolError.isEmpty())
            return;
        if (event.data == "[DONE]") {
            end.done = true;
            return;
        }
        if (jsonNestingDepth(event.data) > kMaxJsonDepth) {
            end.protocolError = QStringLiteral("a chunk nested deeper than %1 levels").arg(kMaxJsonDepth);
            return;
        }
        const auto chunk = nlohmann::json::parse(event.data.constData(),
                                                 event.data.constData() + event.data.size(), nullptr, false);
        if (chunk.is_discarded() || !chunk.is_object()) {
            end.protocolError = QStringLiteral("a chunk is not a JSON object: ") +
                                QString::fromUtf8(event.data.left(120)).simplified();
            return;
        }
        try {
            if (const auto err = chunk.find("error"); err != chunk.end()) {
                end.errorType = err->is_object() ? jsonText(err->value("type", nlohmann::json())) : QString();
                end.errorMessage =
                    err->is_object() ? jsonText(err->value("message", nlohmann::json())) : jsonText(*err);
                if (end.errorMessage.isEmpty())
                    end.errorMessage = QStringLiteral("(no message)");
                return;
            }
            if (chunk.contains("model") && chunk["model"].is_string())
                model = chunk["model"].get<std::string>();
            if (chunk.contains("usage") && chunk["usage"].is_object())
                usage = chunk["usage"];
            if (!chunk.contains("choices") || !chunk["choices"].is_array())
                return;
            for (const auto &choice : chunk["choices"]) {
                if (!choice.is_object() || jsonValue(choice, "index", 0) != 0)
                    continue;
                if (choice.contains("finish_reason") && choice["finish_reason"].is_string())
                    finishReason = choice["finish_reason"].get<std::string>();
                if (!choice.contains("delta") || !choice["delta"].is_object())
                    continue;
                const auto &delta = choice["delta"];
                if (delta.contains("content") && delta["content"].is_string())
                    content += delta["content"].get<std::string>();
                if (delta.contains("refusal") && delta["refusal"].is_string())
                    refusal += delta["refusal"].get<std::string>();
                if (delta.contains("tool_calls") && delta["tool_calls"].is_array()) {
                    for (const auto &call : delta["tool_calls"]) {
                        if (call.is_object() && jsonValue(call, "index", 0) == 0 &&
                            call.contains("function") && call["function"].is_object() &&
                            call["function"].contains("arguments") &&
                            call["function"]["arguments"].is_string())
                            toolArguments += call["function"]["arguments"].get<std::string>();
                    }
                }
            }
        } catch (const nlohmann::json::exception &e) {
            end.protocolError = QString::fromUtf8(e.what());
        }
        if (qsizetype(content.size() + refusal.size() + toolArguments.size()) > kMaxStreamedChars)
            end.protocolError = QStringLiteral("more than %1 bytes of content").arg(kMaxStreamedChars);
    }

    // The chat.completion the chunks add up to, for the one reply parser.
    nlohmann::json completion() const
    {
        using nlohmann::json;
        json message{{"role", "assistant"},
                     {"content", content.empty() ? json(nullptr) : json(content)},
                     {"refusal", refusal.empty() ? json(nullptr) : json(refusal)}};
        if (!toolArguments.empty())
            message["tool_calls"] = json::array(
                {json{{"index", 0}, {"type", "function"}, {"function", json{{"arguments", toolArguments}}}}});
        json out{{"object", "chat.completion"},
                 {"choices",
                  json::array(
                      {json{{"index", 0},
                            {"message", message},
                            {"finish_reason", finishReason.empty() ? json(nullptr) : json(finishReason)}}})}};
        if (!model.empty())
            out["model"] = model;
        if (usage.is_object())
            out["usage"] = usage;
        return out;
    }
};

OpenAiProvider::OpenAiProvider(OpenAiConfig config, const SecretStore *secrets, QNetworkAccessManager *nam,
                               const Clock *clock, QObject *parent)
    : LlmProvider(parent)
    , m_config(std::move(config))
    , m_secrets(secrets)
    , m_nam(nam ? nam : new QNetworkAccessManager(this))
    , m_clock(clock)
{
    if (!m_clock) {
        m_ownClock = std::make_unique<SystemClock>();
        m_clock = m_ownClock.get();
    }
}

OpenAiProvider::~OpenAiProvider() = default;

Result<QUrl> OpenAiProvider::endpoint() const
{
    if (m_config.azure) {
        if (m_config.azureDeployment.isEmpty())
            return Error(QStringLiteral("%1: Azure OpenAI needs a deployment name").arg(m_config.name));
        auto base = parseBaseUrl(m_config.azureEndpoint, m_config.name + QStringLiteral(": Azure endpoint"));
        if (!base)
            return base.error();
        QUrl url =
            joinUrl(*base, QStringLiteral("/openai/deployments/%1/chat/completions")
                               .arg(QString::fromLatin1(QUrl::toPercentEncoding(m_config.azureDeployment))));
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("api-version"), m_config.azureApiVersion);
        url.setQuery(query);
        return url;
    }
    const QString text = !m_config.baseUrl.isEmpty()
                             ? m_config.baseUrl
                             : secretOr(m_secrets, QStringLiteral("OPENAI_BASE_URL"), kDefaultBase);
    auto base = parseBaseUrl(text, m_config.name + QStringLiteral(": base URL"));
    if (!base)
        return base.error();
    return joinUrl(*base, QStringLiteral("/chat/completions"));
}

nlohmann::ordered_json OpenAiProvider::buildBody(const LlmRequest &request) const
{
    using json = nlohmann::ordered_json; // fields, and the schema's properties, in the order written
    json body = json::object();
    body["model"] = request.model.toStdString();
    body["messages"] = json::array({
        json{{"role", "system"}, {"content", request.system.toStdString()}},
        json{{"role", "user"}, {"content", request.user.toStdString()}},
    });
    // The nested form: llama.cpp and Ollama ignore a flat {type, schema}. Strict mode
    // refuses a top-level oneOf and open objects, so the schema goes in its strict form.
    body["response_format"] = json{
        {"type", "json_schema"},
        {"json_schema", json{{"name", request.schemaName.toStdString()},
                             {"schema", strictJsonSchema(request.schema)},
                             {"strict", true}}},
    };
    bool completionTokens = m_config.tokenField == OpenAiConfig::TokenField::MaxCompletionTokens;
    if (m_config.tokenField == OpenAiConfig::TokenField::Auto) {
        const auto url = endpoint();
        completionTokens = m_config.azure || (url.ok() && url->host() == QLatin1String("api.openai.com"));
    }
    if (request.maxTokens > 0)
        body[completionTokens ? "max_completion_tokens" : "max_tokens"] = request.maxTokens;
    if (request.temperature >= 0)
        body["temperature"] = request.temperature;
    body["stream"] = m_config.stream;
    if (m_config.stream)
        body["stream_options"] = json{{"include_usage", true}}; // the token counts come in the last chunk
    return body;
}

LlmCall *OpenAiProvider::complete(const LlmRequest &request)
{
    const auto url = endpoint();
    if (!url) {
        auto *call = new LlmCall(this);
        call->finish(configFailure(m_config.name, request.model, url.errorMessage()));
        return call;
    }
    const QString keyName = m_config.azure && m_config.keyName == QLatin1String("OPENAI_API_KEY")
                                ? QStringLiteral("AZURE_OPENAI_API_KEY")
                                : m_config.keyName;
    const Result<QString> key =
        m_secrets ? m_secrets->read(keyName) : Result<QString>(Error(QStringLiteral("no secret store")));
    if (!key && m_config.keyRequired) {
        auto *call = new LlmCall(this);
        call->finish(
            configFailure(m_config.name, request.model,
                          QStringLiteral("%1: no API key: %2").arg(m_config.name, key.errorMessage())));
        return call;
    }
    const QString secret = key.ok() ? *key : QString();

    QNetworkRequest req(*url);
    if (!secret.isEmpty()) {
        if (m_config.azure)
            req.setRawHeader("api-key", secret.toUtf8());
        else
            req.setRawHeader("Authorization", "Bearer " + secret.toUtf8());
    }
    req.setRawHeader("Accept", "application/json");
    const QByteArray body = QByteArray::fromStdString(buildBody(request).dump());
    const QString what =
        QStringLiteral("%1: POST %2").arg(m_config.name, url->toString(QUrl::RemoveUserInfo));
    if (m_config.stream) {
        auto state = std::make_shared<StreamState>();
        state->end.endMarker = QStringLiteral("data: [DONE]");
        return postSse(
            m_nam, req, body, what, request.timeoutMs, this,
            [state](const SseEvent &event) {
                state->add(event);
                return state->end.done || !state->end.errorMessage.isEmpty() ||
                       !state->end.protocolError.isEmpty();
            },
            [this, request, secret, state](const HttpExchange &ex) {
                return parseStream(ex, *state, request, secret);
            });
    }
    return postJson(
        m_nam, req, body, what, request.timeoutMs, this,
        [this, request, secret](const HttpExchange &ex) { return parseReply(ex, request, secret); });
}

LlmReply OpenAiProvider::parseStream(const HttpExchange &ex, const StreamState &state,
                                     const LlmRequest &request, const QString &key) const
{
    // No events: an error body, a server that answered with plain JSON, or a failure before any byte.
    if (ex.events == 0)
        return parseReply(ex, request, key);
    const QStringList secrets{key};
    LlmReply r;
    r.provider = m_config.name;
    r.model = state.model.empty() ? request.model : QString::fromStdString(state.model);
    r.rawBody = scrubSecrets(ex.body, secrets);
    if (streamFailure(ex, state.end, &r)) {
        r.error.message = scrubSecrets(r.error.message, secrets);
        return r;
    }
    HttpExchange whole = ex;
    whole.body = QByteArray::fromStdString(state.completion().dump());
    LlmReply out = parseReply(whole, request, key);
    out.rawBody = r.rawBody;
    return out;
}

LlmReply OpenAiProvider::parseReply(const HttpExchange &ex, const LlmRequest &request,
                                    const QString &key) const
{
    const QStringList secrets{key};
    LlmReply r;
    r.provider = m_config.name;
    r.model = request.model;
    r.httpStatus = ex.status;
    r.rawBody = scrubSecrets(ex.body, secrets);
    auto scrubbed = [&](LlmReply reply) {
        reply.error.message = scrubSecrets(reply.error.message, secrets);
        return reply;
    };
    if (transportFailure(ex, &r))
        return scrubbed(r);

    if (ex.status < 200 || ex.status >= 300) {
        r.retryAfterMs = serverRetryDelayMs(ex.headers, m_clock->nowMs(), ex.status);
        QString detail = QString::fromUtf8(ex.body.left(300)).simplified();
        const auto json = parseJsonBody(ex);
        if (json.ok() && json->is_object() && json->contains("error") && (*json)["error"].is_object()) {
            const auto &err = (*json)["error"];
            detail = jsonText(err.value("message", nlohmann::json()));
            if (err.contains("type") && err["type"].is_string())
                detail = jsonText(err["type"]) + QStringLiteral(": ") + detail;
        }
        setHttpError(&r, ex.status,
                     QStringLiteral("%1 returned HTTP %2: %3").arg(ex.what).arg(ex.status).arg(detail));
        return scrubbed(r);
    }

    const auto json = parseJsonBody(ex);
    if (!json) {
        r.errorKind = LlmErrorKind::BadReply;
        r.error = json.error();
        return scrubbed(r);
    }
    auto bad = [&](const QString &why) {
        r.errorKind = LlmErrorKind::BadReply;
        r.error = Error(QStringLiteral("%1: %2 (HTTP %3)").arg(ex.what, why).arg(ex.status), ex.status);
        return scrubbed(r);
    };
    try {
        const auto &root = *json;
        if (!root.is_object())
            return bad(QStringLiteral("reply is not a JSON object"));
        if (root.contains("model") && root["model"].is_string())
            r.model = jsonText(root["model"]);
        if (root.contains("usage") && root["usage"].is_object()) {
            r.promptTokens = intField(root["usage"], "prompt_tokens");
            r.completionTokens = intField(root["usage"], "completion_tokens");
        }
        if (!root.contains("choices") || !root["choices"].is_array() || root["choices"].empty())
            return bad(QStringLiteral("reply has no choices"));
        const auto &choice = root["choices"][0];
        if (!choice.is_object() || !choice.contains("message") || !choice["message"].is_object())
            return bad(QStringLiteral("choices[0] has no message"));
        const auto &msg = choice["message"];
        r.finishReasonRaw = jsonText(choice.value("finish_reason", nlohmann::json()));
        r.finishReason = mapFinish(r.finishReasonRaw);
        r.content = jsonText(msg.value("content", nlohmann::json()));
        r.refusal = jsonText(msg.value("refusal", nlohmann::json()));
        if (r.content.trimmed().isEmpty() && msg.contains("tool_calls") && msg["tool_calls"].is_array() &&
            !msg["tool_calls"].empty()) {
            const auto &call = msg["tool_calls"][0];
            if (call.is_object() && call.contains("function") && call["function"].is_object())
                r.content = jsonText(call["function"].value("arguments", nlohmann::json()));
        }
    } catch (const nlohmann::json::exception &e) {
        return bad(QString::fromUtf8(e.what()));
    }

    if (!r.refusal.isEmpty()) {
        r.finishReason = FinishReason::Refusal;
        r.errorKind = LlmErrorKind::Refused;
        r.error = Error(QStringLiteral("%1: model %2 refused: %3").arg(m_config.name, r.model, r.refusal),
                        ex.status);
    } else if (r.finishReason == FinishReason::Length) {
        r.errorKind = LlmErrorKind::Truncated;
        r.error = Error(
            QStringLiteral("%1: reply from %2 truncated at the token limit (%3); its JSON is incomplete")
                .arg(m_config.name, r.model)
                .arg(request.maxTokens),
            ex.status);
    } else if (r.finishReason == FinishReason::ContentFilter) {
        r.errorKind = LlmErrorKind::Refused;
        r.error = Error(QStringLiteral("%1: reply from %2 was withheld by the content filter")
                            .arg(m_config.name, r.model),
                        ex.status);
    } else if (r.content.trimmed().isEmpty()) {
        return bad(QStringLiteral("reply has empty content (finish_reason %1)").arg(r.finishReasonRaw));
    }
    return scrubbed(r);
}

} // namespace vigil::llm
