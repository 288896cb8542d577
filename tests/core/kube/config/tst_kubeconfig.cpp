#include "core/kube/config/kubeconfig.h"

#include "core/kube/config/yamlguard.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace vigil::kube;

namespace {

// A one-context kubeconfig; bodies are indented under cluster:/user:/context:.
QString config(const QString &clusterBody = QStringLiteral("server: https://k1.example:6443"),
               const QString &userBody = QStringLiteral("token: abc"),
               const QString &contextExtra = QString(), const QString &current = QStringLiteral("c1"),
               const QString &names = QStringLiteral("k1 u1 c1"))
{
    const QStringList n = names.split(QLatin1Char(' '));
    auto indent = [](const QString &body) {
        if (body.isEmpty())
            return QStringLiteral(" {}\n");
        QString out = QStringLiteral("\n");
        for (const QString &line : body.split(QLatin1Char('\n')))
            out += QStringLiteral("    ") + line + QLatin1Char('\n');
        return out;
    };
    QString s = QStringLiteral("apiVersion: v1\nkind: Config\n");
    if (!current.isEmpty())
        s += QStringLiteral("current-context: ") + current + QLatin1Char('\n');
    s += QStringLiteral("clusters:\n- name: ") + n[0] + QStringLiteral("\n  cluster:") + indent(clusterBody);
    s += QStringLiteral("users:\n- name: ") + n[1] + QStringLiteral("\n  user:") + indent(userBody);
    s += QStringLiteral("contexts:\n- name: ") + n[2] + QStringLiteral("\n  context:") +
         indent(QStringLiteral("cluster: ") + n[0] + QStringLiteral("\nuser: ") + n[1] +
                (contextExtra.isEmpty() ? QString() : QLatin1Char('\n') + contextExtra));
    return s;
}

QString execUser(const QString &apiVersion, const QString &extra = QString())
{
    return QStringLiteral("exec:\n  command: my-plugin\n  apiVersion: ") + apiVersion +
           (extra.isEmpty() ? QString() : QStringLiteral("\n  ") + extra);
}

} // namespace

class TestKubeConfig final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void resolve_data();
    void resolve();
    void contextsForPicker();
    void nestingDepthOfRealConfigIsSmall();
    void inCluster_data();
    void inCluster();

private:
    QString expand(QString s, const QString &dir) const;
    bool openssl(const QStringList &args);

    QTemporaryDir m_keys;
    QHash<QString, QString> m_vars; // ${NAME} -> base64 of a generated PEM
};

bool TestKubeConfig::openssl(const QStringList &args)
{
    QProcess p;
    p.setWorkingDirectory(m_keys.path());
    p.start(QStringLiteral("openssl"), args);
    return p.waitForFinished(60000) && p.exitCode() == 0;
}

void TestKubeConfig::initTestCase()
{
    QVERIFY(m_keys.isValid());
    const QString days = QStringLiteral("2");
    QVERIFY(openssl({QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"),
                     QStringLiteral("rsa:2048"), QStringLiteral("-nodes"), QStringLiteral("-keyout"),
                     QStringLiteral("ca.key"), QStringLiteral("-out"), QStringLiteral("ca.crt"),
                     QStringLiteral("-subj"), QStringLiteral("/CN=test-ca"), QStringLiteral("-days"), days}));
    QVERIFY(openssl({QStringLiteral("genrsa"), QStringLiteral("-traditional"), QStringLiteral("-out"),
                     QStringLiteral("rsa.key"), QStringLiteral("2048")}));
    QVERIFY(openssl({QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-new"),
                     QStringLiteral("-key"), QStringLiteral("rsa.key"), QStringLiteral("-out"),
                     QStringLiteral("rsa.crt"), QStringLiteral("-subj"), QStringLiteral("/CN=rsa-user"),
                     QStringLiteral("-days"), days}));
    QVERIFY(openssl({QStringLiteral("ecparam"), QStringLiteral("-name"), QStringLiteral("prime256v1"),
                     QStringLiteral("-genkey"), QStringLiteral("-noout"), QStringLiteral("-out"),
                     QStringLiteral("ec.key")}));
    QVERIFY(openssl({QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-new"),
                     QStringLiteral("-key"), QStringLiteral("ec.key"), QStringLiteral("-out"),
                     QStringLiteral("ec.crt"), QStringLiteral("-subj"), QStringLiteral("/CN=ec-user"),
                     QStringLiteral("-days"), days}));
    QVERIFY(openssl({QStringLiteral("pkcs8"), QStringLiteral("-topk8"), QStringLiteral("-nocrypt"),
                     QStringLiteral("-in"), QStringLiteral("ec.key"), QStringLiteral("-out"),
                     QStringLiteral("ec8.key")}));
    for (const QString &name : {QStringLiteral("ca.crt"), QStringLiteral("ca.key"), QStringLiteral("rsa.key"),
                                QStringLiteral("rsa.crt"), QStringLiteral("ec.key"), QStringLiteral("ec.crt"),
                                QStringLiteral("ec8.key")}) {
        QFile f(m_keys.filePath(name));
        QVERIFY(f.open(QIODevice::ReadOnly));
        QString var = name.toUpper();
        var.replace(QLatin1Char('.'), QLatin1Char('_'));
        m_vars.insert(var, QString::fromLatin1(f.readAll().toBase64()));
    }
    QVERIFY(QFile(m_keys.filePath(QStringLiteral("ca.key"))).open(QIODevice::ReadOnly));
    QVERIFY(m_vars.value(QStringLiteral("CA_KEY")).size() > 100);
    QVERIFY(QByteArray::fromBase64(m_vars.value(QStringLiteral("CA_KEY")).toLatin1())
                .contains("BEGIN PRIVATE KEY"));
    QVERIFY(QByteArray::fromBase64(m_vars.value(QStringLiteral("RSA_KEY")).toLatin1())
                .contains("BEGIN RSA PRIVATE KEY"));
    QVERIFY(QByteArray::fromBase64(m_vars.value(QStringLiteral("EC_KEY")).toLatin1())
                .contains("BEGIN EC PRIVATE KEY"));
}

