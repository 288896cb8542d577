#pragma once

// JSON structured logs: one object per line, {"ts", "level", "msg", "fields"},
// for log collectors in a cluster. Written whole with one write, so lines from
// one process never interleave.

#include <QDateTime>
#include <QString>

#include <nlohmann/json.hpp>

#include <functional>

namespace vigil::agent {

class StructuredLog final {
public:
    enum class Level { Debug, Info, Warn, Error };
    using Sink = std::function<void(const QByteArray &line)>;

    /// sink receives each line with its trailing newline; null writes to stderr and flushes.
    explicit StructuredLog(Sink sink = {}, std::function<QDateTime()> clock = {});

    void log(Level level, const QString &message, const nlohmann::json &fields = nlohmann::json::object());
    void debug(const QString &message, const nlohmann::json &fields = nlohmann::json::object());
    void info(const QString &message, const nlohmann::json &fields = nlohmann::json::object());
    void warn(const QString &message, const nlohmann::json &fields = nlohmann::json::object());
    void error(const QString &message, const nlohmann::json &fields = nlohmann::json::object());

    /// Lines below this level are dropped (default Info).
    void setMinimumLevel(Level level) { m_minimum = level; }

    /// One line: {"ts":"2026-11-25T10:00:00.123Z","level":"info","msg":...,"fields":{...}}\n.
    static QByteArray format(const QDateTime &ts, Level level, const QString &message,
                             const nlohmann::json &fields);
    /// "debug", "info", "warn", "error".
    static QString levelName(Level level);

private:
    Sink m_sink;
    std::function<QDateTime()> m_clock;
    Level m_minimum = Level::Info;
};

} // namespace vigil::agent
