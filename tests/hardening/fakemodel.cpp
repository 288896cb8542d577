#include "fakemodel.h"

#include <nlohmann/json.hpp>

namespace vigil::test {

using json = nlohmann::json;

namespace {

json diagnosis()
{
    return {{"diagnosis", "The workload keeps failing; an operator should look at it."},
            {"confidence", 0.9},
            {"action", "create_alert"},
            {"parameters", {{"severity", "warning"}, {"summary", "Workload failing repeatedly"}}},
            {"reasoning", "Repeated failures in the evidence."}};
}

} // namespace

FakeModel::FakeModel(Shape shape, QObject *parent)
    : QObject(parent)
    , m_shape(shape)
    , m_server([this](HttpExchange *ex) { handle(ex); })
{
}

bool FakeModel::listen()
{
    return m_server.listen();
}

QString FakeModel::baseUrl() const
{
    const QString root = m_server.url().toString();
    return m_shape == Shape::OpenAi ? root + QStringLiteral("/v1") : root;
}

QString FakeModel::provider() const
{
    switch (m_shape) {
    case Shape::OpenAi:
        return QStringLiteral("openai");
    case Shape::Anthropic:
        return QStringLiteral("anthropic");
    case Shape::Ollama:
        return QStringLiteral("ollama");
    }
    return {};
}

void FakeModel::inject(Fault fault, int count)
{
    for (int i = 0; i < count; ++i)
        m_script.append(fault);
}

QByteArray FakeModel::answerBody(const QByteArray &model) const
{
    const std::string m = model.isEmpty() ? std::string("fake") : model.toStdString();
    switch (m_shape) {
    case Shape::OpenAi:
        return QByteArray::fromStdString(json{
            {"id", "chatcmpl-hardening"},
            {"object", "chat.completion"},
            {"created", 1764000000},
            {"model", m},
            {"choices",
             {{{"index", 0},
               {"logprobs", nullptr},
               {"finish_reason", "stop"},
               {"message", {{"role", "assistant"}, {"content", diagnosis().dump()}, {"refusal", nullptr}}}}}},
            {"usage", {{"prompt_tokens", 1200}, {"completion_tokens", 80}, {"total_tokens", 1280}}}}
                                             .dump());
    case Shape::Anthropic:
        return QByteArray::fromStdString(json{
            {"id", "msg_hardening"},
            {"type", "message"},
            {"role", "assistant"},
            {"model", m},
            {"content",
             {{{"type", "tool_use"}, {"id", "toolu_01"}, {"name", "diagnosis"}, {"input", diagnosis()}}}},
            {"stop_reason", "tool_use"},
            {"stop_sequence", nullptr},
            {"usage", {{"input_tokens", 1200}, {"output_tokens", 80}}}}
                                             .dump());
    case Shape::Ollama:
        return QByteArray::fromStdString(json{
            {"model", m},
            {"created_at", "2026-11-25T00:00:00Z"},
            {"message", {{"role", "assistant"}, {"content", diagnosis().dump()}}},
            {"done", true},
            {"done_reason", "stop"},
            {"prompt_eval_count", 1200},
            {"eval_count", 80}}.dump());
    }
    return {};
}

QByteArray FakeModel::errorBody() const
{
    switch (m_shape) {
    case Shape::OpenAi:
        return R"({"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}})";
    case Shape::Anthropic:
        return R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})";
    case Shape::Ollama:
        return R"({"error":"llama runner process has terminated"})";
    }
    return {};
}

void FakeModel::handle(HttpExchange *ex)
{
    const QString path = ex->request().path;
    const bool chat = path.endsWith(QStringLiteral("/chat/completions")) ||
                      path == QStringLiteral("/v1/messages") || path == QStringLiteral("/api/chat");
    if (ex->request().method != "POST" || !chat) {
        ex->respondJson(404, R"({"error":"not found"})");
        return;
    }
    ++m_requests;
    if (m_keep)
        m_kept.append(ex->request());
    if (!m_script.isEmpty()) {
        const Fault fault = m_script.takeFirst();
        if (fault == Fault::Timeout) {
            ++m_timeouts; // never answered: the client's timeout ends it
            return;
        }
        ++m_serverErrors;
        ex->respondJson(m_serverErrors % 2 ? 503 : 500, errorBody());
        return;
    }
    ++m_answered;
    const json body = json::parse(ex->request().body.toStdString(), nullptr, false);
    const QByteArray model = body.is_object() && body.contains("model") && body["model"].is_string()
                                 ? QByteArray::fromStdString(body["model"].get<std::string>())
                                 : QByteArray();
    ex->respondJson(200, answerBody(model));
}

} // namespace vigil::test
