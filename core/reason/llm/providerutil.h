#pragma once

// Small helpers the provider implementations share (not public API).

#include "core/reason/llm/llmtypes.h"

#include <QUrl>

namespace vigil::llm {

class SecretStore;

/// The secret `key` if set, else `fallback`.
QString secretOr(const SecretStore *secrets, const QString &key, const QString &fallback);
/// Parses an http(s) base URL (adding http:// to a bare host:port); the error names `what`.
Result<QUrl> parseBaseUrl(const QString &text, const QString &what);
/// Joins a base URL and a path without doubling slashes.
QUrl joinUrl(const QUrl &base, const QString &path);
/// A reply that failed before anything was sent.
LlmReply configFailure(const QString &provider, const QString &model, const QString &message);

} // namespace vigil::llm
