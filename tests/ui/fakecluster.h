#pragma once

// A scripted API server for the desktop's tests: a few namespaces of pods
// (some crashing), Warning events, metrics, logs and YAML; or one error
// status for everything. Streams lists when asked (sendInitialEvents).

#include "httptestserver.h"

#include <QDateTime>
#include <QFile>
#include <QPointer>
#include <QProcessEnvironment>
#include <QTemporaryDir>

#include <nlohmann/json.hpp>

namespace vigil::test::fake {

using nlohmann::json;

inline std::string ts(int secondsAgo)
{
    return QDateTime::currentDateTimeUtc().addSecs(-secondsAgo).toString(Qt::ISODate).toStdString();
}

inline json pod(const std::string &name, bool crashing, const std::string &rv = "5",
                const std::string &ns = "demo", const std::string &owner = "web-5d4f8", int ageSeconds = 900,
                int restarts = 6)
{
    json status = {{"phase", "Running"},
                   {"conditions", json::array({{{"type", "Ready"}, {"status", crashing ? "False" : "True"}},
                                               {{"type", "PodScheduled"}, {"status", "True"}}})}};
    json cs = {
        {"name", "app"}, {"image", "demo/web:1"}, {"ready", !crashing}, {"restartCount", crashing ? restarts : 0}};
    if (crashing) {
        cs["state"] = {
            {"waiting",
             {{"reason", "CrashLoopBackOff"}, {"message", "back-off 5m0s restarting failed container"}}}};
        cs["lastState"] = {{"terminated", {{"reason", "Error"}, {"exitCode", 1}, {"finishedAt", ts(30)}}}};
    } else {
        cs["state"] = {{"running", {{"startedAt", ts(600)}}}};
    }
    status["containerStatuses"] = json::array({cs});
    return {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata",
         {{"name", name},
          {"namespace", ns},
          {"uid", ns == "demo" ? "uid-" + name : "uid-" + ns + "-" + name},
          {"resourceVersion", rv},
          {"creationTimestamp", ts(ageSeconds)},
          {"labels", {{"app", "web"}, {"pod-template-hash", "5d4f8"}}},
          {"ownerReferences",
           json::array({{{"kind", "ReplicaSet"}, {"name", owner}, {"uid", "rs1"}, {"controller", true}}})}}},
        {"spec",
         {{"nodeName", "kwok-node-0"},
          {"containers", json::array({{{"name", "app"}, {"image", "demo/web:1"}}})}}},
        {"status", status}};
}

inline json warning()
{
    return {{"apiVersion", "v1"},
            {"kind", "Event"},
            {"metadata",
             {{"name", "web-crash.1"}, {"namespace", "demo"}, {"uid", "ev1"}, {"resourceVersion", "7"}}},
            {"type", "Warning"},
            {"reason", "BackOff"},
            {"message", "Back-off restarting failed container app"},
            {"involvedObject", {{"kind", "Pod"}, {"name", "web-5d4f8-crash"}, {"namespace", "demo"}}},
            {"count", 12},
            {"firstTimestamp", ts(300)},
            {"lastTimestamp", ts(20)}};
}

inline json listOf(const std::string &kind, const json &items)
{
    return {
        {"apiVersion", "v1"}, {"kind", kind}, {"metadata", {{"resourceVersion", "10"}}}, {"items", items}};
}

inline QByteArray line(const json &j)
{
    return QByteArray::fromStdString(j.dump()) + '\n';
}

