#pragma once

// Projections from Kubernetes JSON to the compact views in objects.h.
// Each returns an error (never throws) when the document is not an object
// of the expected shape or lacks metadata.uid.

#include "core/kube/objects.h"
#include "core/kube/stringpool.h"
#include "core/util/result.h"

#include <nlohmann/json.hpp>

#include <cstdint>

namespace vigil::kube {

// With a pool, values that repeat across objects (namespaces, node names, owners, images, reasons,
// labels) are interned in it: projections held by the thousand then share them.
Result<PodView> projectPod(const nlohmann::json &pod, StringPool *pool = nullptr);
Result<NodeView> projectNode(const nlohmann::json &node, StringPool *pool = nullptr);
/// core/v1 Event and events.k8s.io/v1 Event.
Result<EventView> projectEvent(const nlohmann::json &event, StringPool *pool = nullptr);
/// Deployment, ReplicaSet, StatefulSet, DaemonSet.
Result<WorkloadView> projectWorkload(const nlohmann::json &workload, StringPool *pool = nullptr);
/// Anything else; keeps the whole JSON when it is at most maxRawBytes.
Result<GenericView> projectGeneric(const nlohmann::json &object, qsizetype maxRawBytes = 8192,
                                   StringPool *pool = nullptr);

/// A resource.Quantity ("250m", "1.5", "128Mi", "1e3") as a number of base
/// units; false when it does not parse.
bool parseQuantity(const QString &text, double *value);
/// CPU quantity in millicores, -1 when unset or invalid.
int64_t cpuMilli(const QString &quantity);
/// Memory/storage quantity in bytes, -1 when unset or invalid.
int64_t quantityBytes(const QString &quantity);
/// RFC 3339 timestamp (with or without fractional seconds); invalid when empty.
QDateTime parseKubeTime(const QString &text);

} // namespace vigil::kube
