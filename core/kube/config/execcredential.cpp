#include "core/kube/config/execcredential.h"

#include "core/kube/config/credentials.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>

namespace vigil::kube {

namespace {

constexpr qsizetype kMaxStderrInError = 2000;
constexpr qint64 kMaxPluginOutput = 4 * 1024 * 1024;

QString shellQuote(const QString &s)
{
    static const QRegularExpression safe(QStringLiteral("^[A-Za-z0-9_@%+=:,./-]+$"));
    if (safe.match(s).hasMatch())
        return s;
    QString quoted = s;
    quoted.replace(QLatin1Char('\''), QStringLiteral("'\\''"));
    return QLatin1Char('\'') + quoted + QLatin1Char('\'');
}

bool isExecutableFile(const QString &path)
{
    const QFileInfo info(path);
    return info.isFile() && info.isExecutable();
}

QString truncatedStderr(const QByteArray &err)
{
    QString s = QString::fromUtf8(err).trimmed();
    if (s.size() > kMaxStderrInError)
        s = s.left(kMaxStderrInError) + QStringLiteral("… (truncated)");
    return s.isEmpty() ? QStringLiteral("(empty)") : s;
}

QDateTime parseTimestamp(const QString &s)
{
    QDateTime t = QDateTime::fromString(s, Qt::ISODateWithMs);
    if (!t.isValid())
        t = QDateTime::fromString(s, Qt::ISODate);
    return t;
}

} // namespace

QString ExecAllowlist::commandLine(const QString &program, const QStringList &args)
{
    QStringList parts{shellQuote(program)};
    for (const QString &a : args)
        parts << shellQuote(a);
    return parts.join(QLatin1Char(' '));
}

ExecCredentialSource::ExecCredentialSource(ExecConfig config, ExecAllowlist allowlist, Credentials base)
    : m_config(std::move(config))
    , m_allowlist(std::move(allowlist))
    , m_base(std::move(base))
{
}

QStringList ExecCredentialSource::extraSearchDirs(const QString &homeDir)
{
    QStringList dirs{QStringLiteral("/usr/local/bin"),
                     QStringLiteral("/opt/homebrew/bin"),
                     QStringLiteral("/home/linuxbrew/.linuxbrew/bin"),
                     QStringLiteral("/snap/bin"),
                     QStringLiteral("/usr/lib/google-cloud-sdk/bin"),
                     QStringLiteral("/opt/google-cloud-sdk/bin"),
                     QStringLiteral("/usr/local/aws-cli/v2/current/bin")};
    if (!homeDir.isEmpty()) {
        for (const char *rel : {".local/bin", "bin", "go/bin", "google-cloud-sdk/bin", ".krew/bin",
                                ".nix-profile/bin", "aws-cli/v2/current/bin"})
            dirs << QDir(homeDir).filePath(QString::fromLatin1(rel));
    }
    return dirs;
}

Result<QString> ExecCredentialSource::findProgram(const QString &command, const QString &baseDir,
                                                  const QString &homeDir, const QString &pathEnv)
{
    if (command.contains(QLatin1Char('/'))) {
        const QString path =
            QDir::isAbsolutePath(command) ? command : QDir(baseDir).absoluteFilePath(command);
        if (isExecutableFile(path))
            return QDir::cleanPath(path);
        return Error(QStringLiteral("exec plugin %1 is not an executable file").arg(QDir::cleanPath(path)));
    }
    QStringList looked;
    const QStringList pathDirs = pathEnv.split(QLatin1Char(':'), Qt::SkipEmptyParts);
    for (const QStringList &dirs : {pathDirs, extraSearchDirs(homeDir)}) {
        for (const QString &dir : dirs) {
            if (looked.contains(dir))
                continue;
            looked << dir;
            const QString candidate = QDir(dir).filePath(command);
            if (isExecutableFile(candidate))
                return candidate;
        }
    }
    return Error(QStringLiteral("exec plugin \"%1\" was not found; looked in: %2")
                     .arg(command, looked.join(QStringLiteral(", "))));
}

QString ExecCredentialSource::where() const
{
    return QStringLiteral("%1: user \"%2\"").arg(m_config.sourceFile, m_config.userName);
}

Result<QString> ExecCredentialSource::commandLine() const
{
    const auto program = findProgram(m_config.command, QFileInfo(m_config.sourceFile).absolutePath(),
                                     m_config.homeDir, qEnvironmentVariable("PATH"));
    if (!program)
        return program.error();
    return ExecAllowlist::commandLine(*program, m_config.args);
}

int ExecCredentialSource::runCount() const
{
    const QMutexLocker lock(&m_mutex);
    return m_runs;
}

void ExecCredentialSource::invalidate()
{
    const QMutexLocker lock(&m_mutex);
    m_cached.reset();
}

Result<Credentials> ExecCredentialSource::credentials()
{
    const QMutexLocker lock(&m_mutex);
    if (m_cached && (!m_expiry.isValid() || QDateTime::currentDateTimeUtc() < m_expiry))
        return *m_cached;
    m_cached.reset();

    if (m_config.interactiveMode == QLatin1String("Always"))
        return Error(
            QStringLiteral("%1: exec plugin %2 has interactiveMode Always, but Vigil has no terminal to "
                           "give it; run it once in a terminal or change interactiveMode")
                .arg(where(), m_config.command));
    const auto program = findProgram(m_config.command, QFileInfo(m_config.sourceFile).absolutePath(),
                                     m_config.homeDir, qEnvironmentVariable("PATH"));
    if (!program) {
        QString msg = QStringLiteral("%1: %2").arg(where(), program.errorMessage());
        if (!m_config.installHint.isEmpty())
            msg += QStringLiteral(". Install hint: ") + m_config.installHint.trimmed();
        return Error(msg);
    }
    const QString line = ExecAllowlist::commandLine(*program, m_config.args);
    if (!m_allowlist.allows(line))
        return Error(QStringLiteral("%1: the exec credential plugin needs your permission to run: %2 "
                                    "(allow it with --allow-exec \"%3\")")
                         .arg(where(), line, QString(line).replace(QLatin1Char('"'), QStringLiteral("\\\""))),
                     kExecConsentRequired);
    return run(*program);
}

Result<Credentials> ExecCredentialSource::run(const QString &program)
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    // A desktop launcher's PATH often lacks the dirs plugins call each other from.
    QStringList path = env.value(QStringLiteral("PATH")).split(QLatin1Char(':'), Qt::SkipEmptyParts);
    for (const QString &dir : extraSearchDirs(m_config.homeDir)) {
        if (!path.contains(dir) && QFileInfo(dir).isDir())
            path << dir;
    }
    env.insert(QStringLiteral("PATH"), path.join(QLatin1Char(':')));
    for (const auto &[name, value] : m_config.env)
        env.insert(name, value);

