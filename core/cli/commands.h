#pragma once

// One function per vigilctl command. arguments[0] is the command name.

#include <QStringList>

class QTextStream;

namespace vigil::cli {

int agentCommand(const QStringList &arguments, QTextStream &out, QTextStream &err);
int actCommand(const QStringList &arguments, QTextStream &out, QTextStream &err);
int auditCommand(const QStringList &arguments, QTextStream &out, QTextStream &err);
int doctorCommand(const QStringList &arguments, QTextStream &out, QTextStream &err);
int diagnoseCommand(const QStringList &arguments, QTextStream &out, QTextStream &err);
int getCommand(const QStringList &arguments, QTextStream &out, QTextStream &err);
int recordCommand(const QStringList &arguments, QTextStream &out, QTextStream &err);
int replayCommand(const QStringList &arguments, QTextStream &out, QTextStream &err);

} // namespace vigil::cli
