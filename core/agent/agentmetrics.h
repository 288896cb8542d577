#pragma once

// The agent's counters and their Prometheus text exposition (format 0.0.4).

#include <QByteArray>
#include <QMap>
#include <QString>

namespace vigil::agent {

/// Counters since the process started, and two gauges.
struct AgentMetrics {
    qint64 incidents = 0;            ///< incidents opened while leading
    QMap<QString, qint64> decisions; ///< by verdict: allowed, needs-approval, blocked
    QMap<QString, qint64> actions;   ///< by outcome: executed, failed, blocked, verified, ...
    qint64 llmCalls = 0;             ///< model requests started (repairs included)
    qint64 promptTokens = 0;
    qint64 completionTokens = 0;
    double costUsd = 0.0;
    qint64 cacheHits = 0;
    qint64 providerErrors = 0;             ///< model answers that failed (fell back to the rules)
    QMap<QString, qint64> watchReconnects; ///< by resource: pods, nodes, events, agentdecisions
    qint64 leaderTransitions = 0;          ///< times this replica started leading
    bool leader = false;
    bool ready = false;

    void count(QMap<QString, qint64> &family, const QString &label, qint64 by = 1) { family[label] += by; }
};

/// Every metric with HELP and TYPE lines; the well-known label values appear with 0 before they happen.
QByteArray renderPrometheus(const AgentMetrics &metrics);

/// A label value escaped for the text format (backslash, quote, newline).
QString escapeLabelValue(const QString &value);

} // namespace vigil::agent
