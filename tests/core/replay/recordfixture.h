#pragma once

// A small, complete incident record built through the real Gatherer and
// Redactor, for the replay unit tests: a crash-looping pod of Deployment
// shop/web on node worker-1, with events, logs (one secret to redact) and env.

#include "core/gather/gatherer.h"
#include "core/pipeline/incidentgrouper.h"
#include "core/replay/incidentrecord.h"

namespace vigil::test {

inline const QDateTime kRecordedAt = QDateTime(QDate(2026, 11, 25), QTime(10, 0), Qt::UTC);

struct SampleOptions {
    QString reason = QStringLiteral("CrashLoopBackOff");
    QString namespaceName = QStringLiteral("shop");
    QString logLine = QStringLiteral("panic: dial tcp 10.0.0.12:5432: connect: connection refused");
    QMap<QString, QString> podLabels{{QStringLiteral("app"), QStringLiteral("web")}};
};

inline replay::IncidentRecord sampleRecord(const SampleOptions &o = SampleOptions{})
{
    gather::GatherInput in;
    in.now = kRecordedAt;
    in.subject.reason = o.reason;
    in.subject.namespaceName = o.namespaceName;
    in.subject.workloadKind = QStringLiteral("Deployment");
    in.subject.workloadName = QStringLiteral("web");
    in.subject.container = QStringLiteral("app");
    in.subject.image = QStringLiteral("registry.example/web:1.4");
    in.subject.podName = QStringLiteral("web-7d4b9c8f6-abcde");
    in.subject.message = QStringLiteral("back-off 40s restarting failed container=app");
    in.subject.pods << in.subject.podName;
    in.subject.firstSeen = kRecordedAt.addSecs(-300);
    in.subject.lastSeen = kRecordedAt;

    kube::PodView p;
    p.uid = QStringLiteral("uid-pod-1");
    p.namespaceName = o.namespaceName;
    p.name = in.subject.podName;
    p.nodeName = QStringLiteral("worker-1");
    p.phase = QStringLiteral("Running");
    p.created = kRecordedAt.addSecs(-600);
    p.owner = kube::OwnerRef{QStringLiteral("ReplicaSet"), QStringLiteral("web-7d4b9c8f6"),
                             QStringLiteral("uid-rs"), true};
    p.labels = o.podLabels;
    kube::ContainerStatusView c;
    c.name = QStringLiteral("app");
    c.image = in.subject.image;
    c.state = QStringLiteral("waiting");
    c.reason = o.reason;
    c.restartCount = 7;
    c.lastTerminatedReason = QStringLiteral("Error");
    c.lastExitCode = 1;
    c.lastTerminatedAt = kRecordedAt.addSecs(-40);
    c.memoryLimitBytes = 256 * 1024 * 1024;
    p.containers << c;
    in.pods << p;

    kube::NodeView node;
    node.uid = QStringLiteral("uid-node");
    node.name = QStringLiteral("worker-1");
    node.conditions << kube::NodeCondition{
        QStringLiteral("Ready"), QStringLiteral("True"), QStringLiteral("KubeletReady"),
        QStringLiteral("kubelet is posting ready status"), kRecordedAt.addDays(-1)};
    node.taints << QStringLiteral("dedicated=batch:NoSchedule");
    node.allocatableCpuMilli = 4000;
    node.labels.insert(QStringLiteral("kubernetes.io/hostname"), QStringLiteral("worker-1"));
    in.nodes << node;

    kube::WorkloadView rs;
    rs.kind = QStringLiteral("ReplicaSet");
    rs.namespaceName = o.namespaceName;
    rs.name = QStringLiteral("web-7d4b9c8f6");
    rs.owner =
        kube::OwnerRef{QStringLiteral("Deployment"), QStringLiteral("web"), QStringLiteral("uid-dep"), true};
    rs.revision = QStringLiteral("4");
    rs.created = kRecordedAt.addSecs(-900);
    kube::WorkloadView dep;
    dep.kind = QStringLiteral("Deployment");
    dep.namespaceName = o.namespaceName;
    dep.name = QStringLiteral("web");
    dep.replicas = 1;
    dep.revision = QStringLiteral("4");
    dep.labels.insert(QStringLiteral("team"), QStringLiteral("shop"));
    in.workloads << rs << dep;

    kube::EventView e;
    e.uid = QStringLiteral("uid-ev");
    e.namespaceName = o.namespaceName;
    e.name = QStringLiteral("web.1");
    e.type = QStringLiteral("Warning");
    e.reason = QStringLiteral("BackOff");
    e.message = QStringLiteral("Back-off restarting failed container app in pod ") + p.name;
    e.involved = kube::ObjectRef{QStringLiteral("Pod"), QStringLiteral("v1"), o.namespaceName, p.name, p.uid};
    e.count = 5;
    e.firstSeen = kRecordedAt.addSecs(-300);
    e.lastSeen = kRecordedAt.addSecs(-10);
    e.source = QStringLiteral("kubelet");
    in.events << e;

    in.previousLog =
        QStringLiteral("starting web 1.4\nusing token ghp_abcdefghijklmnopqrstuvwxyz0123456789\n") +
        o.logLine + u'\n';
    in.env << gather::EnvVar{QStringLiteral("app"), QStringLiteral("DB_PASSWORD"), QStringLiteral("hunter2")};
    in.usage << gather::ContainerUsage{QStringLiteral("app"), 15, 48 * 1024 * 1024};

    gather::Redactor redactor;
    const gather::Evidence evidence = gather::Gatherer().gather(in, redactor);

    pipeline::Incident incident;
    incident.fingerprint = QStringLiteral("fp-") + o.reason + u'-' + o.namespaceName;
    incident.reason = o.reason;
    incident.namespaceName = o.namespaceName;
    incident.workload = pipeline::WorkloadKey{QStringLiteral("Deployment"), QStringLiteral("web")};
    incident.container = QStringLiteral("app");
    incident.count = 1;
    incident.pods.insert(p.name);
    incident.latest.reason = o.reason;
    incident.latest.object =
        kube::ObjectRef{QStringLiteral("Pod"), QStringLiteral("v1"), o.namespaceName, p.name, p.uid};
    return replay::makeRecord(incident, evidence, kRecordedAt, QStringLiteral("v1.35.4"));
}

} // namespace vigil::test
