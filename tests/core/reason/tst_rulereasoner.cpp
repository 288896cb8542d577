#include "core/reason/rulereasoner.h"

#include "core/gather/evidence.h"
#include "core/pipeline/detector.h"
#include "core/reason/analyzers.h"
#include "core/reason/replyvalidator.h"

#include <QTest>

using namespace vigil;
using namespace vigil::reason;
using gather::Evidence;

namespace {

const QDateTime kNow = QDateTime(QDate(2026, 1, 10), QTime(12, 0), Qt::UTC);

Evidence podEvidence(const QString &reason, int pods = 1)
{
    Evidence ev;
    ev.subject.reason = reason;
    ev.subject.namespaceName = QStringLiteral("shop");
    ev.subject.workloadKind = QStringLiteral("Deployment");
    ev.subject.workloadName = QStringLiteral("web");
    ev.subject.container = QStringLiteral("app");
    ev.subject.image = QStringLiteral("registry.example/web:1.4");
    ev.subject.podName = QStringLiteral("web-7d4b9c8f6-x2k9p");
    ev.subject.count = pods;
    ev.subject.lastSeen = kNow;
    for (int i = 0; i < pods; ++i)
        ev.subject.pods << (i == 0 ? ev.subject.podName : QStringLiteral("web-7d4b9c8f6-p%1").arg(i));
    kube::PodView p;
    p.namespaceName = QStringLiteral("shop");
    p.name = ev.subject.podName;
    p.nodeName = QStringLiteral("worker-1");
    p.phase = QStringLiteral("Running");
    kube::ContainerStatusView c;
    c.name = QStringLiteral("app");
    c.image = ev.subject.image;
    c.state = QStringLiteral("waiting");
    c.reason = reason;
    c.restartCount = 6;
    c.lastTerminatedReason = QStringLiteral("Error");
    c.lastExitCode = 1;
    c.memoryLimitBytes = 256 * 1024 * 1024;
    p.containers << c;
    ev.pod = p;
    return ev;
}

Evidence nodeEvidence(const QString &reason, const QString &type, const QString &status)
{
    Evidence ev;
    ev.subject.reason = reason;
    ev.subject.workloadKind = QStringLiteral("Node");
    ev.subject.workloadName = QStringLiteral("worker-1");
    ev.subject.nodeName = QStringLiteral("worker-1");
    kube::NodeView n;
    n.name = QStringLiteral("worker-1");
    n.conditions << kube::NodeCondition{
        QStringLiteral("Ready"), type == QLatin1String("Ready") ? status : QStringLiteral("True"),
        QStringLiteral("KubeletNotReady"), QStringLiteral("PLEG is not healthy"), kNow.addSecs(-120)};
    if (type != QLatin1String("Ready"))
        n.conditions << kube::NodeCondition{type, status, QStringLiteral("Kubelet") + type,
                                            QStringLiteral("kubelet has ") + type, kNow};
    ev.node = n;
    return ev;
}

kube::EventView warning(const QString &reason, const QString &message)
{
    kube::EventView e;
    e.type = QStringLiteral("Warning");
    e.reason = reason;
    e.message = message;
    e.lastSeen = kNow;
    return e;
}

Evidence scenario(const QString &name)
{
    if (name == QLatin1String("crash with app error")) {
        Evidence ev = podEvidence(QStringLiteral("CrashLoopBackOff"), 3);
        ev.previousLog = {QStringLiteral("starting"),
                          QStringLiteral("FATAL: dial tcp 10.0.3.7:5432: connect: connection refused")};
        return ev;
    }
    if (name == QLatin1String("crash silent one pod"))
        return podEvidence(QStringLiteral("CrashLoopBackOff"), 1);
    if (name == QLatin1String("crash silent five pods"))
        return podEvidence(QStringLiteral("CrashLoopBackOff"), 5);
    if (name == QLatin1String("oom")) {
        Evidence ev = podEvidence(QStringLiteral("OOMKilled"), 2);
        ev.pod->containers.first().lastTerminatedReason = QStringLiteral("OOMKilled");
        ev.pod->containers.first().lastExitCode = 137;
        return ev;
    }
    if (name == QLatin1String("image not found")) {
        Evidence ev = podEvidence(QStringLiteral("ImagePullBackOff"));
        ev.subject.message = QStringLiteral("Back-off pulling image \"registry.example/web:1.4\"");
        ev.events << warning(
            QStringLiteral("Failed"),
            QStringLiteral(
                "Failed to pull image: manifest unknown: manifest tagged by \"1.4\" is not found"));
        return ev;
    }
    if (name == QLatin1String("image unauthorized")) {
        Evidence ev = podEvidence(QStringLiteral("ErrImagePull"));
        ev.subject.message = QStringLiteral(
            "pull access denied, repository does not exist or may require authorization: unauthorized");
        return ev;
    }
    if (name == QLatin1String("missing secret")) {
        Evidence ev = podEvidence(QStringLiteral("CreateContainerConfigError"));
        ev.subject.message = QStringLiteral("secret \"db-credentials\" not found");
        return ev;
    }
    if (name == QLatin1String("create error")) {
        Evidence ev = podEvidence(QStringLiteral("CreateContainerError"));
        ev.subject.message =
            QStringLiteral("failed to create containerd container: mount /data: permission denied");
        return ev;
    }
    if (name == QLatin1String("invalid image")) {
        Evidence ev = podEvidence(QStringLiteral("InvalidImageName"));
        ev.subject.image = QStringLiteral("registry.example/Web:::1");
        return ev;
    }
    if (name == QLatin1String("run error")) {
        Evidence ev = podEvidence(QStringLiteral("RunContainerError"));
        ev.subject.message =
            QStringLiteral("exec: \"/app/serve\": stat /app/serve: no such file or directory");
        return ev;
    }
    if (name == QLatin1String("exit recovered")) {
        Evidence ev = podEvidence(QStringLiteral("NonZeroExit"));
        ev.pod->containers.first().state = QStringLiteral("running");
        ev.pod->containers.first().reason.clear();
        return ev;
    }
    if (name == QLatin1String("exit with errors")) {
        Evidence ev = podEvidence(QStringLiteral("NonZeroExit"), 2);
        ev.pod->containers.first().state = QStringLiteral("terminated");
        ev.pod->containers.first().exitCode = 2;
        ev.previousLog = {QStringLiteral("panic: runtime error: index out of range")};
        return ev;
    }
    if (name == QLatin1String("insufficient cpu")) {
        Evidence ev = podEvidence(QStringLiteral("FailedScheduling"), 4);
        ev.pod->phase = QStringLiteral("Pending");
        ev.pod->scheduled = false;
        ev.pod->containers.clear();
        ev.pod->scheduleMessage = QStringLiteral(
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available");
        return ev;
    }
    if (name == QLatin1String("node selector")) {
        Evidence ev = podEvidence(QStringLiteral("FailedScheduling"));
        ev.events << warning(
            QStringLiteral("FailedScheduling"),
            QStringLiteral("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."));
        return ev;
    }
    if (name == QLatin1String("readiness one pod")) {
        Evidence ev = podEvidence(QStringLiteral("ReadinessFailing"));
        ev.events << warning(
            QStringLiteral("Unhealthy"),
            QStringLiteral("Readiness probe failed: HTTP probe failed with statuscode: 503"));
        return ev;
    }
    if (name == QLatin1String("readiness after rollout")) {
        Evidence ev = podEvidence(QStringLiteral("ReadinessFailing"), 4);
        ev.rolloutRevision = QStringLiteral("7");
        ev.rolloutTime = kNow.addSecs(-300);
        ev.events << warning(QStringLiteral("Unhealthy"),
                             QStringLiteral("Readiness probe failed: connection refused"));
        return ev;
    }
    if (name == QLatin1String("evicted")) {
        Evidence ev = podEvidence(QStringLiteral("Evicted"), 2);
        ev.pod->message = QStringLiteral("The node was low on resource: memory.");
        return ev;
    }
    if (name == QLatin1String("node not ready"))
        return nodeEvidence(QStringLiteral("NodeNotReady"), QStringLiteral("Ready"),
                            QStringLiteral("Unknown"));
    if (name == QLatin1String("node not ready cordoned")) {
        Evidence ev =
            nodeEvidence(QStringLiteral("NodeNotReady"), QStringLiteral("Ready"), QStringLiteral("False"));
        ev.node->unschedulable = true;
        return ev;
    }
    if (name == QLatin1String("memory pressure"))
        return nodeEvidence(QStringLiteral("NodeMemoryPressure"), QStringLiteral("MemoryPressure"),
                            QStringLiteral("True"));
    if (name == QLatin1String("disk pressure"))
        return nodeEvidence(QStringLiteral("NodeDiskPressure"), QStringLiteral("DiskPressure"),
                            QStringLiteral("True"));
    if (name == QLatin1String("pid pressure"))
        return nodeEvidence(QStringLiteral("NodePIDPressure"), QStringLiteral("PIDPressure"),
                            QStringLiteral("True"));
    qFatal("unknown scenario");
}

} // namespace

class TestRuleReasoner final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void everyDetectorReasonHasAnAnalyzer();
    void diagnose_data();
    void diagnose();
    void unknownReasonIsAnError();
    void thinEvidenceNeverCrashes();
};

