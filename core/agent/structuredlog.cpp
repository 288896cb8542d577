#include "core/agent/structuredlog.h"

#include <cstdio>

namespace vigil::agent {

using json = nlohmann::json;

StructuredLog::StructuredLog(Sink sink, std::function<QDateTime()> clock)
    : m_sink(std::move(sink))
    , m_clock(std::move(clock))
{
    if (!m_sink) {
        m_sink = [](const QByteArray &line) {
            std::fwrite(line.constData(), 1, static_cast<size_t>(line.size()), stderr);
            std::fflush(stderr);
        };
    }
}

QString StructuredLog::levelName(Level level)
{
    switch (level) {
    case Level::Debug:
        return QStringLiteral("debug");
    case Level::Info:
        return QStringLiteral("info");
    case Level::Warn:
        return QStringLiteral("warn");
    case Level::Error:
        return QStringLiteral("error");
    }
    return QStringLiteral("info");
}

QByteArray StructuredLog::format(const QDateTime &ts, Level level, const QString &message, const json &fields)
{
    const json line = {{"ts", ts.toUTC().toString(Qt::ISODateWithMs).toStdString()},
                       {"level", levelName(level).toStdString()},
                       {"msg", message.toStdString()},
                       {"fields", fields.is_object() ? fields : json{{"value", fields}}}};
    // Replace invalid UTF-8 (from a pod's log line, say) instead of throwing.
    return QByteArray::fromStdString(line.dump(-1, ' ', false, json::error_handler_t::replace)) + '\n';
}

void StructuredLog::log(Level level, const QString &message, const json &fields)
{
    if (level < m_minimum)
        return;
    m_sink(format(m_clock ? m_clock() : QDateTime::currentDateTimeUtc(), level, message, fields));
}

void StructuredLog::debug(const QString &message, const json &fields)
{
    log(Level::Debug, message, fields);
}

void StructuredLog::info(const QString &message, const json &fields)
{
    log(Level::Info, message, fields);
}

void StructuredLog::warn(const QString &message, const json &fields)
{
    log(Level::Warn, message, fields);
}

void StructuredLog::error(const QString &message, const json &fields)
{
    log(Level::Error, message, fields);
}

} // namespace vigil::agent
