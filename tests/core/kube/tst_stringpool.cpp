#include "core/kube/stringpool.h"

#include "core/kube/projections.h"
#include "core/kube/store.h"

#include <QFile>
#include <QTest>

using namespace vigil::kube;

namespace {

nlohmann::json podJson(const std::string &uid, const std::string &node, int restarts)
{
    return {{"metadata",
             {{"uid", uid},
              {"name", "web-" + uid},
              {"namespace", "shop"},
              {"resourceVersion", "1"},
              {"labels", {{"app", "web"}, {"pod-template-hash", "5d8f7"}}},
              {"ownerReferences",
               {{{"kind", "ReplicaSet"}, {"name", "web-5d8f7"}, {"uid", "rs-1"}, {"controller", true}}}}}},
            {"spec", {{"nodeName", node}, {"containers", {{{"name", "app"}, {"image", "shop/web:1.2"}}}}}},
            {"status",
             {{"phase", "Running"},
              {"containerStatuses",
               {{{"name", "app"},
                 {"image", "shop/web:1.2"},
                 {"ready", true},
                 {"restartCount", restarts},
                 {"state", {{"running", {{"startedAt", "2026-11-25T00:00:00Z"}}}}}}}}}}};
}

} // namespace

class TestStringPool final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void equalStringsShareOneCopy();
    void mapsAndContainerListsAreShared();
    void pooledProjectionEqualsPlainOne_data();
    void pooledProjectionEqualsPlainOne();
    void replicasShareTheirRepeatedValues();
    void pruneDropsOnlyWhatNobodyHolds();
};

void TestStringPool::equalStringsShareOneCopy()
{
    StringPool pool;
    const QString a = pool.intern(std::string("kube-system"));
    const QString b = pool.intern(QString::fromLatin1("kube-system"));
    QCOMPARE(a, QStringLiteral("kube-system"));
    QVERIFY(a.isSharedWith(b));
    QVERIFY(pool.intern(QString()).isNull()); // empty values are not pooled
    QCOMPARE(pool.size(), 1);
}

void TestStringPool::mapsAndContainerListsAreShared()
{
    StringPool pool;
    QMap<QString, QString> m1{{QStringLiteral("app"), QStringLiteral("web")}};
    QMap<QString, QString> m2{{QStringLiteral("app"), QStringLiteral("web")}};
    const QMap<QString, QString> p1 = pool.intern(m1);
    const QMap<QString, QString> p2 = pool.intern(m2);
    QVERIFY(p1.isSharedWith(p2));
    QVERIFY(
        !pool.intern(QMap<QString, QString>{{QStringLiteral("app"), QStringLiteral("db")}}).isSharedWith(p1));

    ContainerStatusView c;
    c.name = QStringLiteral("app");
    c.restartCount = 1;
    const QList<ContainerStatusView> l1 = pool.intern(QList<ContainerStatusView>{c});
    const QList<ContainerStatusView> l2 = pool.intern(QList<ContainerStatusView>{c});
    QVERIFY(l1.isSharedWith(l2));
    c.restartCount = 2; // a different status is a different list
    QVERIFY(!pool.intern(QList<ContainerStatusView>{c}).isSharedWith(l1));
}

void TestStringPool::pooledProjectionEqualsPlainOne_data()
{
    QTest::addColumn<QString>("fixture");
    QTest::newRow("pod") << "pod_crashloop.json";
    QTest::newRow("node") << "node_notready.json";
    QTest::newRow("core event") << "event_core.json";
    QTest::newRow("events.k8s.io event") << "event_v1.json";
    QTest::newRow("deployment") << "deployment.json";
}

