#include "core/pipeline/incidenttarget.h"

namespace vigil::pipeline {

guard::IncidentTarget incidentTarget(const Incident &incident, const gather::Evidence &evidence)
{
    guard::IncidentTarget t;
    t.namespaceName = incident.namespaceName;
    t.ownerKind = incident.workload.kind;
    t.ownerName = incident.workload.name;
    if (incident.latest.object.kind == QLatin1String("Node")) {
        t.nodeName = incident.latest.object.name;
    } else {
        t.podName = incident.latest.object.name;
        if (evidence.pod) {
            t.nodeName = evidence.pod->nodeName;
            t.podLabels = evidence.pod->labels;
        }
    }
    if (evidence.node)
        t.nodeLabels = evidence.node->labels;
    return t;
}

} // namespace vigil::pipeline
