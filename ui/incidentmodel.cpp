#include "ui/incidentmodel.h"

#include "ui/podtablemodel.h"

#include <QApplication>
#include <QBrush>
#include <QColor>
#include <QGuiApplication>
#include <QIcon>
#include <QPalette>
#include <QStyle>

#include <algorithm>

namespace vigil::ui {

IncidentModel::IncidentModel(QObject *parent, Clock clock)
    : QAbstractTableModel(parent)
    , m_clock(clock ? std::move(clock) : Clock([] { return QDateTime::currentDateTimeUtc(); }))
{
}

int IncidentModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_reports.size());
}

int IncidentModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant IncidentModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Reason:
        return tr("Reason");
    case Workload:
        return tr("Workload");
    case Namespace:
        return tr("Namespace");
    case Count:
        return tr("Count");
    case LastSeen:
        return tr("Last seen");
    case Proposal:
        return tr("Proposal");
    default:
        return {};
    }
}

QString IncidentModel::proposalText(const pipeline::IncidentReport &report)
{
    if (!report.diagnosed)
        return tr("no diagnosis");
    const QString action = actionName(report.diagnosis.action);
    if (!report.judged)
        return action;
    return action + QStringLiteral(" · ") + guard::decisionName(report.verdict.decision);
}

QVariant IncidentModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const pipeline::IncidentReport &r = m_reports[size_t(index.row())];
    const pipeline::Incident &i = r.incident;
    const bool blocked = r.judged && r.verdict.decision == guard::Verdict::Blocked;
    switch (role) {
    case FingerprintRole:
        return i.fingerprint;
    case BlockedRole:
        return blocked;
    case SortRole:
        if (index.column() == LastSeen)
            return i.lastSeen.toMSecsSinceEpoch();
        if (index.column() == Count)
            return i.count;
        return data(index, Qt::DisplayRole);
    case Qt::DecorationRole:
        if (index.column() == Reason)
            return blocked
                       ? QIcon::fromTheme(QStringLiteral("dialog-error"),
                                          QApplication::style()->standardIcon(QStyle::SP_MessageBoxCritical))
                       : QIcon::fromTheme(QStringLiteral("dialog-warning"),
                                          QApplication::style()->standardIcon(QStyle::SP_MessageBoxWarning));
        return {};
    case Qt::ForegroundRole:
        if (index.column() == Proposal && blocked) {
            const bool dark = QGuiApplication::palette().color(QPalette::Base).lightness() < 128;
            return QBrush(dark ? QColor(0xff, 0x7b, 0x72) : QColor(0xb3, 0x1d, 0x28));
        }
        return {};
    case Qt::TextAlignmentRole:
        if (index.column() == Count)
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case Qt::ToolTipRole:
        if (r.diagnosed)
            return r.diagnosis.diagnosis;
        return r.diagnosisError;
    case Qt::DisplayRole:
        switch (index.column()) {
        case Reason:
            return i.reason;
        case Workload:
            return i.workload.kind.isEmpty() ? i.workload.name
                                             : QString(i.workload.kind + u'/' + i.workload.name);
        case Namespace:
            return i.namespaceName;
        case Count:
            return i.count;
        case LastSeen:
            return i.lastSeen.isValid() ? PodTableModel::formatAge(i.lastSeen.secsTo(m_clock())) : QString();
        case Proposal:
            return proposalText(r);
        default:
            return {};
        }
    default:
        return {};
    }
}

QStringList IncidentModel::upsert(const QList<pipeline::IncidentReport> &reports)
{
    QList<pipeline::IncidentReport> fresh;
    QHash<QString, qsizetype> freshAt;
    std::vector<int> changed;
    for (const pipeline::IncidentReport &r : reports) {
        const QString &fp = r.incident.fingerprint;
        if (const auto it = m_rowByFingerprint.constFind(fp); it != m_rowByFingerprint.cend()) {
            m_reports[size_t(*it)] = r;
            changed.push_back(*it);
        } else if (const auto f = freshAt.constFind(fp); f != freshAt.cend()) {
            fresh[*f] = r;
        } else {
            freshAt.insert(fp, fresh.size());
            fresh << r;
        }
    }
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    for (size_t a = 0; a < changed.size();) {
        size_t b = a;
        while (b + 1 < changed.size() && changed[b + 1] == changed[b] + 1)
            ++b;
        Q_EMIT dataChanged(index(changed[a], 0), index(changed[b], ColumnCount - 1));
        a = b + 1;
    }
    QStringList added;
    if (fresh.isEmpty())
        return added;
    std::stable_sort(fresh.begin(), fresh.end(),
                     [](const pipeline::IncidentReport &a, const pipeline::IncidentReport &b) {
                         return a.incident.lastSeen > b.incident.lastSeen;
                     });
    beginInsertRows({}, 0, int(fresh.size()) - 1);
    m_reports.insert(m_reports.begin(), fresh.cbegin(), fresh.cend());
    m_rowByFingerprint.clear();
    for (size_t row = 0; row < m_reports.size(); ++row)
        m_rowByFingerprint.insert(m_reports[row].incident.fingerprint, int(row));
    endInsertRows();
    for (const pipeline::IncidentReport &r : std::as_const(fresh))
        added << r.incident.fingerprint;
    return added;
}

void IncidentModel::clear()
{
    beginResetModel();
    m_reports.clear();
    m_rowByFingerprint.clear();
    endResetModel();
}

const pipeline::IncidentReport *IncidentModel::report(int row) const
{
    return row >= 0 && size_t(row) < m_reports.size() ? &m_reports[size_t(row)] : nullptr;
}

int IncidentModel::rowOf(const QString &fingerprint) const
{
    return m_rowByFingerprint.value(fingerprint, -1);
}

} // namespace vigil::ui
