#pragma once

// Shared by the act integration tests: judged decisions and a permissive
// policy on top of tests/support/clusterapi.h.

#include "clusterapi.h"
#include "core/act/decision.h"
#include "core/guard/guardrails.h"

#include <QDateTime>

namespace vigil::test {

inline kube::ResourceType budgetsType()
{
    return {QStringLiteral("policy"), QStringLiteral("v1"), QStringLiteral("poddisruptionbudgets"), true};
}

/// A decision on target with its verdict judged by the guardrails under policy.
inline act::Decision judgedDecision(ActionKind kind, const json &params, const guard::IncidentTarget &target,
                                    const guard::Policy &policy)
{
    Diagnosis g;
    g.diagnosis = QStringLiteral("integration test");
    g.confidence = 0.95;
    g.action = kind;
    g.parameters = params;
    guard::Proposal proposal{g, QString(), target};
    const guard::Verdict v = guard::evaluate(proposal, {policy, QDateTime::currentDateTimeUtc(), {}});
    return act::newDecision(QStringLiteral("fp-") + QString::fromStdString(params.dump()), target, g, v);
}

/// A policy that allows every catalog action without cooldown or rate limits getting in the way of one test
/// run.
inline guard::Policy testPolicy()
{
    guard::Policy p;
    p.mode = guard::PolicyMode::Approve;
    p.cooldownPerTargetMs = 0;
    p.maxActionsPerHour = 1000;
    p.autoApprove.clear();
    return p;
}

} // namespace vigil::test
