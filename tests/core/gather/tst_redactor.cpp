#include "core/gather/redactor.h"

#include <QElapsedTimer>
#include <QTest>

using vigil::gather::Redactor;
using vigil::gather::RedactorOptions;

class TestRedactor final : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void secretsNeverSurvive_data();
    void secretsNeverSurvive();
    void envValues_data();
    void envValues();
    void nonSecretsUntouched_data();
    void nonSecretsUntouched();
    void placeholdersAreStable();
    void hexNextToAccessKeyKept_data();
    void hexNextToAccessKeyKept();
    void sameSecretOnePlaceholderAcrossKinds();
    void reportCountsPerKind();
    void hugeAndHostileInput_data();
    void hugeAndHostileInput();
};

namespace {

const QString kPem = QStringLiteral(
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq0vJ3qkXyZ\nq0vJ3qkXyZ7bq0vJ3qkXyZ+/=\n-----END RSA "
    "PRIVATE KEY-----");

} // namespace

void TestRedactor::secretsNeverSurvive_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("secret");
    QTest::addColumn<QString>("kind");
    QTest::addColumn<bool>("ips");

    auto row = [](const char *name, const QString &text, const QString &secret, const char *kind,
                  bool ips = false) {
        QTest::newRow(name) << text << secret << QString::fromLatin1(kind) << ips;
    };
    row("log: env dump DB_PASSWORD=", QStringLiteral("starting with DB_PASSWORD=hunter2-prod LOG_LEVEL=info"),
        QStringLiteral("hunter2-prod"), "secret");
    row("log: MYSQL_ROOT_PASSWORD in quotes", QStringLiteral("env MYSQL_ROOT_PASSWORD=\"r00t!pw\" set"),
        QStringLiteral("r00t!pw"), "secret");
    row("log: yaml password:", QStringLiteral("config:\n  password: s3cr3tValue\n  user: app"),
        QStringLiteral("s3cr3tValue"), "secret");
    row("event: json client_secret",
        QStringLiteral("{\"client_id\":\"web\",\"client_secret\": \"cs-9f8e7d6c5b\"}"),
        QStringLiteral("cs-9f8e7d6c5b"), "secret");
    row("log: api_key=", QStringLiteral("calling upstream api_key=abc123def456ghi"),
        QStringLiteral("abc123def456ghi"), "secret");
    row("log: X-Auth-Token header", QStringLiteral("header X-Auth-Token: 0a9b8c7d6e5f"),
        QStringLiteral("0a9b8c7d6e5f"), "secret");
    row("log: SENTRY_DSN", QStringLiteral("SENTRY_DSN=https_o1.ingest/42key"),
        QStringLiteral("https_o1.ingest/42key"), "secret");
    row("log: bearer token", QStringLiteral("GET /api Authorization: Bearer abcdef0123456789xyz"),
        QStringLiteral("abcdef0123456789xyz"), "bearer");
    row("log: basic auth header", QStringLiteral("Authorization: Basic dXNlcjpwYXNzd29yZA=="),
        QStringLiteral("dXNlcjpwYXNzd29yZA=="), "bearer");
    row("log: JWT",
        QStringLiteral("token "
                       "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_"
                       "XgL0n3I9PlFUP0THsR8U rejected"),
        QStringLiteral(
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
        "jwt");
    row("log: PEM private key block", QStringLiteral("loaded key\n") + kPem + QStringLiteral("\ndone"),
        QStringLiteral("MIIEpAIBAAKCAQEA7bq0vJ3qkXyZ"), "pem");
    row("event: truncated PEM without END",
        QStringLiteral("bad key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQ"),
        QStringLiteral("MIIEvQIBADANBgkqhkiG9w0BAQ"), "pem");
    row("log: AWS access key id AKIA", QStringLiteral("using AKIAIOSFODNN7EXAMPLE for s3"),
        QStringLiteral("AKIAIOSFODNN7EXAMPLE"), "aws_access_key");
    row("event: AWS temporary key ASIA", QStringLiteral("sts ASIAY34FZKBOKMUTVV7A expired"),
        QStringLiteral("ASIAY34FZKBOKMUTVV7A"), "aws_access_key");
    row("log: AWS secret key",
        QStringLiteral("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        QStringLiteral("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "aws_secret_key");
    row("log: bare AWS secret key after its access key id",
        QStringLiteral("aws credentials: AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        QStringLiteral("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "aws_secret_key");
    row("log: bare AWS secret key after an id already redacted",
        QStringLiteral(
            "aws credentials: «REDACTED:aws_access_key:1» / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        QStringLiteral("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "aws_secret_key");
    row("log: bare AWS secret key before a temporary id",
        QStringLiteral("signing with je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY for ASIAY34FZKBOKMUTVV7A"),
        QStringLiteral("je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"), "aws_secret_key");
    row("log: key=value pair AWS_ACCESS_KEY_ID then a bare secret",
        QStringLiteral(
            "creds aws_access_key_id=«REDACTED:env:1» secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        QStringLiteral("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "aws_secret_key");
    row("event: STS credentials JSON SecretAccessKey",
        QStringLiteral("{\"Credentials\": {\"AccessKeyId\": \"ASIAY34FZKBOKMUTVV7A\", \"SecretAccessKey\": "
                       "\"je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY\"}}"),
        QStringLiteral("je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"), "aws_secret_key");
    row("log: env dump AWS_SECRET_ACCESS_KEY=",
        QStringLiteral(
            "env AWS_REGION=eu-west-1 AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        QStringLiteral("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "aws_secret_key");
    row("log: yaml secretAccessKey:",
        QStringLiteral("s3:\n  secretAccessKey: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
        QStringLiteral("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "aws_secret_key");
    row("log: cli flag --aws-secret-access-key",
        QStringLiteral(
            "exec aws-sync --aws-secret-access-key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY --dry"),
        QStringLiteral("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "aws_secret_key");
    row("log: escaped JSON aws_secret_access_key",
        QStringLiteral(
            "msg=\"{\\\"aws_secret_access_key\\\": \\\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\\\"}\""),
        QStringLiteral("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "aws_secret_key");
    row("log: AWS session token JSON SessionToken",
        QStringLiteral("{\"SessionToken\": \"IQoJb3JpZ2luX2VjEXAMPLETOKEN\"}"),
        QStringLiteral("IQoJb3JpZ2luX2VjEXAMPLETOKEN"), "secret");
    row("log: GCP API key", QStringLiteral("maps key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY ok"),
        QStringLiteral("AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"), "gcp_api_key");
    row("log: GCP service account private_key",
        QStringLiteral("{\"type\": \"service_account\", \"private_key\": "
                       "\"MIIEvgIBADANBgkqhkiG9w0BAQEFAAS\\nAoIBAQC7\", \"client_email\": \"x\"}"),
        QStringLiteral("MIIEvgIBADANBgkqhkiG9w0BAQEFAAS"), "gcp_private_key");
    row("log: GCP service account private_key with the whole PEM",
        QStringLiteral("{\"type\": \"service_account\", \"private_key_id\": \"8f1c\", \"private_key\": "
                       "\"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE "
                       "KEY-----\\n\"}"),
        QStringLiteral("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"), "gcp_private_key");
    row("log: GCP key file printed as an escaped JSON string",
        QStringLiteral("GOOGLE_CREDENTIALS=\"{\\\"private_key\\\": "
                       "\\\"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\\\nAoIB\\\"}\""),
        QStringLiteral("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"), "gcp_private_key");
    row("log: GCP OAuth client secret",
        QStringLiteral("oauth client 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 rejected"),
        QStringLiteral("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"), "gcp_client_secret");
    row("event: Azure storage connection string",
        QStringLiteral("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey="
                       "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==;EndpointSuffix=core.windows.net"),
        QStringLiteral("Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="), "azure_key");
    row("log: Azure SharedAccessSignature",
        QStringLiteral("BlobEndpoint=https://a.blob;SharedAccessSignature=sv2021sigXYZ123abc"),
        QStringLiteral("sv2021sigXYZ123abc"), "azure_sas");
    row("log: SAS URL sig=",
        QStringLiteral("GET https://a.blob.core.windows.net/c/b?sv=2021-08-06&sig=AbC%2BdEf123%3D&se=2026"),
        QStringLiteral("AbC%2BdEf123%3D"), "azure_sas");
    row("log: Service Bus SharedAccessKey",
        QStringLiteral("Endpoint=sb://ns/;SharedAccessKeyName=Root;SharedAccessKey=K3yV4lu3+/abc="),
        QStringLiteral("K3yV4lu3+/abc="), "azure_key");
    row("log: bare Azure storage account key",
        QStringLiteral("blob client key Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
                       "K1SZFPTOtr/KBHBeksoGMGw== failed"),
        QStringLiteral(
            "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="),
        "azure_key");
    row("log: Cosmos DB connection string",
        QStringLiteral("AccountEndpoint=https://db.documents.azure.com:443/;AccountKey=C2y6yDjf5/"
                       "R+ob0N8A7Cgv30VRDJIWEHLM+"
                       "4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==;"),
        QStringLiteral(
            "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="),
        "azure_key");
    row("log: env dump AZURE_STORAGE_KEY=", QStringLiteral("AZURE_STORAGE_KEY=c3RvcmFnZWtleQ== set"),
        QStringLiteral("c3RvcmFnZWtleQ=="), "secret");
    row("log: Entra ID client secret",
        QStringLiteral("token request with Abc8Q~dEfGhIjKlMnOpQrStUvWxYz0123456789a failed"),
        QStringLiteral("Abc8Q~dEfGhIjKlMnOpQrStUvWxYz0123456789a"), "azure_client_secret");
    row("log: GitHub ghp_", QStringLiteral("clone with ghp_1234567890abcdefghijABCDEFGHIJ123456 failed"),
        QStringLiteral("ghp_1234567890abcdefghijABCDEFGHIJ123456"), "github_token");
    row("event: GitHub fine-grained PAT",
        QStringLiteral("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"),
        QStringLiteral("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"), "github_token");
    row("log: Slack bot token", QStringLiteral("slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp"),
        QStringLiteral("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp"), "slack_token");
    row("log: OpenAI key", QStringLiteral("openai error for sk-proj-AbCdEf0123456789GhIjKlMnOpQr"),
        QStringLiteral("sk-proj-AbCdEf0123456789GhIjKlMnOpQr"), "openai_key");
    row("log: Anthropic key", QStringLiteral("401 with sk-ant-api03-AbCdEf0123456789GhIjKlMnOpQr_xyz"),
        QStringLiteral("sk-ant-api03-AbCdEf0123456789GhIjKlMnOpQr_xyz"), "anthropic_key");
    row("log: password in postgres URL",
        QStringLiteral("connect postgres://app:S3cret!pw@db.shop:5432/orders failed"),
        QStringLiteral("S3cret!pw"), "url_password");
    row("event: password in redis URL without user", QStringLiteral("redis://:r3dispass@cache:6379/0"),
        QStringLiteral("r3dispass"), "url_password");
    row("log: ADO.NET connection string",
        QStringLiteral("Server=db;Database=shop;User Id=sa;Password=Pa55w0rd!;"), QStringLiteral("Pa55w0rd!"),
        "conn_password");
    row("log: pwd= in ODBC string", QStringLiteral("DRIVER={x};UID=app;PWD=odbcSecret9;"),
        QStringLiteral("odbcSecret9"), "conn_password");
    row("log: quoted connection string password with spaces",
        QStringLiteral("Server=db;User Id=sa;Password=\"Pa55 w0rd;x\";Encrypt=true"),
        QStringLiteral("Pa55 w0rd;x"), "conn_password");
    row("log: single-quoted libpq password", QStringLiteral("host=db user=app password='p w0rd' dbname=x"),
        QStringLiteral("p w0rd"), "conn_password");
    row("log: PGPASSWORD glued name", QStringLiteral("exec psql with PGPASSWORD=pgS3cret! -h db"),
        QStringLiteral("pgS3cret!"), "conn_password");
    row("log: JDBC URL query password",
        QStringLiteral("jdbc:mysql://db:3306/shop?user=app&password=jdbcPw9&useSSL=true"),
        QStringLiteral("jdbcPw9"), "conn_password");
    row("log: mongodb+srv URL password", QStringLiteral("dial mongodb+srv://svc:m0ngoPw@cluster0.x.net/db"),
        QStringLiteral("m0ngoPw"), "url_password");
    row("log: amqp URL password", QStringLiteral("amqp://guest:rabbitPw1@rabbit:5672/ refused"),
        QStringLiteral("rabbitPw1"), "url_password");
    row("event: email", QStringLiteral("notify alice.smith+ops@example.co.uk failed"),
        QStringLiteral("alice.smith+ops@example.co.uk"), "email");
    row("log: IPv4 when enabled", QStringLiteral("dial tcp 10.42.7.19:5432"), QStringLiteral("10.42.7.19"),
        "ip", true);
    row("log: IPv6 when enabled", QStringLiteral("dial tcp [fd00:10:244::1f]:80"),
        QStringLiteral("fd00:10:244::1f"), "ip", true);
    row("log: full IPv6 when enabled", QStringLiteral("from 2001:0db8:85a3:0000:0000:8a2e:0370:7334 ok"),
        QStringLiteral("2001:0db8:85a3:0000:0000:8a2e:0370:7334"), "ip", true);
}

void TestRedactor::secretsNeverSurvive()
{
    QFETCH(QString, text);
    QFETCH(QString, secret);
    QFETCH(QString, kind);
    QFETCH(bool, ips);
    RedactorOptions opt;
    opt.ipAddresses = ips;
    Redactor redactor(opt);
    const auto out = redactor.redact(text);
    QVERIFY2(!out.text.contains(secret), qPrintable(out.text));
    QVERIFY2(out.report.counts.value(kind) >= 1, qPrintable(out.text));
    QVERIFY2(out.text.contains(QStringLiteral("«REDACTED:") + kind + u':'), qPrintable(out.text));
    // Redacting again changes nothing: placeholders are never re-redacted.
    QCOMPARE(redactor.redact(out.text).text, out.text);
}

void TestRedactor::envValues_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("value");
    QTest::addColumn<bool>("secret");
    QTest::newRow("DB_PASSWORD") << "DB_PASSWORD"
                                 << "hunter2" << true;
    QTest::newRow("apiKey camelCase") << "apiKey"
                                      << "k-123" << true;
    QTest::newRow("GITHUB_TOKEN") << "GITHUB_TOKEN"
                                  << "plain" << true;
    QTest::newRow("SENTRY_DSN") << "SENTRY_DSN"
                                << "https://k@sentry/1" << true;
    QTest::newRow("AWS_SECRET_ACCESS_KEY") << "AWS_SECRET_ACCESS_KEY"
                                           << "abc" << true;
    QTest::newRow("OAUTH_CLIENT_SECRET") << "OAUTH_CLIENT_SECRET"
                                         << "abc" << true;
    QTest::newRow("DATABASE_CREDENTIALS") << "DATABASE_CREDENTIALS"
                                          << "a:b" << true;
    QTest::newRow("REDIS_CONN") << "REDIS_CONN"
                                << "host:1" << true;
    QTest::newRow("PGPASSWORD glued") << "PGPASSWORD"
                                      << "pw" << true;
    QTest::newRow("AWS_ACCESS_KEY_ID") << "AWS_ACCESS_KEY_ID"
                                       << "AKIAIOSFODNN7EXAMPLE" << true;
    QTest::newRow("AZURE_STORAGE_KEY") << "AZURE_STORAGE_KEY"
                                       << "abc" << true;
    QTest::newRow("AZURE_STORAGE_ACCOUNT_KEY") << "AZURE_STORAGE_ACCOUNT_KEY"
                                               << "abc" << true;
    QTest::newRow("GOOGLE_APPLICATION_CREDENTIALS") << "GOOGLE_APPLICATION_CREDENTIALS"
                                                    << "/var/run/sa.json" << true;
    QTest::newRow("MAX_TOKENS kept") << "MAX_TOKENS"
                                     << "512" << false;
    QTest::newRow("TOKENIZER_PATH kept") << "TOKENIZER_PATH"
                                         << "/models/tok" << false;
    QTest::newRow("AWS_REGION kept") << "AWS_REGION"
                                     << "eu-west-1" << false;
    QTest::newRow("LOG_LEVEL kept") << "LOG_LEVEL"
                                    << "debug" << false;
    QTest::newRow("GOMAXPROCS kept") << "GOMAXPROCS"
                                     << "4" << false;
    QTest::newRow("AUTHOR kept") << "AUTHOR"
                                 << "alice" << false;
}

void TestRedactor::envValues()
{
    QFETCH(QString, name);
    QFETCH(QString, value);
    QFETCH(bool, secret);
    Redactor redactor;
    QCOMPARE(Redactor::looksSecretName(name), secret);
    const QString out = redactor.redactEnvValue(name, value);
    if (secret) {
        QVERIFY(!out.contains(value));
        QVERIFY(Redactor::isPlaceholder(out));
        QCOMPARE(redactor.report().counts.value(QStringLiteral("env")), 1);
    } else {
        QCOMPARE(out, value);
    }
    // A secret value under an innocent name is still caught by the text patterns.
    QVERIFY(!redactor.redactEnvValue(QStringLiteral("UPSTREAM"), QStringLiteral("https://u:topsecret@h/"))
                 .contains(QStringLiteral("topsecret")));
}

void TestRedactor::nonSecretsUntouched_data()
{
    QTest::addColumn<QString>("text");
    QTest::newRow("plain log") << "GET /healthz 200 3ms";
    QTest::newRow("env without secret names") << "LOG_LEVEL=debug GOMAXPROCS=4 PORT=8080";
    QTest::newRow("word author") << "author: alice";
    QTest::newRow("tokens counted") << "tokens processed: 512";
    QTest::newRow("IPs kept by default") << "dial tcp 10.0.0.5:5432: connect: connection refused";
    QTest::newRow("image digest")
        << "image sha256:3b4f1c2d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1";
    QTest::newRow("URL without password") << "GET https://api.example.com:8443/v1/items?page=2";
    QTest::newRow("kube event") << "Back-off restarting failed container app in pod web-7d4b9c8f6-x2k9p_shop";
    QTest::newRow("OOM message") << "Memory cgroup out of memory: Killed process 4242 (java)";
    QTest::newRow("short sk- word") << "task-runner sk-short done";
    QTest::newRow("token expired phrase") << "token expired, refreshing";
    QTest::newRow("containerd container ID")
        << "containerID: containerd://3b4f1c2d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1";
    QTest::newRow("image pinned by digest")
        << "Pulling image registry.example.com/shop/api@sha256:"
           "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    QTest::newRow("pod-template-hash and pod name")
        << "pod-template-hash=7d4b9c8f6 pod web-7d4b9c8f6-x2k9p uid 02fa420d-9a0e-4b8b-8356-cecda804a8ea";
    QTest::newRow("git commit sha") << "build 3b4f1c2d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c deployed";
    QTest::newRow("40 base64 characters with no access key id near")
        << "request id wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY done";
    QTest::newRow("sha512 integrity")
        << "integrity sha512-Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq"
           "/K1SZFPTOtr/KBHBeksoGMGw==";
    QTest::newRow("OLDPWD is a directory") << "OLDPWD=/home/app";
    QTest::newRow("AWS region and bucket") << "AWS_REGION=eu-west-1 bucket=shop-assets-prod";
}

void TestRedactor::nonSecretsUntouched()
{
    QFETCH(QString, text);
    Redactor redactor;
    const auto out = redactor.redact(text);
    QCOMPARE(out.text, text);
    QCOMPARE(out.report.total(), 0);
}

void TestRedactor::placeholdersAreStable()
{
    Redactor redactor;
    const auto a = redactor.redact(QStringLiteral("DB_PASSWORD=alpha1 and again DB_PASSWORD=alpha1"));
    QCOMPARE(a.text,
             QStringLiteral("DB_PASSWORD=«REDACTED:secret:1» and again DB_PASSWORD=«REDACTED:secret:1»"));
    const auto b = redactor.redact(QStringLiteral("API_TOKEN=beta2 DB_PASSWORD=alpha1"));
    QCOMPARE(b.text, QStringLiteral("API_TOKEN=«REDACTED:secret:2» DB_PASSWORD=«REDACTED:secret:1»"));
    QCOMPARE(redactor.redactEnvValue(QStringLiteral("X_SECRET"), QStringLiteral("gamma")),
             QStringLiteral("«REDACTED:env:1»"));
    QCOMPARE(redactor.redactEnvValue(QStringLiteral("Y_SECRET"), QStringLiteral("gamma")),
             QStringLiteral("«REDACTED:env:1»"));
    Redactor fresh;
    QCOMPARE(fresh.redact(QStringLiteral("API_TOKEN=beta2")).text,
             QStringLiteral("API_TOKEN=«REDACTED:secret:1»"));
}

void TestRedactor::hexNextToAccessKeyKept_data()
{
    QTest::addColumn<QString>("hex");
    QTest::newRow("git sha after the id") << QStringLiteral("3b4f1c2d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c");
    QTest::newRow("upper-case hex after the id")
        << QStringLiteral("3B4F1C2D9E8A7B6C5D4E3F2A1B0C9D8E7F6A5B4C");
    QTest::newRow("sha256 digest after the id")
        << QStringLiteral("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
}

void TestRedactor::hexNextToAccessKeyKept()
{
    QFETCH(QString, hex);
    Redactor redactor;
    const auto out = redactor.redact(QStringLiteral("AKIAIOSFODNN7EXAMPLE at ") + hex);
    QVERIFY2(out.text.endsWith(hex), qPrintable(out.text));
    QCOMPARE(out.report.total(), 1);
    QCOMPARE(out.report.counts.value(QStringLiteral("aws_access_key")), 1);
}

void TestRedactor::sameSecretOnePlaceholderAcrossKinds()
{
    // The env var and the log line carry the same key: the model sees one name for it.
    Redactor redactor;
    const QString key = QStringLiteral("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    const QString env = redactor.redactEnvValue(QStringLiteral("AWS_SECRET_ACCESS_KEY"), key);
    QCOMPARE(env, QStringLiteral("«REDACTED:env:1»"));
    const auto log = redactor.redact(QStringLiteral("aws credentials: AKIAIOSFODNN7EXAMPLE / ") + key +
                                     QStringLiteral(" and again ") + key);
    QCOMPARE(log.text, QStringLiteral("aws credentials: «REDACTED:aws_access_key:1» / «REDACTED:env:1» and "
                                      "again «REDACTED:env:1»"));
    QCOMPARE(log.report.counts.value(QStringLiteral("env")), 2);
}

void TestRedactor::reportCountsPerKind()
{
    Redactor redactor;
    const auto out = redactor.redact(
        QStringLiteral("AKIAIOSFODNN7EXAMPLE AKIAIOSFODNN7EXAMPLF bob@example.com password=x1"));
    QCOMPARE(out.report.counts.value(QStringLiteral("aws_access_key")), 2);
    QCOMPARE(out.report.counts.value(QStringLiteral("email")), 1);
    QCOMPARE(out.report.counts.value(QStringLiteral("conn_password")), 1);
    QCOMPARE(out.report.total(), 4);
    QVERIFY(out.text.contains(QStringLiteral("«REDACTED:aws_access_key:2»")));
    RedactorOptions noEmails;
    noEmails.emails = false;
    Redactor keepEmails(noEmails);
    QCOMPARE(keepEmails.redact(QStringLiteral("bob@example.com")).text, QStringLiteral("bob@example.com"));
    QCOMPARE(redactor.report().total(), 4);
}

void TestRedactor::hugeAndHostileInput_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("secret");
    QString logs;
    for (int i = 0; i < 60000; ++i)
        logs +=
            QStringLiteral("2026-01-10T12:00:00Z INFO request id=%1 path=/api/items status=200 took=12ms\n")
                .arg(i);
    QTest::newRow("5 MB of logs with one key at the end")
        << logs + QStringLiteral("AKIAIOSFODNN7EXAMPLE\n") << QStringLiteral("AKIAIOSFODNN7EXAMPLE");
    QTest::newRow("2 MB of underscored identifiers")
        << QString(1000000, u'a').replace(QStringLiteral("aa"), QStringLiteral("a_")) << QString();
    QTest::newRow("many PEM headers without END")
        << QStringLiteral("-----BEGIN PRIVATE KEY-----\n").repeated(40000) << QString();
    QTest::newRow("at signs and colons") << QStringLiteral("a:b@c:d@").repeated(200000) << QString();
    QTest::newRow("a single 4 MB line") << QString(4 * 1024 * 1024, u'x') << QString();
}

void TestRedactor::hugeAndHostileInput()
{
    QFETCH(QString, text);
    QFETCH(QString, secret);
    Redactor redactor;
    QElapsedTimer timer;
    timer.start();
    const auto out = redactor.redact(text);
    QVERIFY2(timer.elapsed() < 20000, qPrintable(QString::number(timer.elapsed())));
    if (!secret.isEmpty())
        QVERIFY(!out.text.contains(secret));
    QVERIFY(!out.text.isEmpty());
}

QTEST_GUILESS_MAIN(TestRedactor)
#include "tst_redactor.moc"