/// Serves a small demo namespace, or one error status for everything.
class FakeCluster {
public:
    explicit FakeCluster(int failStatus = 0, bool rich = false)
        : m_rich(rich)
        , m_server([this, failStatus](HttpExchange *ex) { handle(ex, failStatus); })
    {
    }
    bool listen() { return m_server.listen(); }
    QUrl url() const { return m_server.url(); }
    /// Every request received so far, in order.
    const QList<HttpRequest> &requests() const { return m_server.requests(); }
    /// Logs without an error line: the rules then propose restart_pod for the lone crashing pod
    /// (with "panic: boom" in its previous log they propose an alert).
    void setQuietLogs(bool on) { m_quietLogs = on; }
    /// Evictions (not their dry runs) are refused with 429, as a PodDisruptionBudget would.
    void refuseEvictions(bool on) { m_refuseEvictions = on; }
    /// Sends a MODIFIED event for object on every open pods watch.
    void pushPod(const json &object)
    {
        for (const QPointer<HttpExchange> &w : std::as_const(m_podWatches)) {
            if (w)
                w->sendChunk(line({{"type", "MODIFIED"}, {"object", object}}));
        }
    }

private:
    json itemsFor(const QString &path) const
    {
        if (path.endsWith("/pods") && m_rich) {
            // A believable cluster for screenshots: several workloads, one crashing.
            json items = json::array({pod("web-5d4f8-ok", false), pod("web-5d4f8-crash", true)});
            const char *suffixes[] = {"x7k2p", "m9q4z", "b3n8w", "t6r1c"};
            int age = 3600;
            for (const char *ns : {"shop", "payments", "monitoring"}) {
                for (const char *app : {"api", "worker", "cache"}) {
                    for (int i = 0; i < 2; ++i) {
                        const std::string owner = std::string(app) + "-6c9f7";
                        items.push_back(pod(owner + "-" + suffixes[(i + age) % 4] + std::to_string(i), false,
                                            "5", ns, owner, age));
                        age += 5400;
                    }
                }
            }
            return items;
        }
        if (path.endsWith("/pods") && m_evicted)
            // The ReplicaSet replaced the evicted pod: a fresh, Ready one.
            return json::array(
                {pod("web-5d4f8-ok", false), pod("web-5d4f8-new", false, "12", "demo", "web-5d4f8", 0)});
        if (path.endsWith("/pods"))
            return json::array({pod("web-5d4f8-ok", false), pod("web-5d4f8-crash", true)});
        if (path.endsWith("/events"))
            return json::array({warning()});
        return json::array();
    }