QString TestKubeConfig::expand(QString s, const QString &dir) const
{
    s.replace(QStringLiteral("${DIR}"), dir);
    s.replace(QStringLiteral("${KEYS}"), m_keys.path());
    for (auto it = m_vars.cbegin(); it != m_vars.cend(); ++it)
        s.replace(QStringLiteral("${") + it.key() + QLatin1Char('}'), it.value());
    return s;
}

void TestKubeConfig::resolve_data()
{
    // files: alternating relative name and content (${DIR} = the row's temp dir).
    QTest::addColumn<QStringList>("files");
    QTest::addColumn<QString>("explicitPath");
    QTest::addColumn<QString>("kubeconfigEnv");
    QTest::addColumn<bool>("homeIsDir");
    QTest::addColumn<QString>("contextOverride");
    QTest::addColumn<QString>("namespaceOverride");
    // expect: "key=value" exact checks, "key~text" substring checks.
    QTest::addColumn<QStringList>("expect");

    const QString cfg = QStringLiteral("${DIR}/config");
    const QString rsaData =
        QStringLiteral("client-certificate-data: ${RSA_CRT}\nclient-key-data: ${RSA_KEY}");
    auto row = [&](const char *name, const QStringList &files, const QStringList &expect,
                   const QString &env = QStringLiteral("${DIR}/config"), const QString &ctx = QString(),
                   const QString &explicitPath = QString(), bool home = false,
                   const QString &ns = QString()) {
        QTest::newRow(name) << files << explicitPath << env << home << ctx << ns << expect;
    };
    auto one = [&](const char *name, const QString &content, const QStringList &expect) {
        row(name, {QStringLiteral("config"), content}, expect);
    };

    // --- every auth form
    one("token", config(),
        {QStringLiteral("method=token"), QStringLiteral("token=abc"),
         QStringLiteral("server=https://k1.example:6443"), QStringLiteral("context=c1"),
         QStringLiteral("cluster=k1"), QStringLiteral("user=u1")});
    row("tokenFile relative to the kubeconfig",
        {QStringLiteral("config"),
         config(QStringLiteral("server: https://k1.example:6443"), QStringLiteral("tokenFile: tok.txt")),
         QStringLiteral("tok.txt"), QStringLiteral("file-token\n")},
        {QStringLiteral("method=token-file"), QStringLiteral("token=file-token")});
    one("basic",
        config(QStringLiteral("server: https://k1.example:6443"),
               QStringLiteral("username: alice\npassword: s3cret")),
        {QStringLiteral("method=basic"), QStringLiteral("basic=alice:s3cret")});
    one("client cert data RSA PKCS#1", config(QStringLiteral("server: https://k1.example:6443"), rsaData),
        {QStringLiteral("method=client-certificate"), QStringLiteral("key=rsa"),
         QStringLiteral("cert=rsa-user")});
    one("client cert data EC SEC1",
        config(QStringLiteral("server: https://k1.example:6443"),
               QStringLiteral("client-certificate-data: ${EC_CRT}\nclient-key-data: ${EC_KEY}")),
        {QStringLiteral("method=client-certificate"), QStringLiteral("key=ec"),
         QStringLiteral("cert=ec-user")});
    one("client key EC PKCS#8",
        config(QStringLiteral("server: https://k1.example:6443"),
               QStringLiteral("client-certificate-data: ${EC_CRT}\nclient-key-data: ${EC8_KEY}")),
        {QStringLiteral("method=client-certificate"), QStringLiteral("key=ec")});
    one("client key RSA PKCS#8",
        config(QStringLiteral("server: https://k1.example:6443"),
               QStringLiteral("client-certificate-data: ${CA_CRT}\nclient-key-data: ${CA_KEY}")),
        {QStringLiteral("method=client-certificate"), QStringLiteral("key=rsa"),
         QStringLiteral("cert=test-ca")});
    one("client cert files absolute",
        config(QStringLiteral("server: https://k1.example:6443"),
               QStringLiteral("client-certificate: ${KEYS}/rsa.crt\nclient-key: ${KEYS}/rsa.key")),
        {QStringLiteral("method=client-certificate"), QStringLiteral("key=rsa")});
    one("token with client cert",
        config(QStringLiteral("server: https://k1.example:6443"), rsaData + QStringLiteral("\ntoken: tt")),
        {QStringLiteral("method=token"), QStringLiteral("token=tt"), QStringLiteral("key=rsa")});
    one("empty user is auth none", config(QStringLiteral("server: https://k1.example:6443"), QString()),
        {QStringLiteral("method=none"), QStringLiteral("token=")});
    one("context without user is auth none",
        QStringLiteral("current-context: c1\nclusters:\n- name: k1\n  cluster:\n    server: "
                       "https://k1:1\ncontexts:\n- name: c1\n  context:\n    cluster: k1\n"),
        {QStringLiteral("method=none"), QStringLiteral("user=")});
    one("exec v1beta1 defaults interactiveMode",
        config(QStringLiteral("server: https://k1.example:6443"),
               execUser(QStringLiteral("client.authentication.k8s.io/v1beta1"))),
        {QStringLiteral("method=exec")});
    one("exec v1 with interactiveMode",
        config(QStringLiteral("server: https://k1.example:6443"),
               execUser(QStringLiteral("client.authentication.k8s.io/v1"),
                        QStringLiteral("interactiveMode: Never"))),
        {QStringLiteral("method=exec")});
    one("oidc auth-provider",
        config(QStringLiteral("server: https://k1.example:6443"),
               QStringLiteral("auth-provider:\n  name: oidc\n  config:\n    client-id: kube\n    "
                              "idp-issuer-url: https://issuer\n    id-token: x.y.z")),
        {QStringLiteral("method=oidc")});

    // --- merging KUBECONFIG lists
    row("first file wins per cluster name",
        {QStringLiteral("a"), config(QStringLiteral("server: https://first:1")), QStringLiteral("b"),
         config(QStringLiteral("server: https://second:2"))},
        {QStringLiteral("server=https://first:1"), QStringLiteral("files=2")},
        QStringLiteral("${DIR}/a:${DIR}/b"));
    row("current-context from the first file that sets it",
        {QStringLiteral("a"),
         config(QStringLiteral("server: https://a:1"), QStringLiteral("token: a"), QString(), QString(),
                QStringLiteral("ka ua ca")),
         QStringLiteral("b"),
         config(QStringLiteral("server: https://b:1"), QStringLiteral("token: b"), QString(),
                QStringLiteral("cb"), QStringLiteral("kb ub cb")),
         QStringLiteral("c"),
         config(QStringLiteral("server: https://c:1"), QStringLiteral("token: c"), QString(),
                QStringLiteral("ca"), QStringLiteral("kc uc cc"))},
        {QStringLiteral("context=cb"), QStringLiteral("token=b"), QStringLiteral("files=3")},
        QStringLiteral("${DIR}/a:${DIR}/b:${DIR}/c"));
    row("missing file in KUBECONFIG is skipped", {QStringLiteral("a"), config()},
        {QStringLiteral("method=token"), QStringLiteral("files=1")},
        QStringLiteral("${DIR}/missing::${DIR}/a"));
    row("entries combine across files",
        {QStringLiteral("users"), QStringLiteral("users:\n- name: u1\n  user:\n    token: from-users-file\n"),
         QStringLiteral("rest"),
         QStringLiteral("current-context: c1\nclusters:\n- name: k1\n  cluster:\n    server: https://k1:1\n"
                        "contexts:\n- name: c1\n  context:\n    cluster: k1\n    user: u1\n")},
        {QStringLiteral("token=from-users-file"), QStringLiteral("files=2")},
        QStringLiteral("${DIR}/users:${DIR}/rest"));
    row("empty file in the list is fine", {QStringLiteral("empty"), QString(), QStringLiteral("a"), config()},
        {QStringLiteral("method=token"), QStringLiteral("files=2")}, QStringLiteral("${DIR}/empty:${DIR}/a"));
    row("explicit path beats KUBECONFIG",
        {QStringLiteral("a"), config(QStringLiteral("server: https://env:1")), QStringLiteral("x"),
         config(QStringLiteral("server: https://explicit:1"))},
        {QStringLiteral("server=https://explicit:1")}, QStringLiteral("${DIR}/a"), QString(),
        QStringLiteral("${DIR}/x"));
    row("explicit missing file is an error", {QStringLiteral("a"), config()},
        {QStringLiteral("error~${DIR}/nope"), QStringLiteral("error~does not exist")},
        QStringLiteral("${DIR}/a"), QString(), QStringLiteral("${DIR}/nope"));
    row("home kube config when KUBECONFIG unset",
        {QStringLiteral(".kube/config"), config(QStringLiteral("server: https://home:1"))},
        {QStringLiteral("server=https://home:1")}, QString(), QString(), QString(), true);
    row("no kubeconfig anywhere", {},
        {QStringLiteral("code=4004"), QStringLiteral("error~${DIR}/.kube/config")}, QString(), QString(),
        QString(), true);
    row("all KUBECONFIG files missing", {},
        {QStringLiteral("code=4004"), QStringLiteral("error~${DIR}/gone")}, QStringLiteral("${DIR}/gone"));

    // --- relative paths resolve against the defining file
    row("relative CA and cert paths from a subdirectory file",
        {QStringLiteral("sub/config"),
         config(QStringLiteral("server: https://k1:1\ncertificate-authority: ca.pem"),
                QStringLiteral("client-certificate: certs/u.crt\nclient-key: certs/u.key")),
         QStringLiteral("sub/ca.pem"), QStringLiteral("@ca.crt"), QStringLiteral("sub/certs/u.crt"),
         QStringLiteral("@rsa.crt"), QStringLiteral("sub/certs/u.key"), QStringLiteral("@rsa.key")},
        {QStringLiteral("ca=1"), QStringLiteral("key=rsa"), QStringLiteral("method=client-certificate")},
        QStringLiteral("${DIR}/sub/config"));
    row("relative tokenFile from the user's file, not the context's",
        {QStringLiteral("u/users"), QStringLiteral("users:\n- name: u1\n  user:\n    tokenFile: t\n"),
         QStringLiteral("u/t"), QStringLiteral("utok"), QStringLiteral("main"),
         QStringLiteral("current-context: c1\nclusters:\n- name: k1\n  cluster:\n    server: https://k1:1\n"
                        "contexts:\n- name: c1\n  context:\n    cluster: k1\n    user: u1\n")},
        {QStringLiteral("token=utok")}, QStringLiteral("${DIR}/main:${DIR}/u/users"));

    // --- namespace and context selection
    one("namespace from the context",
        config(QStringLiteral("server: https://k1:1"), QStringLiteral("token: a"),
               QStringLiteral("namespace: team-a")),
        {QStringLiteral("ns=team-a")});
    one("namespace defaults to default", config(), {QStringLiteral("ns=default")});
    row("namespace override",
        {QStringLiteral("config"), config(QStringLiteral("server: https://k1:1"), QStringLiteral("token: a"),
                                          QStringLiteral("namespace: team-a"))},
        {QStringLiteral("ns=other")}, cfg, QString(), QString(), false, QStringLiteral("other"));
    row("context override",
        {QStringLiteral("a"), config(), QStringLiteral("b"),
         config(QStringLiteral("server: https://two:2"), QStringLiteral("token: two"), QString(), QString(),
                QStringLiteral("k2 u2 c2"))},
        {QStringLiteral("context=c2"), QStringLiteral("server=https://two:2"), QStringLiteral("token=two")},
        QStringLiteral("${DIR}/a:${DIR}/b"), QStringLiteral("c2"));
    row("unknown context override", {QStringLiteral("config"), config()},
        {QStringLiteral("error~${DIR}/config"), QStringLiteral("error~context \"nope\""),
         QStringLiteral("error~available: c1")},
        cfg, QStringLiteral("nope"));
    one("no current-context",
        config(QStringLiteral("server: https://k1:1"), QStringLiteral("token: a"), QString(), QString()),
        {QStringLiteral("error~current-context is not set"), QStringLiteral("error~c1")});

    // --- proxies and TLS
    one("http proxy",
        config(QStringLiteral("server: https://k1:1\nproxy-url: http://user:pw@proxy.local:3128")),
        {QStringLiteral("proxy=http:proxy.local:3128:user"), QStringLiteral("proxyEnv=0")});
    one("https proxy warns the hop is not TLS",
        config(QStringLiteral("server: https://k1:1\nproxy-url: https://proxy.local")),
        {QStringLiteral("proxy=http:proxy.local:443:"), QStringLiteral("warning~not encrypted")});
    one("socks5 proxy", config(QStringLiteral("server: https://k1:1\nproxy-url: socks5://proxy.local")),
        {QStringLiteral("proxy=socks5:proxy.local:1080:")});
    one("unsupported proxy scheme",
        config(QStringLiteral("server: https://k1:1\nproxy-url: ftp://proxy.local")),
        {QStringLiteral("error~${DIR}/config"), QStringLiteral("error~context \"c1\""),
         QStringLiteral("error~field proxy-url")});
    one("no proxy-url honours the environment", config(),
        {QStringLiteral("proxy=none"), QStringLiteral("proxyEnv=1")});
    one("insecure-skip-tls-verify warns",
        config(QStringLiteral("server: https://k1:1\ninsecure-skip-tls-verify: true")),
        {QStringLiteral("insecure=1"), QStringLiteral("warning~insecure-skip-tls-verify")});
    one("insecure with a CA is rejected",
        config(QStringLiteral(
            "server: https://k1:1\ninsecure-skip-tls-verify: true\ncertificate-authority-data: ${CA_CRT}")),
        {QStringLiteral("error~field insecure-skip-tls-verify"), QStringLiteral("error~cluster \"k1\"")});
    one("CA data", config(QStringLiteral("server: https://k1:1\ncertificate-authority-data: ${CA_CRT}")),
        {QStringLiteral("ca=1"), QStringLiteral("insecure=0")});
    one("tls-server-name",
        config(QStringLiteral("server: https://10.0.0.1:6443\ntls-server-name: api.internal")),
        {QStringLiteral("sni=api.internal")});
    one("server without scheme means https", config(QStringLiteral("server: k1.example:6443")),
        {QStringLiteral("server=https://k1.example:6443")});
    one("plain http server with a token warns", config(QStringLiteral("server: http://k1:8080")),
        {QStringLiteral("warning~unencrypted")});

    // --- bad input: one error naming file, context and field
    one("malformed YAML names the line", QStringLiteral("clusters:\n- name: k1\n  cluster: {server: [\n"),
        {QStringLiteral("error~${DIR}/config"), QStringLiteral("error~line ")});
    one("top level is not a map", QStringLiteral("- a\n- b\n"),
        {QStringLiteral("error~${DIR}/config"), QStringLiteral("error~not a kubeconfig")});
    one("clusters is not a list", QStringLiteral("clusters: {a: b}\n"),
        {QStringLiteral("error~${DIR}/config"), QStringLiteral("error~field clusters")});
    one("duplicate names in one file", config() + QStringLiteral("- name: c1\n  context: {cluster: k1}\n"),
        {QStringLiteral("error~duplicate name \"c1\"")});
    one("current-context names a missing context",
        config(QStringLiteral("server: https://k1:1"), QStringLiteral("token: a"), QString(),
               QStringLiteral("ghost")),
        {QStringLiteral("error~${DIR}/config"), QStringLiteral("error~context \"ghost\" is not defined")});
    one("context names a missing cluster",
        config().replace(QStringLiteral("cluster: k1"), QStringLiteral("cluster: kx")),
        {QStringLiteral("error~${DIR}/config: context \"c1\": field cluster"),
         QStringLiteral("error~\"kx\"")});
    one("context names a missing user",
        config().replace(QStringLiteral("user: u1"), QStringLiteral("user: ux")),
        {QStringLiteral("error~${DIR}/config: context \"c1\": field user"), QStringLiteral("error~\"ux\"")});
    one("cluster without server", config(QStringLiteral("insecure-skip-tls-verify: false")),
        {QStringLiteral("error~${DIR}/config: context \"c1\": cluster \"k1\": field server: not set")});
    one("client-key-data not base64",
        config(QStringLiteral("server: https://k1:1"),
               QStringLiteral("client-certificate-data: ${RSA_CRT}\nclient-key-data: '!!not base64!!'")),
        {QStringLiteral(
            "error~${DIR}/config: context \"c1\": user \"u1\": field client-key-data: not valid base64")});
    one("client-certificate-data not PEM",
        config(QStringLiteral("server: https://k1:1"),
               QStringLiteral("client-certificate-data: aGVsbG8=\nclient-key-data: ${RSA_KEY}")),
        {QStringLiteral("error~user \"u1\": field client-certificate-data: no PEM certificate")});
    one("client key garbage inside PEM armour",
        config(QStringLiteral("server: https://k1:1"),
               QStringLiteral(
                   "client-certificate-data: ${RSA_CRT}\nclient-key-data: "
                   "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCmdhcmJhZ2UKLS0tLS1FTkQgUFJJVkFURSBLRVktLS0tLQo=")),
        {QStringLiteral("error~field client-key-data: the PEM private key cannot be decoded")});
    one("certificate without key",
        config(QStringLiteral("server: https://k1:1"), QStringLiteral("client-certificate-data: ${RSA_CRT}")),
        {QStringLiteral("error~user \"u1\": field client-key")});
    one("CA data garbage",
        config(QStringLiteral("server: https://k1:1\ncertificate-authority-data: aGVsbG8=")),
        {QStringLiteral("error~cluster \"k1\": field certificate-authority-data")});
    one("CA file missing",
        config(QStringLiteral("server: https://k1:1\ncertificate-authority: missing-ca.crt")),
        {QStringLiteral("error~field certificate-authority: file ${DIR}/missing-ca.crt does not exist")});
    one("unsupported exec apiVersion",
        config(QStringLiteral("server: https://k1:1"),
               execUser(QStringLiteral("client.authentication.k8s.io/v1alpha1"))),
        {QStringLiteral("error~${DIR}/config: context \"c1\": user \"u1\": exec: field apiVersion"),
         QStringLiteral("error~v1alpha1")});
    one("exec v1 needs interactiveMode",
        config(QStringLiteral("server: https://k1:1"),
               execUser(QStringLiteral("client.authentication.k8s.io/v1"))),
        {QStringLiteral("error~exec: field interactiveMode")});
    one("exec without command",
        config(QStringLiteral("server: https://k1:1"),
               QStringLiteral("exec:\n  apiVersion: client.authentication.k8s.io/v1beta1")),
        {QStringLiteral("error~exec: field command: not set")});
    one("tokenFile missing",
        config(QStringLiteral("server: https://k1:1"), QStringLiteral("tokenFile: nope.txt")),
        {QStringLiteral("error~user \"u1\": field tokenFile"), QStringLiteral("error~${DIR}/nope.txt")});
    one("token of the wrong type",
        config(QStringLiteral("server: https://k1:1"), QStringLiteral("token: [a, b]")),
        {QStringLiteral("error~user \"u1\": field token: expected a string")});
    one("token and basic together",
        config(QStringLiteral("server: https://k1:1"), QStringLiteral("token: a\nusername: b\npassword: c")),
        {QStringLiteral("error~more than one authentication method")});
    one("removed auth-provider",
        config(QStringLiteral("server: https://k1:1"), QStringLiteral("auth-provider:\n  name: gcp")),
        {QStringLiteral("error~auth-provider: field name"), QStringLiteral("error~\"gcp\"")});
    one("oidc without client-id",
        config(QStringLiteral("server: https://k1:1"),
               QStringLiteral("auth-provider:\n  name: oidc\n  config:\n    idp-issuer-url: https://i")),
        {QStringLiteral("error~field client-id")});
    one("insecure flag not a boolean",
        config(QStringLiteral("server: https://k1:1\ninsecure-skip-tls-verify: maybe")),
        {QStringLiteral("error~field insecure-skip-tls-verify: expected true or false")});
    one("flow nesting 100000 deep", QStringLiteral("clusters: ") + QString(100000, QLatin1Char('[')),
        {QStringLiteral("error~${DIR}/config"), QStringLiteral("error~nested more than 64")});
    one("block nesting 100000 deep",
        QStringLiteral("x:\n") + QStringLiteral("- ").repeated(100000) + QStringLiteral("a\n"),
        {QStringLiteral("error~nested more than 64")});
    one("mapping nesting 70 deep",
        [] {
            QString s;
            for (int i = 0; i < 70; ++i)
                s += QString(i * 2, QLatin1Char(' ')) + QStringLiteral("a:\n");
            return s;
        }(),
        {QStringLiteral("error~nested more than 64")});
}

