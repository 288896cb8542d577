#pragma once

// Credential sources that need no process or network: fixed credentials
// (client certificate, token, basic, none) and a re-read token file. Also
// the PEM helpers the other sources share.

#include "core/kube/connection.h"

#include <QDateTime>
#include <QMutex>

namespace vigil::kube {

/// Parses PEM certificates (leaf first). Error when none is found.
Result<QList<QSslCertificate>> parsePemCertificates(const QByteArray &pem);
/// Parses a PEM private key: PKCS#1 RSA, SEC1 EC or PKCS#8; tries RSA, then EC.
Result<QSslKey> parsePemPrivateKey(const QByteArray &pem);

/// Credentials that never change.
class StaticCredentialSource final : public CredentialSource {
public:
    StaticCredentialSource(QString method, Credentials credentials);
    Result<Credentials> credentials() override;
    void invalidate() override {}
    QString method() const override { return m_method; }

private:
    QString m_method;
    Credentials m_credentials;
};

/// A bearer token read from a file, re-read whenever the file's mtime or size
/// changes (projected service-account tokens rotate in place).
class TokenFileCredentialSource final : public CredentialSource {
public:
    /// `base` carries a client certificate when the user also has one.
    TokenFileCredentialSource(QString path, Credentials base = Credentials());
    Result<Credentials> credentials() override;
    void invalidate() override;
    QString method() const override { return QStringLiteral("token-file"); }

private:
    QMutex m_mutex;
    QString m_path;
    Credentials m_base;
    QString m_token;
    QDateTime m_mtime;
    qint64 m_size = -1;
};

} // namespace vigil::kube
