#pragma once

// The legacy `auth-provider: {name: oidc}` of kubectl: use id-token while
// its JWT exp is in the future, otherwise refresh it at the issuer's token
// endpoint and write the new tokens back into the kubeconfig file that
// defined the user, as kubectl does.

#include "core/kube/connection.h"

#include <QDateTime>
#include <QMutex>

namespace vigil::kube {

/// The auth-provider config map of one user plus where it came from.
struct OidcConfig {
    QString clientId;
    QString clientSecret;
    QString issuerUrl;
    QString idToken;
    QString refreshToken;
    QList<QSslCertificate> issuerCaCertificates; ///< empty = system CAs
    QString sourceFile; ///< kubeconfig file that defined the user; tokens are written back here
    QString userName;
    int timeoutMs = 30000;
};

/// The `exp` claim of a JWT, decoded without verifying the signature;
/// invalid when absent or undecodable.
QDateTime jwtExpiry(const QString &jwt);

/// Rewrites users[name=userName].user.auth-provider.config id-token and
/// refresh-token in `file`, keeping the rest (temp file + rename, same mode).
Result<void> writeBackOidcTokens(const QString &file, const QString &userName, const QString &idToken,
                                 const QString &refreshToken);

/// Refreshes synchronously with a local event loop and a timeout, so
/// credentials() must be called off the GUI thread.
class OidcCredentialSource final : public CredentialSource {
public:
    /// `base` carries a client certificate when the user also has one.
    explicit OidcCredentialSource(OidcConfig config, Credentials base = Credentials());
    Result<Credentials> credentials() override;
    void invalidate() override;
    QString method() const override { return QStringLiteral("oidc"); }

private:
    Result<void> refresh();
    QString where() const;

    QMutex m_mutex;
    OidcConfig m_config;
    Credentials m_base;
    bool m_forceRefresh = false;
};

} // namespace vigil::kube
