#include "core/pipeline/incidentgrouper.h"

#include <QCryptographicHash>
#include <QRegularExpression>

#include <algorithm>

namespace vigil::pipeline {
namespace {

// Kubernetes' generated-name alphabet has no vowels, which keeps words like
// "connection-refused-error" from looking like pod names.
const QString kSafe = QStringLiteral("[bcdfghjklmnpqrstvwxz2456789]");

const QRegularExpression &generatedPodName()
{
    static const QRegularExpression re(QStringLiteral("^(.+)-") + kSafe + QStringLiteral("{6,10}-") + kSafe +
                                       QStringLiteral("{5}$"));
    return re;
}

struct Rule {
    QRegularExpression re;
    QString replacement;
};

const QList<Rule> &normalizationRules()
{
    static const QList<Rule> rules{
        {QRegularExpression(QStringLiteral(
             "\\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\\b")),
         QStringLiteral("<uuid>")},
        {QRegularExpression(QStringLiteral("\\b(?:\\d{1,3}\\.){3}\\d{1,3}(?::\\d+)?\\b")),
         QStringLiteral("<ip>")},
        {QRegularExpression(QStringLiteral("(?<![\\w:])(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{0,4}(?![\\w:])|"
                                           "\\[[0-9a-fA-F:]+\\](?::\\d+)?")),
         QStringLiteral("<ip>")},
        {QRegularExpression(QStringLiteral("\\b[a-z][a-z0-9-]*-") + kSafe + QStringLiteral("{6,10}-") +
                            kSafe + QStringLiteral("{5}\\b")),
         QStringLiteral("<pod>")},
        {QRegularExpression(QStringLiteral(
             "\\b(?:0x[0-9a-fA-F]+|(?=[0-9a-fA-F]*\\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,})\\b")),
         QStringLiteral("<hex>")},
        {QRegularExpression(QStringLiteral("\\d+")), QStringLiteral("#")},
        {QRegularExpression(QStringLiteral("\\s+")), QStringLiteral(" ")},
    };
    return rules;
}

} // namespace

IncidentGrouper::IncidentGrouper(Options options)
    : m_options(std::move(options))
{
}

WorkloadKey IncidentGrouper::workloadOf(const Observation &o)
{
    if (o.object.kind != QLatin1String("Pod"))
        return {o.object.kind, o.object.name};
    const kube::OwnerRef &owner = o.owner;
    if (owner.kind == QLatin1String("ReplicaSet")) {
        if (!o.podTemplateHash.isEmpty() && owner.name.endsWith(u'-' + o.podTemplateHash))
            return {QStringLiteral("Deployment"), owner.name.chopped(o.podTemplateHash.size() + 1)};
        static const QRegularExpression rsSuffix(QStringLiteral("^(.+)-") + kSafe +
                                                 QStringLiteral("{6,10}$"));
        const auto m = rsSuffix.match(owner.name);
        if (m.hasMatch())
            return {QStringLiteral("Deployment"), m.captured(1)};
        return {owner.kind, owner.name};
    }
    if (!owner.kind.isEmpty())
        return {owner.kind, owner.name};
    const auto m = generatedPodName().match(o.object.name);
    if (m.hasMatch())
        return {QStringLiteral("Deployment"), m.captured(1)};
    return {QStringLiteral("Pod"), o.object.name};
}

QString IncidentGrouper::reasonFamily(const QString &reason)
{
    // Between back-offs a crash-looping container reads "terminated, exit 1": one failure, one incident.
    if (reason == QLatin1String("NonZeroExit"))
        return QStringLiteral("CrashLoopBackOff");
    return reason;
}

bool IncidentGrouper::messageDistinguishes(const QString &family)
{
    // For these the text changes with timing and cluster state (back-off delay, exit code between
    // restarts, how many nodes are short of what), not with the cause.
    return family != QLatin1String("CrashLoopBackOff") && family != QLatin1String("FailedScheduling") &&
           family != QLatin1String("ReadinessFailing");
}

QString IncidentGrouper::normalizeMessage(const QString &message)
{
    QString s = message;
    for (const Rule &rule : normalizationRules())
        s.replace(rule.re, rule.replacement);
    return s.trimmed();
}

QString IncidentGrouper::fingerprint(const QString &namespaceName, const WorkloadKey &workload,
                                     const QString &container, const QString &reason,
                                     const QString &normalizedMessage, const QString &image)
{
    const QStringList parts{namespaceName, workload.kind,     workload.name, container,
                            reason,        normalizedMessage, image};
    const QByteArray digest =
        QCryptographicHash::hash(parts.join(QChar(0x1f)).toUtf8(), QCryptographicHash::Sha256);
    return QString::fromLatin1(digest.toHex().left(16));
}

IncidentGrouper::AddResult IncidentGrouper::add(const Observation &o)
{
    std::optional<WorkloadKey> resolved;
    if (m_options.resolver)
        resolved = m_options.resolver(o);
    const WorkloadKey workload = resolved ? *resolved : workloadOf(o);

    QString message = o.message;
    if (!o.object.name.isEmpty())
        message.replace(o.object.name, QStringLiteral("<pod>"));
    const QString family = reasonFamily(o.reason);
    const QString fp =
        fingerprint(o.object.namespaceName, workload, o.container, family,
                    messageDistinguishes(family) ? normalizeMessage(message) : QString(), o.image);
    const QString occurrence = o.object.name + u'/' + o.occurrence;
    const bool isPod = o.object.kind == QLatin1String("Pod");

    AddResult result;
    auto it = m_incidents.find(fp);
    if (it != m_incidents.end() && it->occurrences.contains(occurrence)) {
        result.incident = it->incident;
        result.duplicate = true;
        return result;
    }
    const bool withinWindow = it != m_incidents.end() && o.time.isValid() &&
                              it->incident.lastSeen.isValid() &&
                              it->incident.lastSeen.secsTo(o.time) <= m_options.window.count();
    if (it == m_incidents.end() || !withinWindow) {
        Entry fresh;
        Incident &inc = fresh.incident;
        inc.fingerprint = fp;
        inc.reason = o.reason;
        inc.namespaceName = o.object.namespaceName;
        inc.workload = workload;
        inc.container = o.container;
        inc.image = o.image;
        inc.firstSeen = o.time;
        it = m_incidents.insert(fp, std::move(fresh));
        result.opened = true;
    }
    Incident &inc = it->incident;
    // The family's own name wins once seen: a crash loop observed between back-offs first
    // reads as NonZeroExit.
    if (o.reason == family)
        inc.reason = family;
    it->occurrences.insert(occurrence);
    ++inc.count;
    if (!inc.lastSeen.isValid() || o.time > inc.lastSeen)
        inc.lastSeen = o.time;
    if (o.time.isValid() && (!inc.firstSeen.isValid() || o.time < inc.firstSeen))
        inc.firstSeen = o.time;
    if (isPod)
        inc.pods.insert(o.object.name);
    inc.latest = o;
    result.incident = inc;
    return result;
}

QList<Incident> IncidentGrouper::openIncidents(const QDateTime &now) const
{
    QList<Incident> out;
    for (const Entry &e : m_incidents) {
        if (e.incident.lastSeen.isValid() && e.incident.lastSeen.secsTo(now) <= m_options.window.count())
            out << e.incident;
    }
    std::sort(out.begin(), out.end(), [](const Incident &a, const Incident &b) {
        return a.firstSeen != b.firstSeen ? a.firstSeen < b.firstSeen : a.fingerprint < b.fingerprint;
    });
    return out;
}

int IncidentGrouper::expire(const QDateTime &now)
{
    int removed = 0;
    for (auto it = m_incidents.begin(); it != m_incidents.end();) {
        if (!it->incident.lastSeen.isValid() ||
            it->incident.lastSeen.secsTo(now) > m_options.window.count()) {
            it = m_incidents.erase(it);
            ++removed;
        } else {
            ++it;
        }
    }
    return removed;
}

gather::IncidentSubject toSubject(const Incident &incident)
{
    gather::IncidentSubject s;
    s.reason = incident.reason;
    s.namespaceName = incident.namespaceName;
    s.workloadKind = incident.workload.kind;
    s.workloadName = incident.workload.name;
    s.container = incident.container;
    s.image = incident.image;
    s.message = incident.latest.message;
    if (incident.latest.object.kind == QLatin1String("Pod"))
        s.podName = incident.latest.object.name;
    else if (incident.latest.object.kind == QLatin1String("Node"))
        s.nodeName = incident.latest.object.name;
    s.count = incident.count;
    s.pods = QStringList(incident.pods.cbegin(), incident.pods.cend());
    s.pods.sort();
    s.firstSeen = incident.firstSeen;
    s.lastSeen = incident.lastSeen;
    return s;
}

} // namespace vigil::pipeline