void TestKubeConfig::resolve()
{
    QFETCH(QStringList, files);
    QFETCH(QString, explicitPath);
    QFETCH(QString, kubeconfigEnv);
    QFETCH(bool, homeIsDir);
    QFETCH(QString, contextOverride);
    QFETCH(QString, namespaceOverride);
    QFETCH(QStringList, expect);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString d = QDir(dir.path()).canonicalPath();
    for (int i = 0; i + 1 < files.size(); i += 2) {
        const QString path = QDir(d).filePath(files.at(i));
        QVERIFY(QDir().mkpath(QFileInfo(path).absolutePath()));
        QByteArray content;
        if (files.at(i + 1).startsWith(QLatin1Char('@'))) {
            QFile src(m_keys.filePath(files.at(i + 1).mid(1)));
            QVERIFY(src.open(QIODevice::ReadOnly));
            content = src.readAll();
        } else {
            content = expand(files.at(i + 1), d).toUtf8();
        }
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(content);
    }

    LoadOptions opts;
    opts.explicitPath = expand(explicitPath, d);
    opts.kubeconfigEnv = expand(kubeconfigEnv, d);
    opts.homeDir = homeIsDir ? d : QString();
    opts.contextOverride = contextOverride;
    opts.namespaceOverride = namespaceOverride;

    const auto config = KubeConfig::load(opts);
    const auto conn = config ? config->resolve() : vigil::Result<Connection>(config.error());
    const bool wantError = std::any_of(expect.cbegin(), expect.cend(), [](const QString &e) {
        return e.startsWith(QLatin1String("error")) || e.startsWith(QLatin1String("code"));
    });
    if (wantError != !conn.ok())
        QFAIL(qPrintable(conn.ok() ? QStringLiteral("expected an error, got a connection")
                                   : conn.errorMessage()));

    for (const QString &raw : expect) {
        const QString e = expand(raw, d);
        const qsizetype sep = e.indexOf(QRegularExpression(QStringLiteral("[=~]")));
        const QString key = e.left(sep);
        const bool contains = e.at(sep) == QLatin1Char('~');
        const QString want = e.mid(sep + 1);
        QString got;
        if (key == QLatin1String("error")) {
            got = conn.errorMessage();
        } else if (key == QLatin1String("code")) {
            got = QString::number(conn.error().code);
        } else if (key == QLatin1String("warning")) {
            got = conn->warnings.join(QLatin1Char('\n'));
        } else {
            const Connection &c = *conn;
            const bool needsCreds = QStringList{QStringLiteral("token"), QStringLiteral("basic"),
                                                QStringLiteral("key"), QStringLiteral("cert")}
                                        .contains(key);
            const auto creds =
                needsCreds ? c.credentials->credentials() : vigil::Result<Credentials>(Credentials());
            QVERIFY2(creds.ok(), qPrintable(creds.errorMessage()));
            const QMap<QString, std::function<QString()>> getters{
                {QStringLiteral("method"), [&] { return c.credentials->method(); }},
                {QStringLiteral("server"), [&] { return c.server.toString(); }},
                {QStringLiteral("context"), [&] { return c.contextName; }},
                {QStringLiteral("cluster"), [&] { return c.clusterName; }},
                {QStringLiteral("user"), [&] { return c.userName; }},
                {QStringLiteral("ns"), [&] { return c.namespaceName; }},
                {QStringLiteral("token"), [&] { return creds->bearerToken; }},
                {QStringLiteral("basic"),
                 [&]() -> QString { return creds->basicUser + QLatin1Char(':') + creds->basicPassword; }},
                {QStringLiteral("key"),
                 [&] {
                     return creds->clientKey.isNull()                   ? QStringLiteral("none")
                            : creds->clientKey.algorithm() == QSsl::Rsa ? QStringLiteral("rsa")
                            : creds->clientKey.algorithm() == QSsl::Ec  ? QStringLiteral("ec")
                                                                        : QStringLiteral("other");
                 }},
                {QStringLiteral("cert"),
                 [&] {
                     return creds->clientCertificate.subjectInfo(QSslCertificate::CommonName)
                         .join(QLatin1Char(','));
                 }},
                {QStringLiteral("ca"), [&] { return QString::number(c.caCertificates.size()); }},
                {QStringLiteral("insecure"), [&] { return QString::number(int(c.insecureSkipTlsVerify)); }},
                {QStringLiteral("sni"), [&] { return c.tlsServerName; }},
                {QStringLiteral("files"), [&] { return QString::number(c.sourceFiles.size()); }},
                {QStringLiteral("proxyEnv"), [&] { return QString::number(int(c.proxyFromEnvironment)); }},
                {QStringLiteral("proxy"),
                 [&] {
                     if (c.proxy.type() == QNetworkProxy::NoProxy)
                         return QStringLiteral("none");
                     return QStringLiteral("%1:%2:%3:%4")
                         .arg(c.proxy.type() == QNetworkProxy::HttpProxy ? QStringLiteral("http")
                                                                         : QStringLiteral("socks5"),
                              c.proxy.hostName())
                         .arg(c.proxy.port())
                         .arg(c.proxy.user());
                 }},
            };
            QVERIFY2(getters.contains(key), qPrintable(QStringLiteral("unknown expectation ") + key));
            got = getters.value(key)();
        }
        if (contains)
            QVERIFY2(got.contains(want),
                     qPrintable(QStringLiteral("%1: \"%2\" does not contain \"%3\"").arg(key, got, want)));
        else
            QCOMPARE(got, want);
    }
}

