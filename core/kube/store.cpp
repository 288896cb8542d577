#include "core/kube/store.h"

#include "core/kube/projections.h"

#include <QSet>

#include <memory>

namespace vigil::kube {

namespace {

QString kindOf(const ResourceType &type)
{
    static const QHash<QString, QString> kinds{
        {QStringLiteral("deployments"), QStringLiteral("Deployment")},
        {QStringLiteral("replicasets"), QStringLiteral("ReplicaSet")},
        {QStringLiteral("statefulsets"), QStringLiteral("StatefulSet")},
        {QStringLiteral("daemonsets"), QStringLiteral("DaemonSet")}};
    return kinds.value(type.resource);
}

template<typename View, typename F>
Projector wrap(F project)
{
    return [project](const nlohmann::json &j) -> Result<KubeObject> {
        Result<View> r = project(j);
        if (!r)
            return r.error();
        return KubeObject(std::move(*r));
    };
}

} // namespace

QString objectUid(const KubeObject &object)
{
    return std::visit([](const auto &o) { return o.uid; }, object);
}

QString objectResourceVersion(const KubeObject &object)
{
    return std::visit([](const auto &o) { return o.resourceVersion; }, object);
}

QString objectName(const KubeObject &object)
{
    return std::visit([](const auto &o) { return o.name; }, object);
}

QString objectNamespace(const KubeObject &object)
{
    return std::visit(
        [](const auto &o) -> QString {
            if constexpr (std::is_same_v<std::decay_t<decltype(o)>, NodeView>)
                return QString();
            else
                return o.namespaceName;
        },
        object);
}

Projector projectorFor(const ResourceType &type)
{
    // One pool per projector, so per informer: its objects share their repeated values.
    auto pool = std::make_shared<StringPool>();
    if (type.group.isEmpty() && type.resource == QLatin1String("pods"))
        return wrap<PodView>([pool](const nlohmann::json &j) { return projectPod(j, pool.get()); });
    if (type.group.isEmpty() && type.resource == QLatin1String("nodes"))
        return wrap<NodeView>([pool](const nlohmann::json &j) { return projectNode(j, pool.get()); });
    if (type.resource == QLatin1String("events") &&
        (type.group.isEmpty() || type.group == QLatin1String("events.k8s.io")))
        return wrap<EventView>([pool](const nlohmann::json &j) { return projectEvent(j, pool.get()); });
    const QString kind = kindOf(type);
    if (type.group == QLatin1String("apps") && !kind.isEmpty()) {
        return wrap<WorkloadView>([kind, pool](const nlohmann::json &j) {
            Result<WorkloadView> w = projectWorkload(j, pool.get());
            if (w && w->kind.isEmpty())
                w->kind = kind; // list items carry no kind
            return w;
        });
    }
    const QString apiVersion = type.groupVersion();
    return wrap<GenericView>([apiVersion, pool](const nlohmann::json &j) {
        Result<GenericView> g = projectGeneric(j, 8192, pool.get());
        if (g && g->apiVersion.isEmpty())
            g->apiVersion = apiVersion;
        return g;
    });
}

const KubeObject *ObjectStore::find(const QString &uid) const
{
    const auto it = m_objects.constFind(uid);
    return it == m_objects.constEnd() ? nullptr : &it.value();
}

QList<KubeObject> ObjectStore::objects() const
{
    return m_objects.values();
}

std::optional<Delta> ObjectStore::upsert(KubeObject object)
{
    const QString uid = objectUid(object);
    auto it = m_objects.find(uid);
    if (it == m_objects.end()) {
        m_objects.insert(uid, object);
        return Delta{Delta::Type::Added, std::move(object)};
    }
    if (objectResourceVersion(*it) == objectResourceVersion(object))
        return std::nullopt;
    *it = object;
    return Delta{Delta::Type::Modified, std::move(object)};
}

std::optional<Delta> ObjectStore::remove(const QString &uid, std::optional<KubeObject> finalState)
{
    auto it = m_objects.find(uid);
    if (it == m_objects.end())
        return std::nullopt;
    KubeObject last = finalState ? std::move(*finalState) : *it;
    m_objects.erase(it);
    return Delta{Delta::Type::Deleted, std::move(last)};
}

void ObjectStore::set(KubeObject object)
{
    QString uid = objectUid(object);
    m_objects.insert(std::move(uid), std::move(object));
}

QList<Delta> ObjectStore::added() const
{
    QList<Delta> out;
    out.reserve(m_objects.size());
    for (auto it = m_objects.cbegin(); it != m_objects.cend(); ++it)
        out.append(Delta{Delta::Type::Added, it.value()});
    return out;
}

QList<Delta> ObjectStore::replace(const QList<KubeObject> &fresh)
{
    return replace(QList<KubeObject>(fresh));
}

QList<Delta> ObjectStore::replace(QList<KubeObject> &&fresh)
{
    QList<Delta> out;
    if (m_objects.isEmpty())
        out.reserve(fresh.size()); // every object will be an Added delta
    QSet<QString> seen;
    seen.reserve(fresh.size());
    m_objects.reserve(fresh.size());
    for (KubeObject &o : fresh) {
        seen.insert(objectUid(o));
        if (auto d = upsert(std::move(o)))
            out.append(std::move(*d));
    }
    fresh.clear();
    fresh.squeeze();
    QStringList gone;
    for (auto it = m_objects.cbegin(); it != m_objects.cend(); ++it) {
        if (!seen.contains(it.key()))
            gone.append(it.key());
    }
    for (const QString &uid : gone) {
        if (auto d = remove(uid))
            out.append(std::move(*d));
    }
    return out;
}

} // namespace vigil::kube
