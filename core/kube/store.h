#pragma once

// The informer's store: compact projections keyed by UID, and the deltas
// that changing it produces.

#include "core/kube/objects.h"
#include "core/kube/restclient.h"
#include "core/util/result.h"

#include <QHash>
#include <QList>
#include <QMetaType>
#include <QString>

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <variant>

namespace vigil::kube {

/// One stored object, as its compact projection.
using KubeObject = std::variant<PodView, NodeView, EventView, WorkloadView, GenericView>;

QString objectUid(const KubeObject &object);
QString objectResourceVersion(const KubeObject &object);
QString objectName(const KubeObject &object);
QString objectNamespace(const KubeObject &object); ///< empty for nodes and cluster-scoped objects

/// JSON to projection; errors name the object.
using Projector = std::function<Result<KubeObject>(const nlohmann::json &object)>;
/// The projection for a resource: pods, nodes, events (both APIs), apps workloads, else generic.
/// It interns repeated values in a StringPool of its own, so call it from one thread only.
Projector projectorFor(const ResourceType &type);

struct Delta {
    enum class Type { Added, Modified, Deleted };
    Type type = Type::Added;
    KubeObject object; ///< the new state; for Deleted the last known state
};

/// What consumers receive at most every batch interval.
struct DeltaBatch {
    QList<Delta> deltas;
    bool resynced = false; ///< a (re)list completed within this batch; deltas already reconcile it
};

/// Objects keyed by UID. Not thread-safe: owned by its informer's thread.
class ObjectStore final {
public:
    const KubeObject *find(const QString &uid) const;
    QList<KubeObject> objects() const;
    qsizetype size() const { return m_objects.size(); }

    /// Inserts or replaces; no delta when the resourceVersion did not change.
    std::optional<Delta> upsert(KubeObject object);
    /// Removes; the delta carries finalState (or the stored object when none).
    std::optional<Delta> remove(const QString &uid, std::optional<KubeObject> finalState = std::nullopt);
    /// Replaces the whole content with a fresh list: objects missing from it are deleted.
    QList<Delta> replace(const QList<KubeObject> &fresh);
    /// The same, moving the objects in (fresh is left empty).
    QList<Delta> replace(QList<KubeObject> &&fresh);

    /// Inserts or replaces without a delta: for filling a store that nobody has seen yet.
    void set(KubeObject object);
    /// Every object as an Added delta: what consumers get once such a store is complete.
    QList<Delta> added() const;
    void clear() { m_objects.clear(); }

private:
    QHash<QString, KubeObject> m_objects;
};

} // namespace vigil::kube

Q_DECLARE_METATYPE(vigil::kube::DeltaBatch)
