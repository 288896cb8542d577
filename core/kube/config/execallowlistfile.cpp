#include "core/kube/config/execallowlistfile.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>
#include <QStandardPaths>

#include <algorithm>

namespace vigil::kube {
namespace {

// A list a person maintains is a few lines; anything this big is not one.
constexpr qint64 kMaxBytes = 1024 * 1024;

} // namespace

QString defaultExecAllowlistPath()
{
    return QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation) +
           QStringLiteral("/vigil/exec-allowlist");
}

Result<ExecAllowlist> loadExecAllowlistFile(const QString &path)
{
    ExecAllowlist allow;
    QFile file(path);
    if (!file.exists())
        return allow;
    if (!file.open(QIODevice::ReadOnly))
        return Error(QStringLiteral("cannot read exec allowlist %1: %2").arg(path, file.errorString()));
    if (file.size() > kMaxBytes)
        return Error(
            QStringLiteral("exec allowlist %1 is larger than 1 MiB; it holds one command line a line")
                .arg(path));
    const QList<QByteArray> lines = file.readAll().split('\n');
    for (const QByteArray &raw : lines) {
        const QString line = QString::fromUtf8(raw).trimmed();
        if (line.isEmpty() || line.startsWith(u'#'))
            continue;
        allow.allow(line);
    }
    return allow;
}

Result<void> saveExecAllowlistFile(const QString &path, const ExecAllowlist &allowlist)
{
    const QString folder = QFileInfo(path).absolutePath();
    if (!QDir().mkpath(folder))
        return Error(QStringLiteral("cannot create folder %1 for the exec allowlist").arg(folder));
    QStringList lines(allowlist.commandLines.cbegin(), allowlist.commandLines.cend());
    lines.removeIf([](const QString &l) { return l.trimmed().isEmpty() || l.contains(u'\n'); });
    lines.sort();
    QByteArray text = "# Exec credential plugins allowed to run: one exact command line a line.\n"
                      "# Read by vigilctl and the Vigil desktop app.\n";
    for (const QString &line : std::as_const(lines))
        text += line.trimmed().toUtf8() + '\n';
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return Error(QStringLiteral("cannot write exec allowlist %1: %2").arg(path, file.errorString()));
    file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    file.write(text);
    if (!file.commit())
        return Error(QStringLiteral("cannot write exec allowlist %1: %2").arg(path, file.errorString()));
    return {};
}

} // namespace vigil::kube
