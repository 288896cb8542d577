// LeaderElector's lease state machine against an in-process Lease API that
// can conflict (409), stall, fail and be taken over by a peer: faults a real
// API server cannot be made to produce on demand.

#include "core/agent/leaderelector.h"

#include "core/kube/restclient.h"
#include "httptestserver.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>

#include <nlohmann/json.hpp>

using namespace vigil;
using namespace vigil::agent;
using json = nlohmann::json;
using vigil::test::HttpExchange;
using vigil::test::HttpTestServer;

namespace {

class NoCredentials final : public kube::CredentialSource {
public:
    Result<kube::Credentials> credentials() override { return kube::Credentials(); }
    void invalidate() override {}
    QString method() const override { return QStringLiteral("none"); }
};

// One Lease object with resourceVersion checks, plus switchable faults.
class FakeLeaseApi {
public:
    enum class Fault { None, Stall, ServerError };

    FakeLeaseApi()
        : server([this](HttpExchange *ex) { handle(ex); })
    {
    }

    void handle(HttpExchange *ex)
    {
        const vigil::test::HttpRequest &r = ex->request();
        if (fault == Fault::Stall)
            return; // never answers
        if (fault == Fault::ServerError)
            return ex->respondJson(500, R"({"kind":"Status","message":"etcd unavailable","code":500})");
        if (peerRenews && exists) {
            // A live peer keeps renewing: the record changes between reads.
            lease["spec"]["renewTime"] = "2026-01-01T00:00:0" + std::to_string(++peerTicks % 10) + ".000000Z";
            bump();
        }
        if (r.method == "GET") {
            if (!exists)
                return ex->respondJson(404, R"({"kind":"Status","reason":"NotFound","code":404})");
            return ex->respondJson(200, QByteArray::fromStdString(lease.dump()));
        }
        const json body = json::parse(r.body.toStdString(), nullptr, false);
        if (r.method == "POST") {
            if (exists)
                return ex->respondJson(409, R"({"kind":"Status","reason":"AlreadyExists","code":409})");
            lease = body;
            exists = true;
            bump();
            return ex->respondJson(201, QByteArray::fromStdString(lease.dump()));
        }
        if (r.method == "PUT") {
            ++puts;
            const std::string sent = body["metadata"].value("resourceVersion", std::string());
            if (conflictsLeft > 0 || sent != lease["metadata"]["resourceVersion"].get<std::string>()) {
                if (conflictsLeft > 0) {
                    --conflictsLeft;
                    // The peer that won the race is now the holder.
                    if (!conflictHolder.empty()) {
                        lease["spec"]["holderIdentity"] = conflictHolder;
                        lease["spec"]["leaseDurationSeconds"] = 30;
                        bump();
                    }
                }
                return ex->respondJson(
                    409,
                    R"({"kind":"Status","reason":"Conflict","message":"the object has been modified","code":409})");
            }
            lease["spec"] = body["spec"];
            bump();
            return ex->respondJson(200, QByteArray::fromStdString(lease.dump()));
        }
        ex->respondJson(405, "{}");
    }

    void setLease(const json &spec)
    {
        lease = {{"apiVersion", "coordination.k8s.io/v1"},
                 {"kind", "Lease"},
                 {"metadata", {{"name", "vigil-agent"}, {"namespace", "ops"}}},
                 {"spec", spec}};
        exists = true;
        bump();
    }
    json spec() const { return exists ? lease["spec"] : json(); }
    QString holder() const
    {
        return exists ? QString::fromStdString(lease["spec"].value("holderIdentity", std::string()))
                      : QString();
    }

    HttpTestServer server;
    json lease;
    bool exists = false;
    Fault fault = Fault::None;
    int conflictsLeft = 0;
    std::string conflictHolder;
    bool peerRenews = false;
    int peerTicks = 0;
    int puts = 0;

private:
    void bump() { lease["metadata"]["resourceVersion"] = std::to_string(++m_version); }
    int m_version = 100;
};

LeaderElectionOptions fastOptions(const QString &identity)
{
    LeaderElectionOptions o;
    o.leaseName = QStringLiteral("vigil-agent");
    o.leaseNamespace = QStringLiteral("ops");
    o.identity = identity;
    o.leaseDurationMs = 1500;
    o.renewDeadlineMs = 1000;
    o.retryPeriodMs = 150;
    o.random = [] { return 0.0; };
    return o;
}

std::unique_ptr<kube::RestClient> clientFor(const HttpTestServer &server)
{
    kube::Connection c;
    c.server = server.url();
    c.credentials = std::make_shared<NoCredentials>();
    kube::RestClientOptions o;
    o.qps = 0;
    o.maxRetries = 0;
    return std::make_unique<kube::RestClient>(c, o);
}

} // namespace

