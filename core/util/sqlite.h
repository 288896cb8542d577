#pragma once

// Opening Vigil's durable SQLite files one way (the audit log, the decision
// store): a uniquely named QtSql connection, a busy timeout so two processes
// wait for each other instead of failing, WAL journaling so readers never
// block the writer, and synchronous=FULL so a committed row survives kill -9.
//
// A connection belongs to the thread that opened it.

#include "core/util/result.h"

#include <QString>

namespace vigil {

/// Adds a QSQLITE connection named "<prefix>-<n>" for path and opens it with a
/// 5 s busy timeout, journal_mode=WAL and synchronous=FULL. Errors start with
/// `what` and the path ("audit log /x/audit.db: cannot open: ..."); on error
/// the connection is removed again. Returns the connection name.
Result<QString> openDurableSqlite(const QString &path, const QString &prefix, const QString &what);

/// Closes and removes a connection made by openDurableSqlite (no-op for an unknown name).
void closeSqlite(const QString &connectionName);

} // namespace vigil
