#include "core/reason/llm/ollamaprovider.h"

#include "core/reason/llm/httpexchange.h"
#include "core/reason/llm/providerutil.h"
#include "core/reason/llm/secretstore.h"
#include "core/reason/llm/strictschema.h"
#include "core/util/jsondepth.h"

#include <QNetworkAccessManager>

#include <memory>

namespace vigil::llm {

// What the lines of a streamed /api/chat add up to: message.content pieces,
// then a last line with "done": true, done_reason and the token counts.
struct OllamaProvider::StreamState {
    QString model;
    QString content;
    QString doneReason;
    int promptTokens = 0;
    int completionTokens = 0;
    StreamEnd end{false, {}, {}, {}, QStringLiteral("\"done\": true")};

    /// Returns true once the stream has said all it will.
    bool add(const QByteArray &line)
    {
        if (jsonNestingDepth(line) > kMaxJsonDepth) {
            end.protocolError = QStringLiteral("a line nested deeper than %1 levels").arg(kMaxJsonDepth);
            return true;
        }
        const auto chunk =
            nlohmann::json::parse(line.constData(), line.constData() + line.size(), nullptr, false);
        if (chunk.is_discarded() || !chunk.is_object()) {
            end.protocolError = QStringLiteral("a line is not a JSON object: ") +
                                QString::fromUtf8(line.left(120)).simplified();
            return true;
        }
        try {
            if (const auto err = chunk.find("error"); err != chunk.end()) {
                // Ollama reports a failure after the 200 as a line {"error": "..."}.
                end.errorType = QStringLiteral("error");
                end.errorMessage = jsonText(*err);
                return true;
            }
            if (const auto m = chunk.find("model"); m != chunk.end() && m->is_string())
                model = jsonText(*m);
            if (const auto msg = chunk.find("message"); msg != chunk.end()) {
                if (!msg->is_object()) {
                    end.protocolError = QStringLiteral("a line's message is not an object");
                    return true;
                }
                if (const auto piece = msg->find("content"); piece != msg->end() && piece->is_string())
                    content += jsonText(*piece);
            }
            if (jsonValue(chunk, "done", false) == true) {
                doneReason = jsonText(chunk.value("done_reason", nlohmann::json()));
                promptTokens = jsonValue(chunk, "prompt_eval_count", 0);
                completionTokens = jsonValue(chunk, "eval_count", 0);
                end.done = true;
                return true;
            }
        } catch (const nlohmann::json::exception &e) {
            end.protocolError = QString::fromUtf8(e.what());
            return true;
        }
        return false;
    }
};

OllamaProvider::OllamaProvider(OllamaConfig config, const SecretStore *secrets, QNetworkAccessManager *nam,
                               QObject *parent)
    : LlmProvider(parent)
    , m_config(std::move(config))
    , m_secrets(secrets)
    , m_nam(nam ? nam : new QNetworkAccessManager(this))
{
}

OllamaProvider::~OllamaProvider() = default;

Result<QUrl> OllamaProvider::endpoint() const
{
    const QString text = !m_config.host.isEmpty() ? m_config.host
                                                  : secretOr(m_secrets, QStringLiteral("OLLAMA_HOST"),
                                                             QStringLiteral("http://127.0.0.1:11434"));
    auto base = parseBaseUrl(text, m_config.name + QStringLiteral(": OLLAMA_HOST"));
    if (!base)
        return base.error();
    QUrl url = *base;
    if (url.port() < 0 && url.scheme() == QLatin1String("http") && !text.contains(QLatin1String("://")))
        url.setPort(11434);
    return joinUrl(url, QStringLiteral("/api/chat"));
}

nlohmann::ordered_json OllamaProvider::buildBody(const LlmRequest &request) const
{
    using json = nlohmann::ordered_json; // fields, and the schema's properties, in the order written
    json options = json::object();
    if (request.temperature >= 0)
        options["temperature"] = request.temperature;
    if (request.maxTokens > 0)
        options["num_predict"] = request.maxTokens;
    return json{
        {"model", request.model.toStdString()},
        {"stream", m_config.stream},
        {"format", strictJsonSchema(request.schema)},
        {"messages", json::array({json{{"role", "system"}, {"content", request.system.toStdString()}},
                                  json{{"role", "user"}, {"content", request.user.toStdString()}}})},
        {"options", options},
    };
}

LlmCall *OllamaProvider::complete(const LlmRequest &request)
{
    const auto url = endpoint();
    if (!url) {
        auto *call = new LlmCall(this);
        call->finish(configFailure(m_config.name, request.model, url.errorMessage()));
        return call;
    }
    QNetworkRequest req(*url);
    req.setRawHeader("Accept", "application/json");
    const QByteArray body = QByteArray::fromStdString(buildBody(request).dump());
    const QString what =
        QStringLiteral("%1: POST %2").arg(m_config.name, url->toString(QUrl::RemoveUserInfo));
    if (m_config.stream) {
        auto state = std::make_shared<StreamState>();
        return postNdjson(
            m_nam, req, body, what, request.timeoutMs, this,
            [state](const QByteArray &line) { return state->add(line); },
            [this, request, state](const HttpExchange &ex) { return parseStream(ex, *state, request); });
    }
    return postJson(m_nam, req, body, what, request.timeoutMs, this,
                    [this, request](const HttpExchange &ex) { return parseReply(ex, request); });
}

LlmReply OllamaProvider::parseStream(const HttpExchange &ex, const StreamState &state,
                                     const LlmRequest &request) const
{
    // Nothing streamed: an HTTP error, a transport failure, or a server that
    // answered with one whole JSON object instead; the whole-reply path knows those.
    const bool ndjson = ex.headers.value(QByteArrayLiteral("content-type"))
                            .toLower()
                            .startsWith(QByteArrayLiteral("application/x-ndjson"));
    if (ex.events == 0 && !(ndjson && ex.status >= 200 && ex.status < 300))
        return parseReply(ex, request);
    LlmReply r;
    r.provider = m_config.name;
    r.model = state.model.isEmpty() ? request.model : state.model;
    r.rawBody = ex.body;
    if (streamFailure(ex, state.end, &r))
        return r;
    r.content = state.content;
    r.promptTokens = state.promptTokens;
    r.completionTokens = state.completionTokens;
    r.finishReasonRaw = state.doneReason;
    return finishReply(std::move(r), ex, request);
}

LlmReply OllamaProvider::parseReply(const HttpExchange &ex, const LlmRequest &request) const
{
    LlmReply r;
    r.provider = m_config.name;
    r.model = request.model;
    r.httpStatus = ex.status;
    r.rawBody = ex.body;
    if (transportFailure(ex, &r))
        return r;
    const auto json = parseJsonBody(ex);
    if (ex.status < 200 || ex.status >= 300) {
        QString detail = QString::fromUtf8(ex.body.left(300)).simplified();
        if (json.ok() && json->is_object() && json->contains("error"))
            detail = jsonText((*json)["error"]);
        setHttpError(&r, ex.status,
                     QStringLiteral("%1 returned HTTP %2: %3").arg(ex.what).arg(ex.status).arg(detail));
        return r;
    }
    auto bad = [&](const QString &why) {
        r.errorKind = LlmErrorKind::BadReply;
        r.error = Error(QStringLiteral("%1: %2 (HTTP %3)").arg(ex.what, why).arg(ex.status), ex.status);
        return r;
    };
    if (!json)
        return bad(json.errorMessage());
    try {
        const auto &root = *json;
        if (!root.is_object() || !root.contains("message") || !root["message"].is_object())
            return bad(QStringLiteral("reply has no message"));
        if (root.contains("model") && root["model"].is_string())
            r.model = jsonText(root["model"]);
        r.content = jsonText(root["message"].value("content", nlohmann::json()));
        r.promptTokens = jsonValue(root, "prompt_eval_count", 0);
        r.completionTokens = jsonValue(root, "eval_count", 0);
        r.finishReasonRaw = jsonText(root.value("done_reason", nlohmann::json()));
    } catch (const nlohmann::json::exception &e) {
        return bad(QString::fromUtf8(e.what()));
    }
    return finishReply(std::move(r), ex, request);
}

LlmReply OllamaProvider::finishReply(LlmReply r, const HttpExchange &ex, const LlmRequest &request) const
{
    r.httpStatus = ex.status;
    if (r.finishReasonRaw == QLatin1String("length")) {
        r.finishReason = FinishReason::Length;
        r.errorKind = LlmErrorKind::Truncated;
        r.error =
            Error(QStringLiteral("%1: reply from %2 truncated at num_predict (%3); its JSON is incomplete")
                      .arg(m_config.name, r.model)
                      .arg(request.maxTokens),
                  ex.status);
        return r;
    }
    r.finishReason = r.finishReasonRaw == QLatin1String("stop") || r.finishReasonRaw.isEmpty()
                         ? FinishReason::Stop
                         : FinishReason::Unknown;
    if (r.content.trimmed().isEmpty()) {
        r.errorKind = LlmErrorKind::BadReply;
        r.error = Error(QStringLiteral("%1: reply has empty content (done_reason %2) (HTTP %3)")
                            .arg(ex.what, r.finishReasonRaw)
                            .arg(ex.status),
                        ex.status);
    }
    return r;
}

} // namespace vigil::llm