class TestLeaderElector final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void validation_data();
    void validation();
    void microTimeFormat();
    void acquires_data();
    void acquires();
    void staysStandbyWhileAPeerRenews();
    void conflictOnAcquireLosesTheRace();
    void conflictOnRenewIsRetried();
    void lostRenewStopsLeadingAtTheDeadline_data();
    void lostRenewStopsLeadingAtTheDeadline();
    void releaseHandsTheLeaseOver();
};

void TestLeaderElector::validation_data()
{
    QTest::addColumn<int>("lease");
    QTest::addColumn<int>("renew");
    QTest::addColumn<int>("retry");
    QTest::addColumn<QString>("identity");
    QTest::addColumn<QString>("error");
    QTest::newRow("client-go defaults are valid") << 15000 << 10000 << 2000 << "a" << QString();
    QTest::newRow("renew deadline must be below the lease duration")
        << 10000 << 10000 << 2000 << "a"
        << "must be greater than the renew deadline";
    QTest::newRow("renew deadline must exceed 1.2 x retry period") << 15000 << 2400 << 2000 << "a"
                                                                   << "1.2 x the retry period";
    QTest::newRow("identity is required") << 15000 << 10000 << 2000 << ""
                                          << "identity";
    QTest::newRow("zero retry period is refused") << 15000 << 10000 << 0 << "a"
                                                  << "positive";
}

void TestLeaderElector::validation()
{
    QFETCH(int, lease);
    QFETCH(int, renew);
    QFETCH(int, retry);
    QFETCH(QString, identity);
    QFETCH(QString, error);
    LeaderElectionOptions o;
    o.identity = identity;
    o.leaseDurationMs = lease;
    o.renewDeadlineMs = renew;
    o.retryPeriodMs = retry;
    const Result<void> r = validateOptions(o);
    QCOMPARE(r.ok(), error.isEmpty());
    if (!error.isEmpty())
        QVERIFY2(r.errorMessage().contains(error), qPrintable(r.errorMessage()));
}

void TestLeaderElector::microTimeFormat()
{
    const QDateTime t(QDate(2026, 11, 25), QTime(9, 8, 7, 654), Qt::UTC);
    QCOMPARE(microTime(t), QStringLiteral("2026-11-25T09:08:07.654000Z"));
}

void TestLeaderElector::acquires_data()
{
    QTest::addColumn<QString>("existing"); // none | released | expired | mine
    QTest::addColumn<int>("transitions");
    QTest::addColumn<int>("minWaitMs");
    QTest::newRow("no lease: creates it with 0 transitions") << "none" << 0 << 0;
    QTest::newRow("released lease (no holder): takes it at once, transitions + 1") << "released" << 4 << 0;
    QTest::newRow("a peer's lease unchanged for its duration: takes it over, transitions + 1")
        << "expired" << 4 << 900;
    QTest::newRow("its own lease from before a restart: keeps acquireTime and transitions")
        << "mine" << 3 << 0;
}

