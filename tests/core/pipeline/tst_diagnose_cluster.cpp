// The whole chain on the real cluster: every scenario of the catalog applied
// into one namespace, then `vigilctl diagnose` (detector → grouper → fetcher →
// gatherer/redactor → router with rules) must give each broken workload the
// right category and a sensible action, the healthy ones no incident, and a
// prompt within 3000 tokens.

#include "core/cli/cli.h"
#include "core/gather/evidence.h"
#include "core/reason/prompts.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>
#include <QTextStream>

#include <nlohmann/json.hpp>

namespace {

QString kubectlPath()
{
    const QString cached = QDir::homePath() + QStringLiteral("/.cache/vigil/k8s-v1.35.4/bin/kubectl");
    return QFile::exists(cached) ? cached : QStringLiteral("kubectl");
}

} // namespace

class TestDiagnoseCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void everyScenario_data();
    void everyScenario();
    void healthyWorkloadsHaveNoIncident();
    void onePod();
    void unknownPod();
    void redactionFollowsProviderSettings();
    void unreachableProviderStillAnswersWithRules();

private:
    int vigilctl(QStringList args, QString *out, QString *err = nullptr);
    int tool(const QString &program, QStringList args, QString *output = nullptr);
    QString podOf(const QString &app);

    QString m_kubeconfig;
    QString m_namespace;
    nlohmann::json m_all;
};

int TestDiagnoseCluster::vigilctl(QStringList args, QString *outText, QString *errText)
{
    QString e;
    QTextStream out(outText), err(errText ? errText : &e);
    args.prepend(QStringLiteral("vigilctl"));
    args << QStringLiteral("--kubeconfig") << m_kubeconfig;
    const int code = vigil::cli::run(args, out, err);
    out.flush();
    err.flush();
    return code;
}

int TestDiagnoseCluster::tool(const QString &program, QStringList args, QString *output)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    const bool kubectl = program == QLatin1String("kubectl");
    args << QStringLiteral("--kubeconfig") << m_kubeconfig;
    if (!kubectl)
        args << QStringLiteral("--namespace") << m_namespace;
    p.start(kubectl
                ? kubectlPath()
                : qEnvironmentVariable("VIGIL_SOURCE_DIR") + QStringLiteral("/tests/scenarios/") + program,
            args);
    if (!p.waitForFinished(150000))
        return -1;
    const QString text = QString::fromUtf8(p.readAll());
    if (output)
        *output = text;
    if (p.exitCode() != 0)
        qWarning("%s: %s", qPrintable(program), qPrintable(text));
    return p.exitCode();
}

QString TestDiagnoseCluster::podOf(const QString &app)
{
    QString out;
    tool(QStringLiteral("kubectl"),
         {QStringLiteral("get"), QStringLiteral("pods"), QStringLiteral("-n"), m_namespace,
          QStringLiteral("-l"), QStringLiteral("app=") + app, QStringLiteral("-o"),
          QStringLiteral("jsonpath={.items[0].metadata.name}")},
         &out);
    return out.trimmed();
}

void TestDiagnoseCluster::initTestCase()
{
    QFile pointer(qEnvironmentVariable("VIGIL_TEST_CLUSTER_FILE"));
    QVERIFY2(pointer.open(QIODevice::ReadOnly),
             "VIGIL_TEST_CLUSTER_FILE must name the file with the kubeconfig path");
    m_kubeconfig = QString::fromUtf8(pointer.readAll()).trimmed();
    m_namespace = QStringLiteral("vigil-diag-%1").arg(QRandomGenerator::global()->bounded(100000, 999999));
    QCOMPARE(
        tool(QStringLiteral("kubectl"), {QStringLiteral("create"), QStringLiteral("namespace"), m_namespace}),
        0);
    QCOMPARE(tool(QStringLiteral("apply"), {}), 0);
    // Healthy only waits for metrics numbers; its pods are Ready long before.
    QCOMPARE(tool(QStringLiteral("check"),
                  {QStringLiteral("--only"),
                   QStringLiteral("crashloop,oomkilled,imagepull,pending,readiness,notready-node,"
                                  "configerror,createerror,invalidimage,runerror,evicted,node-pressure"),
                   QStringLiteral("--timeout"), QStringLiteral("120")}),
             0);
    QString out, err;
    QCOMPARE(vigilctl({QStringLiteral("diagnose"), QStringLiteral("--all"), QStringLiteral("-n"), m_namespace,
                       QStringLiteral("-o"), QStringLiteral("json")},
                      &out, &err),
             0);
    m_all = nlohmann::json::parse(out.toStdString(), nullptr, false);
    QVERIFY2(m_all.is_object() && m_all["incidents"].is_array(), qPrintable(out + err));
}

void TestDiagnoseCluster::cleanupTestCase()
{
    if (m_namespace.isEmpty())
        return;
    // kwok-node-bad is shared with other tests in this cluster: delete only what is ours.
    tool(QStringLiteral("apply"),
         {QStringLiteral("--delete"), QStringLiteral("--only"),
          QStringLiteral("crashloop,oomkilled,imagepull,pending,readiness,healthy")});
    tool(QStringLiteral("kubectl"), {QStringLiteral("delete"), QStringLiteral("namespace"), m_namespace,
                                     QStringLiteral("--wait=false")});
}