void TestKubeConfig::contextsForPicker()
{
    QTemporaryDir dir;
    QFile f(dir.filePath(QStringLiteral("config")));
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(config(QStringLiteral("server: https://k1:1"), QStringLiteral("token: a"),
                   QStringLiteral("namespace: ns1"))
                .toUtf8() +
            "- name: c0\n  context: {cluster: k1, user: u1}\n");
    f.close();
    LoadOptions opts;
    opts.explicitPath = f.fileName();
    const auto config = KubeConfig::load(opts);
    QVERIFY2(config.ok(), qPrintable(config.errorMessage()));
    QCOMPARE(config->contextNames(), (QStringList{QStringLiteral("c1"), QStringLiteral("c0")}));
    QCOMPARE(config->currentContext(), QStringLiteral("c1"));
    QCOMPARE(config->files(), QStringList{f.fileName()});
    const QList<ContextInfo> contexts = config->contexts();
    QCOMPARE(contexts.size(), 2);
    QCOMPARE(contexts.at(0).namespaceName, QStringLiteral("ns1"));
    QCOMPARE(contexts.at(1).user, QStringLiteral("u1"));
    QCOMPARE(contexts.at(1).sourceFile, f.fileName());
    const auto c0 = config->resolve(QStringLiteral("c0"));
    QVERIFY(c0.ok());
    QCOMPARE(c0->namespaceName, QStringLiteral("default"));

    // Found by tests/fuzz/fuzz_kubeconfig: a context entry without "context:" made contexts() throw.
    QVERIFY(f.open(QIODevice::Append));
    f.write("- name: c2\n  corent-context: c1\n");
    f.close();
    const auto broken = KubeConfig::load(opts);
    QVERIFY2(broken.ok(), qPrintable(broken.errorMessage()));
    QCOMPARE(broken->contexts().size(), 3);
    QCOMPARE(broken->contexts().at(2).cluster, QString());
    QVERIFY(!broken->resolve(QStringLiteral("c2")).ok());
}