    QJsonObject spec{{QStringLiteral("interactive"), false}};
    if (m_config.provideClusterInfo)
        spec.insert(QStringLiteral("cluster"), QJsonDocument::fromJson(m_config.clusterInfoJson).object());
    const QJsonObject info{{QStringLiteral("kind"), QStringLiteral("ExecCredential")},
                           {QStringLiteral("apiVersion"), m_config.apiVersion},
                           {QStringLiteral("spec"), spec}};
    env.insert(QStringLiteral("KUBERNETES_EXEC_INFO"),
               QString::fromUtf8(QJsonDocument(info).toJson(QJsonDocument::Compact)));

    QProcess proc;
    proc.setProcessEnvironment(env);
    proc.setProgram(program);
    proc.setArguments(m_config.args);
    proc.setStandardInputFile(QProcess::nullDevice()); // no TTY: never interactive
    ++m_runs;
    QElapsedTimer clock;
    clock.start();
    proc.start();
    const QString name = QFileInfo(program).fileName();
    if (!proc.waitForStarted(m_config.timeoutMs))
        return Error(QStringLiteral("%1: exec plugin %2 could not be started: %3")
                         .arg(where(), program, proc.errorString()));
    const int remaining = std::max<qint64>(1, m_config.timeoutMs - clock.elapsed());
    if (!proc.waitForFinished(remaining)) {
        proc.kill();
        proc.waitForFinished(2000);
        return Error(QStringLiteral("%1: exec plugin %2 timed out after %3 ms and was killed; stderr: %4")
                         .arg(where(), name)
                         .arg(m_config.timeoutMs)
                         .arg(truncatedStderr(proc.readAllStandardError())));
    }
    const QByteArray out = proc.readAllStandardOutput();
    const QByteArray err = proc.readAllStandardError();
    if (proc.exitStatus() != QProcess::NormalExit || proc.exitCode() != 0)
        return Error(QStringLiteral("%1: exec plugin %2 failed with exit code %3; stderr: %4")
                         .arg(where(), name)
                         .arg(proc.exitStatus() == QProcess::NormalExit ? proc.exitCode() : -1)
                         .arg(truncatedStderr(err)));
    if (out.size() > kMaxPluginOutput)
        return Error(QStringLiteral("%1: exec plugin %2 printed more than 4 MiB").arg(where(), name));

    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(out, &parseError);
    if (!doc.isObject())
        return Error(
            QStringLiteral("%1: exec plugin %2 did not print an ExecCredential JSON object (%3); stderr: %4")
                .arg(where(), name, parseError.errorString(), truncatedStderr(err)));
    const QJsonObject obj = doc.object();
    const QString apiVersion = obj.value(QStringLiteral("apiVersion")).toString();
    if (apiVersion != m_config.apiVersion)
        return Error(
            QStringLiteral("%1: exec plugin %2 is configured to use API version %3, but it returned \"%4\"")
                .arg(where(), name, m_config.apiVersion, apiVersion));
    if (obj.value(QStringLiteral("kind")).toString() != QLatin1String("ExecCredential"))
        return Error(QStringLiteral("%1: exec plugin %2 returned kind \"%3\", expected ExecCredential")
                         .arg(where(), name, obj.value(QStringLiteral("kind")).toString()));
    const QJsonObject status = obj.value(QStringLiteral("status")).toObject();
    if (status.isEmpty())
        return Error(QStringLiteral("%1: exec plugin %2 did not return a status field").arg(where(), name));

