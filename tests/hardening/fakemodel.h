#pragma once

// A local model server for the hardening runs, speaking one provider's wire
// shape: OpenAI chat completions (POST <base>/chat/completions, the contract
// in tests/contracts/openai), Anthropic messages (POST /v1/messages, a forced
// tool_use block) or Ollama (POST /api/chat). Every answer is a valid
// diagnosis proposing create_alert. Faults are scripted per request: the next
// requests can be left unanswered (the client's timeout fires) or answered
// with a 5xx; what was actually served is counted.

#include "httptestserver.h"

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QString>

namespace vigil::test {

class FakeModel final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FakeModel)

public:
    enum class Shape { OpenAi, Anthropic, Ollama };
    enum class Fault { Timeout, ServerError };

    explicit FakeModel(Shape shape, QObject *parent = nullptr);

    bool listen();
    /// What ProviderSettings::baseUrl wants for this shape.
    QString baseUrl() const;
    /// "openai", "anthropic" or "ollama".
    QString provider() const;

    /// The next `count` model requests get this fault (queued after earlier ones).
    void inject(Fault fault, int count = 1);
    int pendingFaults() const { return static_cast<int>(m_script.size()); }
    int served(Fault fault) const { return fault == Fault::Timeout ? m_timeouts : m_serverErrors; }
    int answered() const { return m_answered; }
    /// Model requests received (the chat endpoint only).
    int requests() const { return m_requests; }

    /// Every request as received (bodies and headers), when keepRequests is on.
    void setKeepRequests(bool keep) { m_keep = keep; }
    const QList<HttpRequest> &kept() const { return m_kept; }

    /// The body a successful answer carries (for checking it against the contract).
    QByteArray answerBody(const QByteArray &model) const;
    /// The body of a 5xx.
    QByteArray errorBody() const;

private:
    void handle(HttpExchange *exchange);

    Shape m_shape;
    HttpTestServer m_server;
    QList<Fault> m_script;
    QList<HttpRequest> m_kept;
    bool m_keep = false;
    int m_requests = 0;
    int m_answered = 0;
    int m_timeouts = 0;
    int m_serverErrors = 0;
};

} // namespace vigil::test