void TestLeaderElector::acquires()
{
    QFETCH(QString, existing);
    QFETCH(int, transitions);
    QFETCH(int, minWaitMs);
    FakeLeaseApi api;
    QVERIFY(api.server.listen());
    const json old = {{"acquireTime", "2026-01-01T00:00:00.000000Z"},
                      {"renewTime", "2026-01-01T00:00:05.000000Z"},
                      {"leaseDurationSeconds", 1},
                      {"leaseTransitions", 3}};
    if (existing == "released") {
        json spec = old;
        spec["holderIdentity"] = "";
        api.setLease(spec);
    } else if (existing == "expired") {
        json spec = old;
        spec["holderIdentity"] = "peer";
        api.setLease(spec);
    } else if (existing == "mine") {
        json spec = old;
        spec["holderIdentity"] = "me";
        spec["leaseDurationSeconds"] = 2;
        api.setLease(spec);
    }
    auto client = clientFor(api.server);
    LeaderElector elector(client.get(), fastOptions("me"));
    QSignalSpy started(&elector, &LeaderElector::startedLeading);
    QElapsedTimer timer;
    timer.start();
    elector.start();
    QVERIFY(started.wait(5000));
    QVERIFY2(timer.elapsed() >= minWaitMs, qPrintable(QString::number(timer.elapsed())));
    QVERIFY(elector.isLeader());
    QCOMPARE(api.holder(), QString("me"));
    QCOMPARE(api.spec()["leaseTransitions"].get<int>(), transitions);
    QCOMPARE(api.spec()["leaseDurationSeconds"].get<int>(), 2); // 1500 ms rounded up
    if (existing == "mine")
        QCOMPARE(api.spec()["acquireTime"].get<std::string>(), old["acquireTime"].get<std::string>());
    else
        QVERIFY(api.spec()["acquireTime"].get<std::string>() != old["acquireTime"].get<std::string>());
    // It keeps renewing: renewTime moves on.
    const std::string renewed = api.spec()["renewTime"].get<std::string>();
    QTRY_VERIFY_WITH_TIMEOUT(elector.renewals() > 0, 2000);
    QVERIFY(api.spec()["renewTime"].get<std::string>() != renewed);
    elector.stop();
}

void TestLeaderElector::staysStandbyWhileAPeerRenews()
{
    FakeLeaseApi api;
    QVERIFY(api.server.listen());
    api.setLease({{"holderIdentity", "peer"}, {"leaseDurationSeconds", 1}, {"leaseTransitions", 1}});
    api.peerRenews = true;
    auto client = clientFor(api.server);
    LeaderElector elector(client.get(), fastOptions("me"));
    QSignalSpy started(&elector, &LeaderElector::startedLeading);
    QSignalSpy observed(&elector, &LeaderElector::leaderObserved);
    elector.start();
    // Three lease durations with the peer renewing: never taken, never written.
    QTest::qWait(3000);
    QCOMPARE(started.count(), 0);
    QCOMPARE(api.puts, 0);
    QCOMPARE(elector.observedLeader(), QString("peer"));
    QCOMPARE(observed.count(), 1);
    // The peer dies: the record stops changing and the lease is taken after its duration.
    api.peerRenews = false;
    QVERIFY(started.wait(4000));
    QCOMPARE(api.holder(), QString("me"));
    QCOMPARE(api.spec()["leaseTransitions"].get<int>(), 2);
}

void TestLeaderElector::conflictOnAcquireLosesTheRace()
{
    FakeLeaseApi api;
    QVERIFY(api.server.listen());
    api.setLease({{"holderIdentity", ""}, {"leaseDurationSeconds", 1}, {"leaseTransitions", 7}});
    api.conflictsLeft = 1;
    api.conflictHolder = "peer"; // the peer's write landed first and it renews from now on
    auto client = clientFor(api.server);
    LeaderElector elector(client.get(), fastOptions("me"));
    QSignalSpy started(&elector, &LeaderElector::startedLeading);
    QSignalSpy failed(&elector, &LeaderElector::attemptFailed);
    elector.start();
    QVERIFY(failed.wait(3000));
    QVERIFY2(failed.first().first().toString().contains("409"),
             qPrintable(failed.first().first().toString()));
    api.peerRenews = true;
    QTest::qWait(1500);
    QCOMPARE(started.count(), 0);
    QVERIFY(!elector.isLeader());
    QCOMPARE(api.holder(), QString("peer"));
    QCOMPARE(api.puts, 1);
}

void TestLeaderElector::conflictOnRenewIsRetried()
{
    FakeLeaseApi api;
    QVERIFY(api.server.listen());
    auto client = clientFor(api.server);
    LeaderElector elector(client.get(), fastOptions("me"));
    QSignalSpy started(&elector, &LeaderElector::startedLeading);
    QSignalSpy stopped(&elector, &LeaderElector::stoppedLeading);
    QSignalSpy failed(&elector, &LeaderElector::attemptFailed);
    elector.start();
    QVERIFY(started.wait(3000));
    // One renewal conflicts (someone touched the object); the next read brings the new version.
    api.conflictsLeft = 1;
    QVERIFY(failed.wait(2000));
    const int renewals = elector.renewals();
    QTRY_VERIFY_WITH_TIMEOUT(elector.renewals() > renewals, 2000);
    QCOMPARE(stopped.count(), 0);
    QVERIFY(elector.isLeader());
    QCOMPARE(api.holder(), QString("me"));
}

