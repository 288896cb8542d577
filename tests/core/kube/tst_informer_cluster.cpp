#include "core/kube/informer.h"

#include "testcluster.h"

#include <QRandomGenerator>
#include <QTest>

using namespace vigil;
using namespace vigil::kube;

// Against the real API server: the informer's store must equal a fresh LIST.
class TestInformerCluster final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void storeMatchesFreshList();
    void cleanupTestCase();

private:
    template<typename T>
    Result<T> wait(std::optional<Result<T>> &slot, int ms = 30000)
    {
        if (!QTest::qWaitFor([&] { return slot.has_value(); }, ms))
            return Error(QStringLiteral("no reply within %1 ms").arg(ms));
        return *slot;
    }
    Result<nlohmann::json> create(const ResourcePath &path, const nlohmann::json &object)
    {
        std::optional<Result<nlohmann::json>> slot;
        m_client->create(path, object, {}, this, [&](Result<nlohmann::json> r) { slot = std::move(r); });
        return wait(slot);
    }

    std::unique_ptr<RestClient> m_client;
    QString m_namespace;
};

void TestInformerCluster::initTestCase()
{
    Result<Connection> conn = test::testClusterConnection();
    QVERIFY2(conn.ok(), qPrintable(conn.errorMessage()));
    m_client = std::make_unique<RestClient>(*conn);
    m_namespace = QStringLiteral("vigil-it-%1").arg(QRandomGenerator::global()->generate(), 0, 16);
    const auto ns = create(
        ResourcePath{ResourceType::namespaces(), {}, {}, {}},
        {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", m_namespace.toStdString()}}}});
    QVERIFY2(ns.ok(), qPrintable(ns.errorMessage()));
}

void TestInformerCluster::storeMatchesFreshList()
{
    const ResourcePath pods{ResourceType::pods(), m_namespace, QString(), QString()};
    for (int i = 0; i < 3; ++i) {
        const nlohmann::json pod = {
            {"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", "web-" + std::to_string(i)}, {"labels", {{"app", "web"}}}}},
            {"spec", {{"containers", {{{"name", "app"}, {"image", "registry.invalid/web:1"}}}}}}};
        const auto created = create(pods, pod);
        QVERIFY2(created.ok(), qPrintable(created.errorMessage()));
    }

    InformerOptions options;
    options.type = ResourceType::pods();
    options.namespaceName = m_namespace;
    Informer informer(m_client.get(), options);
    informer.start();
    QTRY_VERIFY_WITH_TIMEOUT(informer.health().synced && informer.store().size() == 3, 30000);

    // Pods keep changing (scheduling, kwok status): compare until a fresh list and the store agree.
    QStringList fromList, fromStore;
    for (int attempt = 0; attempt < 20; ++attempt) {
        std::optional<Result<ListResult>> slot;
        m_client->list(pods, {}, this, [&](Result<ListResult> r) { slot = std::move(r); });
        const auto listed = wait(slot);
        QVERIFY2(listed.ok(), qPrintable(listed.errorMessage()));
        QTest::qWait(1000);
        fromList.clear();
        for (const auto &item : listed->items)
            fromList.append(QString::fromStdString(item["metadata"]["uid"].get<std::string>()) +
                            QLatin1Char('@') +
                            QString::fromStdString(item["metadata"]["resourceVersion"].get<std::string>()));
        fromStore.clear();
        for (const KubeObject &o : informer.store().objects())
            fromStore.append(objectUid(o) + QLatin1Char('@') + objectResourceVersion(o));
        fromList.sort();
        fromStore.sort();
        if (fromList == fromStore)
            break;
    }
    QCOMPARE(fromStore, fromList);
    QCOMPARE(fromStore.size(), 3);
    QCOMPARE(informer.health().state, InformerHealth::State::Watching);
    informer.stop();
}

void TestInformerCluster::cleanupTestCase()
{
    if (!m_client || m_namespace.isEmpty())
        return;
    std::optional<Result<nlohmann::json>> slot;
    m_client->remove(ResourcePath{ResourceType::namespaces(), {}, m_namespace, {}}, {}, this,
                     [&](Result<nlohmann::json> r) { slot = std::move(r); });
    const auto removed = wait(slot);
    QVERIFY2(removed.ok(), qPrintable(removed.errorMessage()));
}

QTEST_GUILESS_MAIN(TestInformerCluster)
#include "tst_informer_cluster.moc"
