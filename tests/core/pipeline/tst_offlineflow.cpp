// The offline half of one incident's walk, composed: detector -> grouper ->
// gatherer (redaction, budget) -> rules -> validator, plus the user prompt.

#include "core/gather/gatherer.h"
#include "core/pipeline/detector.h"
#include "core/pipeline/incidentgrouper.h"
#include "core/reason/prompts.h"
#include "core/reason/replyvalidator.h"
#include "core/reason/rulereasoner.h"

#include <QTest>

using namespace vigil;

namespace {

const QDateTime kNow = QDateTime(QDate(2026, 1, 10), QTime(12, 0), Qt::UTC);

kube::PodView crashingPod(int i)
{
    kube::PodView p;
    p.uid = QStringLiteral("uid-%1").arg(i);
    p.namespaceName = QStringLiteral("shop");
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    p.name =
        QStringLiteral("web-7d4b9c8f6-x2k") + QLatin1Char(alphabet[i / 27]) + QLatin1Char(alphabet[i % 27]);
    p.nodeName = QStringLiteral("worker-1");
    p.phase = QStringLiteral("Running");
    p.created = kNow.addSecs(-3600);
    p.owner = kube::OwnerRef{QStringLiteral("ReplicaSet"), QStringLiteral("web-7d4b9c8f6"),
                             QStringLiteral("rs"), true};
    p.labels.insert(QStringLiteral("pod-template-hash"), QStringLiteral("7d4b9c8f6"));
    kube::ContainerStatusView c;
    c.name = QStringLiteral("app");
    c.image = QStringLiteral("registry.example/web:1.4");
    c.state = QStringLiteral("waiting");
    c.reason = QStringLiteral("CrashLoopBackOff");
    c.message =
        QStringLiteral("back-off 5m0s restarting failed container=app pod=%1_shop(%2)").arg(p.name, p.uid);
    c.restartCount = 4 + i % 3;
    c.lastTerminatedReason = QStringLiteral("Error");
    c.lastExitCode = 1;
    c.lastTerminatedAt = kNow.addSecs(-20);
    p.containers << c;
    return p;
}

} // namespace

class TestOfflineFlow final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void thirtyCrashingReplicasToOneValidAlert();
};

void TestOfflineFlow::thirtyCrashingReplicasToOneValidAlert()
{
    pipeline::Detector detector;
    pipeline::IncidentGrouper grouper;
    gather::GatherInput input;
    input.now = kNow;
    for (int i = 0; i < 30; ++i) {
        const kube::PodView pod = crashingPod(i);
        input.pods << pod;
        const auto observations = detector.detectPod(pod, kNow.addSecs(i));
        QCOMPARE(observations.size(), 1);
        grouper.add(observations.first());
    }
    const auto incidents = grouper.openIncidents(kNow.addSecs(60));
    QCOMPARE(incidents.size(), 1);
    QCOMPARE(incidents.first().count, 30);

    input.subject = pipeline::toSubject(incidents.first());
    QString log;
    for (int i = 0; i < 200; ++i)
        log += QStringLiteral("INFO warming cache shard %1\n").arg(i);
    log += QStringLiteral(
        "ERROR cannot connect to postgres://orders:hunter2pw@db:5432/orders: connection refused\n");
    input.previousLog = log;

    gather::Redactor redactor;
    const gather::Evidence evidence = gather::Gatherer().gather(input, redactor);
    QVERIFY(evidence.estimatedTokens <= 3000);
    QVERIFY(!evidence.text.contains(QStringLiteral("hunter2pw")));
    QVERIFY(evidence.text.contains(QStringLiteral("connection refused")));

    const auto diagnosis = reason::RuleReasoner().diagnose(evidence);
    QVERIFY2(diagnosis.ok(), qPrintable(diagnosis.errorMessage()));
    QCOMPARE(diagnosis->category, QStringLiteral("CrashLoopBackOff"));
    QCOMPARE(diagnosis->action, ActionKind::CreateAlert);
    QVERIFY(!diagnosis->diagnosis.contains(QStringLiteral("hunter2pw")));
    QVERIFY(reason::validateReply(QString::fromStdString(reason::diagnosisToJson(*diagnosis).dump())).ok());

    const auto prompts = reason::loadPrompts();
    QVERIFY(prompts.ok());
    const auto user = reason::renderUserPrompt(*prompts, evidence);
    QVERIFY2(user.ok(), qPrintable(user.errorMessage()));
    QVERIFY(user->contains(
        QStringLiteral("CrashLoopBackOff on Deployment web in namespace shop (30 occurrence(s))")));
    QVERIFY(user->contains(evidence.text));
}

QTEST_GUILESS_MAIN(TestOfflineFlow)
#include "tst_offlineflow.moc"