// Interning changes where values live, never what they are.
void TestStringPool::pooledProjectionEqualsPlainOne()
{
    QFETCH(QString, fixture);
    QFile f(qEnvironmentVariable("VIGIL_SOURCE_DIR") + QStringLiteral("/tests/core/kube/data/") + fixture);
    QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(f.fileName()));
    const nlohmann::json doc = nlohmann::json::parse(f.readAll().toStdString());
    StringPool pool;
    if (fixture.startsWith(QLatin1String("pod"))) {
        const auto plain = projectPod(doc), pooled = projectPod(doc, &pool);
        QVERIFY(plain.ok() && pooled.ok());
        QCOMPARE(pooled->namespaceName, plain->namespaceName);
        QCOMPARE(pooled->nodeName, plain->nodeName);
        QCOMPARE(pooled->owner, plain->owner);
        QCOMPARE(pooled->labels, plain->labels);
        QCOMPARE(pooled->containers, plain->containers);
        QCOMPARE(pooled->initContainers, plain->initContainers);
        QCOMPARE(pooled->message, plain->message);
        QCOMPARE(pooled->displayStatus(), plain->displayStatus());
    } else if (fixture.startsWith(QLatin1String("node"))) {
        const auto plain = projectNode(doc), pooled = projectNode(doc, &pool);
        QVERIFY(plain.ok() && pooled.ok());
        QCOMPARE(pooled->labels, plain->labels);
        QCOMPARE(pooled->conditions.size(), plain->conditions.size());
        for (qsizetype i = 0; i < plain->conditions.size(); ++i) {
            QCOMPARE(pooled->conditions[i].reason, plain->conditions[i].reason);
            QCOMPARE(pooled->conditions[i].message, plain->conditions[i].message);
        }
        QCOMPARE(pooled->kubeletVersion, plain->kubeletVersion);
    } else if (fixture.startsWith(QLatin1String("event"))) {
        const auto plain = projectEvent(doc), pooled = projectEvent(doc, &pool);
        QVERIFY(plain.ok() && pooled.ok());
        QCOMPARE(pooled->involved, plain->involved);
        QCOMPARE(pooled->reason, plain->reason);
        QCOMPARE(pooled->message, plain->message);
        QCOMPARE(pooled->source, plain->source);
        QCOMPARE(pooled->type, plain->type);
    } else {
        const auto plain = projectWorkload(doc), pooled = projectWorkload(doc, &pool);
        QVERIFY(plain.ok() && pooled.ok());
        QCOMPARE(pooled->kind, plain->kind);
        QCOMPARE(pooled->owner, plain->owner);
        QCOMPARE(pooled->labels, plain->labels);
        QCOMPARE(pooled->namespaceName, plain->namespaceName);
    }
    QVERIFY(pool.size() > 0);
}

void TestStringPool::replicasShareTheirRepeatedValues()
{
    const Projector project = projectorFor(ResourceType::pods());
    const auto a = project(podJson("a", "node-1", 0));
    const auto b = project(podJson("b", "node-1", 0));
    const auto c = project(podJson("c", "node-2", 3));
    QVERIFY(a.ok() && b.ok() && c.ok());
    const PodView &pa = std::get<PodView>(*a), &pb = std::get<PodView>(*b), &pc = std::get<PodView>(*c);
    QVERIFY(pa.namespaceName.isSharedWith(pb.namespaceName));
    QVERIFY(pa.nodeName.isSharedWith(pb.nodeName));
    QVERIFY(pa.phase.isSharedWith(pc.phase));
    QVERIFY(pa.owner.name.isSharedWith(pc.owner.name));
    QVERIFY(pa.owner.uid.isSharedWith(pc.owner.uid));
    QVERIFY(pa.labels.isSharedWith(pc.labels));
    QVERIFY(pa.containers.isSharedWith(pb.containers));  // same image, state and restarts
    QVERIFY(!pa.containers.isSharedWith(pc.containers)); // restarted: a list of its own
    QVERIFY(pa.containers[0].image.isSharedWith(pc.containers[0].image));
    QVERIFY(!pa.uid.isSharedWith(pb.uid));
    QCOMPARE(pc.containers[0].restartCount, 3);
}

void TestStringPool::pruneDropsOnlyWhatNobodyHolds()
{
    StringPool pool;
    QString kept = pool.intern(QString::fromLatin1("kept"));
    (void)pool.intern(QString::fromLatin1("dropped"));
    // Heap strings, as projections make them (a QStringLiteral is static data and never counts as unshared).
    QMap<QString, QString> keptMap =
        pool.intern(QMap<QString, QString>{{QString::fromLatin1("k"), QString::fromLatin1("v")}});
    QCOMPARE(pool.size(), 5); // "kept", "dropped", the map and its "k" and "v"
    pool.prune();
    QCOMPARE(pool.size(), 4); // only "dropped" was held by nobody else
    QVERIFY(pool.intern(QString::fromLatin1("kept")).isSharedWith(kept));
    QVERIFY(pool.intern(keptMap).isSharedWith(keptMap));
    keptMap.clear();
    pool.prune();
    QCOMPARE(pool.size(), 1); // the map went, and with it the "k" and "v" it held
    QVERIFY(pool.intern(QString::fromLatin1("kept")).isSharedWith(kept));
}

QTEST_GUILESS_MAIN(TestStringPool)
#include "tst_stringpool.moc"
