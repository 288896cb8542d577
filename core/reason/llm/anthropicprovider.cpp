#include "core/reason/llm/anthropicprovider.h"

#include "core/reason/llm/clock.h"
#include "core/reason/llm/httpexchange.h"
#include "core/reason/llm/providerutil.h"
#include "core/reason/llm/ratelimiter.h"
#include "core/reason/llm/secretstore.h"
#include "core/reason/llm/strictschema.h"
#include "core/util/jsondepth.h"

#include <QNetworkAccessManager>

#include <map>

namespace vigil::llm {
namespace {

FinishReason mapStop(const QString &reason)
{
    if (reason == QLatin1String("end_turn") || reason == QLatin1String("stop_sequence"))
        return FinishReason::Stop;
    if (reason == QLatin1String("tool_use"))
        return FinishReason::ToolCalls;
    if (reason == QLatin1String("max_tokens"))
        return FinishReason::Length;
    if (reason == QLatin1String("refusal"))
        return FinishReason::Refusal;
    return FinishReason::Unknown;
}

constexpr std::size_t kMaxStreamedChars = 1024 * 1024;

} // namespace

// What the events of a streamed message add up to.
struct AnthropicProvider::StreamState {
    struct Block {
        std::string type;
        std::string name;
        std::string text;
        std::string partialJson;
    };
    std::string model;
    nlohmann::json usage = nlohmann::json::object();
    std::map<int, Block> blocks;
    std::string stopReason;
    std::size_t chars = 0;
    StreamEnd end;

    void add(const SseEvent &event)
    {
        using nlohmann::json;
        if (end.done || !end.errorMessage.isEmpty() || !end.protocolError.isEmpty())
            return;
        if (jsonNestingDepth(event.data) > kMaxJsonDepth) {
            end.protocolError = QStringLiteral("an event nested deeper than %1 levels").arg(kMaxJsonDepth);
            return;
        }
        const auto j =
            json::parse(event.data.constData(), event.data.constData() + event.data.size(), nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            end.protocolError = QStringLiteral("event '%1' is not a JSON object: %2")
                                    .arg(QString::fromUtf8(event.event),
                                         QString::fromUtf8(event.data.left(120)).simplified());
            return;
        }
        try {
            const std::string type = j.value("type", event.event.toStdString());
            const int index =
                j.contains("index") && j["index"].is_number_integer() ? j["index"].get<int>() : 0;
            if (type == "message_start" && j.contains("message") && j["message"].is_object()) {
                const auto &m = j["message"];
                if (m.contains("model") && m["model"].is_string())
                    model = m["model"].get<std::string>();
                if (m.contains("usage") && m["usage"].is_object())
                    usage.update(m["usage"]);
            } else if (type == "content_block_start" && j.contains("content_block") &&
                       j["content_block"].is_object()) {
                const auto &b = j["content_block"];
                Block &block = blocks[index];
                block.type = jsonValue(b, "type", std::string());
                block.name = jsonValue(b, "name", std::string());
                if (b.contains("text") && b["text"].is_string())
                    block.text = b["text"].get<std::string>();
            } else if (type == "content_block_delta" && j.contains("delta") && j["delta"].is_object()) {
                const auto &d = j["delta"];
                Block &block = blocks[index];
                const std::string kind = jsonValue(d, "type", std::string());
                if (kind == "text_delta" && d.contains("text") && d["text"].is_string()) {
                    block.text += d["text"].get<std::string>();
                    chars += d["text"].get_ref<const std::string &>().size();
                } else if (kind == "input_json_delta" && d.contains("partial_json") &&
                           d["partial_json"].is_string()) {
                    block.partialJson += d["partial_json"].get<std::string>();
                    chars += d["partial_json"].get_ref<const std::string &>().size();
                }
            } else if (type == "message_delta") {
                if (j.contains("delta") && j["delta"].is_object() && j["delta"].contains("stop_reason") &&
                    j["delta"]["stop_reason"].is_string())
                    stopReason = j["delta"]["stop_reason"].get<std::string>();
                if (j.contains("usage") && j["usage"].is_object())
                    usage.update(j["usage"]); // cumulative counts
            } else if (type == "message_stop") {
                end.done = true;
            } else if (type == "error") {
                const json err = j.value("error", json::object());
                end.errorType = err.is_object() ? jsonText(err.value("type", json())) : QString();
                end.errorMessage = err.is_object() ? jsonText(err.value("message", json())) : jsonText(err);
                if (end.errorMessage.isEmpty())
                    end.errorMessage = QStringLiteral("(no message)");
            }
            // ping, content_block_stop and event types added later carry nothing we need.
        } catch (const nlohmann::json::exception &e) {
            end.protocolError = QString::fromUtf8(e.what());
        }
        if (chars > kMaxStreamedChars)
            end.protocolError = QStringLiteral("more than %1 bytes of content").arg(kMaxStreamedChars);
    }

