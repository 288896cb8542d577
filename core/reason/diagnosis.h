#pragma once

// The proposal type shared by the reasoners (which produce it) and the
// guardrails/executor (which judge and carry it out).

#include <QString>
#include <QStringList>

#include <nlohmann/json.hpp>

namespace vigil {

/// The fixed action catalog. Nothing outside this list can ever act; the
/// NEVER list (namespaces, PVs, RBAC, NetworkPolicies) has no entry at all.
enum class ActionKind { None, RestartPod, ScaleDeployment, CordonNode, CreateAlert };

/// Wire names used in the model's JSON and in policy files.
QString actionName(ActionKind kind);
/// Parses a wire name; false for anything outside the catalog.
bool parseActionName(const QString &name, ActionKind *kind);

/// Where a diagnosis came from.
struct DiagnosisSource {
    enum Kind { Rules, Llm, Cache } kind = Rules;
    QString provider; ///< "openai", "anthropic", "ollama"; empty for rules
    QString model;

    QString describe() const; ///< "rules", "openai/gpt-4o-mini", "cache (rules)"
};

/// Which step of the router's route gave the answer taken (the audit rows' "tier").
enum class RouteTier {
    Rules,    ///< the rules, and no model was asked
    Fallback, ///< a model was asked (or wanted) but the rules' answer was kept
    Small,    ///< the first, cheap model tier
    Strong,   ///< the model tier escalated to (or asked directly)
    Cache,    ///< a cached answer
};

/// "rules", "fallback", "small", "strong", "cache".
QString routeTierName(RouteTier tier);
/// Parses a name routeTierName() gives; false for anything else.
bool parseRouteTierName(const QString &name, RouteTier *tier);

/// One validated answer: {diagnosis, confidence 0..1, action, parameters, reasoning}.
struct Diagnosis {
    QString category; ///< stable class, e.g. "CrashLoopBackOff", "OOMKilled"
    QString diagnosis;
    double confidence = 0.0;
    ActionKind action = ActionKind::None;
    nlohmann::json parameters = nlohmann::json::object();
    QString reasoning;

    DiagnosisSource source;
    QString promptVersion; ///< hash of the prompts used; empty for rules
    int promptTokens = 0;
    int completionTokens = 0;
    double costUsd = 0.0;
    QString rawReply; ///< the provider's reply as received, for audit
    /// Every step the router took, e.g. "rules 0.55", "openai/gpt-4o-mini 0.82 (accepted)".
    QStringList route;
    /// Why an LLM answer was not used (circuit open, invalid reply, ...); empty otherwise.
    QString fallbackReason;
    /// Set by the router: which step's answer this is.
    RouteTier tier = RouteTier::Rules;
};

} // namespace vigil
