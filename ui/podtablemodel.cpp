#include "ui/podtablemodel.h"

#include <QApplication>
#include <QBrush>
#include <QColor>
#include <QGuiApplication>
#include <QIcon>
#include <QLocale>
#include <QPalette>
#include <QStyle>

#include <algorithm>
#include <limits>

namespace vigil::ui {
namespace {

// Grace before "not ready yet" becomes "not ready": a pod that just started is not an incident.
constexpr qint64 kStartupGraceSeconds = 60;

QString ownerText(const kube::OwnerRef &owner)
{
    return owner.name.isEmpty() ? QString() : owner.kind + u'/' + owner.name;
}

QString formatCpu(int64_t milli)
{
    return milli < 0 ? QString() : QString::number(milli) + u'm';
}

QString formatMemory(int64_t bytes)
{
    if (bytes < 0)
        return {};
    constexpr int64_t Mi = 1024 * 1024;
    return QString::number((bytes + Mi / 2) / Mi) + QStringLiteral("Mi");
}

} // namespace

PodTableModel::PodTableModel(QObject *parent, Clock clock)
    : QAbstractTableModel(parent)
    , m_clock(clock ? std::move(clock) : Clock([] { return QDateTime::currentDateTimeUtc(); }))
{
}

int PodTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_pods.size());
}

int PodTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant PodTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Namespace:
        return tr("Namespace");
    case Name:
        return tr("Name");
    case Ready:
        return tr("Ready");
    case Status:
        return tr("Status");
    case Restarts:
        return tr("Restarts");
    case Age:
        return tr("Age");
    case Node:
        return tr("Node");
    case Owner:
        return tr("Owner");
    case Cpu:
        return tr("CPU");
    case Memory:
        return tr("Memory");
    default:
        return {};
    }
}

QVariant PodTableModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const kube::PodView &pod = m_pods[size_t(index.row())];
    switch (role) {
    case Qt::DisplayRole:
    case Qt::ToolTipRole:
        if (role == Qt::ToolTipRole && index.column() == Status && !pod.message.isEmpty())
            return pod.message;
        return display(pod, index.column());
    case SortRole:
        return sortValue(pod, index.column());
    case UnhealthyRole:
        return isUnhealthy(pod, m_clock());
    case UidRole:
        return pod.uid;
    case Qt::ForegroundRole:
        if (index.column() == Status && isUnhealthy(pod, m_clock())) {
            // Readable on light and dark palettes alike.
            const bool dark = QGuiApplication::palette().color(QPalette::Base).lightness() < 128;
            return QBrush(dark ? QColor(0xff, 0x7b, 0x72) : QColor(0xb3, 0x1d, 0x28));
        }
        return {};
    case Qt::DecorationRole:
        if (index.column() == Name && isUnhealthy(pod, m_clock()))
            return QIcon::fromTheme(QStringLiteral("dialog-warning"),
                                    QApplication::style()->standardIcon(QStyle::SP_MessageBoxWarning));
        return {};
    case Qt::BackgroundRole:
        if (isUnhealthy(pod, m_clock())) {
            // A tint, not a fill: selection and alternating rows stay readable.
            const bool dark = QGuiApplication::palette().color(QPalette::Base).lightness() < 128;
            return QBrush(dark ? QColor(0x5a, 0x1e, 0x22, 0x90) : QColor(0xff, 0xeb, 0xe9));
        }
        return {};
    case Qt::TextAlignmentRole:
        if (index.column() == Restarts || index.column() == Cpu || index.column() == Memory)
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    default:
        return {};
    }
}

QVariant PodTableModel::display(const kube::PodView &pod, int column) const
{
    switch (column) {
    case Namespace:
        return pod.namespaceName;
    case Name:
        return pod.name;
    case Ready:
        return QStringLiteral("%1/%2").arg(pod.readyContainers()).arg(pod.containers.size());
    case Status:
        return pod.displayStatus();
    case Restarts:
        return pod.restarts();
    case Age:
        return pod.created.isValid() ? formatAge(pod.created.secsTo(m_clock())) : QString();
    case Node:
        return pod.nodeName;
    case Owner:
        return ownerText(pod.owner);
    case Cpu:
        return formatCpu(m_usage.value(pod.namespaceName + u'/' + pod.name).cpuMilli);
    case Memory:
        return formatMemory(m_usage.value(pod.namespaceName + u'/' + pod.name).memoryBytes);
    default:
        return {};
    }
}

QVariant PodTableModel::sortValue(const kube::PodView &pod, int column) const
{
    switch (column) {
    case Ready:
        return pod.readyContainers() * 1000 + int(pod.containers.size());
    case Restarts:
        return pod.restarts();
    // Oldest first in ascending order, as kubectl's --sort-by=.metadata.creationTimestamp.
    case Age:
        return pod.created.isValid() ? pod.created.toMSecsSinceEpoch() : std::numeric_limits<qint64>::max();
    case Cpu:
        return qlonglong(m_usage.value(pod.namespaceName + u'/' + pod.name).cpuMilli);
    case Memory:
        return qlonglong(m_usage.value(pod.namespaceName + u'/' + pod.name).memoryBytes);
    default:
        return display(pod, column);
    }
}

