#include "core/kube/config/credentials.h"

#include "core/kube/config/yamlguard.h"

#include <QFile>
#include <QFileInfo>

namespace vigil::kube {

Result<QList<QSslCertificate>> parsePemCertificates(const QByteArray &pem)
{
    if (!pem.contains("-----BEGIN CERTIFICATE-----"))
        return Error(QStringLiteral("no PEM certificate found (expected \"-----BEGIN CERTIFICATE-----\")"));
    const QList<QSslCertificate> certs = QSslCertificate::fromData(pem, QSsl::Pem);
    if (certs.isEmpty() || certs.first().isNull())
        return Error(QStringLiteral("the PEM certificate cannot be decoded"));
    return certs;
}

Result<QSslKey> parsePemPrivateKey(const QByteArray &pem)
{
    if (!pem.contains("-----BEGIN") || !pem.contains("PRIVATE KEY-----"))
        return Error(
            QStringLiteral("no PEM private key found (expected \"-----BEGIN ... PRIVATE KEY-----\")"));
    if (pem.contains("ENCRYPTED PRIVATE KEY") || pem.contains("Proc-Type: 4,ENCRYPTED"))
        return Error(QStringLiteral("the private key is encrypted; kubeconfig keys must be unencrypted"));
    // QSslKey must be told the algorithm; PKCS#8 "BEGIN PRIVATE KEY" carries
    // it inside, and OpenSSL accepts it under either guess that matches.
    for (const QSsl::KeyAlgorithm algorithm : {QSsl::Rsa, QSsl::Ec}) {
        QSslKey key(pem, algorithm, QSsl::Pem, QSsl::PrivateKey);
        if (!key.isNull())
            return key;
    }
    return Error(QStringLiteral("the PEM private key cannot be decoded as RSA or EC"));
}

StaticCredentialSource::StaticCredentialSource(QString method, Credentials credentials)
    : m_method(std::move(method))
    , m_credentials(std::move(credentials))
{
}

Result<Credentials> StaticCredentialSource::credentials()
{
    return m_credentials;
}

TokenFileCredentialSource::TokenFileCredentialSource(QString path, Credentials base)
    : m_path(std::move(path))
    , m_base(std::move(base))
{
}

Result<Credentials> TokenFileCredentialSource::credentials()
{
    const QMutexLocker lock(&m_mutex);
    const QFileInfo info(m_path);
    if (!info.exists())
        return Error(QStringLiteral("token file %1 does not exist").arg(m_path));
    if (info.lastModified() != m_mtime || info.size() != m_size || m_token.isEmpty()) {
        QFile file(m_path);
        if (!file.open(QIODevice::ReadOnly))
            return Error(QStringLiteral("token file %1 cannot be read: %2").arg(m_path, file.errorString()));
        const QString token = QString::fromUtf8(readAtMost(file, 1024 * 1024)).trimmed();
        if (token.isEmpty())
            return Error(QStringLiteral("token file %1 is empty").arg(m_path));
        m_token = token;
        m_mtime = info.lastModified();
        m_size = info.size();
    }
    Credentials c = m_base;
    c.bearerToken = m_token;
    return c;
}

void TokenFileCredentialSource::invalidate()
{
    const QMutexLocker lock(&m_mutex);
    m_size = -1; // forces a re-read even when the stamp looks unchanged
}

} // namespace vigil::kube
