#include "core/reason/llm/providerutil.h"

#include "core/reason/llm/secretstore.h"

namespace vigil::llm {

QString secretOr(const SecretStore *secrets, const QString &key, const QString &fallback)
{
    if (!secrets)
        return fallback;
    const Result<QString> value = secrets->read(key);
    return value.ok() ? *value : fallback;
}

Result<QUrl> parseBaseUrl(const QString &text, const QString &what)
{
    QString s = text.trimmed();
    if (!s.contains(QLatin1String("://")))
        s.prepend(QLatin1String("http://"));
    QUrl url(s, QUrl::StrictMode);
    if (!url.isValid() || url.host().isEmpty() ||
        (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https")))
        return Error(QStringLiteral("%1: '%2' is not an http(s) URL").arg(what, text));
    // A server bound to all interfaces is reached on loopback.
    if (url.host() == QLatin1String("0.0.0.0"))
        url.setHost(QStringLiteral("127.0.0.1"));
    return url;
}

QUrl joinUrl(const QUrl &base, const QString &path)
{
    QUrl url = base;
    QString p = base.path();
    while (p.endsWith(u'/'))
        p.chop(1);
    url.setPath(p + path);
    return url;
}

LlmReply configFailure(const QString &provider, const QString &model, const QString &message)
{
    LlmReply reply;
    reply.provider = provider;
    reply.model = model;
    reply.errorKind = LlmErrorKind::Config;
    reply.error = Error(message);
    return reply;
}

} // namespace vigil::llm
