#include "core/kube/config/kubeconfig.h"

#include "core/kube/config/credentials.h"
#include "core/kube/config/oidc.h"
#include "core/kube/config/yamlguard.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <yaml-cpp/yaml.h>

namespace vigil::kube {

namespace {

struct Entry {
    YAML::Node node; ///< the inner cluster/user/context map; may be null
    QString file;
};

QString q(const QString &s)
{
    return QLatin1Char('"') + s + QLatin1Char('"');
}

bool isAbsent(const YAML::Node &n)
{
    return !n.IsDefined() || n.IsNull();
}

QString absolutePathFrom(const QString &path, const QString &definingFile)
{
    if (path.isEmpty() || QDir::isAbsolutePath(path))
        return path;
    return QDir::cleanPath(QFileInfo(definingFile).absoluteDir().absoluteFilePath(path));
}

// Reads typed fields of one map, prefixing every error with where it is.
class Fields {
public:
    Fields(const YAML::Node &map, QString where)
        : m_map(map)
        , m_where(std::move(where))
    {
    }

    Error error(const QString &field, const QString &problem) const
    {
        return Error(QStringLiteral("%1: field %2: %3").arg(m_where, field, problem));
    }
    // IsDefined() first: IsMap() throws on the invalid node a missing key yields.
    bool isMap() const { return m_map.IsDefined() && m_map.IsMap(); }
    bool has(const char *key) const { return isMap() && !isAbsent(m_map[key]); }
    YAML::Node node(const char *key) const { return isMap() ? m_map[key] : YAML::Node(); }

    Result<QString> str(const char *key) const
    {
        if (!has(key))
            return QString();
        const YAML::Node n = m_map[key];
        if (!n.IsScalar())
            return error(QString::fromLatin1(key), QStringLiteral("expected a string"));
        return QString::fromStdString(n.Scalar());
    }
    Result<bool> boolean(const char *key) const
    {
        if (!has(key))
            return false;
        try {
            return m_map[key].as<bool>();
        } catch (const YAML::Exception &) {
            return error(QString::fromLatin1(key), QStringLiteral("expected true or false"));
        }
    }
    Result<QByteArray> base64(const char *key) const
    {
        auto s = str(key);
        if (!s)
            return s.error();
        auto decoded =
            QByteArray::fromBase64Encoding(s->trimmed().toLatin1(), QByteArray::AbortOnBase64DecodingErrors);
        if (!decoded)
            return error(QString::fromLatin1(key), QStringLiteral("not valid base64"));
        return *decoded;
    }
    Result<QByteArray> fileContents(const char *key, const QString &definingFile) const
    {
        auto s = str(key);
        if (!s)
            return s.error();
        const QString path = absolutePathFrom(*s, definingFile);
        QFile f(path);
        if (!f.exists())
            return error(QString::fromLatin1(key), QStringLiteral("file %1 does not exist").arg(path));
        if (!f.open(QIODevice::ReadOnly))
            return error(QString::fromLatin1(key),
                         QStringLiteral("cannot read %1: %2").arg(path, f.errorString()));
        return readAtMost(f);
    }
    const QString &where() const { return m_where; }

private:
    YAML::Node m_map;
    QString m_where;
};

QJsonValue yamlToJson(const YAML::Node &n)
{
    if (n.IsMap()) {
        QJsonObject o;
        for (const auto &kv : n)
            o.insert(QString::fromStdString(kv.first.Scalar()), yamlToJson(kv.second));
        return o;
    }
    if (n.IsSequence()) {
        QJsonArray a;
        for (const auto &v : n)
            a.append(yamlToJson(v));
        return a;
    }
    if (n.IsScalar())
        return QString::fromStdString(n.Scalar());
    return QJsonValue();
}

bool readableByOthers(const QString &path)
{
    return QFile::permissions(path) & (QFileDevice::ReadOther | QFileDevice::ReadGroup);
}

} // namespace

struct KubeConfig::Data {
    LoadOptions options;
    QStringList files;
    QString currentContext;
    QStringList contextOrder;
    QHash<QString, Entry> clusters, users, contexts;

