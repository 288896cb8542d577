#pragma once

// SIGTERM and SIGINT as a Qt signal. The POSIX handler only writes the
// signal number to one end of a socket pair (async-signal-safe); a
// QSocketNotifier on the other end emits received() from the event loop,
// where the real work happens. One instance at a time per process.

#include "core/util/result.h"

#include <QObject>

#include <memory>

class QSocketNotifier;

namespace vigil::agent {

class ShutdownSignals final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ShutdownSignals)

public:
    /// Installs the handlers for SIGTERM and SIGINT; an error if another instance holds them.
    static Result<std::unique_ptr<ShutdownSignals>> install(QObject *parent = nullptr);
    /// Restores the previous handlers.
    ~ShutdownSignals() override;

Q_SIGNALS:
    /// SIGTERM (15) or SIGINT (2) arrived.
    void received(int signalNumber);

private:
    ShutdownSignals(int readFd, QObject *parent);
    void onReadable();

    int m_readFd;
    QSocketNotifier *m_notifier; // child
};

} // namespace vigil::agent