    // The message the events add up to, for the one reply parser.
    nlohmann::json message() const
    {
        using nlohmann::json;
        json content = json::array();
        for (const auto &[index, block] : blocks) {
            if (block.type == "text") {
                content.push_back(json{{"type", "text"}, {"text", block.text}});
            } else if (block.type == "tool_use") {
                // Unparseable input stays a string: the validator refuses it, nothing partial is used.
                json input = block.partialJson.empty() ? json::object()
                                                       : json::parse(block.partialJson, nullptr, false);
                if (input.is_discarded() ||
                    jsonNestingDepth(QByteArrayView(block.partialJson)) > kMaxJsonDepth)
                    input = block.partialJson;
                content.push_back(json{{"type", "tool_use"}, {"name", block.name}, {"input", input}});
            }
        }
        json out{{"type", "message"}, {"content", content}, {"usage", usage}};
        if (!model.empty())
            out["model"] = model;
        out["stop_reason"] = stopReason.empty() ? json(nullptr) : json(stopReason);
        return out;
    }
};

AnthropicProvider::AnthropicProvider(AnthropicConfig config, const SecretStore *secrets,
                                     QNetworkAccessManager *nam, const Clock *clock, QObject *parent)
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

AnthropicProvider::~AnthropicProvider() = default;

Result<QUrl> AnthropicProvider::endpoint() const
{
    const QString text = !m_config.baseUrl.isEmpty()
                             ? m_config.baseUrl
                             : secretOr(m_secrets, QStringLiteral("ANTHROPIC_BASE_URL"),
                                        QStringLiteral("https://api.anthropic.com"));
    auto base = parseBaseUrl(text, m_config.name + QStringLiteral(": base URL"));
    if (!base)
        return base.error();
    return joinUrl(*base, QStringLiteral("/v1/messages"));
}

nlohmann::ordered_json AnthropicProvider::buildBody(const LlmRequest &request) const
{
    using json = nlohmann::ordered_json; // fields, and the schema's properties, in the order written
    json body{
        {"model", request.model.toStdString()},
        {"max_tokens", request.maxTokens > 0 ? request.maxTokens : 1024},
        {"system", request.system.toStdString()},
        {"messages", json::array({json{{"role", "user"}, {"content", request.user.toStdString()}}})},
    };
    if (m_config.structuredOutput == AnthropicConfig::StructuredOutput::OutputConfig) {
        body["output_config"] =
            json{{"format", json{{"type", "json_schema"}, {"schema", strictJsonSchema(request.schema)}}}};
    } else {
        const std::string tool = request.schemaName.toStdString();
        body["tools"] = json::array({json{{"name", tool},
                                          {"description", "Report the answer in this exact structure."},
                                          {"input_schema", strictJsonSchema(request.schema)}}});
        body["tool_choice"] = json{{"type", "tool"}, {"name", tool}};
    }
    if (request.temperature >= 0)
        body["temperature"] = request.temperature;
    if (m_config.stream)
        body["stream"] = true;
    return body;
}

LlmCall *AnthropicProvider::complete(const LlmRequest &request)
{
    const auto url = endpoint();
    const Result<QString> key = m_secrets ? m_secrets->read(m_config.keyName)
                                          : Result<QString>(Error(QStringLiteral("no secret store")));
    if (!url || !key) {
        auto *call = new LlmCall(this);
        call->finish(configFailure(
            m_config.name, request.model,
            !url ? url.errorMessage()
                 : QStringLiteral("%1: no API key: %2").arg(m_config.name, key.errorMessage())));
        return call;
    }
    QNetworkRequest req(*url);
    req.setRawHeader("x-api-key", key->toUtf8());
    req.setRawHeader("anthropic-version", m_config.version.toUtf8());
    req.setRawHeader("Accept", "application/json");
    const QByteArray body = QByteArray::fromStdString(buildBody(request).dump());
    const QString what =
        QStringLiteral("%1: POST %2").arg(m_config.name, url->toString(QUrl::RemoveUserInfo));
    if (m_config.stream) {
        auto state = std::make_shared<StreamState>();
        state->end.endMarker = QStringLiteral("message_stop");
        return postSse(
            m_nam, req, body, what, request.timeoutMs, this,
            [state](const SseEvent &event) {
                state->add(event);
                return state->end.done || !state->end.errorMessage.isEmpty() ||
                       !state->end.protocolError.isEmpty();
            },
            [this, request, secret = *key, state](const HttpExchange &ex) {
                return parseStream(ex, *state, request, secret);
            });
    }
    return postJson(
        m_nam, req, body, what, request.timeoutMs, this,
        [this, request, secret = *key](const HttpExchange &ex) { return parseReply(ex, request, secret); });
}

LlmReply AnthropicProvider::parseStream(const HttpExchange &ex, const StreamState &state,
                                        const LlmRequest &request, const QString &key) const
{
    // No events: an error body, a plain JSON message, or a failure before any byte.
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
    whole.body = QByteArray::fromStdString(state.message().dump());
    LlmReply out = parseReply(whole, request, key);
    out.rawBody = r.rawBody;
    return out;
}

LlmReply AnthropicProvider::parseReply(const HttpExchange &ex, const LlmRequest &request,
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
        // {type: "error", error: {type: "rate_limit_error", message}}
        if (json.ok() && json->is_object() && json->contains("error") && (*json)["error"].is_object()) {
            const auto &err = (*json)["error"];
            detail = jsonText(err.value("type", nlohmann::json())) + QStringLiteral(": ") +
                     jsonText(err.value("message", nlohmann::json()));
        }
        setHttpError(&r, ex.status,
                     QStringLiteral("%1 returned HTTP %2: %3").arg(ex.what).arg(ex.status).arg(detail));
        return scrubbed(r);
    }