    Credentials creds = m_base;
    const QString token = status.value(QStringLiteral("token")).toString();
    const QByteArray certPem = status.value(QStringLiteral("clientCertificateData")).toString().toUtf8();
    const QByteArray keyPem = status.value(QStringLiteral("clientKeyData")).toString().toUtf8();
    if (token.isEmpty() && certPem.isEmpty() && keyPem.isEmpty())
        return Error(
            QStringLiteral("%1: exec plugin %2 returned neither a token nor a client certificate and key")
                .arg(where(), name));
    if (certPem.isEmpty() != keyPem.isEmpty())
        return Error(QStringLiteral("%1: exec plugin %2 returned only a client certificate or key, not both")
                         .arg(where(), name));
    if (!certPem.isEmpty()) {
        auto certs = parsePemCertificates(certPem);
        if (!certs)
            return Error(QStringLiteral("%1: exec plugin %2 status.clientCertificateData: %3")
                             .arg(where(), name, certs.errorMessage()));
        auto key = parsePemPrivateKey(keyPem);
        if (!key)
            return Error(QStringLiteral("%1: exec plugin %2 status.clientKeyData: %3")
                             .arg(where(), name, key.errorMessage()));
        creds.clientCertificate = certs->takeFirst();
        creds.clientCertificateChain = *certs;
        creds.clientKey = *key;
    }
    creds.bearerToken = token;

    QDateTime expiry;
    const QString ts = status.value(QStringLiteral("expirationTimestamp")).toString();
    if (!ts.isEmpty()) {
        expiry = parseTimestamp(ts);
        if (!expiry.isValid())
            return Error(
                QStringLiteral("%1: exec plugin %2 returned an invalid status.expirationTimestamp \"%3\"")
                    .arg(where(), name, ts));
    }
    m_cached = creds;
    m_expiry = expiry;
    return creds;
}

} // namespace vigil::kube