void TestLeaderElector::lostRenewStopsLeadingAtTheDeadline_data()
{
    QTest::addColumn<int>("fault");
    QTest::addColumn<QString>("reason");
    QTest::newRow("requests hang: stops at the renew deadline, not later")
        << int(FakeLeaseApi::Fault::Stall) << "renew deadline";
    QTest::newRow("server errors: stops at the renew deadline")
        << int(FakeLeaseApi::Fault::ServerError) << "renew deadline";
}

void TestLeaderElector::lostRenewStopsLeadingAtTheDeadline()
{
    QFETCH(int, fault);
    QFETCH(QString, reason);
    FakeLeaseApi api;
    QVERIFY(api.server.listen());
    auto client = clientFor(api.server);
    const LeaderElectionOptions options = fastOptions("me");
    LeaderElector elector(client.get(), options);
    QSignalSpy started(&elector, &LeaderElector::startedLeading);
    QSignalSpy stopped(&elector, &LeaderElector::stoppedLeading);
    elector.start();
    QVERIFY(started.wait(3000));
    QTRY_VERIFY_WITH_TIMEOUT(elector.renewals() > 0, 2000);
    const std::string lastRenew = api.spec()["renewTime"].get<std::string>();
    QElapsedTimer sinceFault;
    sinceFault.start();
    api.fault = static_cast<FakeLeaseApi::Fault>(fault);
    QVERIFY(stopped.wait(3000));
    // The last success was at most one retry period before the fault: the loss comes within the
    // deadline of it, and before a peer could take the lease (the lease duration).
    QVERIFY2(sinceFault.elapsed() <= options.renewDeadlineMs + 100,
             qPrintable(QString::number(sinceFault.elapsed())));
    QVERIFY2(sinceFault.elapsed() >= options.renewDeadlineMs - options.retryPeriodMs - 100,
             qPrintable(QString::number(sinceFault.elapsed())));
    QVERIFY(sinceFault.elapsed() < options.leaseDurationMs);
    QVERIFY2(stopped.first().first().toString().contains(reason),
             qPrintable(stopped.first().first().toString()));
    QVERIFY(!elector.isLeader());
    // Once the server answers again and the record is still its own, it leads again.
    api.fault = FakeLeaseApi::Fault::None;
    QVERIFY(started.wait(3000));
    QVERIFY(api.spec()["renewTime"].get<std::string>() != lastRenew);
    elector.stop();
}

void TestLeaderElector::releaseHandsTheLeaseOver()
{
    FakeLeaseApi api;
    QVERIFY(api.server.listen());
    auto client = clientFor(api.server);
    LeaderElector elector(client.get(), fastOptions("me"));
    QSignalSpy started(&elector, &LeaderElector::startedLeading);
    QSignalSpy stopped(&elector, &LeaderElector::stoppedLeading);
    elector.start();
    QVERIFY(started.wait(3000));
    const int transitions = api.spec()["leaseTransitions"].get<int>();
    bool released = false;
    QString error;
    QObject context;
    elector.release(&context, [&](Result<void> r) {
        released = true;
        error = r.errorMessage();
    });
    QCOMPARE(stopped.count(), 1); // acting stops before the write goes out
    QTRY_VERIFY_WITH_TIMEOUT(released, 3000);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(api.holder(), QString());
    QCOMPARE(api.spec()["leaseDurationSeconds"].get<int>(), 1);
    QCOMPARE(api.spec()["leaseTransitions"].get<int>(), transitions);
    // A peer takes it at its first attempt, without waiting out a lease duration.
    auto peerClient = clientFor(api.server);
    LeaderElector peer(peerClient.get(), fastOptions("peer"));
    QSignalSpy peerStarted(&peer, &LeaderElector::startedLeading);
    QElapsedTimer t;
    t.start();
    peer.start();
    QVERIFY(peerStarted.wait(2000));
    QVERIFY2(t.elapsed() < 500, qPrintable(QString::number(t.elapsed())));
    QCOMPARE(api.holder(), QString("peer"));
    QCOMPARE(api.spec()["leaseTransitions"].get<int>(), transitions + 1);
    QVERIFY(!elector.isLeader());
    peer.stop();
}

QTEST_GUILESS_MAIN(TestLeaderElector)
#include "tst_leaderelector.moc"
