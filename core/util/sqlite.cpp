#include "core/util/sqlite.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

#include <atomic>

namespace vigil {
namespace {

std::atomic<int> g_serial{0};

} // namespace

Result<QString> openDurableSqlite(const QString &path, const QString &prefix, const QString &what)
{
    const QString name = QStringLiteral("%1-%2").arg(prefix).arg(g_serial.fetch_add(1));
    QString error;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(path);
        db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=5000"));
        if (!db.open()) {
            error = QStringLiteral("cannot open: ") + db.lastError().text();
        } else {
            QSqlQuery q(db);
            // journal_mode answers with the mode it ended up in; anything but wal is a failure.
            if (!q.exec(QStringLiteral("PRAGMA journal_mode=WAL")))
                error = QStringLiteral("cannot enable WAL journaling: ") + q.lastError().text();
            else if (!q.next() ||
                     q.value(0).toString().compare(QLatin1String("wal"), Qt::CaseInsensitive) != 0)
                error = QStringLiteral("cannot enable WAL journaling");
            else if (!q.exec(QStringLiteral("PRAGMA synchronous=FULL")))
                error = QStringLiteral("cannot set synchronous=FULL: ") + q.lastError().text();
        }
    }
    if (!error.isEmpty()) {
        closeSqlite(name);
        return Error(QStringLiteral("%1 %2: %3").arg(what, path, error));
    }
    return name;
}

void closeSqlite(const QString &connectionName)
{
    if (!QSqlDatabase::contains(connectionName))
        return;
    {
        QSqlDatabase db = QSqlDatabase::database(connectionName, false);
        db.close();
    }
    QSqlDatabase::removeDatabase(connectionName);
}

} // namespace vigil
