#pragma once

// For integration tests: one RestClient on the real test cluster (see
// testcluster.h) with blocking helpers, unique names, namespaces and
// Deployments whose pods kwok runs and marks Ready.

#include "core/cli/await.h"
#include "core/kube/restclient.h"
#include "testcluster.h"

#include <QDateTime>
#include <QFile>
#include <QMap>
#include <QRandomGenerator>
#include <QTest>

#include <functional>
#include <memory>

namespace vigil::test {

using json = nlohmann::json;

/// One RestClient on the test cluster with blocking helpers.
class ClusterApi {
public:
    Result<void> connect()
    {
        Result<kube::Connection> c = testClusterConnection();
        if (!c)
            return c.error();
        kube::RestClientOptions o;
        o.qps = 0;
        o.timeoutMs = 15000;
        client = std::make_unique<kube::RestClient>(*c, o);
        return {};
    }

    Result<json> get(const kube::ResourcePath &p)
    {
        return cli::await<json>([&](QObject *ctx, auto cb) { client->get(p, ctx, cb); });
    }
    Result<json> create(const kube::ResourcePath &p, const json &object)
    {
        return cli::await<json>([&](QObject *ctx, auto cb) { client->create(p, object, {}, ctx, cb); });
    }
    Result<json> patch(const kube::ResourcePath &p, const json &mergePatch)
    {
        return cli::await<json>([&](QObject *ctx, auto cb) {
            client->patch(p, kube::PatchType::Merge, QByteArray::fromStdString(mergePatch.dump()), {}, ctx,
                          cb);
        });
    }
    Result<json> remove(const kube::ResourcePath &p)
    {
        return cli::await<json>([&](QObject *ctx, auto cb) { client->remove(p, {}, ctx, cb); });
    }
    Result<QList<json>> list(const kube::ResourcePath &p, const QString &labelSelector = {},
                             const QString &fieldSelector = {})
    {
        kube::ListOptions o;
        o.labelSelector = labelSelector;
        o.fieldSelector = fieldSelector;
        Result<kube::ListResult> r =
            cli::await<kube::ListResult>([&](QObject *ctx, auto cb) { client->list(p, o, ctx, cb); });
        if (!r)
            return r.error();
        QList<json> out;
        for (const json &item : r->items)
            out.append(item);
        return out;
    }

    /// Polls probe every 200 ms until it is true or timeoutMs passes.
    static bool waitFor(const std::function<bool()> &probe, int timeoutMs)
    {
        const qint64 deadline = QDateTime::currentMSecsSinceEpoch() + timeoutMs;
        while (QDateTime::currentMSecsSinceEpoch() < deadline) {
            if (probe())
                return true;
            QTest::qWait(200);
        }
        return probe();
    }

    static QString uniqueName(const QString &prefix)
    {
        return prefix + QString::number(QRandomGenerator::global()->generate() % 0xffffffu, 16);
    }

    /// Applies resources/crd/agentdecision.yaml and waits until it is Established. Shared by every
    /// test on the cluster: idempotent, never deleted. The source tree comes from VIGIL_SOURCE_DIR.
    Result<void> installAgentDecisionCrd()
    {
        QFile crd(qEnvironmentVariable("VIGIL_SOURCE_DIR") +
                  QStringLiteral("/resources/crd/agentdecision.yaml"));
        if (!crd.open(QIODevice::ReadOnly))
            return Error(crd.fileName() + QStringLiteral(": ") + crd.errorString());
        const QByteArray manifest = crd.readAll();
        const kube::ResourceType crds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", false};
        const kube::ResourcePath path{crds, {}, QStringLiteral("agentdecisions.ai.vigil.dev"), {}};
        kube::ApplyOptions options;
        options.force = true;
        Result<json> applied =
            cli::await<json>([&](QObject *ctx, auto cb) { client->apply(path, manifest, options, ctx, cb); });
        if (!applied)
            return applied.error();
        const bool established = waitFor(
            [&] {
                Result<json> got = get(path);
                if (!got)
                    return false;
                for (const json &cond :
                     got->value("status", json::object()).value("conditions", json::array()))
                    if (cond.value("type", std::string()) == "Established" &&
                        cond.value("status", std::string()) == "True")
                        return true;
                return false;
            },
            30000);
        if (!established)
            return Error(QStringLiteral("the AgentDecision CRD never became Established"));
        return {};
    }

    Result<json> createNamespace(const QString &name)
    {
        return create(
            {kube::ResourceType::namespaces(), {}, {}, {}},
            {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name.toStdString()}}}});
    }

    /// A Deployment (label app=name) whose pods kwok runs and marks Ready.
    Result<json> createDeployment(const QString &ns, const QString &name, int replicas)
    {
        const std::string n = name.toStdString();
        const json labels = {{"app", n}};
        const json d = {{"apiVersion", "apps/v1"},
                        {"kind", "Deployment"},
                        {"metadata", {{"name", n}, {"namespace", ns.toStdString()}, {"labels", labels}}},
                        {"spec",
                         {{"replicas", replicas},
                          {"selector", {{"matchLabels", labels}}},
                          {"template",
                           {{"metadata", {{"labels", labels}}},
                            {"spec",
                             {{"nodeSelector", {{"type", "kwok"}}},
                              {"terminationGracePeriodSeconds", 0},
                              {"containers",
                               json::array({{{"name", "app"}, {"image", "registry.invalid/app:1"}}})}}}}}}}};
        return create({kube::ResourceType::deployments(), ns, {}, {}}, d);
    }

    int readyReplicas(const QString &ns, const QString &name)
    {
        Result<json> d = get({kube::ResourceType::deployments(), ns, name, {}});
        if (!d)
            return -1;
        const json ready = d->value("status", json::object()).value("readyReplicas", json(0));
        return ready.is_number_integer() ? ready.get<int>() : 0;
    }

    /// The Deployment's pods that are not terminating, as name -> uid.
    QMap<QString, QString> livePods(const QString &ns, const QString &app)
    {
        QMap<QString, QString> out;
        Result<QList<json>> pods =
            list({kube::ResourceType::pods(), ns, {}, {}}, QStringLiteral("app=") + app);
        if (!pods)
            return out;
        for (const json &p : *pods) {
            const json &meta = p["metadata"];
            if (meta.contains("deletionTimestamp"))
                continue;
            out.insert(QString::fromStdString(meta.value("name", std::string())),
                       QString::fromStdString(meta.value("uid", std::string())));
        }
        return out;
    }

    std::unique_ptr<kube::RestClient> client;
};

} // namespace vigil::test