void TestDiagnoseCluster::everyScenario_data()
{
    QTest::addColumn<QString>("workload");
    QTest::addColumn<QStringList>("categories");
    QTest::addColumn<QStringList>("actions");
    // From tests/scenarios/README.md; a crash loop seen between restarts is a non-zero exit.
    QTest::newRow("crashloop") << "payments-api" << QStringList{"CrashLoopBackOff", "NonZeroExit"}
                               << QStringList{"create_alert", "restart_pod"};
    QTest::newRow("oomkilled") << "report-worker" << QStringList{"OOMKilled"} << QStringList{"create_alert"};
    QTest::newRow("imagepull") << "checkout-web" << QStringList{"ImagePullBackOff", "ErrImagePull"}
                               << QStringList{"create_alert"};
    QTest::newRow("pending") << "ml-trainer" << QStringList{"FailedScheduling"}
                             << QStringList{"create_alert"};
    QTest::newRow("readiness") << "inventory-api" << QStringList{"ReadinessFailing"}
                               << QStringList{"create_alert", "restart_pod"};
    QTest::newRow("notready-node") << "kwok-node-bad" << QStringList{"NodeNotReady"}
                                   << QStringList{"cordon_node", "create_alert"};
    // Spec or config mistakes: retrying or restarting cannot help, a person must fix the spec.
    QTest::newRow("configerror") << "billing-sync" << QStringList{"CreateContainerConfigError"}
                                 << QStringList{"create_alert"};
    QTest::newRow("createerror") << "audit-shipper" << QStringList{"CreateContainerError"}
                                 << QStringList{"create_alert"};
    QTest::newRow("invalidimage") << "search-indexer" << QStringList{"InvalidImageName"}
                                  << QStringList{"create_alert"};
    QTest::newRow("runerror") << "pdf-renderer" << QStringList{"RunContainerError"}
                              << QStringList{"create_alert"};
    // A standalone evicted pod: the pressure behind it needs a person, not a restart.
    QTest::newRow("evicted") << "cache-warmer" << QStringList{"Evicted"} << QStringList{"create_alert"};
    // The kubelet already taints and evicts under pressure; cordoning adds nothing.
    QTest::newRow("memory-pressure") << "kwok-node-mem" << QStringList{"NodeMemoryPressure"}
                                     << QStringList{"create_alert"};
    QTest::newRow("disk-pressure") << "kwok-node-disk" << QStringList{"NodeDiskPressure"}
                                   << QStringList{"create_alert"};
}

void TestDiagnoseCluster::everyScenario()
{
    QFETCH(QString, workload);
    QFETCH(QStringList, categories);
    QFETCH(QStringList, actions);
    const nlohmann::json *found = nullptr;
    for (const auto &i : m_all["incidents"]) {
        if (i["incident"]["workload"]["name"] == workload.toStdString())
            found = &i;
    }
    QVERIFY2(found, qPrintable(QString::fromStdString(m_all.dump(1)).left(3000)));
    const nlohmann::json &d = *found;
    QVERIFY2(!d.contains("error"), d.dump().c_str());
    QVERIFY2(categories.contains(QString::fromStdString(d["category"])), d["category"].dump().c_str());
    QVERIFY2(actions.contains(QString::fromStdString(d["action"])), d["action"].dump().c_str());
    QCOMPARE(QString::fromStdString(d["source"]), QStringLiteral("rules"));
    QVERIFY(d["confidence"].get<double>() > 0.0);
    QVERIFY(!d["diagnosis"].get<std::string>().empty());
    QVERIFY(d["incident"]["fingerprint"].get<std::string>().size() >= 8);
    QVERIFY(d["route"].size() == 1);
    QVERIFY(d["context"]["sent"] == false);
    QVERIFY(!d["context"]["text"].get<std::string>().empty());
    QVERIFY2(d["context"]["promptTokensEstimate"].get<int>() <= 3000, d["context"].dump().c_str());

    // The estimate counts the reply schema as sent (strict wire form), not the file as written.
    const auto prompts = vigil::reason::loadPrompts();
    QVERIFY2(prompts, qPrintable(prompts.errorMessage()));
    QVERIFY(prompts->wireSchemaText != prompts->schemaText);
    vigil::gather::Evidence ev;
    ev.text = QString::fromStdString(d["context"]["text"]);
    ev.subject.reason = QString::fromStdString(d["incident"]["reason"]);
    ev.subject.namespaceName = QString::fromStdString(d["incident"]["namespace"]);
    ev.subject.workloadKind = QString::fromStdString(d["incident"]["workload"]["kind"]);
    ev.subject.workloadName = QString::fromStdString(d["incident"]["workload"]["name"]);
    ev.subject.count = d["incident"]["count"].get<int>();
    const auto user = vigil::reason::renderUserPrompt(*prompts, ev);
    QVERIFY2(user, qPrintable(user.errorMessage()));
    QCOMPARE(d["context"]["promptTokensEstimate"].get<int>(),
             vigil::gather::estimateTokens(prompts->system) +
                 vigil::gather::estimateTokens(prompts->wireSchemaText) +
                 vigil::gather::estimateTokens(*user));
}

