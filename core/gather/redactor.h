#pragma once

// Redactor: THE one redaction point. Everything that may leave the machine
// (evidence sent to an LLM, exported audit text) passes through it.

#include <QHash>
#include <QMap>
#include <QString>

#include <memory>

namespace vigil::gather {

/// What the redactor replaced, per kind ("aws_access_key" -> 2, ...).
struct RedactionReport {
    QMap<QString, int> counts;

    int total() const;
    void merge(const RedactionReport &other);
};

struct RedactorOptions {
    bool emails = true;       ///< replace e-mail addresses
    bool ipAddresses = false; ///< replace IPv4/IPv6 addresses (off: they help diagnosis)
};

/// Replaces secrets with stable placeholders: within one instance the same
/// secret always becomes the same «REDACTED:kind:N». Not thread-safe; use one
/// per incident. Patterns are compiled once per process.
class Redactor final {
public:
    using Options = RedactorOptions;

    explicit Redactor(Options options = Options{});
    ~Redactor();
    Redactor(Redactor &&) noexcept;
    Redactor &operator=(Redactor &&) noexcept;

    struct Redacted {
        QString text;
        RedactionReport report; ///< replacements made in this call
    };

    /// Redacts free text (logs, events, messages, rendered evidence).
    Redacted redact(const QString &text);
    /// Redacts one environment variable's value: all of it when the name
    /// looks secret, else whatever secrets the value itself contains.
    QString redactEnvValue(const QString &name, const QString &value);
    /// Everything replaced since construction.
    const RedactionReport &report() const { return m_report; }

    /// True for names like DB_PASSWORD, PGPASSWORD, apiKey, GITHUB_TOKEN, SENTRY_DSN.
    static bool looksSecretName(const QString &name);
    /// True when `text` is exactly one placeholder this class produces.
    static bool isPlaceholder(const QString &text);

private:
    QString placeholder(const QString &kind, const QString &secret);

    Options m_options;
    QHash<QString, QString> m_placeholders; // secret -> placeholder
    QHash<QString, int> m_counters;         // per kind
    RedactionReport m_report;
    RedactionReport *m_callReport = nullptr; // not owned; the report of the current call
};

} // namespace vigil::gather
