#include "core/reason/llm/ollamaprovider.h"

#include "core/reason/llm/httpexchange.h"
#include "core/reason/llm/providerutil.h"
#include "core/reason/llm/secretstore.h"
#include "core/reason/llm/strictschema.h"

#include <QNetworkAccessManager>

namespace vigil::llm {

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
        {"stream", false},
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
    return postJson(m_nam, req, body, what, request.timeoutMs, this,
                    [this, request](const HttpExchange &ex) { return parseReply(ex, request); });
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
        r.promptTokens = root.value("prompt_eval_count", 0);
        r.completionTokens = root.value("eval_count", 0);
        r.finishReasonRaw = jsonText(root.value("done_reason", nlohmann::json()));
    } catch (const nlohmann::json::exception &e) {
        return bad(QString::fromUtf8(e.what()));
    }
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
    if (r.content.trimmed().isEmpty())
        return bad(QStringLiteral("reply has empty content (done_reason %1)").arg(r.finishReasonRaw));
    return r;
}

} // namespace vigil::llm