    void handle(HttpExchange *ex, int failStatus)
    {
        const QString path = ex->request().path;
        if (failStatus) {
            const json status = {
                {"kind", "Status"},
                {"apiVersion", "v1"},
                {"status", "Failure"},
                {"message", failStatus == 403
                                ? "pods is forbidden: User \"dev\" cannot list resource \"pods\""
                                : "Unauthorized"},
                {"reason", failStatus == 403 ? "Forbidden" : "Unauthorized"},
                {"code", failStatus}};
            ex->respondJson(failStatus, QByteArray::fromStdString(status.dump()));
            return;
        }
        if (path == "/api/v1/namespaces") {
            json items = json::array();
            for (const char *n : {"default", "demo", "kube-system"})
                items.push_back({{"metadata", {{"name", n}, {"uid", n}}}});
            ex->respondJson(200, QByteArray::fromStdString(listOf("NamespaceList", items).dump()));
            return;
        }
        if (path.startsWith("/apis/metrics.k8s.io/")) {
            json items = json::array();
            int n = 0;
            for (const json &p : itemsFor("/pods")) {
                const std::string name = p["metadata"]["name"];
                if (name.find("crash") != std::string::npos)
                    continue;
                const std::string cpu = n == 0 ? "250m" : std::to_string(15 + (n * 37) % 400) + "m";
                const std::string mem = n == 0 ? "64Mi" : std::to_string(48 + (n * 53) % 700) + "Mi";
                ++n;
                items.push_back(
                    {{"metadata", {{"name", name}, {"namespace", p["metadata"]["namespace"]}}},
                     {"containers",
                      json::array({{{"name", "app"}, {"usage", {{"cpu", cpu}, {"memory", mem}}}}})}});
            }
            ex->respondJson(200, QByteArray::fromStdString(listOf("PodMetricsList", items).dump()));
            return;
        }
        if (path.endsWith("/log")) {
            const bool previous = ex->request().queryValue("previous") == "true";
            ex->respond(200, previous ? (m_quietLogs ? "stopping\n" : "panic: boom\n") : "starting\n",
                        {{"Content-Type", "text/plain"}});
            return;
        }
        if (ex->request().method == "POST" && path.endsWith("/eviction")) {
            if (m_refuseEvictions && ex->request().queryValue("dryRun") != "All") {
                const json status = {{"kind", "Status"},
                                     {"apiVersion", "v1"},
                                     {"status", "Failure"},
                                     {"message", "Cannot evict pod as it would violate the pod's disruption "
                                                 "budget."},
                                     {"reason", "TooManyRequests"},
                                     {"details", {{"causes", json::array({{{"reason", "DisruptionBudget"},
                                                                           {"message", "The disruption budget "
                                                                                       "web-pdb needs 1 healthy "
                                                                                       "pods and has 1 currently"}}})}}},
                                     {"code", 429}};
                ex->respondJson(429, QByteArray::fromStdString(status.dump()));
                return;
            }
            m_evicted = m_evicted || ex->request().queryValue("dryRun") != "All";
            ex->respondJson(201, R"({"kind":"Status","apiVersion":"v1","status":"Success","code":201})");
            return;
        }
        if (path.startsWith("/api/v1/namespaces/demo/pods/")) {
            ex->respondJson(200,
                            QByteArray::fromStdString(pod(path.section('/', -1).toStdString(), true).dump()));
            return;
        }
        const bool watch = ex->request().queryValue("watch") == "true";
        if (!watch) {
            ex->respondJson(200, QByteArray::fromStdString(listOf("List", itemsFor(path)).dump()));
            return;
        }
        ex->beginChunked(200, {{"Content-Type", "application/json"}});
        if (ex->request().queryValue("sendInitialEvents") == "true") {
            for (const json &item : itemsFor(path))
                ex->sendChunk(line({{"type", "ADDED"}, {"object", item}}));
            ex->sendChunk(line({{"type", "BOOKMARK"},
                                {"object",
                                 {{"kind", "Pod"},
                                  {"apiVersion", "v1"},
                                  {"metadata",
                                   {{"resourceVersion", "10"},
                                    {"annotations", {{"k8s.io/initial-events-end", "true"}}}}}}}}));
        }
        if (path.endsWith("/pods")) {
            m_podWatches << QPointer<HttpExchange>(ex);
            // One later change to a pod: the table must keep its selection across it.
            QPointer<HttpExchange> guard(ex);
            ex->later(600, [guard] {
                if (guard)
                    guard->sendChunk(
                        line({{"type", "MODIFIED"}, {"object", pod("web-5d4f8-ok", false, "11")}}));
            });
        }
        // Then the watch stays open and quiet.
    }

    bool m_rich = false;
    bool m_evicted = false;
    bool m_refuseEvictions = false;
    bool m_quietLogs = false;
    QList<QPointer<HttpExchange>> m_podWatches;
    HttpTestServer m_server;
};

inline QString writeKubeconfig(const QTemporaryDir &dir, const QUrl &server)
{
    const QString path = dir.filePath("kubeconfig");
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return {};
    f.write(QString("apiVersion: v1\nkind: Config\n"
                    "clusters:\n- name: fake\n  cluster:\n    server: %1\n"
                    "users:\n- name: tester\n  user:\n    token: abc\n"
                    "- name: plugin\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                    "      command: /bin/echo\n      interactiveMode: Never\n      args: [\"get-token\", "
                    "\"--cluster\", \"fake\"]\n"
                    "contexts:\n- name: fake-ctx\n  context:\n    cluster: fake\n    user: tester\n    "
                    "namespace: demo\n"
                    "- name: exec-ctx\n  context:\n    cluster: fake\n    user: plugin\n"
                    "current-context: fake-ctx\n")
                .arg(server.toString())
                .toUtf8());
    return path;
}

} // namespace vigil::test::fake
