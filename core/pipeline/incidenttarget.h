#pragma once

// The one mapping from an incident to the object its proposals may act on.
// The desktop session, the agent and the red-team rig all judge proposals
// against it, so a model can never widen it by naming something else.

#include "core/gather/evidence.h"
#include "core/guard/guardrails.h"
#include "core/pipeline/incidentgrouper.h"

namespace vigil::pipeline {

/// What a proposal for incident may act on, as the pipeline observed it (never as a model claims):
/// the incident's namespace and top workload; for a pod incident the pod, with its node and labels
/// from the gathered evidence; for a node incident the node. The node's labels come from evidence.node.
guard::IncidentTarget incidentTarget(const Incident &incident, const gather::Evidence &evidence);

} // namespace vigil::pipeline