void TestDiagnoseCluster::healthyWorkloadsHaveNoIncident()
{
    for (const auto &i : m_all["incidents"]) {
        const std::string name = i["incident"]["workload"]["name"];
        QVERIFY2(name != "web-frontend" && name != "orders-db", name.c_str());
    }
    QString out;
    const QString pod = podOf(QStringLiteral("web-frontend"));
    QVERIFY(!pod.isEmpty());
    QCOMPARE(vigilctl({QStringLiteral("diagnose"), m_namespace + u'/' + pod}, &out), 0);
    QVERIFY2(out.startsWith(QLatin1String("no incident: pod ")), qPrintable(out));
}

void TestDiagnoseCluster::onePod()
{
    const QString pod = podOf(QStringLiteral("report-worker"));
    QVERIFY(!pod.isEmpty());
    QString out;
    QCOMPARE(vigilctl({QStringLiteral("diagnose"), m_namespace + u'/' + pod}, &out), 0);
    for (const char *field : {"incident ", "category     OOMKilled", "confidence ",
                              "action       create_alert", "parameters ", "reasoning ", "source       rules",
                              "route        rules ", "tokens ", "cost ", "context      would have been sent"})
        QVERIFY2(out.contains(QLatin1String(field)), qPrintable(field + QStringLiteral("\n") + out));
    QVERIFY(out.contains(QLatin1String("  | ## Incident")));
}

void TestDiagnoseCluster::redactionFollowsProviderSettings()
{
    const QString pod = podOf(QStringLiteral("payments-api"));
    QVERIFY(!pod.isEmpty());
    QTemporaryDir dir;
    QFile config(dir.filePath("providers.yaml"));
    QVERIFY(config.open(QIODevice::WriteOnly));
    config.write("provider: rules\nredact: {ips: true}\n");
    config.close();
    QString plain, redacted, err;
    QCOMPARE(vigilctl({QStringLiteral("diagnose"), m_namespace + u'/' + pod, QStringLiteral("-o"),
                       QStringLiteral("json"), QStringLiteral("--provider"), QStringLiteral("rules")},
                      &plain, &err),
             0);
    QCOMPARE(vigilctl({QStringLiteral("diagnose"), m_namespace + u'/' + pod, QStringLiteral("-o"),
                       QStringLiteral("json"), QStringLiteral("--config"), config.fileName()},
                      &redacted, &err),
             0);
    // The crash log names the database at 10.0.0.12: kept by default, replaced with ips: true.
    QVERIFY2(plain.contains(QLatin1String("10.0.0.12")), qPrintable(plain.left(3000)));
    QVERIFY2(!redacted.contains(QLatin1String("10.0.0.12")), qPrintable(redacted.left(3000)));
    QVERIFY2(redacted.contains(QLatin1String("REDACTED:ip")), qPrintable(redacted.left(3000)));
}

void TestDiagnoseCluster::unknownPod()
{
    QString out, err;
    QCOMPARE(vigilctl({QStringLiteral("diagnose"), m_namespace + QStringLiteral("/no-such-pod")}, &out, &err),
             1);
    QCOMPARE(err, QStringLiteral("vigilctl diagnose: pod %1/no-such-pod not found\n").arg(m_namespace));
    QVERIFY(out.isEmpty());
}

void TestDiagnoseCluster::unreachableProviderStillAnswersWithRules()
{
    qputenv("OPENAI_API_KEY", "sk-test-not-a-real-key");
    const QString pod = podOf(QStringLiteral("checkout-web"));
    QString out, err;
    // Threshold 1: the rules are never confident enough, so the model is asked.
    const int code =
        vigilctl({QStringLiteral("diagnose"), m_namespace + u'/' + pod, QStringLiteral("--provider"),
                  QStringLiteral("openai"), QStringLiteral("--base-url"),
                  QStringLiteral("http://127.0.0.1:1/v1"), QStringLiteral("--threshold"), QStringLiteral("1"),
                  QStringLiteral("--no-cache"), QStringLiteral("-o"), QStringLiteral("json")},
                 &out, &err);
    QCOMPARE(code, 1);
    QVERIFY2(err.contains(QLatin1String("the rules answered")), qPrintable(err));
    const auto j = nlohmann::json::parse(out.toStdString(), nullptr, false);
    QVERIFY2(j.is_object() && j["incidents"].size() == 1, qPrintable(out));
    const auto &d = j["incidents"][0];
    QCOMPARE(QString::fromStdString(d["source"]), QStringLiteral("rules"));
    QVERIFY2(QString::fromStdString(d["fallbackReason"]).contains(QLatin1String("network")),
             d.dump().c_str());
    QVERIFY(d["context"]["sent"] == true);
    QVERIFY(QString::fromStdString(d["category"]).contains(QLatin1String("Image")));
}

QTEST_GUILESS_MAIN(TestDiagnoseCluster)
#include "tst_diagnose_cluster.moc"
