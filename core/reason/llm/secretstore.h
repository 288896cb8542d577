#pragma once

// Where API keys and endpoint settings come from. Never a plain file: the
// environment now, the desktop's keychain later, a map in tests.

#include "core/util/result.h"

#include <QHash>
#include <QString>

namespace vigil::llm {

/// Reads a named secret ("OPENAI_API_KEY", "OLLAMA_HOST", ...).
class SecretStore {
public:
    virtual ~SecretStore() = default;
    /// The value, or an error naming the key and the store (never the value).
    virtual Result<QString> read(const QString &key) const = 0;
};

/// Reads process environment variables; an unset or empty variable is an error.
class EnvSecretStore final : public SecretStore {
public:
    Result<QString> read(const QString &key) const override;
};

/// A fixed map, for tests and for values already resolved elsewhere.
class MapSecretStore final : public SecretStore {
public:
    MapSecretStore() = default;
    explicit MapSecretStore(QHash<QString, QString> values)
        : m_values(std::move(values))
    {
    }
    void set(const QString &key, const QString &value) { m_values.insert(key, value); }
    Result<QString> read(const QString &key) const override;

private:
    QHash<QString, QString> m_values;
};

} // namespace vigil::llm
