#pragma once

// The seam between kubeconfig resolution (core/kube/config) and the REST
// client: everything needed to talk to one API server as one user.

#include "core/util/result.h"

#include <QList>
#include <QNetworkProxy>
#include <QSslCertificate>
#include <QSslKey>
#include <QString>
#include <QStringList>
#include <QUrl>

#include <memory>

namespace vigil::kube {

/// Credentials for one request. Produced by a CredentialSource; may change
/// over time (token files, exec plugins, OIDC refresh).
struct Credentials {
    QString bearerToken;               ///< sent as "Authorization: Bearer ..." when non-empty
    QSslCertificate clientCertificate; ///< null when none
    QSslKey clientKey;
    QList<QSslCertificate> clientCertificateChain; ///< intermediates after the leaf
    QString basicUser, basicPassword;              ///< legacy; sent only over TLS
};

/// Supplies credentials, refreshing them when asked (after a 401).
/// Implementations: static, token file, exec plugin, OIDC. Called on the
/// thread that owns the RestClient; may block briefly (exec has a timeout).
class CredentialSource {
public:
    virtual ~CredentialSource() = default;
    /// Current credentials; may run an exec plugin or refresh OIDC when expired.
    virtual Result<Credentials> credentials() = 0;
    /// The server said 401: drop cached credentials so the next call renews them.
    virtual void invalidate() = 0;
    /// "client-certificate" | "token" | "token-file" | "exec" | "oidc" | "basic" | "none"
    virtual QString method() const = 0;
};

/// One resolved kubeconfig context, ready to connect.
struct Connection {
    QString contextName;
    QString clusterName;
    QString userName;
    QString namespaceName = QStringLiteral("default");
    QUrl server;                                                 ///< https://host:port[/path]
    QList<QSslCertificate> caCertificates;                       ///< empty = system CAs
    bool insecureSkipTlsVerify = false;                          ///< always surfaced as a warning
    QString tlsServerName;                                       ///< SNI/verification name override
    QNetworkProxy proxy = QNetworkProxy(QNetworkProxy::NoProxy); ///< from proxy-url
    bool proxyFromEnvironment = true; ///< no proxy-url: honour HTTPS_PROXY/NO_PROXY like kubectl
    QStringList sourceFiles;          ///< kubeconfig files that were read, in order
    QStringList warnings;             ///< e.g. insecure-skip-tls-verify, token file world-readable
    std::shared_ptr<CredentialSource> credentials; ///< never null after resolution
};

} // namespace vigil::kube
