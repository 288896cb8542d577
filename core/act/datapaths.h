#pragma once

// Where vigilctl and the desktop keep decisions.db and audit.db: the --db
// directory when given, else $VIGIL_DATA_DIR, else QStandardPaths::AppDataLocation.

#include <QDir>
#include <QStandardPaths>
#include <QString>

namespace vigil::act {

inline QString dataDirectory(const QString &flag)
{
    QString dir = flag;
    if (dir.isEmpty())
        dir = qEnvironmentVariable("VIGIL_DATA_DIR");
    if (dir.isEmpty())
        dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    QDir().mkpath(dir);
    return dir;
}

inline QString decisionsPath(const QString &dir)
{
    return QDir(dir).filePath(QStringLiteral("decisions.db"));
}

inline QString auditPath(const QString &dir)
{
    return QDir(dir).filePath(QStringLiteral("audit.db"));
}

} // namespace vigil::act
