#include "core/reason/llm/secretstore.h"

#include <QtGlobal>

namespace vigil::llm {

Result<QString> EnvSecretStore::read(const QString &key) const
{
    const QString value = qEnvironmentVariable(key.toLocal8Bit().constData());
    if (value.trimmed().isEmpty())
        return Error(QStringLiteral("environment variable %1 is not set").arg(key));
    return value.trimmed();
}

Result<QString> MapSecretStore::read(const QString &key) const
{
    const auto it = m_values.constFind(key);
    if (it == m_values.constEnd() || it->isEmpty())
        return Error(QStringLiteral("secret %1 is not set").arg(key));
    return *it;
}

} // namespace vigil::llm
