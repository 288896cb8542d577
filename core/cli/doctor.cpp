#include "core/cli/commands.h"

#include "core/util/jsondepth.h"

#include "core/cli/await.h"
#include "core/cli/kubeoptions.h"
#include "core/kube/restclient.h"

#include <QCommandLineParser>
#include <QTextStream>

#include <nlohmann/json.hpp>

namespace vigil::cli {
namespace {

using nlohmann::json;

// What Vigil needs RBAC for: each action of the catalog, and the reads behind a diagnosis.
struct Permission {
    const char *purpose;
    const char *verb;
    const char *group;
    const char *resource;
    const char *subresource;
    bool namespaced;
};

constexpr Permission kPermissions[] = {
    {"restart_pod", "create", "", "pods", "eviction", true},
    {"scale_deployment", "patch", "apps", "deployments", "scale", true},
    {"cordon_node", "patch", "", "nodes", "", false},
    {"create_alert", "create", "", "events", "", true},
    {"watch pods", "watch", "", "pods", "", true},
    {"read logs", "get", "", "pods", "log", true},
    {"list events", "list", "", "events", "", true},
    {"list nodes", "list", "", "nodes", "", false},
};

std::string str(const QString &s)
{
    return s.toStdString();
}

QString proxyText(const kube::Connection &c)
{
    switch (c.proxy.type()) {
    case QNetworkProxy::NoProxy:
        return c.proxyFromEnvironment ? QStringLiteral("from environment (HTTPS_PROXY/NO_PROXY)")
                                      : QStringLiteral("none");
    case QNetworkProxy::Socks5Proxy:
        return QStringLiteral("socks5://%1:%2").arg(c.proxy.hostName()).arg(c.proxy.port());
    default:
        return QStringLiteral("http://%1:%2").arg(c.proxy.hostName()).arg(c.proxy.port());
    }
}

} // namespace

int doctorCommand(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Check the kubeconfig, the connection and Vigil's permissions."));
    addKubeOptions(parser);
    parser.addOption(
        {QStringLiteral("offline"), QStringLiteral("Only read the kubeconfig; do not contact the server.")});
    parser.addOption({{QStringLiteral("o"), QStringLiteral("output")},
                      QStringLiteral("Output format: text or json."),
                      QStringLiteral("format"),
                      QStringLiteral("text")});
    if (!parser.parse(arguments)) {
        err << "vigilctl doctor: " << parser.errorText() << '\n';
        return 2;
    }
    const bool asJson = parser.value(QStringLiteral("output")) == u"json";
    const bool offline = parser.isSet(QStringLiteral("offline"));

    json report = {{"context", nullptr},   {"cluster", nullptr},        {"server", nullptr},
                   {"namespace", nullptr}, {"auth", nullptr},           {"insecure", false},
                   {"proxy", nullptr},     {"warnings", json::array()}, {"files", json::array()},
                   {"error", nullptr}};
    auto finish = [&](int code) {
        if (asJson) {
            out << QString::fromStdString(report.dump(2)) << '\n';
        } else if (!report["error"].is_null()) {
            err << "vigilctl doctor: " << QString::fromStdString(report["error"].get<std::string>()) << '\n';
        }
        return code;
    };

    const QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    Result<ResolvedKube> resolved = resolveKube(kubeFlags(parser), env);
    if (!resolved) {
        report["error"] = str(resolved.errorMessage());
        return finish(1);
    }
    const kube::Connection &c = resolved->connection;
    report["context"] = resolved->inCluster ? std::string("(in-cluster)") : str(c.contextName);
    report["cluster"] = str(c.clusterName);
    report["server"] = str(c.server.toString());
    report["namespace"] = str(c.namespaceName);
    report["auth"] = str(c.credentials ? c.credentials->method() : QStringLiteral("none"));
    report["insecure"] = c.insecureSkipTlsVerify;
    report["proxy"] = str(proxyText(c));
    for (const QString &f : c.sourceFiles)
        report["files"].push_back(str(f));
    for (const QString &w : c.warnings)
        report["warnings"].push_back(str(w));
    if (c.insecureSkipTlsVerify && c.warnings.filter(QStringLiteral("insecure")).isEmpty())
        report["warnings"].push_back(
            "insecure-skip-tls-verify is set: the server's certificate is NOT verified");

    if (!asJson) {
        out << "kubeconfig: "
            << (c.sourceFiles.isEmpty() ? QStringLiteral("(in-cluster service account)")
                                        : c.sourceFiles.join(QStringLiteral(", ")))
            << '\n'
            << "context:    " << QString::fromStdString(report["context"].get<std::string>()) << '\n'
            << "cluster:    " << c.clusterName << '\n'
            << "server:     " << c.server.toString() << '\n'
            << "namespace:  " << c.namespaceName << '\n'
            << "auth:       " << QString::fromStdString(report["auth"].get<std::string>()) << '\n'
            << "proxy:      " << proxyText(c) << '\n'
            << "TLS:        "
            << (c.insecureSkipTlsVerify      ? QStringLiteral("NOT VERIFIED (insecure-skip-tls-verify)")
                : c.caCertificates.isEmpty() ? QStringLiteral("verified against the system CAs")
                                             : QStringLiteral("verified against the kubeconfig's CA"))
            << '\n';
        for (const auto &w : report["warnings"])
            out << "WARNING:    " << QString::fromStdString(w.get<std::string>()) << '\n';
    }
    if (offline)
        return finish(0);

    kube::RestClientOptions options;
    options.timeoutMs = 10000;
    kube::RestClient client(c, options);
    kube::Request versionRequest;
    versionRequest.path = QStringLiteral("/version");
    Result<kube::Response> version =
        await<kube::Response>([&](QObject *ctx, auto cb) { client.send(versionRequest, ctx, cb); });
    if (!version) {
        report["reachable"] = false;
        report["error"] =
            str(QStringLiteral("cannot reach %1: %2").arg(c.server.toString(), version.errorMessage()));
        return finish(1);
    }
    report["reachable"] = true;
    const json v = json::parse(version->body.constData(), nullptr, false);
    report["serverVersion"] = v.is_object() && v.contains("gitVersion") && v["gitVersion"].is_string()
                                  ? v["gitVersion"]
                                  : json(nullptr);
    if (!asJson)
        out << "reachable:  yes, Kubernetes "
            << QString::fromStdString(report["serverVersion"].is_string()
                                          ? report["serverVersion"].get<std::string>()
                                          : std::string("(unknown version)"))
            << '\n'
            << "permissions (SelfSubjectAccessReview):\n";

    report["permissions"] = json::array();
    bool anyFailed = false;
    for (const Permission &p : kPermissions) {
        json attrs = {{"verb", p.verb}, {"group", p.group}, {"resource", p.resource}};
        if (*p.subresource)
            attrs["subresource"] = p.subresource;
        if (p.namespaced)
            attrs["namespace"] = str(c.namespaceName);
        const json review = {{"apiVersion", "authorization.k8s.io/v1"},
                             {"kind", "SelfSubjectAccessReview"},
                             {"spec", {{"resourceAttributes", attrs}}}};
        kube::ResourcePath path{{QStringLiteral("authorization.k8s.io"), QStringLiteral("v1"),
                                 QStringLiteral("selfsubjectaccessreviews"), false},
                                {},
                                {},
                                {}};
        Result<json> answer =
            await<json>([&](QObject *ctx, auto cb) { client.create(path, review, {}, ctx, cb); });
        json row = {{"purpose", p.purpose},
                    {"verb", p.verb},
                    {"resource", std::string(p.resource) +
                                     (*p.subresource ? std::string("/") + p.subresource : std::string())}};
        if (!answer) {
            row["allowed"] = nullptr;
            row["error"] = str(answer.errorMessage());
            anyFailed = true;
        } else {
            const json &status = (*answer)["status"];
            row["allowed"] = status.is_object() && jsonValue(status, "allowed", false);
            if (status.is_object() && status.contains("reason") && status["reason"].is_string())
                row["reason"] = status["reason"];
        }
        if (!asJson) {
            const QString verdict = row["allowed"].is_null()
                                        ? QStringLiteral("unknown (%1)")
                                              .arg(QString::fromStdString(row["error"].get<std::string>()))
                                    : row["allowed"].get<bool>() ? QStringLiteral("allowed")
                                                                 : QStringLiteral("DENIED");
            out << "  " << QString::fromLatin1(p.purpose).leftJustified(17) << ' '
                << QString(QString::fromLatin1(p.verb) + u' ' +
                           QString::fromStdString(row["resource"].get<std::string>()))
                       .leftJustified(28)
                << ' ' << verdict << '\n';
        }
        report["permissions"].push_back(row);
    }
    if (anyFailed)
        report["error"] = "some permission checks could not be made";
    return finish(anyFailed ? 1 : 0);
}

} // namespace vigil::cli
