#include "core/gather/gatherer.h"

#include <QRegularExpression>
#include <QSet>

#include <algorithm>

namespace vigil::gather {
namespace {

constexpr int kCharsPerToken = 4;
constexpr int kMaxOwnerDepth = 4;
constexpr int kOldErrorLines = 20; // error lines kept from before the last logLines

QString quantity(int64_t v, bool memory)
{
    if (v < 0)
        return QStringLiteral("-");
    if (!memory)
        return QString::number(v) + u'm';
    constexpr int64_t Mi = 1024 * 1024;
    if (v >= Mi && v % Mi == 0)
        return QString::number(v / Mi) + QStringLiteral("Mi");
    return QString::number(v / Mi) + QStringLiteral("Mi(") + QString::number(v) + QStringLiteral("B)");
}

QString ts(const QDateTime &t)
{
    return t.isValid() ? t.toUTC().toString(Qt::ISODate) : QStringLiteral("-");
}

// "cpu 3400m (85% of allocatable)": the share is what tells pressure apart from a busy node.
QString usageWithShare(int64_t used, int64_t allocatable, bool memory)
{
    QString text = quantity(used, memory);
    if (used >= 0 && allocatable > 0)
        text += QStringLiteral(" (%1% of allocatable)").arg(used * 100 / allocatable);
    return text;
}

QString nodeUsageLine(const NodeUsage &u, const kube::NodeView &n)
{
    QString line = QStringLiteral("usage: cpu %1, memory %2")
                       .arg(usageWithShare(u.cpuMilli, n.allocatableCpuMilli, false),
                            usageWithShare(u.memoryBytes, n.allocatableMemoryBytes, true));
    if (u.timestamp.isValid())
        line += QStringLiteral(", sampled %1").arg(ts(u.timestamp)) +
                (u.window.isEmpty() ? QString() : QStringLiteral(" over ") + u.window);
    return line;
}

QString shorten(const QString &line, int max)
{
    if (line.size() <= max)
        return line;
    return line.left(max) + QStringLiteral(" [cut %1 chars]").arg(line.size() - max);
}

QStringList splitLines(const QString &text)
{
    QStringList lines = text.split(u'\n');
    for (QString &l : lines) {
        if (l.endsWith(u'\r'))
            l.chop(1);
    }
    while (!lines.isEmpty() && lines.last().trimmed().isEmpty())
        lines.removeLast();
    return lines;
}

// The last `keep` lines plus up to kOldErrorLines error lines from before them.
QStringList tailWithOldErrors(const QStringList &lines, int keep, int *dropped)
{
    const qsizetype start = std::max<qsizetype>(0, lines.size() - keep);
    QStringList older;
    for (qsizetype i = start - 1; i >= 0 && older.size() < kOldErrorLines; --i) {
        if (looksLikeError(lines.at(i)))
            older.prepend(lines.at(i));
    }
    *dropped = static_cast<int>(start - older.size());
    return older + lines.mid(start);
}

struct Section {
    QString title;
    QStringList lines;
};

int sizeOf(const Section &s)
{
    int n = static_cast<int>(s.title.size()) + 1;
    for (const QString &l : s.lines)
        n += static_cast<int>(l.size()) + 1;
    return n;
}

// Keeps the tail and the error lines of a log within `allowance` chars;
// gaps become "[cut N log lines]" markers. Returns the number of lines cut.
int budgetLog(Section *s, int allowance)
{
    const QStringList lines = s->lines;
    if (sizeOf(*s) <= allowance)
        return 0;
    const int n = static_cast<int>(lines.size());
    const int available = allowance - static_cast<int>(s->title.size()) - 1;
    // Priority order: the last lines (up to 40% of the allowance), then error
    // lines newest first, then everything else newest first.
    QList<int> order;
    int tailChars = 0;
    int i = n - 1;
    for (; i >= 0; --i) {
        const int len = static_cast<int>(lines.at(i).size()) + 1;
        if (!order.isEmpty() && tailChars + len > available * 2 / 5)
            break;
        order << i;
        tailChars += len;
    }
    for (int j = i; j >= 0; --j) {
        if (looksLikeError(lines.at(j)))
            order << j;
    }
    for (int j = i; j >= 0; --j) {
        if (!looksLikeError(lines.at(j)))
            order << j;
    }

    auto render = [&](const QList<bool> &keep, QStringList *out) {
        out->clear();
        int gap = 0;
        for (int k = 0; k < n; ++k) {
            if (keep.at(k)) {
                if (gap)
                    *out << QStringLiteral("[cut %1 log lines]").arg(gap);
                gap = 0;
                *out << lines.at(k);
            } else {
                ++gap;
            }
        }
        if (gap)
            *out << QStringLiteral("[cut %1 log lines]").arg(gap);
    };

    QList<bool> keep(n, false);
    QStringList rendered;
    int kept = 0;
    for (int idx : order) {
        keep[idx] = true;
        render(keep, &rendered);
        Section trial{s->title, rendered};
        if (sizeOf(trial) > allowance && kept > 0) {
            keep[idx] = false;
            continue; // a shorter line further down the order may still fit
        }
        ++kept;
    }
    render(keep, &rendered);
    // Even a single line may exceed the allowance: then keep only the markers.
    if (sizeOf(Section{s->title, rendered}) > allowance) {
        keep.fill(false);
        kept = 0;
        render(keep, &rendered);
    }
    s->lines = rendered;
    return n - kept;
}

QString conditionsLine(const QList<kube::NodeCondition> &conditions)
{
    QStringList parts;
    for (const kube::NodeCondition &c : conditions) {
        QString p = c.type + u'=' + c.status;
        if (c.status != QLatin1String(c.type == QLatin1String("Ready") ? "True" : "False") &&
            !c.reason.isEmpty())
            p += QStringLiteral(" (") + c.reason +
                 (c.message.isEmpty() ? QString() : QStringLiteral(": ") + c.message) + u')';
        parts << p;
    }
    return parts.join(QStringLiteral(", "));
}

QString containerLine(const kube::ContainerStatusView &c, bool init)
{
    QString line = (init ? QStringLiteral("init container ") : QStringLiteral("container ")) + c.name +
                   QStringLiteral(": state=") + (c.state.isEmpty() ? QStringLiteral("unknown") : c.state);
    if (!c.reason.isEmpty())
        line += QStringLiteral(" reason=") + c.reason;
    if (c.state == QLatin1String("terminated"))
        line += QStringLiteral(" exit=") + QString::number(c.exitCode);
    line += QStringLiteral(" ready=") + (c.ready ? QStringLiteral("true") : QStringLiteral("false")) +
            QStringLiteral(" restarts=") + QString::number(c.restartCount);
    if (!c.lastTerminatedReason.isEmpty() || c.lastExitCode != 0)
        line += QStringLiteral(" last=") + c.lastTerminatedReason + u'(' + QString::number(c.lastExitCode) +
                QStringLiteral(") at ") + ts(c.lastTerminatedAt);
    line += QStringLiteral(" image=") + c.image;
    if (!c.message.isEmpty())
        line += QStringLiteral(" message=\"") + c.message + u'"';
    return line;
}

QString resourcesLine(const kube::ContainerStatusView &c)
{
    return QStringLiteral("  resources %1: cpu request %2 limit %3, memory request %4 limit %5")
        .arg(c.name, quantity(c.cpuRequestMilli, false), quantity(c.cpuLimitMilli, false),
             quantity(c.memoryRequestBytes, true), quantity(c.memoryLimitBytes, true));
}

} // namespace

int estimateTokens(const QString &text)
{
    return static_cast<int>((text.size() + kCharsPerToken - 1) / kCharsPerToken);
}

bool looksLikeError(const QString &line)
{
    static const QRegularExpression re(
        QStringLiteral(
            "\\b(?:error|err|errors|exception|fatal|panic|panicked|fail|failed|failure|traceback|oom|"
            "outofmemory"
            "|killed|denied|refused|timeout|timed out|unable|cannot|can't|invalid|missing|not found|no such"
            "|segfault|segmentation fault|abort|aborted|crash|crashed|unhealthy)\\b|^E\\d{4} |\\bat "
            "[\\w.$]+\\("),
        QRegularExpression::CaseInsensitiveOption);
    return re.match(line).hasMatch();
}

QStringList Evidence::errorLines() const
{
    QStringList out;
    for (const QStringList *log : {&previousLog, &currentLog}) {
        for (const QString &l : *log) {
            if (looksLikeError(l))
                out << l;
        }
    }
    return out;
}

Gatherer::Gatherer(Options options)
    : m_options(options)
{
}

Evidence Gatherer::gather(const GatherInput &in, Redactor &redactor) const
{
    Evidence ev;
    ev.subject = in.subject;
    ev.tokenBudget = m_options.tokenBudget;
    auto red = [&](const QString &s) {
        if (s.isEmpty())
            return s;
        auto r = redactor.redact(s);
        ev.redactions.merge(r.report);
        return r.text;
    };
    ev.subject.message = red(ev.subject.message);

    // Focus pod.
    for (const kube::PodView &p : in.pods) {
        if (p.name == in.subject.podName || (in.subject.podName.isEmpty() && !ev.pod)) {
            ev.pod = p;
            break;
        }
    }
    if (ev.pod) {
        kube::PodView &p = *ev.pod;
        p.message = red(p.message);
        p.scheduleMessage = red(p.scheduleMessage);
        for (auto *list : {&p.initContainers, &p.containers}) {
            for (kube::ContainerStatusView &c : *list)
                c.message = red(c.message);
        }
    }

    // Node: the pod's, else the incident's.
    const QString nodeName = ev.pod && !ev.pod->nodeName.isEmpty() ? ev.pod->nodeName : in.subject.nodeName;
    for (const kube::NodeView &n : in.nodes) {
        if (!nodeName.isEmpty() && n.name == nodeName) {
            ev.node = n;
            for (kube::NodeCondition &c : ev.node->conditions)
                c.message = red(c.message);
        }
    }
    for (const NodeUsage &u : in.nodeUsage) {
        if (!nodeName.isEmpty() && u.node == nodeName)
            ev.nodeUsage = u;
    }

    // Owner chain, nearest first.
    kube::OwnerRef next = ev.pod ? ev.pod->owner : kube::OwnerRef{};
    if (next.kind.isEmpty() && !in.subject.workloadKind.isEmpty() &&
        in.subject.workloadKind != QLatin1String("Node") && in.subject.workloadKind != QLatin1String("Pod"))
        next = kube::OwnerRef{in.subject.workloadKind, in.subject.workloadName, QString(), true};
    const QString ns = ev.pod ? ev.pod->namespaceName : in.subject.namespaceName;
    for (int depth = 0; depth < kMaxOwnerDepth && !next.kind.isEmpty(); ++depth) {
        const auto it =
            std::find_if(in.workloads.cbegin(), in.workloads.cend(), [&](const kube::WorkloadView &w) {
                return w.kind == next.kind && w.name == next.name && w.namespaceName == ns;
            });
        if (it == in.workloads.cend())
            break;
        ev.owners << *it;
        next = it->owner;
    }
    for (const kube::WorkloadView &w : ev.owners) {
        if (w.kind != QLatin1String("Deployment"))
            continue;
        ev.rolloutRevision = w.revision;
        for (const kube::WorkloadView &rs : in.workloads) {
            if (rs.kind == QLatin1String("ReplicaSet") && rs.owner.name == w.name &&
                rs.namespaceName == w.namespaceName && rs.revision == w.revision && !w.revision.isEmpty())
                ev.rolloutTime = rs.created;
        }
    }

    // Relevant events: about the pods, the node or the owners; recent; newest first.
    QSet<QString> names(in.subject.pods.cbegin(), in.subject.pods.cend());
    if (ev.pod)
        names.insert(ev.pod->name);
    if (!nodeName.isEmpty())
        names.insert(nodeName);
    for (const kube::WorkloadView &w : ev.owners)
        names.insert(w.name);
    for (const kube::EventView &e : in.events) {
        if (!names.contains(e.involved.name))
            continue;
        const QDateTime last = e.lastSeen.isValid() ? e.lastSeen : e.firstSeen;
        if (in.now.isValid() && last.isValid() && last.secsTo(in.now) > m_options.eventAgeSeconds)
            continue;
        ev.events << e;
    }
    std::stable_sort(ev.events.begin(), ev.events.end(),
                     [](const kube::EventView &a, const kube::EventView &b) {
                         const QDateTime ta = a.lastSeen.isValid() ? a.lastSeen : a.firstSeen;
                         const QDateTime tb = b.lastSeen.isValid() ? b.lastSeen : b.firstSeen;
                         if (ta != tb)
                             return ta > tb;
                         return a.name < b.name;
                     });
    int eventsDropped = 0;
    if (ev.events.size() > m_options.maxEvents) {
        eventsDropped = static_cast<int>(ev.events.size()) - m_options.maxEvents;
        ev.events = ev.events.mid(0, m_options.maxEvents);
    }
    for (kube::EventView &e : ev.events)
        e.message = red(e.message);

    // Logs: redacted as whole texts so multi-line secrets (PEM) are caught.
    int prevDropped = 0;
    int curDropped = 0;
    ev.previousLog = tailWithOldErrors(splitLines(red(in.previousLog)), m_options.logLines, &prevDropped);
    ev.currentLog = tailWithOldErrors(splitLines(red(in.currentLog)), m_options.logLines, &curDropped);
    ev.usage = in.usage;
    for (const EnvVar &e : in.env) {
        EnvVar r = e;
        const RedactionReport before = redactor.report();
        r.value = redactor.redactEnvValue(e.name, e.value);
        for (auto it = redactor.report().counts.cbegin(); it != redactor.report().counts.cend(); ++it) {
            const int delta = it.value() - before.counts.value(it.key());
            if (delta > 0)
                ev.redactions.counts[it.key()] += delta;
        }
        ev.env << r;
    }

    // Render.
    const int maxLine = m_options.maxLineChars;
    QList<Section> fixed;
    const IncidentSubject &s = ev.subject;
    Section incident{QStringLiteral("## Incident"), {}};
    incident.lines << QStringLiteral("reason: ") + s.reason;
    if (!s.workloadKind.isEmpty())
        incident.lines << QStringLiteral("workload: ") + s.workloadKind + u' ' +
                              (s.namespaceName.isEmpty() ? QString() : s.namespaceName + u'/') +
                              s.workloadName;
    if (!s.container.isEmpty())
        incident.lines << QStringLiteral("container: ") + s.container +
                              (s.image.isEmpty() ? QString() : QStringLiteral(" image: ") + s.image);
    incident.lines << QStringLiteral("occurrences: %1 across %2 pod(s), first %3, last %4")
                          .arg(s.count)
                          .arg(s.pods.size())
                          .arg(ts(s.firstSeen), ts(s.lastSeen));
    if (!s.pods.isEmpty()) {
        QStringList pods = s.pods;
        pods.sort();
        const int shown = std::min<int>(10, static_cast<int>(pods.size()));
        incident.lines << QStringLiteral("pods: ") + pods.mid(0, shown).join(QStringLiteral(", ")) +
                              (pods.size() > shown ? QStringLiteral(" (+%1 more)").arg(pods.size() - shown)
                                                   : QString());
    }
    if (!s.message.isEmpty())
        incident.lines << QStringLiteral("message: ") + s.message;
    fixed << incident;

    if (ev.pod) {
        const kube::PodView &p = *ev.pod;
        Section pod{QStringLiteral("## Pod ") + p.namespaceName + u'/' + p.name, {}};
        pod.lines << QStringLiteral("phase: %1  node: %2  ready: %3  scheduled: %4  created: %5")
                         .arg(p.phase, p.nodeName.isEmpty() ? QStringLiteral("-") : p.nodeName,
                              p.ready ? QStringLiteral("true") : QStringLiteral("false"),
                              p.scheduled ? QStringLiteral("true") : QStringLiteral("false"), ts(p.created));
        if (!p.reason.isEmpty() || !p.message.isEmpty())
            pod.lines << QStringLiteral("status: ") + p.reason + u' ' + p.message;
        if (!p.scheduled && !p.scheduleMessage.isEmpty())
            pod.lines << QStringLiteral("scheduling: ") + p.scheduleMessage;
        for (const kube::ContainerStatusView &c : p.initContainers)
            pod.lines << containerLine(c, true);
        for (const kube::ContainerStatusView &c : p.containers) {
            pod.lines << containerLine(c, false) << resourcesLine(c);
            for (const ContainerUsage &u : ev.usage) {
                if (u.container == c.name)
                    pod.lines << QStringLiteral("  usage %1: cpu %2, memory %3")
                                     .arg(c.name, quantity(u.cpuMilli, false), quantity(u.memoryBytes, true));
            }
        }
        for (const EnvVar &e : ev.env)
            pod.lines << QStringLiteral("  env ") + e.container + u' ' + e.name + u'=' + e.value;
        fixed << pod;
    }

    if (!ev.owners.isEmpty()) {
        Section owners{QStringLiteral("## Owners"), {}};
        for (const kube::WorkloadView &w : ev.owners) {
            owners.lines << QStringLiteral("%1 %2: replicas %3, ready %4, updated %5, available %6, "
                                           "generation %7/%8, revision %9")
                                .arg(w.kind, w.name)
                                .arg(w.replicas)
                                .arg(w.readyReplicas)
                                .arg(w.updatedReplicas)
                                .arg(w.availableReplicas)
                                .arg(w.observedGeneration)
                                .arg(w.generation)
                                .arg(w.revision.isEmpty() ? QStringLiteral("-") : w.revision);
        }
        if (!ev.rolloutRevision.isEmpty())
            owners.lines << QStringLiteral("last rollout: revision ") + ev.rolloutRevision +
                                QStringLiteral(" at ") + ts(ev.rolloutTime);
        fixed << owners;
    }

    if (ev.node) {
        const kube::NodeView &n = *ev.node;
        Section node{QStringLiteral("## Node ") + n.name, {}};
        node.lines << QStringLiteral("conditions: ") + conditionsLine(n.conditions);
        node.lines << QStringLiteral("allocatable: cpu %1, memory %2, pods %3")
                          .arg(quantity(n.allocatableCpuMilli, false),
                               quantity(n.allocatableMemoryBytes, true),
                               n.allocatablePods < 0 ? QStringLiteral("-")
                                                     : QString::number(n.allocatablePods));
        node.lines << QStringLiteral("unschedulable: ") +
                          (n.unschedulable ? QStringLiteral("true") : QStringLiteral("false")) +
                          QStringLiteral("  taints: ") +
                          (n.taints.isEmpty() ? QStringLiteral("none") : n.taints.join(QStringLiteral(", ")));
        if (ev.nodeUsage)
            node.lines << nodeUsageLine(*ev.nodeUsage, n);
        fixed << node;
    }

    for (Section &sec : fixed) {
        for (QString &l : sec.lines)
            l = shorten(l, maxLine);
    }

    Section events{QStringLiteral("## Events (newest first)"), {}};
    for (const kube::EventView &e : ev.events) {
        events.lines << shorten(QStringLiteral("%1 %2 %3 %4/%5 x%6: %7")
                                    .arg(ts(e.lastSeen.isValid() ? e.lastSeen : e.firstSeen), e.type,
                                         e.reason, e.involved.kind, e.involved.name)
                                    .arg(e.count)
                                    .arg(e.message),
                                maxLine);
    }
    const QString containerName = s.container.isEmpty() ? QStringLiteral("-") : s.container;
    Section previous{QStringLiteral("## Previous logs (") + containerName + u')', {}};
    for (const QString &l : ev.previousLog)
        previous.lines << shorten(l, maxLine);
    Section current{QStringLiteral("## Current logs (") + containerName + u')', {}};
    for (const QString &l : ev.currentLog)
        current.lines << shorten(l, maxLine);

    // Budget: fixed sections always; events get up to 30% of what is left,
    // the logs share the rest (an empty or short log leaves room to the other).
    const int budgetChars = m_options.tokenBudget * kCharsPerToken;
    constexpr int kReserve = 120; // the trailing "[cut ...]" summary
    int fixedChars = 0;
    for (const Section &sec : fixed)
        fixedChars += sizeOf(sec) + 1;
    int remaining = std::max(0, budgetChars - fixedChars - kReserve);

    int eventsCut = eventsDropped;
    if (!events.lines.isEmpty()) {
        const int allowance = std::max(remaining - sizeOf(previous) - sizeOf(current), remaining * 3 / 10);
        while (!events.lines.isEmpty() && sizeOf(events) > allowance) {
            events.lines.removeLast(); // the oldest
            ++eventsCut;
        }
        if (events.lines.isEmpty())
            events.lines << QStringLiteral("[cut all events]");
        remaining -= sizeOf(events) + 1;
    }
    int logCut = prevDropped + curDropped;
    {
        const bool both = !previous.lines.isEmpty() && !current.lines.isEmpty();
        const int half = both ? remaining / 2 - 1 : remaining - 1;
        Section *first = &previous;
        Section *second = &current;
        if (sizeOf(current) < sizeOf(previous))
            std::swap(first, second); // the smaller one first, so its leftovers go to the other
        if (!first->lines.isEmpty()) {
            logCut += budgetLog(first, half);
            remaining -= sizeOf(*first) + 1;
        }
        if (!second->lines.isEmpty())
            logCut += budgetLog(second, remaining - 1);
    }

    QStringList out;
    auto appendSection = [&out](const Section &sec) {
        if (sec.lines.isEmpty())
            return;
        out << sec.title;
        out += sec.lines;
        out << QString();
    };
    for (const Section &sec : fixed)
        appendSection(sec);
    appendSection(events);
    appendSection(previous);
    appendSection(current);

    if (logCut > 0)
        ev.cut << QStringLiteral("%1 log lines").arg(logCut);
    if (eventsCut > 0)
        ev.cut << QStringLiteral("%1 events").arg(eventsCut);
    QString text = out.join(u'\n');
    if (!ev.cut.isEmpty())
        text += QStringLiteral("[cut ") + ev.cut.join(QStringLiteral(", ")) + QStringLiteral("]\n");
    // Last resort (huge fixed sections): a hard cut that still says what it did.
    if (text.size() > budgetChars) {
        const qsizetype keep = std::max<qsizetype>(0, budgetChars - 40);
        const qsizetype cutChars = text.size() - keep;
        ev.cut << QStringLiteral("%1 chars").arg(cutChars);
        text = text.left(keep) + QStringLiteral("\n[cut %1 chars]\n").arg(cutChars);
    }
    ev.text = text;
    ev.estimatedTokens = estimateTokens(text);
    return ev;
}

} // namespace vigil::gather
