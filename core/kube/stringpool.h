#pragma once

// Interning for the informer's projections. Thousands of pods repeat the same
// few namespaces, node names, images, owners, reasons and label sets; held as
// separate QStrings each copy costs a heap block. A StringPool hands out one
// shared (implicitly shared, immutable) copy per distinct value instead, so a
// projection pays only for what is unique to it: uid, name, resourceVersion.

#include "core/kube/objects.h"

#include <QHash>
#include <QList>
#include <QMap>
#include <QSet>
#include <QString>

#include <string>

namespace vigil::kube {

/// Not thread-safe: one per projector (each informer has its own).
class StringPool final {
public:
    /// The pooled copy of s (s itself the first time it is seen).
    QString intern(const QString &s);
    QString intern(const std::string &utf8);
    /// The pooled copy of an equal map (keys and values interned too).
    QMap<QString, QString> intern(const QMap<QString, QString> &map);
    /// The pooled copy of an equal container list: replicas of one workload usually share theirs.
    QList<ContainerStatusView> intern(const QList<ContainerStatusView> &containers);

    /// Drops what only the pool still holds. Called by the intern functions as the pool doubles.
    void prune();
    /// Distinct strings, maps and container lists held.
    qsizetype size() const;

private:
    void maybePrune();

    QSet<QString> m_strings;
    QMultiHash<size_t, QMap<QString, QString>> m_maps;
    QMultiHash<size_t, QList<ContainerStatusView>> m_containers;
    qsizetype m_pruneAt = 4096;
};

} // namespace vigil::kube
