#pragma once

// IncidentGrouper: batches Observations into Incidents so that thirty
// crashing replicas of one Deployment are one incident with count 30.

#include "core/gather/evidence.h"
#include "core/pipeline/detector.h"

#include <QDateTime>
#include <QHash>
#include <QList>
#include <QSet>
#include <QString>

#include <chrono>
#include <functional>
#include <optional>

namespace vigil::pipeline {

/// The workload an observation belongs to ("Deployment"/"web", "Node"/"n1").
struct WorkloadKey {
    QString kind;
    QString name;
    bool operator==(const WorkloadKey &) const = default;
};

/// One problem on one workload, seen count times within the window.
struct Incident {
    QString fingerprint;
    QString reason;
    QString namespaceName;
    WorkloadKey workload;
    QString container;
    QString image;
    QDateTime firstSeen;
    QDateTime lastSeen;
    int count = 0;      ///< distinct occurrences (see Observation::occurrence)
    QSet<QString> pods; ///< names of the pods involved (empty for node incidents)
    Observation latest;
};

/// Maps an observation to its workload (e.g. ReplicaSet -> Deployment via
/// the store); std::nullopt falls back to IncidentGrouper::workloadOf().
using WorkloadResolver = std::function<std::optional<WorkloadKey>(const Observation &)>;

struct IncidentGrouperOptions {
    std::chrono::seconds window{300}; ///< observations closer than this join the open incident
    WorkloadResolver resolver;
};

class IncidentGrouper final {
public:
    using Options = IncidentGrouperOptions;

    struct AddResult {
        Incident incident;      ///< the incident after the observation was applied
        bool opened = false;    ///< a new incident was opened
        bool duplicate = false; ///< the occurrence was already counted; nothing changed
    };

    explicit IncidentGrouper(Options options = Options{});

    AddResult add(const Observation &observation);
    /// Incidents whose last observation is within the window of `now`, oldest first.
    QList<Incident> openIncidents(const QDateTime &now) const;
    /// Forgets incidents quiet for longer than the window; returns how many.
    int expire(const QDateTime &now);
    int size() const { return static_cast<int>(m_incidents.size()); }

    /// The default workload derivation: a ReplicaSet-owned pod belongs to the
    /// Deployment named by stripping the pod-template-hash suffix; an ownerless
    /// pod whose name looks generated (name-<hash>-<suffix>) is grouped the same way.
    static WorkloadKey workloadOf(const Observation &observation);
    /// Strips what varies between replicas and repeats: UUIDs, IPs, hex ids,
    /// generated pod names, digits.
    static QString normalizeMessage(const QString &message);
    /// The reason an observation is grouped under: reasons that alternate for one failure share one.
    static QString reasonFamily(const QString &reason);
    /// Whether the normalized message tells incidents of this family apart (see the .cpp).
    static bool messageDistinguishes(const QString &family);
    /// Short SHA-256 over the identity fields.
    static QString fingerprint(const QString &namespaceName, const WorkloadKey &workload,
                               const QString &container, const QString &reason,
                               const QString &normalizedMessage, const QString &image);

private:
    struct Entry {
        Incident incident;
        QSet<QString> occurrences;
    };

    Options m_options;
    QHash<QString, Entry> m_incidents; // by fingerprint
};

/// The incident as the gatherer sees it (gather sits below pipeline).
gather::IncidentSubject toSubject(const Incident &incident);

} // namespace vigil::pipeline