void TestRuleReasoner::everyDetectorReasonHasAnAnalyzer()
{
    QStringList analyzed = analyzedReasons();
    QStringList detected = pipeline::incidentReasonNames();
    analyzed.sort();
    detected.sort();
    QCOMPARE(analyzed, detected);
}

void TestRuleReasoner::diagnose_data()
{
    QTest::addColumn<QString>("scenario");
    QTest::addColumn<QString>("category");
    QTest::addColumn<QString>("action");
    QTest::addColumn<QString>("mentions");

    auto row = [](const char *scenario, const char *category, const char *action, const char *mentions) {
        QTest::newRow(scenario) << QString::fromLatin1(scenario) << QString::fromLatin1(category)
                                << QString::fromLatin1(action) << QString::fromLatin1(mentions);
    };
    row("crash with app error", "CrashLoopBackOff", "create_alert", "connection refused");
    row("crash silent one pod", "CrashLoopBackOff", "restart_pod", "no error line");
    row("crash silent five pods", "CrashLoopBackOff", "create_alert", "crash-looping");
    row("oom", "OOMKilled", "create_alert", "256Mi");
    row("image not found", "ImagePullBackOff", "create_alert", "does not exist");
    row("image unauthorized", "ErrImagePull", "create_alert", "refuses access");
    row("missing secret", "CreateContainerConfigError", "create_alert", "db-credentials");
    row("create error", "CreateContainerError", "create_alert", "permission denied");
    row("invalid image", "InvalidImageName", "create_alert", "Web:::1");
    row("run error", "RunContainerError", "create_alert", "/app/serve");
    row("exit recovered", "NonZeroExit", "none", "running again");
    row("exit with errors", "NonZeroExit", "create_alert", "index out of range");
    row("insufficient cpu", "FailedScheduling", "create_alert", "Insufficient cpu");
    row("node selector", "FailedScheduling", "create_alert", "node selector or affinity");
    row("readiness one pod", "ReadinessFailing", "restart_pod", "503");
    row("readiness after rollout", "ReadinessFailing", "create_alert", "revision 7");
    row("evicted", "Evicted", "create_alert", "low on resource: memory");
    row("node not ready", "NodeNotReady", "cordon_node", "PLEG");
    row("node not ready cordoned", "NodeNotReady", "create_alert", "already cordoned");
    row("memory pressure", "NodeMemoryPressure", "create_alert", "MemoryPressure");
    row("disk pressure", "NodeDiskPressure", "create_alert", "DiskPressure");
    row("pid pressure", "NodePIDPressure", "create_alert", "PIDPressure");
}

