#include "ui/podtablemodel.h"

#include <QApplication>
#include <QBrush>
#include <QColor>
#include <QElapsedTimer>
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
// emitRowRanges: one signal over the whole span once there are this many ranges and a signal
// costs the proxy more than rescanning this many rows.
constexpr qsizetype kMergeRangesAtLeast = 64;
constexpr qsizetype kRowsPerSignal = 32;
// Work done in one event-loop turn by the passes spread over several (usage, ages).
constexpr qint64 kSliceNs = 3 * 1000 * 1000;
// refreshAges sends at most this many rows' worth of proxy rescans per signal.
constexpr int kAgeWindowRows = 512;

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

// kubectl's AGE as a number and a unit: what formatAge prints, comparable without building text.
struct AgeParts {
    qint64 value;
    char unit;
    bool operator==(const AgeParts &) const = default;
};

AgeParts ageParts(qint64 seconds)
{
    if (seconds < 0)
        seconds = 0;
    if (seconds < 120)
        return {seconds, 's'};
    const qint64 minutes = seconds / 60;
    if (minutes < 120)
        return {minutes, 'm'};
    const qint64 hours = minutes / 60;
    if (hours < 48)
        return {hours, 'h'};
    const qint64 days = hours / 24;
    if (days < 730)
        return {days, 'd'};
    return {days / 365, 'y'};
}

// Kubernetes names, statuses and kinds are ASCII: an ordinal, case-blind compare orders them
// as a locale would, at a fraction of QString::localeAwareCompare's cost.
int compareText(const QString &a, const QString &b)
{
    return a.compare(b, Qt::CaseInsensitive);
}

template<typename T>
int compareNumbers(T a, T b)
{
    return a < b ? -1 : (b < a ? 1 : 0);
}

} // namespace

PodTableModel::PodTableModel(QObject *parent, Clock clock)
    : QAbstractTableModel(parent)
    , m_clock(clock ? std::move(clock) : Clock([] { return QDateTime::currentDateTimeUtc(); }))
{
    m_usageSlice.setSingleShot(true);
    m_usageSlice.setInterval(0);
    connect(&m_usageSlice, &QTimer::timeout, this, &PodTableModel::continueUsage);
    m_ageSlice.setSingleShot(true);
    m_ageSlice.setInterval(0);
    connect(&m_ageSlice, &QTimer::timeout, this, &PodTableModel::continueAges);
}

int PodTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
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
    const Row &row = m_rows[size_t(index.row())];
    switch (role) {
    case Qt::DisplayRole:
    case Qt::ToolTipRole:
        if (role == Qt::ToolTipRole && index.column() == Status && !row.pod.message.isEmpty())
            return row.pod.message;
        return display(row, index.column());
    case SortRole:
        return sortValue(row, index.column());
    case UnhealthyRole:
        return isUnhealthy(row.pod, row.status, m_clock());
    case UidRole:
        return row.pod.uid;
    case Qt::ForegroundRole:
        if (index.column() == Status && isUnhealthy(row.pod, row.status, m_clock())) {
            // Readable on light and dark palettes alike.
            const bool dark = QGuiApplication::palette().color(QPalette::Base).lightness() < 128;
            return QBrush(dark ? QColor(0xff, 0x7b, 0x72) : QColor(0xb3, 0x1d, 0x28));
        }
        return {};
    case Qt::DecorationRole:
        if (index.column() == Name && isUnhealthy(row.pod, row.status, m_clock()))
            return QIcon::fromTheme(QStringLiteral("dialog-warning"),
                                    QApplication::style()->standardIcon(QStyle::SP_MessageBoxWarning));
        return {};
    case Qt::BackgroundRole:
        if (isUnhealthy(row.pod, row.status, m_clock())) {
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

QVariant PodTableModel::display(const Row &row, int column) const
{
    const kube::PodView &pod = row.pod;
    switch (column) {
    case Namespace:
        return pod.namespaceName;
    case Name:
        return pod.name;
    case Ready:
        return QStringLiteral("%1/%2").arg(row.ready).arg(pod.containers.size());
    case Status:
        return row.status;
    case Restarts:
        return row.restarts;
    case Age:
        return pod.created.isValid() ? formatAge(pod.created.secsTo(m_clock())) : QString();
    case Node:
        return pod.nodeName;
    case Owner:
        return ownerText(pod.owner);
    case Cpu:
        return formatCpu(row.usage.cpuMilli);
    case Memory:
        return formatMemory(row.usage.memoryBytes);
    default:
        return {};
    }
}

QVariant PodTableModel::sortValue(const Row &row, int column) const
{
    const kube::PodView &pod = row.pod;
    switch (column) {
    case Ready:
        return row.ready * 1000 + int(pod.containers.size());
    case Restarts:
        return row.restarts;
    // Oldest first in ascending order, as kubectl's --sort-by=.metadata.creationTimestamp.
    case Age:
        return pod.created.isValid() ? pod.created.toMSecsSinceEpoch() : std::numeric_limits<qint64>::max();
    case Cpu:
        return qlonglong(row.usage.cpuMilli);
    case Memory:
        return qlonglong(row.usage.memoryBytes);
    default:
        return display(row, column);
    }
}

bool PodTableModel::lessThan(int leftRow, int rightRow, int column) const
{
    const Row &l = m_rows[size_t(leftRow)];
    const Row &r = m_rows[size_t(rightRow)];
    int c = 0;
    switch (column) {
    case Namespace:
        c = compareText(l.pod.namespaceName, r.pod.namespaceName);
        break;
    case Name:
        c = compareText(l.pod.name, r.pod.name);
        break;
    case Ready:
        c = compareNumbers(l.ready * 1000 + l.pod.containers.size(),
                           r.ready * 1000 + r.pod.containers.size());
        break;
    case Status:
        c = compareText(l.status, r.status);
        break;
    case Restarts:
        c = compareNumbers(l.restarts, r.restarts);
        break;
    case Age: {
        // Oldest first in ascending order; pods without a creation time last.
        const qint64 lt =
            l.pod.created.isValid() ? l.pod.created.toMSecsSinceEpoch() : std::numeric_limits<qint64>::max();
        const qint64 rt =
            r.pod.created.isValid() ? r.pod.created.toMSecsSinceEpoch() : std::numeric_limits<qint64>::max();
        c = compareNumbers(lt, rt);
        break;
    }
    case Node:
        c = compareText(l.pod.nodeName, r.pod.nodeName);
        break;
    case Owner:
        c = compareText(l.pod.owner.kind, r.pod.owner.kind);
        if (c == 0)
            c = compareText(l.pod.owner.name, r.pod.owner.name);
        break;
    case Cpu:
        c = compareNumbers(l.usage.cpuMilli, r.usage.cpuMilli);
        break;
    case Memory:
        c = compareNumbers(l.usage.memoryBytes, r.usage.memoryBytes);
        break;
    default:
        break;
    }
    return c < 0;
}

PodTableModel::Row PodTableModel::makeRow(const kube::PodView &pod, const QDateTime &now) const
{
    Row row{pod, pod.displayStatus(), pod.restarts(), pod.readyContainers(), usageOf(pod)};
    row.unhealthy = isUnhealthy(pod, row.status, now);
    return row;
}

PodUsage PodTableModel::usageOf(const kube::PodView &pod) const
{
    if (m_usage.isEmpty())
        return {};
    return m_usage.value(pod.namespaceName + u'/' + pod.name);
}

void PodTableModel::resetPods(const QList<kube::PodView> &pods)
{
    beginResetModel();
    m_rows.clear();
    m_rows.reserve(size_t(pods.size()));
    m_rowByUid.clear();
    m_rowByUid.reserve(pods.size());
    m_unhealthyCount = 0;
    const QDateTime now = m_clock();
    for (const kube::PodView &pod : pods) {
        m_rowByUid.insert(pod.uid, int(m_rows.size()));
        m_rows.push_back(makeRow(pod, now));
        m_unhealthyCount += m_rows.back().unhealthy;
    }
    m_agesShownAt = m_clock();
    // Every row just took its usage from the current map: a pending pass has nothing left to do.
    m_usagePass = false;
    m_usageSlice.stop();
    m_ageSpans.clear(); // every row is new: nothing stale to repaint
    m_ageSlice.stop();
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
            for (int r = first; r <= last; ++r) {
                m_rowByUid.remove(m_rows[size_t(r)].pod.uid);
                m_unhealthyCount -= m_rows[size_t(r)].unhealthy;
            }
            m_rows.erase(m_rows.begin() + first, m_rows.begin() + last + 1);
            endRemoveRows();
            i = j + 1;
        }
        // Rows after the lowest removed one shifted.
        for (size_t r = size_t(removed.back()); r < m_rows.size(); ++r)
            m_rowByUid.insert(m_rows[r].pod.uid, int(r));
        if (m_usagePass)
            m_usageCursor = 0; // a pending usage pass would skip shifted rows: start it over
        // Pending age signals name shifted rows; ages are read at paint time, and the
        // removal repaints the view, so dropping them loses nothing.
        m_ageSpans.clear();
        m_ageSlice.stop();
    }

    const QDateTime now = m_clock();
    std::vector<int> changed;
    QList<kube::PodView> added;
    QHash<QString, qsizetype> addedAt; // a batch may carry the same new pod twice: keep the last
    for (const kube::PodView &pod : upserts) {
        const auto it = m_rowByUid.constFind(pod.uid);
        if (it != m_rowByUid.cend()) {
            Row &row = m_rows[size_t(*it)];
            m_unhealthyCount -= row.unhealthy;
            row = makeRow(pod, now);
            m_unhealthyCount += row.unhealthy;
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
        const int first = int(m_rows.size());
        beginInsertRows({}, first, first + int(added.size()) - 1);
        m_rows.reserve(m_rows.size() + size_t(added.size()));
        for (const kube::PodView &pod : std::as_const(added)) {
            m_rowByUid.insert(pod.uid, int(m_rows.size()));
            m_rows.push_back(makeRow(pod, now));
            m_unhealthyCount += m_rows.back().unhealthy;
        }
        endInsertRows();
    }
}

void PodTableModel::setUsage(const QHash<QString, PodUsage> &usage)
{
    m_usage = usage;
    m_usagePass = true;
    m_usageCursor = 0;
    continueUsage();
}

void PodTableModel::continueUsage()
{
    if (!m_usagePass)
        return;
    // A slice: matching a row to its metrics costs a string hash lookup (~250 ns), and the
    // proxy then revisits every signalled row; 50,000 rows at once would take ~50 ms.
    QElapsedTimer slice;
    slice.start();
    std::vector<int> changed;
    QString key; // reused: no allocation per row
    key.reserve(512);
    size_t r = m_usageCursor;
    for (; r < m_rows.size(); ++r) {
        if ((r & 1023) == 1023 && slice.nsecsElapsed() > kSliceNs)
            break;
        Row &row = m_rows[r];
        key.resize(0);
        key.append(row.pod.namespaceName).append(u'/').append(row.pod.name);
        const PodUsage now = m_usage.value(key);
        if (now == row.usage)
            continue;
        row.usage = now;
        changed.push_back(int(r));
    }
    m_usageCursor = r;
    m_usagePass = r < m_rows.size();
    emitRowRanges(std::move(changed), Cpu, Memory);
    if (m_usagePass)
        m_usageSlice.start();
}

void PodTableModel::refreshAges()
{
    // Whole-column signals make a sorting, filtering proxy revisit every row; most ages do
    // not change their text in a few seconds (a 3d pod stays 3d all day), so signal only those
    // that did, and those that just left the startup grace (their health may have changed).
    const QDateTime now = m_clock();
    const QDateTime before = m_agesShownAt.isValid() ? m_agesShownAt : now;
    m_agesShownAt = now;
    const qint64 nowS = now.toSecsSinceEpoch(), beforeS = before.toSecsSinceEpoch();
    std::vector<int> aged, graceEnded;
    for (size_t r = 0; r < m_rows.size(); ++r) {
        const QDateTime &created = m_rows[r].pod.created;
        if (!created.isValid())
            continue;
        const qint64 c = created.toSecsSinceEpoch();
        if ((beforeS - c > kStartupGraceSeconds) != (nowS - c > kStartupGraceSeconds)) {
            // Only a row whose health flips needs the whole row re-read: after a mass rollout
            // thousands leave the grace within one tick, and whole-row signals make the proxy
            // re-sort and re-filter each of them (~40 ms at 50k pods, bench/gui).
            Row &row = m_rows[r];
            const bool was = row.unhealthy;
            m_unhealthyCount -= row.unhealthy;
            row.unhealthy = isUnhealthy(row.pod, row.status, now);
            m_unhealthyCount += row.unhealthy;
            if (row.unhealthy != was) {
                graceEnded.push_back(int(r));
                continue;
            }
        }
        if (!(ageParts(beforeS - c) == ageParts(nowS - c)))
            aged.push_back(int(r));
    }
    emitRowRanges(std::move(graceEnded), 0, ColumnCount - 1);
    // Ages: a repaint, no change of order or filter, but the proxy rescans every signalled row.
    // When many young pods roll over a minute at once, send them a window of rows per turn.
    m_ageSpans.clear();
    size_t i = 0;
    while (i < aged.size()) {
        const int windowEnd = aged[i] - aged[i] % kAgeWindowRows + kAgeWindowRows;
        size_t j = i;
        qsizetype ranges = 1;
        while (j + 1 < aged.size() && aged[j + 1] < windowEnd) {
            ranges += aged[j + 1] != aged[j] + 1;
            ++j;
        }
        if (ranges >= kMergeRangesAtLeast / 8 && ranges * kRowsPerSignal > aged[j] - aged[i] + 1) {
            m_ageSpans.emplace_back(aged[i], aged[j]);
        } else {
            for (size_t k = i; k <= j; ++k) {
                if (k > i && aged[k] == m_ageSpans.back().second + 1)
                    m_ageSpans.back().second = aged[k];
                else
                    m_ageSpans.emplace_back(aged[k], aged[k]);
            }
        }
        i = j + 1;
    }
    std::reverse(m_ageSpans.begin(), m_ageSpans.end()); // sent from the back
    continueAges();
}

void PodTableModel::continueAges()
{
    QElapsedTimer slice;
    slice.start();
    while (!m_ageSpans.empty() && slice.nsecsElapsed() < kSliceNs) {
        const auto [first, last] = m_ageSpans.back();
        m_ageSpans.pop_back();
        Q_EMIT dataChanged(index(first, Age), index(last, Age), {Qt::DisplayRole});
    }
    if (!m_ageSpans.empty())
        m_ageSlice.start();
}

void PodTableModel::emitRowRanges(std::vector<int> rows, int firstColumn, int lastColumn,
                                  const QList<int> &roles)
{
    if (rows.empty())
        return;
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    // The proxy pays a few microseconds per signal and a fraction of one per row it rescans (and
    // a re-sort per signal that moves a row): thousands of scattered rows, as when a minute rolls
    // over for many ages, cost less as one span than one signal each.
    qsizetype ranges = 1;
    for (size_t k = 1; k < rows.size(); ++k)
        ranges += rows[k] != rows[k - 1] + 1;
    const qsizetype span = rows.back() - rows.front() + 1;
    if (ranges >= kMergeRangesAtLeast && ranges * kRowsPerSignal > span) {
        Q_EMIT dataChanged(index(rows.front(), firstColumn), index(rows.back(), lastColumn), roles);
        return;
    }
    size_t i = 0;
    while (i < rows.size()) {
        size_t j = i;
        while (j + 1 < rows.size() && rows[j + 1] == rows[j] + 1)
            ++j;
        Q_EMIT dataChanged(index(rows[i], firstColumn), index(rows[j], lastColumn), roles);
        i = j + 1;
    }
}

const kube::PodView *PodTableModel::pod(int row) const
{
    return row >= 0 && size_t(row) < m_rows.size() ? &m_rows[size_t(row)].pod : nullptr;
}

int PodTableModel::rowOfUid(const QString &uid) const
{
    return m_rowByUid.value(uid, -1);
}

QString PodTableModel::status(int row) const
{
    return row >= 0 && size_t(row) < m_rows.size() ? m_rows[size_t(row)].status : QString();
}

bool PodTableModel::isUnhealthy(int row, const QDateTime &now) const
{
    if (row < 0 || size_t(row) >= m_rows.size())
        return false;
    const Row &r = m_rows[size_t(row)];
    return isUnhealthy(r.pod, r.status, now);
}

bool PodTableModel::isUnhealthy(const kube::PodView &pod, const QDateTime &now)
{
    return isUnhealthy(pod, pod.displayStatus(), now);
}

bool PodTableModel::isUnhealthy(const kube::PodView &pod, const QString &status, const QDateTime &now)
{
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
    const AgeParts age = ageParts(seconds);
    return QString::number(age.value) + QLatin1Char(age.unit);
}

} // namespace vigil::ui
