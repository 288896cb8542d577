#include "core/agent/shutdownsignals.h"

#include <QSocketNotifier>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <sys/socket.h>
#include <unistd.h>

namespace vigil::agent {

namespace {

// The handler can reach nothing but a plain file descriptor.
std::atomic<int> g_writeFd{-1};
struct sigaction g_previousTerm;
struct sigaction g_previousInt;

extern "C" void onSignal(int number)
{
    const int saved = errno;
    const int fd = g_writeFd.load();
    if (fd >= 0) {
        const unsigned char byte = static_cast<unsigned char>(number);
        [[maybe_unused]] const ssize_t n = ::write(fd, &byte, 1);
    }
    errno = saved;
}

} // namespace

Result<std::unique_ptr<ShutdownSignals>> ShutdownSignals::install(QObject *parent)
{
    if (g_writeFd.load() >= 0)
        return Error(QStringLiteral("SIGTERM/SIGINT handlers are already installed in this process"));
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0)
        return Error(QStringLiteral("socketpair for signal handling: %1")
                         .arg(QString::fromLocal8Bit(std::strerror(errno))));
    g_writeFd.store(fds[1]);
    struct sigaction action;
    std::memset(&action, 0, sizeof(action));
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (::sigaction(SIGTERM, &action, &g_previousTerm) != 0 ||
        ::sigaction(SIGINT, &action, &g_previousInt) != 0) {
        const QString why = QString::fromLocal8Bit(std::strerror(errno));
        g_writeFd.store(-1);
        ::close(fds[0]);
        ::close(fds[1]);
        return Error(QStringLiteral("installing the SIGTERM/SIGINT handlers: %1").arg(why));
    }
    return std::unique_ptr<ShutdownSignals>(new ShutdownSignals(fds[0], parent));
}

ShutdownSignals::ShutdownSignals(int readFd, QObject *parent)
    : QObject(parent)
    , m_readFd(readFd)
    , m_notifier(new QSocketNotifier(readFd, QSocketNotifier::Read, this))
{
    connect(m_notifier, &QSocketNotifier::activated, this, &ShutdownSignals::onReadable);
}

ShutdownSignals::~ShutdownSignals()
{
    ::sigaction(SIGTERM, &g_previousTerm, nullptr);
    ::sigaction(SIGINT, &g_previousInt, nullptr);
    const int writeFd = g_writeFd.exchange(-1);
    m_notifier->setEnabled(false);
    if (writeFd >= 0)
        ::close(writeFd);
    ::close(m_readFd);
}

void ShutdownSignals::onReadable()
{
    unsigned char buffer[16];
    const ssize_t n = ::read(m_readFd, buffer, sizeof(buffer));
    for (ssize_t i = 0; i < n; ++i)
        Q_EMIT received(buffer[i]);
}

} // namespace vigil::agent