    const auto json = parseJsonBody(ex);
    auto bad = [&](const QString &why) {
        r.errorKind = LlmErrorKind::BadReply;
        r.error = Error(QStringLiteral("%1: %2 (HTTP %3)").arg(ex.what, why).arg(ex.status), ex.status);
        return scrubbed(r);
    };
    if (!json)
        return bad(json.errorMessage());
    QString text;
    bool sawTool = false;
    try {
        const auto &root = *json;
        if (!root.is_object() || !root.contains("content") || !root["content"].is_array())
            return bad(QStringLiteral("reply has no content array"));
        if (root.contains("model") && root["model"].is_string())
            r.model = jsonText(root["model"]);
        if (root.contains("usage") && root["usage"].is_object()) {
            const auto &u = root["usage"];
            r.promptTokens = jsonValue(u, "input_tokens", 0);
            r.completionTokens = jsonValue(u, "output_tokens", 0);
        }
        r.finishReasonRaw = jsonText(root.value("stop_reason", nlohmann::json()));
        r.finishReason = mapStop(r.finishReasonRaw);
        const std::string tool = request.schemaName.toStdString();
        for (const auto &block : root["content"]) {
            if (!block.is_object())
                continue;
            const std::string type = jsonValue(block, "type", std::string());
            if (type == "tool_use" && !sawTool && jsonValue(block, "name", std::string()) == tool) {
                sawTool = true;
                r.content = QString::fromStdString(block.value("input", nlohmann::json::object()).dump());
            } else if (type == "text") {
                text += jsonText(block.value("text", nlohmann::json()));
            }
        }
    } catch (const nlohmann::json::exception &e) {
        return bad(QString::fromUtf8(e.what()));
    }
    if (!sawTool)
        r.content = text; // a model that ignored the tool; the validator will judge the text

    if (r.finishReason == FinishReason::Refusal) {
        r.refusal = text.isEmpty() ? QStringLiteral("stop_reason refusal") : text;
        r.errorKind = LlmErrorKind::Refused;
        r.error = Error(QStringLiteral("%1: model %2 refused: %3").arg(m_config.name, r.model, r.refusal),
                        ex.status);
    } else if (r.finishReason == FinishReason::Length) {
        r.errorKind = LlmErrorKind::Truncated;
        r.error =
            Error(QStringLiteral("%1: reply from %2 truncated at max_tokens (%3); its JSON is incomplete")
                      .arg(m_config.name, r.model)
                      .arg(request.maxTokens),
                  ex.status);
    } else if (r.content.trimmed().isEmpty()) {
        if (m_config.structuredOutput == AnthropicConfig::StructuredOutput::OutputConfig)
            return bad(QStringLiteral("reply has no text (stop_reason %1)").arg(r.finishReasonRaw));
        return bad(QStringLiteral("reply has no %1 tool_use block and no text (stop_reason %2)")
                       .arg(request.schemaName, r.finishReasonRaw));
    }
    return scrubbed(r);
}

} // namespace vigil::llm
