#pragma once

// JsonReader: strict reading of the replay files (incident records, recorded
// replies, baselines). Every value is checked for its type, unknown keys are
// refused, and the first problem becomes one error naming the file and the
// field path ("crashloop.json: evidence.pod.containers[0].restartCount: ...").

#include "core/util/result.h"

#include <QByteArray>
#include <QDateTime>
#include <QMap>
#include <QString>
#include <QStringList>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>

namespace vigil::replay {

/// Parses untrusted JSON text: refuses more than maxBytes, nesting deeper
/// than maxDepth (before the parser runs) and a top level that is not an object.
Result<nlohmann::json> parseJsonDocument(const QByteArray &text, const QString &source, qint64 maxBytes,
                                         int maxDepth);
/// Reads a file (at most maxBytes) and parses it as parseJsonDocument does.
Result<nlohmann::json> readJsonFile(const QString &path, qint64 maxBytes, int maxDepth);

/// Field access that remembers the first problem. After a failure every
/// getter returns its default, so a reader can run to its end and check
/// failed() once.
class JsonReader final {
public:
    explicit JsonReader(QString source);

    bool failed() const { return m_failed; }
    /// "source: path: message" of the first problem.
    Error error() const { return Error(m_error); }
    void fail(const QString &path, const QString &message);

    /// "a.b" / "a[3]" paths.
    static QString join(const QString &path, const char *key);
    static QString index(const QString &path, qsizetype i);

    /// True when `value` is an object whose keys are all in `allowed`.
    bool object(const nlohmann::json &value, const QString &path,
                std::initializer_list<const char *> allowed);
    /// The member, or null when absent (a failure when required).
    const nlohmann::json *member(const nlohmann::json &object, const QString &path, const char *key,
                                 bool required);

    QString string(const nlohmann::json &object, const QString &path, const char *key, bool required = false,
                   int maxChars = 1 << 20);
    int integer(const nlohmann::json &object, const QString &path, const char *key, int fallback = 0,
                bool required = false);
    int64_t integer64(const nlohmann::json &object, const QString &path, const char *key,
                      int64_t fallback = 0);
    double number(const nlohmann::json &object, const QString &path, const char *key, double fallback = 0.0,
                  bool required = false);
    bool boolean(const nlohmann::json &object, const QString &path, const char *key, bool fallback = false);
    /// An RFC 3339 time or null; absent or null gives an invalid QDateTime.
    QDateTime time(const nlohmann::json &object, const QString &path, const char *key);
    QStringList strings(const nlohmann::json &object, const QString &path, const char *key,
                        int maxItems = 100000);
    QMap<QString, QString> stringMap(const nlohmann::json &object, const QString &path, const char *key);
    /// The array member (empty when absent); a non-array is a failure.
    const nlohmann::json &array(const nlohmann::json &object, const QString &path, const char *key,
                                int maxItems = 100000);

private:
    QString m_source;
    QString m_error;
    bool m_failed = false;
};

/// Writers' counterparts: UTC RFC 3339 with milliseconds, or null.
nlohmann::json timeToJson(const QDateTime &time);
nlohmann::json stringsToJson(const QStringList &list);
nlohmann::json stringMapToJson(const QMap<QString, QString> &map);

} // namespace vigil::replay
