#include "core/kube/objects.h"

namespace vigil::kube {

int PodView::restarts() const
{
    int total = 0;
    for (const ContainerStatusView &c : containers)
        total += c.restartCount;
    // Sidecars keep running beside the app containers; their restarts count too.
    for (const ContainerStatusView &c : initContainers) {
        if (c.restartable || !initialized)
            total += c.restartCount;
    }
    return total;
}

int PodView::readyContainers() const
{
    int n = 0;
    for (const ContainerStatusView &c : containers) {
        if (c.ready && c.state == QLatin1String("running"))
            ++n;
    }
    return n;
}

// Follows kubectl's printPod (pkg/printers/internalversion/printers.go).
QString PodView::displayStatus() const
{
    QString status = reason.isEmpty() ? phase : reason;

    bool initializing = false;
    for (qsizetype i = 0; i < initContainers.size(); ++i) {
        const ContainerStatusView &c = initContainers[i];
        const bool terminated = c.state == QLatin1String("terminated");
        if (terminated && c.exitCode == 0)
            continue;
        if (c.restartable && c.state == QLatin1String("running") && c.started)
            continue;
        if (terminated) {
            if (c.reason.isEmpty()) {
                status = c.signal != 0 ? QStringLiteral("Init:Signal:%1").arg(c.signal)
                                       : QStringLiteral("Init:ExitCode:%1").arg(c.exitCode);
            } else {
                status = QStringLiteral("Init:") + c.reason;
            }
        } else if (c.state == QLatin1String("waiting") && !c.reason.isEmpty() &&
                   c.reason != QLatin1String("PodInitializing")) {
            status = QStringLiteral("Init:") + c.reason;
        } else {
            status = QStringLiteral("Init:%1/%2").arg(i).arg(initContainers.size());
        }
        initializing = true;
        break;
    }

    if (!initializing || initialized) {
        bool hasRunning = false;
        for (qsizetype i = containers.size() - 1; i >= 0; --i) {
            const ContainerStatusView &c = containers[i];
            if (c.state == QLatin1String("waiting") && !c.reason.isEmpty()) {
                status = c.reason;
            } else if (c.state == QLatin1String("terminated") && !c.reason.isEmpty()) {
                status = c.reason;
            } else if (c.state == QLatin1String("terminated")) {
                status = c.signal != 0 ? QStringLiteral("Signal:%1").arg(c.signal)
                                       : QStringLiteral("ExitCode:%1").arg(c.exitCode);
            } else if (c.ready && c.state == QLatin1String("running")) {
                hasRunning = true;
            }
        }
        if (status == QLatin1String("Completed") && hasRunning)
            status = ready ? QStringLiteral("Running") : QStringLiteral("NotReady");
    }

    if (deletionTimestamp.isValid() && reason == QLatin1String("NodeLost"))
        status = QStringLiteral("Unknown");
    else if (deletionTimestamp.isValid() && phase != QLatin1String("Succeeded") &&
             phase != QLatin1String("Failed"))
        status = QStringLiteral("Terminating");
    return status;
}

bool NodeView::ready() const
{
    for (const NodeCondition &c : conditions) {
        if (c.type == QLatin1String("Ready"))
            return c.status == QLatin1String("True");
    }
    return false;
}

} // namespace vigil::kube
