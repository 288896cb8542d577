#include "core/kube/stringpool.h"

#include <algorithm>

namespace vigil::kube {

namespace {

size_t hashOf(const QMap<QString, QString> &map)
{
    size_t h = 0;
    for (auto it = map.cbegin(); it != map.cend(); ++it)
        h = qHashMulti(h, it.key(), it.value());
    return h;
}

size_t hashOf(const QList<ContainerStatusView> &containers)
{
    size_t h = 0;
    for (const ContainerStatusView &c : containers)
        h = qHashMulti(h, c.name, c.image, c.state, c.reason, c.restartCount, c.ready, c.message);
    return h;
}

} // namespace

QString StringPool::intern(const QString &s)
{
    if (s.isEmpty())
        return QString();
    const auto it = m_strings.constFind(s);
    if (it != m_strings.cend())
        return *it;
    maybePrune();
    m_strings.insert(s);
    return s;
}

QString StringPool::intern(const std::string &utf8)
{
    return intern(QString::fromStdString(utf8));
}

QMap<QString, QString> StringPool::intern(const QMap<QString, QString> &map)
{
    if (map.isEmpty())
        return {};
    const size_t h = hashOf(map);
    for (auto it = m_maps.constFind(h); it != m_maps.cend() && it.key() == h; ++it) {
        if (*it == map)
            return *it;
    }
    maybePrune();
    QMap<QString, QString> pooled;
    for (auto it = map.cbegin(); it != map.cend(); ++it)
        pooled.insert(intern(it.key()), intern(it.value()));
    m_maps.insert(h, pooled);
    return pooled;
}

QList<ContainerStatusView> StringPool::intern(const QList<ContainerStatusView> &containers)
{
    if (containers.isEmpty())
        return {};
    const size_t h = hashOf(containers);
    for (auto it = m_containers.constFind(h); it != m_containers.cend() && it.key() == h; ++it) {
        if (*it == containers)
            return *it;
    }
    maybePrune();
    QList<ContainerStatusView> pooled = containers;
    pooled.squeeze();
    m_containers.insert(h, pooled);
    return pooled;
}

void StringPool::maybePrune()
{
    if (size() < m_pruneAt)
        return;
    prune();
    m_pruneAt = std::max<qsizetype>(4096, 2 * size());
}

void StringPool::prune()
{
    // Lists and maps first: they hold strings of the pool themselves.
    m_containers.removeIf([](const auto &entry) { return entry.value().isDetached(); });
    m_maps.removeIf([](const auto &entry) { return entry.value().isDetached(); });
    m_strings.removeIf([](const QString &s) { return s.isDetached(); });
}

qsizetype StringPool::size() const
{
    return m_strings.size() + m_maps.size() + m_containers.size();
}

} // namespace vigil::kube
