#include "ui/podfilterproxymodel.h"

#include "ui/podtablemodel.h"

namespace vigil::ui {

PodFilterProxyModel::PodFilterProxyModel(QObject *parent)
    : QSortFilterProxyModel(parent)
{
    setSortRole(PodTableModel::SortRole);
    setSortCaseSensitivity(Qt::CaseInsensitive);
    // Changes reach the model in batches of at most ~10 a second, so a live sort is affordable.
    setDynamicSortFilter(true);
}

void PodFilterProxyModel::setSearchText(const QString &text)
{
    const QStringList words = text.simplified().toLower().split(u' ', Qt::SkipEmptyParts);
    if (words == m_words)
        return;
    m_words = words;
    invalidateFilter();
}

void PodFilterProxyModel::setNamespace(const QString &namespaceName)
{
    if (namespaceName == m_namespace)
        return;
    m_namespace = namespaceName;
    invalidateFilter();
}

void PodFilterProxyModel::setUnhealthyOnly(bool on)
{
    if (on == m_unhealthyOnly)
        return;
    m_unhealthyOnly = on;
    invalidateFilter();
}

void PodFilterProxyModel::setSourceModel(QAbstractItemModel *sourceModel)
{
    m_pods = qobject_cast<const PodTableModel *>(sourceModel);
    QSortFilterProxyModel::setSourceModel(sourceModel);
}

bool PodFilterProxyModel::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    if (!m_pods)
        return true;
    Q_UNUSED(sourceParent)
    const kube::PodView *pod = m_pods->pod(sourceRow);
    if (!pod)
        return false;
    if (!m_namespace.isEmpty() && pod->namespaceName != m_namespace)
        return false;
    if (m_unhealthyOnly && !m_pods->data(m_pods->index(sourceRow, 0), PodTableModel::UnhealthyRole).toBool())
        return false;
    if (m_words.isEmpty())
        return true;
    const QString status = m_pods->status(sourceRow);
    for (const QString &word : m_words) {
        if (!pod->name.contains(word, Qt::CaseInsensitive) &&
            !pod->namespaceName.contains(word, Qt::CaseInsensitive) &&
            !status.contains(word, Qt::CaseInsensitive))
            return false;
    }
    return true;
}

bool PodFilterProxyModel::lessThan(const QModelIndex &left, const QModelIndex &right) const
{
    if (m_pods && sortRole() == PodTableModel::SortRole && left.model() == m_pods)
        return m_pods->lessThan(left.row(), right.row(), left.column());
    const QVariant l = left.data(sortRole());
    const QVariant r = right.data(sortRole());
    if (l.typeId() == QMetaType::QString || r.typeId() == QMetaType::QString)
        return QString::localeAwareCompare(l.toString(), r.toString()) < 0;
    return QVariant::compare(l, r) == QPartialOrdering::Less;
}

} // namespace vigil::ui