void PodTableModel::resetPods(const QList<kube::PodView> &pods)
{
    beginResetModel();
    m_pods.assign(pods.cbegin(), pods.cend());
    m_rowByUid.clear();
    m_rowByUid.reserve(pods.size());
    for (size_t i = 0; i < m_pods.size(); ++i)
        m_rowByUid.insert(m_pods[i].uid, int(i));
    endResetModel();
}

void PodTableModel::applyChanges(const QList<kube::PodView> &upserts, const QStringList &deletedUids)
{
    // Deletions first, highest rows first, one beginRemoveRows per contiguous run.
    std::vector<int> removed;
    removed.reserve(size_t(deletedUids.size()));
    for (const QString &uid : deletedUids) {
        const auto it = m_rowByUid.constFind(uid);
        if (it != m_rowByUid.cend())
            removed.push_back(*it);
    }
    if (!removed.empty()) {
        std::sort(removed.begin(), removed.end(), std::greater<>());
        removed.erase(std::unique(removed.begin(), removed.end()), removed.end());
        size_t i = 0;
        while (i < removed.size()) {
            size_t j = i;
            while (j + 1 < removed.size() && removed[j + 1] == removed[j] - 1)
                ++j;
            const int first = removed[j], last = removed[i];
            beginRemoveRows({}, first, last);
            for (int r = first; r <= last; ++r)
                m_rowByUid.remove(m_pods[size_t(r)].uid);
            m_pods.erase(m_pods.begin() + first, m_pods.begin() + last + 1);
            endRemoveRows();
            i = j + 1;
        }
        // Rows after the lowest removed one shifted.
        for (size_t r = size_t(removed.back()); r < m_pods.size(); ++r)
            m_rowByUid.insert(m_pods[r].uid, int(r));
    }

    std::vector<int> changed;
    QList<kube::PodView> added;
    QHash<QString, qsizetype> addedAt; // a batch may carry the same new pod twice: keep the last
    for (const kube::PodView &pod : upserts) {
        const auto it = m_rowByUid.constFind(pod.uid);
        if (it != m_rowByUid.cend()) {
            m_pods[size_t(*it)] = pod;
            changed.push_back(*it);
        } else if (const auto a = addedAt.constFind(pod.uid); a != addedAt.cend()) {
            added[*a] = pod;
        } else {
            addedAt.insert(pod.uid, added.size());
            added.append(pod);
        }
    }
    emitRowRanges(std::move(changed), 0, ColumnCount - 1);

    if (!added.isEmpty()) {
        const int first = int(m_pods.size());
        beginInsertRows({}, first, first + int(added.size()) - 1);
        for (const kube::PodView &pod : std::as_const(added)) {
            m_rowByUid.insert(pod.uid, int(m_pods.size()));
            m_pods.push_back(pod);
        }
        endInsertRows();
    }
}

void PodTableModel::setUsage(const QHash<QString, PodUsage> &usage)
{
    m_usage = usage;
    if (!m_pods.empty())
        Q_EMIT dataChanged(index(0, Cpu), index(int(m_pods.size()) - 1, Memory));
}

void PodTableModel::refreshAges()
{
    if (!m_pods.empty())
        Q_EMIT dataChanged(index(0, Age), index(int(m_pods.size()) - 1, Age), {Qt::DisplayRole});
}

void PodTableModel::emitRowRanges(std::vector<int> rows, int firstColumn, int lastColumn)
{
    if (rows.empty())
        return;
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    size_t i = 0;
    while (i < rows.size()) {
        size_t j = i;
        while (j + 1 < rows.size() && rows[j + 1] == rows[j] + 1)
            ++j;
        Q_EMIT dataChanged(index(rows[i], firstColumn), index(rows[j], lastColumn));
        i = j + 1;
    }
}

const kube::PodView *PodTableModel::pod(int row) const
{
    return row >= 0 && size_t(row) < m_pods.size() ? &m_pods[size_t(row)] : nullptr;
}

int PodTableModel::rowOfUid(const QString &uid) const
{
    return m_rowByUid.value(uid, -1);
}

bool PodTableModel::isUnhealthy(const kube::PodView &pod, const QDateTime &now)
{
    const QString status = pod.displayStatus();
    if (status == u"Running")
        return !pod.ready && pod.created.isValid() && pod.created.secsTo(now) > kStartupGraceSeconds;
    if (status == u"Completed" || status == u"Succeeded" || status == u"Terminating" ||
        status == u"ContainerCreating" || status == u"PodInitializing")
        return false;
    if (status == u"Pending" || (status.startsWith(QLatin1String("Init:")) && status.contains(u'/')))
        return !pod.scheduled || (pod.created.isValid() && pod.created.secsTo(now) > kStartupGraceSeconds);
    return true; // CrashLoopBackOff, ImagePullBackOff, OOMKilled, Error, Evicted, NotReady, ExitCode:N, ...
}

QString PodTableModel::formatAge(qint64 seconds)
{
    if (seconds < 0)
        seconds = 0;
    if (seconds < 120)
        return QString::number(seconds) + u's';
    const qint64 minutes = seconds / 60;
    if (minutes < 120)
        return QString::number(minutes) + u'm';
    const qint64 hours = minutes / 60;
    if (hours < 48)
        return QString::number(hours) + u'h';
    const qint64 days = hours / 24;
    if (days < 730)
        return QString::number(days) + u'd';
    return QString::number(days / 365) + u'y';
}

} // namespace vigil::ui
