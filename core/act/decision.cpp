#include "core/act/decision.h"

#include "core/act/jsonfield.h"
#include "core/gather/evidence.h"
#include "core/reason/prompts.h"

#include <QDateTime>
#include <QUuid>

#include <array>

namespace vigil::act {
namespace {

using json = nlohmann::json;

struct StateName {
    DecisionState state;
    const char *name;
};

constexpr std::array<StateName, 10> kStates{{{DecisionState::Proposed, "proposed"},
                                             {DecisionState::Previewed, "previewed"},
                                             {DecisionState::Approved, "approved"},
                                             {DecisionState::Rejected, "rejected"},
                                             {DecisionState::Executing, "executing"},
                                             {DecisionState::Executed, "executed"},
                                             {DecisionState::Verified, "verified"},
                                             {DecisionState::VerifyFailed, "verify-failed"},
                                             {DecisionState::Failed, "failed"},
                                             {DecisionState::Undone, "undone"}}};

std::string s(const QString &text)
{
    return text.toStdString();
}

QString q(const json &doc, const char *key)
{
    const auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? QString::fromStdString(it->get<std::string>()) : QString();
}

json labels(const QMap<QString, QString> &map)
{
    json out = json::object();
    for (auto it = map.begin(); it != map.end(); ++it)
        out[s(it.key())] = s(it.value());
    return out;
}

QMap<QString, QString> labels(const json &doc)
{
    QMap<QString, QString> out;
    if (doc.is_object()) {
        for (auto it = doc.begin(); it != doc.end(); ++it) {
            if (it->is_string())
                out.insert(QString::fromStdString(it.key()), QString::fromStdString(it->get<std::string>()));
        }
    }
    return out;
}

json strings(const QStringList &list)
{
    json out = json::array();
    for (const QString &item : list)
        out.push_back(s(item));
    return out;
}

// The model labels ("openai/gpt-4o-mini") a route asked, in order; rules, cache and bookkeeping
// steps are not models.
QStringList modelLabels(const QStringList &route)
{
    QStringList labels;
    for (const QString &step : route) {
        if (step.startsWith(u"rules ") || step.startsWith(u"cache ") || step.startsWith(u"joined ") ||
            step.startsWith(u"not cached"))
            continue;
        const QString label = step.section(u' ', 0, 0);
        if (label.contains(u'/') && !labels.contains(label))
            labels << label;
    }
    return labels;
}

} // namespace

QString stateName(DecisionState state)
{
    for (const StateName &n : kStates) {
        if (n.state == state)
            return QString::fromLatin1(n.name);
    }
    return QStringLiteral("failed");
}

bool parseStateName(const QString &name, DecisionState *state)
{
    for (const StateName &n : kStates) {
        if (name == QLatin1String(n.name)) {
            *state = n.state;
            return true;
        }
    }
    return false;
}

bool canTransition(DecisionState from, DecisionState to)
{
    using S = DecisionState;
    switch (from) {
    case S::Proposed:
    case S::Previewed:
        return to == S::Previewed || to == S::Approved || to == S::Rejected;
    case S::Approved:
        return to == S::Executing || to == S::Failed;
    case S::Executing:
        return to == S::Executed || to == S::Failed;
    case S::Executed:
        return to == S::Verified || to == S::VerifyFailed || to == S::Undone;
    case S::Verified:
    case S::VerifyFailed:
        return to == S::Undone;
    case S::Rejected:
    case S::Failed:
    case S::Undone:
        return false;
    }
    return false;
}

bool isTerminal(DecisionState state)
{
    using S = DecisionState;
    return state == S::Rejected || state == S::Failed || state == S::Undone || state == S::Verified ||
           state == S::VerifyFailed;
}

QString Approver::actor() const
{
    QStringList parts;
    if (!osUser.isEmpty())
        parts << QStringLiteral("os:") + osUser;
    if (!kubeUser.isEmpty())
        parts << QStringLiteral("k8s:") + kubeUser;
    if (parts.isEmpty())
        parts << (via.isEmpty() ? QStringLiteral("unknown") : via);
    return parts.join(u' ');
}

QString Decision::targetKey() const
{
    return guard::targetKey(diagnosis.action, target);
}

json Decision::toJson() const
{
    json reasons = json::array();
    for (const guard::VerdictReason &r : verdict.reasons)
        reasons.push_back({{"code", s(r.code)}, {"message", s(r.message)}, {"blocking", r.blocking}});
    return {{"id", s(id)},
            {"incidentFingerprint", s(incidentFingerprint)},
            {"observation", s(observation)},
            {"target",
             {{"namespace", s(target.namespaceName)},
              {"pod", s(target.podName)},
              {"ownerKind", s(target.ownerKind)},
              {"ownerName", s(target.ownerName)},
              {"node", s(target.nodeName)},
              {"podLabels", labels(target.podLabels)},
              {"ownerLabels", labels(target.ownerLabels)},
              {"nodeLabels", labels(target.nodeLabels)}}},
            {"diagnosis",
             {{"category", s(diagnosis.category)},
              {"diagnosis", s(diagnosis.diagnosis)},
              {"confidence", diagnosis.confidence},
              {"action", s(actionName(diagnosis.action))},
              {"parameters", diagnosis.parameters},
              {"reasoning", s(diagnosis.reasoning)},
              {"source", int(diagnosis.source.kind)},
              {"provider", s(diagnosis.source.provider)},
              {"model", s(diagnosis.source.model)},
              {"promptVersion", s(diagnosis.promptVersion)},
              {"promptTokens", diagnosis.promptTokens},
              {"completionTokens", diagnosis.completionTokens},
              {"costUsd", diagnosis.costUsd},
              {"rawReply", s(diagnosis.rawReply)},
              {"route", strings(diagnosis.route)},
              {"fallbackReason", s(diagnosis.fallbackReason)},
              {"tier", s(routeTierName(diagnosis.tier))}}},
            {"verdict", {{"decision", s(guard::decisionName(verdict.decision))}, {"reasons", reasons}}},
            {"state", s(stateName(state))},
            {"preview", s(preview)},
            {"approver",
             {{"osUser", s(approver.osUser)}, {"kubeUser", s(approver.kubeUser)}, {"via", s(approver.via)}}},
            {"rejectReason", s(rejectReason)},
            {"facts", facts},
            {"outcome", outcome},
            {"createdMs", createdMs},
            {"updatedMs", updatedMs}};
}

Result<Decision> Decision::fromJson(const json &doc)
{
    if (!doc.is_object())
        return Error(QStringLiteral("decision: expected a JSON object"));
    Decision d;
    d.id = q(doc, "id");
    if (d.id.isEmpty())
        return Error(QStringLiteral("decision: field 'id' is missing"));
    d.incidentFingerprint = q(doc, "incidentFingerprint");
    d.observation = q(doc, "observation");
    const json t = field(doc, "target", json::object());
    d.target.namespaceName = q(t, "namespace");
    d.target.podName = q(t, "pod");
    d.target.ownerKind = q(t, "ownerKind");
    d.target.ownerName = q(t, "ownerName");
    d.target.nodeName = q(t, "node");
    d.target.podLabels = labels(field(t, "podLabels", json::object()));
    d.target.ownerLabels = labels(field(t, "ownerLabels", json::object()));
    d.target.nodeLabels = labels(field(t, "nodeLabels", json::object()));
    const json g = field(doc, "diagnosis", json::object());
    d.diagnosis.category = q(g, "category");
    d.diagnosis.diagnosis = q(g, "diagnosis");
    d.diagnosis.confidence = field(g, "confidence", 0.0);
    if (!parseActionName(q(g, "action"), &d.diagnosis.action))
        return Error(QStringLiteral("decision %1: field 'diagnosis.action' '%2' is not in the catalog")
                         .arg(d.id, q(g, "action")));
    d.diagnosis.parameters = field(g, "parameters", json::object());
    d.diagnosis.reasoning = q(g, "reasoning");
    d.diagnosis.source.kind = DiagnosisSource::Kind(field(g, "source", 0));
    d.diagnosis.source.provider = q(g, "provider");
    d.diagnosis.source.model = q(g, "model");
    d.diagnosis.promptVersion = q(g, "promptVersion");
    d.diagnosis.promptTokens = field(g, "promptTokens", 0);
    d.diagnosis.completionTokens = field(g, "completionTokens", 0);
    d.diagnosis.costUsd = field(g, "costUsd", 0.0);
    d.diagnosis.rawReply = q(g, "rawReply");
    for (const json &step : field(g, "route", json::array())) {
        if (step.is_string())
            d.diagnosis.route << QString::fromStdString(step.get<std::string>());
    }
    d.diagnosis.fallbackReason = q(g, "fallbackReason");
    // Records written before the router named the tier: the closest the source says.
    if (!parseRouteTierName(q(g, "tier"), &d.diagnosis.tier))
        d.diagnosis.tier = d.diagnosis.source.kind == DiagnosisSource::Cache ? RouteTier::Cache
                           : d.diagnosis.source.kind == DiagnosisSource::Llm ? RouteTier::Small
                                                                             : RouteTier::Rules;
    const json v = field(doc, "verdict", json::object());
    const QString vd = q(v, "decision");
    d.verdict.decision = vd == u"allowed"          ? guard::Verdict::Allowed
                         : vd == u"needs-approval" ? guard::Verdict::NeedsApproval
                                                   : guard::Verdict::Blocked;
    for (const json &r : field(v, "reasons", json::array()))
        d.verdict.reasons.append({q(r, "code"), q(r, "message"), field(r, "blocking", false)});
    if (!parseStateName(q(doc, "state"), &d.state))
        return Error(
            QStringLiteral("decision %1: field 'state' '%2' is not a state").arg(d.id, q(doc, "state")));
    d.preview = q(doc, "preview");
    const json a = field(doc, "approver", json::object());
    d.approver = {q(a, "osUser"), q(a, "kubeUser"), q(a, "via")};
    d.rejectReason = q(doc, "rejectReason");
    d.facts = field(doc, "facts", json::object());
    d.outcome = field(doc, "outcome", json::object());
    d.createdMs = field(doc, "createdMs", qint64(0));
    d.updatedMs = field(doc, "updatedMs", qint64(0));
    return d;
}

Decision newDecision(const QString &fingerprint, const guard::IncidentTarget &target,
                     const Diagnosis &diagnosis, const guard::Verdict &verdict)
{
    Decision d;
    d.id = QUuid::createUuid().toString(QUuid::WithoutBraces).toLower();
    d.incidentFingerprint = fingerprint;
    d.target = target;
    d.diagnosis = diagnosis;
    d.verdict = verdict;
    d.createdMs = QDateTime::currentMSecsSinceEpoch();
    d.updatedMs = d.createdMs;
    return d;
}

QString routeTier(const Diagnosis &diagnosis)
{
    return routeTierName(diagnosis.tier);
}

json reasoningContext(const Diagnosis &diagnosis, const gather::Evidence &evidence,
                      const reason::PromptSet &prompts)
{
    const QString tier = routeTier(diagnosis);
    // A model saw the prompt whenever the route asked one, also when the rules' answer was kept.
    QString sent = tier == u"cache" ? QStringLiteral("cache") : QStringLiteral("rules");
    QString version = diagnosis.promptVersion;
    if (!modelLabels(diagnosis.route).isEmpty()) {
        if (version.isEmpty())
            version = prompts.version;
        Result<QString> user = reason::renderUserPrompt(prompts, evidence);
        sent =
            user ? *user : QStringLiteral("(the prompt could not be rendered: %1)").arg(user.errorMessage());
    }
    json redactions = json::object();
    for (auto it = evidence.redactions.counts.begin(); it != evidence.redactions.counts.end(); ++it)
        redactions[s(it.key())] = it.value();
    return {{"sent", s(sent)},
            {"evidence",
             {{"text", s(evidence.text)},
              {"estimatedTokens", evidence.estimatedTokens},
              {"tokenBudget", evidence.tokenBudget},
              {"cut", strings(evidence.cut)},
              {"redactions", redactions}}},
            {"rawReply", s(diagnosis.rawReply)},
            {"provider", s(diagnosis.source.provider)},
            {"model", s(diagnosis.source.model)},
            {"source", s(diagnosis.source.describe())},
            {"promptVersion", s(version)},
            {"promptTokens", diagnosis.promptTokens},
            {"completionTokens", diagnosis.completionTokens},
            {"costUsd", diagnosis.costUsd},
            {"tier", s(tier)},
            {"route", strings(diagnosis.route)},
            {"fallbackReason", s(diagnosis.fallbackReason)}};
}

} // namespace vigil::act