void TestKubeConfig::nestingDepthOfRealConfigIsSmall()
{
    const QByteArray text =
        config(QStringLiteral("server: https://k1:1\ncertificate-authority-data: |\n  abc\n      def\n"),
               execUser(QStringLiteral("client.authentication.k8s.io/v1beta1"),
                        QStringLiteral("args: [\"a[\", '{b', c]")))
            .toUtf8();
    const int depth = yamlNestingDepth(text);
    QVERIFY2(depth >= 3 && depth <= 6, qPrintable(QString::number(depth)));
    QCOMPARE(yamlNestingDepth(QByteArray("a: [[[[]]]]\n")), 5);
}

void TestKubeConfig::inCluster_data()
{
    QTest::addColumn<bool>("withEnv");
    QTest::addColumn<bool>("withToken");
    QTest::addColumn<QString>("namespaceFile");
    QTest::addColumn<QString>("expectError");
    QTest::addColumn<QString>("expectNamespace");
    QTest::newRow("service account") << true << true << QStringLiteral("team-b\n") << QString()
                                     << QStringLiteral("team-b");
    QTest::newRow("no namespace file means default")
        << true << true << QString() << QString() << QStringLiteral("default");
    QTest::newRow("not in a cluster")
        << false << true << QString() << QStringLiteral("KUBERNETES_SERVICE_HOST") << QString();
    QTest::newRow("token missing") << true << false << QString() << QStringLiteral("/serviceaccount/token")
                                   << QString();
}