    Result<void> merge(const QString &file, const YAML::Node &root);
    Result<Connection> resolve(const QString &contextName) const;
    Result<std::shared_ptr<CredentialSource>>
    credentialsFor(const QString &userName, const Entry &user, const QString &contextName,
                   const YAML::Node &cluster, const QString &clusterWhere, Connection &conn) const;
};

Result<void> KubeConfig::Data::merge(const QString &file, const YAML::Node &root)
{
    if (isAbsent(root))
        return {}; // an empty file is a valid, empty kubeconfig
    if (!root.IsMap())
        return Error(
            QStringLiteral(
                "%1: not a kubeconfig: the top level must be a map with clusters, users and contexts")
                .arg(file));
    try {
        struct Section {
            const char *list;
            const char *inner;
            QHash<QString, Entry> *into;
        };
        for (const Section &s : {Section{"clusters", "cluster", &clusters}, Section{"users", "user", &users},
                                 Section{"contexts", "context", &contexts}}) {
            const YAML::Node list = root[s.list];
            if (isAbsent(list))
                continue;
            if (!list.IsSequence())
                return Error(
                    QStringLiteral("%1: field %2: expected a list").arg(file, QString::fromLatin1(s.list)));
            QSet<QString> seen;
            for (std::size_t i = 0; i < list.size(); ++i) {
                const YAML::Node item = list[i];
                const QString at = QStringLiteral("%1: %2[%3]").arg(file, QString::fromLatin1(s.list)).arg(i);
                if (!item.IsMap())
                    return Error(QStringLiteral("%1: expected a map with name and %2")
                                     .arg(at, QString::fromLatin1(s.inner)));
                if (!item["name"].IsScalar() || item["name"].Scalar().empty())
                    return Error(QStringLiteral("%1: field name: missing or not a string").arg(at));
                const QString name = QString::fromStdString(item["name"].Scalar());
                const YAML::Node inner = item[s.inner];
                if (!isAbsent(inner) && !inner.IsMap())
                    return Error(
                        QStringLiteral("%1: %2 %3: field %4: expected a map")
                            .arg(file, QString::fromLatin1(s.inner), q(name), QString::fromLatin1(s.inner)));
                if (seen.contains(name))
                    return Error(QStringLiteral("%1: %2: duplicate name %3")
                                     .arg(file, QString::fromLatin1(s.list), q(name)));
                seen.insert(name);
                if (s.into->contains(name))
                    continue; // first file wins
                s.into->insert(name, Entry{inner, file});
                if (s.into == &contexts)
                    contextOrder << name;
            }
        }
        const YAML::Node current = root["current-context"];
        if (!isAbsent(current)) {
            if (!current.IsScalar())
                return Error(QStringLiteral("%1: field current-context: expected a string").arg(file));
            if (currentContext.isEmpty())
                currentContext = QString::fromStdString(current.Scalar());
        }
    } catch (const YAML::Exception &e) {
        return Error(QStringLiteral("%1: unexpected structure near line %2: %3")
                         .arg(file)
                         .arg(e.mark.line + 1)
                         .arg(QString::fromStdString(e.msg)));
    }
    return {};
}

Result<KubeConfig> KubeConfig::load(const LoadOptions &options)
{
    auto d = std::make_shared<Data>();
    d->options = options;
    QStringList candidates;
    bool mustExist = false;
    if (!options.explicitPath.isEmpty()) {
        candidates << options.explicitPath;
        mustExist = true;
    } else if (!options.kubeconfigEnv.isEmpty()) {
        for (const QString &p : options.kubeconfigEnv.split(QLatin1Char(':'), Qt::SkipEmptyParts)) {
            const QString abs = QFileInfo(p).absoluteFilePath();
            if (!candidates.contains(abs))
                candidates << abs;
        }
    } else if (!options.homeDir.isEmpty()) {
        candidates << QDir(options.homeDir).filePath(QStringLiteral(".kube/config"));
    }

    for (const QString &file : candidates) {
        if (!QFileInfo::exists(file)) {
            if (mustExist)
                return Error(
                    QStringLiteral("%1: the kubeconfig given with --kubeconfig does not exist").arg(file));
            continue; // kubectl skips missing files in KUBECONFIG
        }
        auto root = loadYamlFile(file);
        if (!root)
            return root.error();
        auto merged = d->merge(file, *root);
        if (!merged)
            return merged.error();
        d->files << file;
    }
    if (d->files.isEmpty()) {
        if (candidates.isEmpty())
            return Error(
                QStringLiteral("no kubeconfig: KUBECONFIG is not set and no home directory is known"),
                kNoKubeconfig);
        return Error(
            QStringLiteral("no kubeconfig found; looked for: %1").arg(candidates.join(QStringLiteral(", "))),
            kNoKubeconfig);
    }
    KubeConfig config;
    config.m_d = std::move(d);
    return config;
}

QStringList KubeConfig::contextNames() const
{
    return m_d->contextOrder;
}
QString KubeConfig::currentContext() const
{
    return m_d->currentContext;
}
QStringList KubeConfig::files() const
{
    return m_d->files;
}

QList<ContextInfo> KubeConfig::contexts() const
{
    QList<ContextInfo> out;
    for (const QString &name : m_d->contextOrder) {
        const Entry &e = m_d->contexts.value(name);
        const Fields f(e.node, QString());
        out << ContextInfo{name, f.str("cluster").ok() ? *f.str("cluster") : QString(),
                           f.str("user").ok() ? *f.str("user") : QString(),
                           f.str("namespace").ok() ? *f.str("namespace") : QString(), e.file};
    }
    return out;
}

Result<Connection> KubeConfig::resolve(const QString &context) const
{
    try {
        return m_d->resolve(context);
    } catch (const std::exception &e) {
        return Error(
            QStringLiteral("kubeconfig %1: context %2: %3")
                .arg(m_d->files.join(QStringLiteral(", ")), q(context), QString::fromUtf8(e.what())));
    }
}

Result<Connection> KubeConfig::Data::resolve(const QString &requested) const
{
    const QString fileList = files.join(QStringLiteral(", "));
    const QString contextName = !requested.isEmpty()                 ? requested
                                : !options.contextOverride.isEmpty() ? options.contextOverride
                                                                     : currentContext;
    if (contextName.isEmpty())
        return Error(
            QStringLiteral("%1: current-context is not set; choose a context with --context (available: %2)")
                .arg(fileList, contextOrder.isEmpty() ? QStringLiteral("none")
                                                      : contextOrder.join(QStringLiteral(", "))));
    if (!contexts.contains(contextName))
        return Error(QStringLiteral("%1: context %2 is not defined (available: %3)")
                         .arg(fileList, q(contextName),
                              contextOrder.isEmpty() ? QStringLiteral("none")
                                                     : contextOrder.join(QStringLiteral(", "))));
    const Entry &ctx = contexts.value(contextName);
    const Fields cf(ctx.node, QStringLiteral("%1: context %2").arg(ctx.file, q(contextName)));

    Connection conn;
    conn.contextName = contextName;
    conn.sourceFiles = files;
    auto clusterName = cf.str("cluster");
    auto userName = cf.str("user");
    auto ns = cf.str("namespace");
    for (const auto *r : {&clusterName, &userName, &ns})
        if (!*r)
            return r->error();
    if (clusterName->isEmpty())
        return cf.error(QStringLiteral("cluster"), QStringLiteral("not set"));
    if (!clusters.contains(*clusterName))
        return cf.error(QStringLiteral("cluster"),
                        QStringLiteral("cluster %1 is not defined in %2").arg(q(*clusterName), fileList));
    conn.clusterName = *clusterName;
    conn.userName = *userName;
    conn.namespaceName = !options.namespaceOverride.isEmpty() ? options.namespaceOverride
                         : !ns->isEmpty()                     ? *ns
                                                              : QStringLiteral("default");

    // --- cluster
    const Entry &cl = clusters.value(*clusterName);
    const QString clusterWhere =
        QStringLiteral("%1: context %2: cluster %3").arg(cl.file, q(contextName), q(*clusterName));
    const Fields c(cl.node, clusterWhere);
    auto server = c.str("server");
    if (!server)
        return server.error();
    if (server->isEmpty())
        return c.error(QStringLiteral("server"), QStringLiteral("not set"));
    QUrl url(server->contains(QStringLiteral("://")) ? *server : QStringLiteral("https://") + *server,
             QUrl::StrictMode);
    if (!url.isValid() || url.host().isEmpty() ||
        (url.scheme() != QLatin1String("https") && url.scheme() != QLatin1String("http")))
        return c.error(QStringLiteral("server"),
                       QStringLiteral("%1 is not an http(s) URL with a host").arg(q(*server)));
    conn.server = url;

    if (c.has("certificate-authority") && c.has("certificate-authority-data"))
        return c.error(
            QStringLiteral("certificate-authority-data"),
            QStringLiteral("certificate-authority and certificate-authority-data are both set; keep one"));
    QByteArray caPem;
    if (c.has("certificate-authority-data")) {
        auto data = c.base64("certificate-authority-data");
        if (!data)
            return data.error();
        caPem = *data;
    } else if (c.has("certificate-authority")) {
        auto data = c.fileContents("certificate-authority", cl.file);
        if (!data)
            return data.error();
        caPem = *data;
    }
    const QString caField = c.has("certificate-authority-data") ? QStringLiteral("certificate-authority-data")
                                                                : QStringLiteral("certificate-authority");
    if (!caPem.isEmpty() || c.has("certificate-authority-data") || c.has("certificate-authority")) {
        auto certs = parsePemCertificates(caPem);
        if (!certs)
            return c.error(caField, certs.errorMessage());
        conn.caCertificates = *certs;
    }
    auto insecure = c.boolean("insecure-skip-tls-verify");
    if (!insecure)
        return insecure.error();
    if (*insecure && !conn.caCertificates.isEmpty())
        return c.error(
            QStringLiteral("insecure-skip-tls-verify"),
            QStringLiteral("a certificate authority together with insecure-skip-tls-verify is not allowed"));
    conn.insecureSkipTlsVerify = *insecure;
    if (*insecure)
        conn.warnings << QStringLiteral(
                             "cluster %1 has insecure-skip-tls-verify: the server's certificate is not "
                             "checked, so anyone on the network path can impersonate it")
                             .arg(q(*clusterName));
    auto sni = c.str("tls-server-name");
    if (!sni)
        return sni.error();
    conn.tlsServerName = *sni;

    auto proxyUrl = c.str("proxy-url");
    if (!proxyUrl)
        return proxyUrl.error();
    if (!proxyUrl->isEmpty()) {
        const QUrl p(*proxyUrl, QUrl::StrictMode);
        const QString scheme = p.scheme();
        QNetworkProxy proxy;
        if (!p.isValid() || p.host().isEmpty())
            return c.error(QStringLiteral("proxy-url"),
                           QStringLiteral("%1 is not a URL with a host").arg(q(*proxyUrl)));
        if (scheme == QLatin1String("http")) {
            proxy = QNetworkProxy(QNetworkProxy::HttpProxy, p.host(), quint16(p.port(80)));
        } else if (scheme == QLatin1String("https")) {
            // Qt has no HTTPS-proxy type: the hop to the proxy is plain HTTP
            // CONNECT. The tunnelled API traffic itself is still TLS.
            proxy = QNetworkProxy(QNetworkProxy::HttpProxy, p.host(), quint16(p.port(443)));
            conn.warnings << QStringLiteral(
                                 "proxy-url %1 uses https, but Qt cannot speak TLS to a proxy: the hop to "
                                 "the proxy is not encrypted (the API traffic through it still is)")
                                 .arg(p.toDisplayString(QUrl::RemoveUserInfo));
        } else if (scheme == QLatin1String("socks5") || scheme == QLatin1String("socks5h")) {
            proxy = QNetworkProxy(QNetworkProxy::Socks5Proxy, p.host(), quint16(p.port(1080)));
        } else {
            return c.error(
                QStringLiteral("proxy-url"),
                QStringLiteral("unsupported scheme %1 (use http, https or socks5)").arg(q(scheme)));
        }
        proxy.setUser(p.userName(QUrl::FullyDecoded));
        proxy.setPassword(p.password(QUrl::FullyDecoded));
        conn.proxy = proxy;
        conn.proxyFromEnvironment = false;
    }

    // --- user
    if (userName->isEmpty()) {
        conn.credentials = std::make_shared<StaticCredentialSource>(QStringLiteral("none"), Credentials());
        return conn;
    }
    if (!users.contains(*userName))
        return cf.error(QStringLiteral("user"),
                        QStringLiteral("user %1 is not defined in %2").arg(q(*userName), fileList));
    auto source = credentialsFor(*userName, users.value(*userName), contextName, cl.node, clusterWhere, conn);
    if (!source)
        return source.error();
    conn.credentials = *source;
    if (url.scheme() == QLatin1String("http") && conn.credentials->method() != QLatin1String("none"))
        conn.warnings << QStringLiteral("server %1 uses plain http: credentials are sent unencrypted")
                             .arg(url.toString());
    return conn;
}

Result<std::shared_ptr<CredentialSource>>
KubeConfig::Data::credentialsFor(const QString &userName, const Entry &user, const QString &contextName,
                                 const YAML::Node &cluster, const QString &clusterWhere,
                                 Connection &conn) const
{
    const QString where =
        QStringLiteral("%1: context %2: user %3").arg(user.file, q(contextName), q(userName));
    const Fields u(user.node, where);

    // Client certificate: may accompany any other method.
    Credentials base;
    for (const char *pair : {"client-certificate", "client-key"}) {
        const QByteArray data = QByteArray(pair) + "-data";
        if (u.has(pair) && u.has(data.constData()))
            return u.error(QString::fromLatin1(data),
                           QStringLiteral("%1 and %2 are both set; keep one")
                               .arg(QString::fromLatin1(pair), QString::fromLatin1(data)));
    }
    const bool hasCert = u.has("client-certificate") || u.has("client-certificate-data");
    const bool hasKey = u.has("client-key") || u.has("client-key-data");
    if (hasCert != hasKey)
        return u.error(
            hasCert ? QStringLiteral("client-key") : QStringLiteral("client-certificate"),
            hasCert ? QStringLiteral("client-key or client-key-data must be set with a client certificate")
                    : QStringLiteral(
                          "client-certificate or client-certificate-data must be set with a client key"));
    if (hasCert) {
        const bool certInline = u.has("client-certificate-data");
        const bool keyInline = u.has("client-key-data");
        auto certPem = certInline ? u.base64("client-certificate-data")
                                  : u.fileContents("client-certificate", user.file);
        if (!certPem)
            return certPem.error();
        auto keyPem = keyInline ? u.base64("client-key-data") : u.fileContents("client-key", user.file);
        if (!keyPem)
            return keyPem.error();
        const QString certField =
            certInline ? QStringLiteral("client-certificate-data") : QStringLiteral("client-certificate");
        const QString keyField = keyInline ? QStringLiteral("client-key-data") : QStringLiteral("client-key");
        auto certs = parsePemCertificates(*certPem);
        if (!certs)
            return u.error(certField, certs.errorMessage());
        auto key = parsePemPrivateKey(*keyPem);
        if (!key)
            return u.error(keyField, key.errorMessage());
        base.clientCertificate = certs->takeFirst();
        base.clientCertificateChain = *certs;
        base.clientKey = *key;
        if (!keyInline) {
            const QString keyPath = absolutePathFrom(*u.str("client-key"), user.file);
            if (readableByOthers(keyPath))
                conn.warnings << QStringLiteral("client key %1 is readable by other users").arg(keyPath);
        }
    }

    auto token = u.str("token");
    auto tokenFile = u.str("tokenFile");
    auto username = u.str("username");
    auto password = u.str("password");
    for (const auto *r : {&token, &tokenFile, &username, &password})
        if (!*r)
            return r->error();
    const bool hasBasic = !username->isEmpty() || !password->isEmpty();
    if (!token->isEmpty() && hasBasic)
        return u.error(
            QStringLiteral("username"),
            QStringLiteral("more than one authentication method (token and basic); only one is allowed"));

    const bool hasExec = u.has("exec");
    const bool hasProvider = u.has("auth-provider");
    if (hasExec && hasProvider)
        return u.error(QStringLiteral("exec"), QStringLiteral("exec and auth-provider cannot both be set"));

    if (hasExec) {
        const YAML::Node execNode = u.node("exec");
        if (!execNode.IsMap())
            return u.error(QStringLiteral("exec"), QStringLiteral("expected a map"));
        const Fields e(execNode, where + QStringLiteral(": exec"));
        ExecConfig exec;
        auto command = e.str("command");
        auto apiVersion = e.str("apiVersion");
        auto hint = e.str("installHint");
        auto mode = e.str("interactiveMode");
        auto provide = e.boolean("provideClusterInfo");
        for (const auto *r : {&command, &apiVersion, &hint, &mode})
            if (!*r)
                return r->error();
        if (!provide)
            return provide.error();
        if (command->isEmpty())
            return e.error(QStringLiteral("command"), QStringLiteral("not set"));
        if (apiVersion->isEmpty())
            return e.error(QStringLiteral("apiVersion"), QStringLiteral("not set"));
        if (*apiVersion != QLatin1String("client.authentication.k8s.io/v1") &&
            *apiVersion != QLatin1String("client.authentication.k8s.io/v1beta1"))
            return e.error(
                QStringLiteral("apiVersion"),
                QStringLiteral("%1 is not supported (use client.authentication.k8s.io/v1 or v1beta1)")
                    .arg(q(*apiVersion)));
        if (mode->isEmpty()) {
            // kubectl defaults v1beta1 to IfAvailable and makes v1 say it.
            if (apiVersion->endsWith(QLatin1String("/v1")))
                return e.error(
                    QStringLiteral("interactiveMode"),
                    QStringLiteral(
                        "must be set for client.authentication.k8s.io/v1 (Never, IfAvailable or Always)"));
            *mode = QStringLiteral("IfAvailable");
        }
        if (*mode != QLatin1String("Never") && *mode != QLatin1String("IfAvailable") &&
            *mode != QLatin1String("Always"))
            return e.error(QStringLiteral("interactiveMode"),
                           QStringLiteral("%1 is not one of Never, IfAvailable, Always").arg(q(*mode)));
        const YAML::Node args = execNode["args"];
        if (!isAbsent(args)) {
            if (!args.IsSequence())
                return e.error(QStringLiteral("args"), QStringLiteral("expected a list of strings"));
            for (const auto &a : args) {
                if (!a.IsScalar())
                    return e.error(QStringLiteral("args"), QStringLiteral("expected a list of strings"));
                exec.args << QString::fromStdString(a.Scalar());
            }
        }
        const YAML::Node env = execNode["env"];
        if (!isAbsent(env)) {
            if (!env.IsSequence())
                return e.error(QStringLiteral("env"), QStringLiteral("expected a list of {name, value}"));
            for (const auto &item : env) {
                if (!item.IsMap() || !item["name"].IsScalar() || item["name"].Scalar().empty() ||
                    (!isAbsent(item["value"]) && !item["value"].IsScalar()))
                    return e.error(QStringLiteral("env"),
                                   QStringLiteral("every entry needs a name and a string value"));
                exec.env.append(
                    {QString::fromStdString(item["name"].Scalar()),
                     isAbsent(item["value"]) ? QString() : QString::fromStdString(item["value"].Scalar())});
            }
        }
        exec.command = command->contains(QLatin1Char('/')) ? absolutePathFrom(*command, user.file) : *command;
        exec.apiVersion = *apiVersion;
        exec.installHint = *hint;
        exec.interactiveMode = *mode;
        exec.provideClusterInfo = *provide;
        exec.sourceFile = user.file;
        exec.userName = userName;
        exec.homeDir = options.homeDir;
        exec.timeoutMs = options.execTimeoutMs;
        if (*provide) {
            QJsonObject info{{QStringLiteral("server"), conn.server.toString()}};
            if (!conn.tlsServerName.isEmpty())
                info.insert(QStringLiteral("tls-server-name"), conn.tlsServerName);
            if (conn.insecureSkipTlsVerify)
                info.insert(QStringLiteral("insecure-skip-tls-verify"), true);
            if (!conn.caCertificates.isEmpty()) {
                QByteArray pem;
                for (const QSslCertificate &cert : conn.caCertificates)
                    pem += cert.toPem();
                info.insert(QStringLiteral("certificate-authority-data"),
                            QString::fromLatin1(pem.toBase64()));
            }
            const Fields c(cluster, clusterWhere);
            if (c.has("proxy-url"))
                info.insert(QStringLiteral("proxy-url"), *c.str("proxy-url"));
            const YAML::Node extensions = c.node("extensions");
            if (extensions.IsSequence()) {
                for (const auto &ext : extensions) {
                    if (ext.IsMap() && ext["name"].IsScalar() &&
                        ext["name"].Scalar() == "client.authentication.k8s.io/exec")
                        info.insert(QStringLiteral("config"), yamlToJson(ext["extension"]));
                }
            }
            exec.clusterInfoJson = QJsonDocument(info).toJson(QJsonDocument::Compact);
        }
        return std::shared_ptr<CredentialSource>(
            std::make_shared<ExecCredentialSource>(exec, options.allowExec, base));
    }

    if (hasProvider) {
        const YAML::Node provider = u.node("auth-provider");
        if (!provider.IsMap())
            return u.error(QStringLiteral("auth-provider"),
                           QStringLiteral("expected a map with name and config"));
        const Fields p(provider, where + QStringLiteral(": auth-provider"));
        auto name = p.str("name");
        if (!name)
            return name.error();
        if (*name != QLatin1String("oidc"))
            return p.error(QStringLiteral("name"),
                           QStringLiteral("auth-provider %1 is not supported (it was removed from kubectl; "
                                          "use its exec credential plugin instead)")
                               .arg(q(*name)));
        const YAML::Node configNode = p.node("config");
        if (!isAbsent(configNode) && !configNode.IsMap())
            return p.error(QStringLiteral("config"), QStringLiteral("expected a map"));
        const Fields o(configNode, where + QStringLiteral(": auth-provider oidc: config"));
        OidcConfig oidc;
        struct {
            const char *key;
            QString *into;
        } strings[] = {{"client-id", &oidc.clientId},
                       {"client-secret", &oidc.clientSecret},
                       {"idp-issuer-url", &oidc.issuerUrl},
                       {"id-token", &oidc.idToken},
                       {"refresh-token", &oidc.refreshToken}};
        for (const auto &s : strings) {
            auto v = o.str(s.key);
            if (!v)
                return v.error();
            *s.into = *v;
        }
        if (oidc.clientId.isEmpty())
            return o.error(QStringLiteral("client-id"), QStringLiteral("not set"));
        if (oidc.issuerUrl.isEmpty())
            return o.error(QStringLiteral("idp-issuer-url"), QStringLiteral("not set"));
        QByteArray idpCa;
        if (o.has("idp-certificate-authority-data")) {
            auto d = o.base64("idp-certificate-authority-data");
            if (!d)
                return d.error();
            idpCa = *d;
        } else if (o.has("idp-certificate-authority")) {
            auto d = o.fileContents("idp-certificate-authority", user.file);
            if (!d)
                return d.error();
            idpCa = *d;
        }
        if (o.has("idp-certificate-authority-data") || o.has("idp-certificate-authority")) {
            auto certs = parsePemCertificates(idpCa);
            if (!certs)
                return o.error(o.has("idp-certificate-authority-data")
                                   ? QStringLiteral("idp-certificate-authority-data")
                                   : QStringLiteral("idp-certificate-authority"),
                               certs.errorMessage());
            oidc.issuerCaCertificates = *certs;
        }
        oidc.sourceFile = user.file;
        oidc.userName = userName;
        oidc.timeoutMs = options.oidcTimeoutMs;
        return std::shared_ptr<CredentialSource>(std::make_shared<OidcCredentialSource>(oidc, base));
    }

    if (!token->isEmpty()) {
        base.bearerToken = *token;
        return std::shared_ptr<CredentialSource>(
            std::make_shared<StaticCredentialSource>(QStringLiteral("token"), base));
    }
    if (!tokenFile->isEmpty()) {
        const QString path = absolutePathFrom(*tokenFile, user.file);
        auto source = std::make_shared<TokenFileCredentialSource>(path, base);
        auto first = source->credentials();
        if (!first)
            return u.error(QStringLiteral("tokenFile"), first.errorMessage());
        if (readableByOthers(path))
            conn.warnings << QStringLiteral("token file %1 is readable by other users").arg(path);
        return std::shared_ptr<CredentialSource>(source);
    }
    if (hasBasic) {
        base.basicUser = *username;
        base.basicPassword = *password;
        return std::shared_ptr<CredentialSource>(
            std::make_shared<StaticCredentialSource>(QStringLiteral("basic"), base));
    }
    if (hasCert)
        return std::shared_ptr<CredentialSource>(
            std::make_shared<StaticCredentialSource>(QStringLiteral("client-certificate"), base));
    return std::shared_ptr<CredentialSource>(
        std::make_shared<StaticCredentialSource>(QStringLiteral("none"), base));
}

Result<Connection> inClusterConnection(const QString &rootDir, const QProcessEnvironment &env)
{
    const QString host = env.value(QStringLiteral("KUBERNETES_SERVICE_HOST"));
    const QString port = env.value(QStringLiteral("KUBERNETES_SERVICE_PORT"));
    if (host.isEmpty() || port.isEmpty())
        return Error(QStringLiteral(
            "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set"));
    const QDir dir(QDir(rootDir.isEmpty() ? QStringLiteral("/") : rootDir)
                       .filePath(QStringLiteral("var/run/secrets/kubernetes.io/serviceaccount")));
    Connection conn;
    conn.contextName = QStringLiteral("in-cluster");
    conn.clusterName = QStringLiteral("in-cluster");
    conn.userName = QStringLiteral("serviceaccount");
    QUrl url;
    url.setScheme(QStringLiteral("https"));
    url.setHost(host);
    bool portOk = false;
    url.setPort(port.toInt(&portOk));
    if (!portOk || !url.isValid())
        return Error(QStringLiteral("in-cluster: KUBERNETES_SERVICE_HOST/PORT %1:%2 do not form a URL")
                         .arg(host, port));
    conn.server = url;

    QFile ca(dir.filePath(QStringLiteral("ca.crt")));
    if (!ca.open(QIODevice::ReadOnly))
        return Error(QStringLiteral("in-cluster: cannot read %1: %2").arg(ca.fileName(), ca.errorString()));
    auto certs = parsePemCertificates(readAtMost(ca));
    if (!certs)
        return Error(QStringLiteral("in-cluster: %1: %2").arg(ca.fileName(), certs.errorMessage()));
    conn.caCertificates = *certs;

    auto source = std::make_shared<TokenFileCredentialSource>(dir.filePath(QStringLiteral("token")));
    auto first = source->credentials();
    if (!first)
        return Error(QStringLiteral("in-cluster: %1").arg(first.errorMessage()));
    conn.credentials = source;

    QFile ns(dir.filePath(QStringLiteral("namespace")));
    if (ns.open(QIODevice::ReadOnly)) {
        const QString name = QString::fromUtf8(ns.read(256)).trimmed();
        if (!name.isEmpty())
            conn.namespaceName = name;
    }
    conn.sourceFiles << dir.path();
    return conn;
}

} // namespace vigil::kube