void TestRuleReasoner::diagnose()
{
    QFETCH(QString, scenario);
    QFETCH(QString, category);
    QFETCH(QString, action);
    QFETCH(QString, mentions);
    const Evidence ev = ::scenario(scenario);
    RuleReasoner rules;
    QVERIFY(rules.handles(ev.subject.reason));
    const auto d = rules.diagnose(ev);
    QVERIFY2(d.ok(), qPrintable(d.errorMessage()));
    QCOMPARE(d->category, category);
    QCOMPARE(actionName(d->action), action);
    QVERIFY2(d->diagnosis.contains(mentions), qPrintable(d->diagnosis));
    QVERIFY(d->confidence > 0.0 && d->confidence < 1.0);
    QVERIFY(!d->reasoning.isEmpty());
    QCOMPARE(d->source.kind, DiagnosisSource::Rules);

    // The rules' answer passes the same gate as a model's, as text too.
    const QString wire = QString::fromStdString(diagnosisToJson(*d).dump());
    const auto checked = validateReply(wire);
    QVERIFY2(checked.ok(), qPrintable(checked.errorMessage()));
    QCOMPARE(checked->action, d->action);

    if (d->action == ActionKind::RestartPod) {
        QCOMPARE(QString::fromStdString(d->parameters.at("pod").get<std::string>()), ev.subject.podName);
        QCOMPARE(QString::fromStdString(d->parameters.at("namespace").get<std::string>()),
                 ev.subject.namespaceName);
    }
    if (d->action == ActionKind::CordonNode)
        QCOMPARE(QString::fromStdString(d->parameters.at("node").get<std::string>()),
                 QStringLiteral("worker-1"));
    QVERIFY(d->action != ActionKind::ScaleDeployment); // no rule answers with more replicas
}

void TestRuleReasoner::unknownReasonIsAnError()
{
    Evidence ev = podEvidence(QStringLiteral("SomethingNew"));
    const auto d = RuleReasoner().diagnose(ev);
    QVERIFY(!d.ok());
    QVERIFY(d.errorMessage().contains(QStringLiteral("SomethingNew")));
    QVERIFY(!RuleReasoner().handles(QStringLiteral("SomethingNew")));
}

void TestRuleReasoner::thinEvidenceNeverCrashes()
{
    // Only the subject, nothing gathered: every analyzer still answers validly
    // (the pod-only actions degrade to alerts when no pod is named).
    for (const QString &reason : pipeline::incidentReasonNames()) {
        Evidence ev;
        ev.subject.reason = reason;
        ev.subject.workloadName = QStringLiteral("worker-2");
        ev.subject.nodeName =
            reason.startsWith(QLatin1String("Node")) ? QStringLiteral("worker-2") : QString();
        const auto d = RuleReasoner().diagnose(ev);
        QVERIFY2(d.ok(), qPrintable(reason + QStringLiteral(": ") + d.errorMessage()));
        QVERIFY(d->confidence <= 0.75);
    }
}

QTEST_GUILESS_MAIN(TestRuleReasoner)
#include "tst_rulereasoner.moc"