void TestKubeConfig::inCluster()
{
    QFETCH(bool, withEnv);
    QFETCH(bool, withToken);
    QFETCH(QString, namespaceFile);
    QFETCH(QString, expectError);
    QFETCH(QString, expectNamespace);
    QTemporaryDir root;
    const QString sa = root.filePath(QStringLiteral("var/run/secrets/kubernetes.io/serviceaccount"));
    QVERIFY(QDir().mkpath(sa));
    QVERIFY(QFile::copy(m_keys.filePath(QStringLiteral("ca.crt")), sa + QStringLiteral("/ca.crt")));
    auto write = [&](const QString &name, const QByteArray &content) {
        QFile f(sa + QLatin1Char('/') + name);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(content);
    };
    if (withToken)
        write(QStringLiteral("token"), "sa-token\n");
    if (!namespaceFile.isEmpty())
        write(QStringLiteral("namespace"), namespaceFile.toUtf8());
    QProcessEnvironment env;
    if (withEnv) {
        env.insert(QStringLiteral("KUBERNETES_SERVICE_HOST"), QStringLiteral("fd00::1"));
        env.insert(QStringLiteral("KUBERNETES_SERVICE_PORT"), QStringLiteral("443"));
    }
    const auto conn = inClusterConnection(root.path(), env);
    if (!expectError.isEmpty()) {
        QVERIFY(!conn.ok());
        QVERIFY2(conn.errorMessage().contains(expectError), qPrintable(conn.errorMessage()));
        return;
    }
    QVERIFY2(conn.ok(), qPrintable(conn.errorMessage()));
    QCOMPARE(conn->server.toString(), QStringLiteral("https://[fd00::1]:443"));
    QCOMPARE(conn->namespaceName, expectNamespace);
    QCOMPARE(conn->caCertificates.size(), 1);
    QCOMPARE(conn->credentials->method(), QStringLiteral("token-file"));
    QCOMPARE(conn->credentials->credentials()->bearerToken, QStringLiteral("sa-token"));
    // Projected tokens rotate in place: a changed file is picked up.
    write(QStringLiteral("token"), "rotated-token-longer\n");
    QCOMPARE(conn->credentials->credentials()->bearerToken, QStringLiteral("rotated-token-longer"));
}

QTEST_GUILESS_MAIN(TestKubeConfig)
#include "tst_kubeconfig.moc"
