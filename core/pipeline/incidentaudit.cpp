#include "core/pipeline/incidentaudit.h"

#include "core/act/decision.h"
#include "core/gather/redactor.h"

#include <algorithm>

namespace vigil::pipeline {
namespace {

using json = nlohmann::json;

std::string s(const QString &text)
{
    return text.toStdString();
}

} // namespace

QString incidentAuditTarget(const Incident &incident)
{
    const QString kind = incident.workload.kind.toLower();
    if (incident.namespaceName.isEmpty())
        return kind + u'/' + incident.workload.name;
    return kind + u'/' + incident.namespaceName + u'/' + incident.workload.name;
}

QString incidentObservation(const Incident &incident)
{
    const QString where = incident.namespaceName.isEmpty()
                              ? incident.workload.name
                              : incident.namespaceName + u'/' + incident.workload.name;
    QString line = QStringLiteral("%1 on %2 %3 (%4 times)")
                       .arg(incident.reason, incident.workload.kind, where)
                       .arg(incident.count);
    gather::Redactor redactor;
    QString message = redactor.redact(incident.latest.message).text.simplified();
    if (message.size() > 300)
        message = message.left(299) + QChar(0x2026);
    if (!message.isEmpty())
        line += QStringLiteral(": ") + message;
    return line;
}

audit::AuditEvent observedEvent(const Incident &incident, const QString &actor)
{
    audit::AuditEvent e;
    e.kind = QStringLiteral("observed");
    e.actor = actor;
    e.namespaceName = incident.namespaceName;
    e.target = incidentAuditTarget(incident);
    e.outcome = incident.reason;
    // Detector messages come straight from the API (container messages, event text): redact like evidence.
    gather::Redactor redactor;
    QStringList pods(incident.pods.cbegin(), incident.pods.cend());
    std::sort(pods.begin(), pods.end());
    json podList = json::array();
    for (const QString &pod : pods)
        podList.push_back(s(pod));
    e.payload = {{"incident", s(incident.fingerprint)},
                 {"reason", s(incident.reason)},
                 {"message", s(redactor.redact(incident.latest.message).text)},
                 {"object", s(incident.latest.object.kind + u'/' + incident.latest.object.name)},
                 {"container", s(incident.container)},
                 {"image", s(incident.image)},
                 {"count", incident.count},
                 {"pods", podList},
                 {"firstSeen", s(incident.firstSeen.toString(Qt::ISODateWithMs))},
                 {"lastSeen", s(incident.lastSeen.toString(Qt::ISODateWithMs))}};
    return e;
}

audit::AuditEvent diagnosedEvent(const Incident &incident, const gather::Evidence &evidence,
                                 const Diagnosis &diagnosis, const reason::PromptSet &prompts,
                                 const QString &actor)
{
    audit::AuditEvent e;
    e.kind = QStringLiteral("diagnosed");
    e.actor = actor;
    e.namespaceName = incident.namespaceName;
    e.target = incidentAuditTarget(incident);
    e.action = actionName(diagnosis.action);
    e.outcome = act::routeTier(diagnosis);
    e.payload = act::reasoningContext(diagnosis, evidence, prompts);
    e.payload["incident"] = s(incident.fingerprint);
    e.payload["category"] = s(diagnosis.category);
    e.payload["diagnosis"] = s(diagnosis.diagnosis);
    e.payload["confidence"] = diagnosis.confidence;
    e.payload["parameters"] = diagnosis.parameters;
    e.payload["reasoning"] = s(diagnosis.reasoning);
    return e;
}

} // namespace vigil::pipeline
