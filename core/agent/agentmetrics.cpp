#include "core/agent/agentmetrics.h"

#include <QStringList>

namespace vigil::agent {

namespace {

class Writer {
public:
    void family(const char *name, const char *type, const char *help)
    {
        m_out += QByteArray("# HELP ") + name + ' ' + help + '\n';
        m_out += QByteArray("# TYPE ") + name + ' ' + type + '\n';
    }
    void sample(const char *name, const QString &labels, const QString &value)
    {
        m_out += name;
        if (!labels.isEmpty())
            m_out += '{' + labels.toUtf8() + '}';
        m_out += ' ' + value.toUtf8() + '\n';
    }
    void labelled(const char *name, const char *label, QMap<QString, qint64> values, const QStringList &known)
    {
        for (const QString &k : known)
            values.insert(k, values.value(k, 0));
        for (auto it = values.cbegin(); it != values.cend(); ++it)
            sample(name, QStringLiteral("%1=\"%2\"").arg(QLatin1String(label), escapeLabelValue(it.key())),
                   QString::number(it.value()));
    }
    QByteArray result() const { return m_out; }

private:
    QByteArray m_out;
};

} // namespace

QString escapeLabelValue(const QString &value)
{
    QString out;
    out.reserve(value.size());
    for (const QChar c : value) {
        if (c == u'\\')
            out += QStringLiteral("\\\\");
        else if (c == u'"')
            out += QStringLiteral("\\\"");
        else if (c == u'\n')
            out += QStringLiteral("\\n");
        else
            out += c;
    }
    return out;
}

QByteArray renderPrometheus(const AgentMetrics &m)
{
    Writer w;
    w.family("vigil_agent_incidents_total", "counter", "Incidents opened while this replica led.");
    w.sample("vigil_agent_incidents_total", {}, QString::number(m.incidents));
    w.family("vigil_agent_decisions_total", "counter", "Decisions proposed, by guardrail verdict.");
    w.labelled("vigil_agent_decisions_total", "verdict", m.decisions,
               {QStringLiteral("allowed"), QStringLiteral("needs-approval"), QStringLiteral("blocked")});
    w.family("vigil_agent_actions_total", "counter", "Actions carried out or settled, by outcome.");
    w.labelled("vigil_agent_actions_total", "outcome", m.actions,
               {QStringLiteral("executed"), QStringLiteral("failed"), QStringLiteral("verified"),
                QStringLiteral("verify-failed"), QStringLiteral("interrupted")});
    w.family("vigil_agent_llm_calls_total", "counter", "Model requests started, repairs included.");
    w.sample("vigil_agent_llm_calls_total", {}, QString::number(m.llmCalls));
    w.family("vigil_agent_llm_tokens_total", "counter", "Tokens spent on model requests.");
    w.sample("vigil_agent_llm_tokens_total", QStringLiteral("kind=\"prompt\""),
             QString::number(m.promptTokens));
    w.sample("vigil_agent_llm_tokens_total", QStringLiteral("kind=\"completion\""),
             QString::number(m.completionTokens));
    w.family("vigil_agent_llm_cost_usd_total", "counter", "Estimated model cost in US dollars.");
    w.sample("vigil_agent_llm_cost_usd_total", {}, QString::number(m.costUsd, 'f', 6));
    w.family("vigil_agent_llm_cache_hits_total", "counter", "Diagnoses answered from the cache.");
    w.sample("vigil_agent_llm_cache_hits_total", {}, QString::number(m.cacheHits));
    w.family("vigil_agent_llm_provider_errors_total", "counter",
             "Diagnoses for which no model gave a valid answer (the rules answered).");
    w.sample("vigil_agent_llm_provider_errors_total", {}, QString::number(m.providerErrors));
    w.family("vigil_agent_watch_reconnects_total", "counter", "Watches that failed and were restarted.");
    w.labelled("vigil_agent_watch_reconnects_total", "resource", m.watchReconnects,
               {QStringLiteral("pods"), QStringLiteral("nodes"), QStringLiteral("events"),
                QStringLiteral("agentdecisions")});
    w.family("vigil_agent_leader_transitions_total", "counter", "Times this replica started leading.");
    w.sample("vigil_agent_leader_transitions_total", {}, QString::number(m.leaderTransitions));
    w.family("vigil_agent_is_leader", "gauge", "1 while this replica holds the lease.");
    w.sample("vigil_agent_is_leader", {}, m.leader ? QStringLiteral("1") : QStringLiteral("0"));
    w.family("vigil_agent_ready", "gauge", "1 once the informers have synced.");
    w.sample("vigil_agent_ready", {}, m.ready ? QStringLiteral("1") : QStringLiteral("0"));
    return w.result();
}

} // namespace vigil::agent
