#include "core/cli/commands.h"

#include "core/util/jsondepth.h"

#include "core/cli/await.h"
#include "core/cli/kubeoptions.h"
#include "core/kube/projections.h"
#include "core/kube/restclient.h"

#include <QCommandLineParser>
#include <QEventLoop>
#include <QTextStream>
#include <QTimer>

#include <nlohmann/json.hpp>

namespace vigil::cli {
namespace {

using nlohmann::json;

QString age(const QDateTime &t, const QDateTime &now)
{
    if (!t.isValid())
        return QStringLiteral("<unknown>");
    const qint64 s = std::max<qint64>(0, t.secsTo(now));
    if (s < 120)
        return QString::number(s) + u's';
    if (s < 120 * 60)
        return QString::number(s / 60) + u'm';
    if (s < 48 * 3600)
        return QString::number(s / 3600) + u'h';
    return QString::number(s / 86400) + u'd';
}

/// One kind's table: headers and a row from a JSON object.
struct Printer {
    QStringList headers;
    std::function<Result<QStringList>(const json &)> row;
};

Printer podPrinter(bool allNamespaces, bool wide)
{
    Printer p;
    if (allNamespaces)
        p.headers << QStringLiteral("NAMESPACE");
    p.headers << QStringLiteral("NAME") << QStringLiteral("READY") << QStringLiteral("STATUS")
              << QStringLiteral("RESTARTS") << QStringLiteral("AGE");
    if (wide)
        p.headers << QStringLiteral("NODE") << QStringLiteral("OWNER");
    p.row = [allNamespaces, wide](const json &o) -> Result<QStringList> {
        Result<kube::PodView> pod = kube::projectPod(o);
        if (!pod)
            return pod.error();
        QStringList r;
        if (allNamespaces)
            r << pod->namespaceName;
        r << pod->name << QStringLiteral("%1/%2").arg(pod->readyContainers()).arg(pod->containers.size())
          << pod->displayStatus() << QString::number(pod->restarts())
          << age(pod->created, QDateTime::currentDateTimeUtc());
        if (wide)
            r << (pod->nodeName.isEmpty() ? QStringLiteral("<none>") : pod->nodeName)
              << (pod->owner.name.isEmpty() ? QStringLiteral("<none>")
                                            : pod->owner.kind + u'/' + pod->owner.name);
        return r;
    };
    return p;
}

Printer nodePrinter(bool wide)
{
    Printer p;
    p.headers << QStringLiteral("NAME") << QStringLiteral("STATUS") << QStringLiteral("ROLES")
              << QStringLiteral("AGE") << QStringLiteral("VERSION");
    if (wide)
        p.headers << QStringLiteral("TAINTS");
    p.row = [wide](const json &o) -> Result<QStringList> {
        Result<kube::NodeView> node = kube::projectNode(o);
        if (!node)
            return node.error();
        QString status = node->ready() ? QStringLiteral("Ready") : QStringLiteral("NotReady");
        if (node->unschedulable)
            status += QStringLiteral(",SchedulingDisabled");
        QStringList roles;
        for (auto it = node->labels.cbegin(); it != node->labels.cend(); ++it) {
            if (it.key().startsWith(QLatin1String("node-role.kubernetes.io/")))
                roles << it.key().mid(int(qstrlen("node-role.kubernetes.io/")));
        }
        QDateTime created = kube::parseKubeTime(
            QString::fromStdString(jsonValue(o["metadata"], "creationTimestamp", std::string())));
        QStringList r{node->name, status, roles.isEmpty() ? QStringLiteral("<none>") : roles.join(u','),
                      age(created, QDateTime::currentDateTimeUtc()), node->kubeletVersion};
        if (wide)
            r << (node->taints.isEmpty() ? QStringLiteral("<none>") : node->taints.join(u','));
        return r;
    };
    return p;
}

Printer eventPrinter(bool allNamespaces)
{
    Printer p;
    if (allNamespaces)
        p.headers << QStringLiteral("NAMESPACE");
    p.headers << QStringLiteral("LAST SEEN") << QStringLiteral("TYPE") << QStringLiteral("REASON")
              << QStringLiteral("OBJECT") << QStringLiteral("MESSAGE");
    p.row = [allNamespaces](const json &o) -> Result<QStringList> {
        Result<kube::EventView> e = kube::projectEvent(o);
        if (!e)
            return e.error();
        QStringList r;
        if (allNamespaces)
            r << e->namespaceName;
        r << age(e->lastSeen, QDateTime::currentDateTimeUtc()) << e->type << e->reason
          << e->involved.kind.toLower() + u'/' + e->involved.name << e->message.simplified();
        return r;
    };
    return p;
}

void printTable(QTextStream &out, const QStringList &headers, const QList<QStringList> &rows,
                QList<int> *widths)
{
    if (widths->isEmpty()) {
        for (const QString &h : headers)
            widths->append(int(h.size()));
        for (const QStringList &r : rows) {
            for (int i = 0; i < r.size() && i < widths->size(); ++i)
                (*widths)[i] = std::max((*widths)[i], int(r[i].size()));
        }
        for (int i = 0; i < headers.size(); ++i)
            out << (i + 1 < headers.size() ? headers[i].leftJustified((*widths)[i] + 3) : headers[i]);
        out << '\n';
    }
    for (const QStringList &r : rows) {
        for (int i = 0; i < r.size(); ++i)
            out << (i + 1 < r.size() ? r[i].leftJustified((*widths)[i] + 3) : r[i]);
        out << '\n';
    }
    out.flush();
}

const char *watchTypeName(kube::WatchEvent::Type t)
{
    switch (t) {
    case kube::WatchEvent::Type::Added:
        return "ADDED";
    case kube::WatchEvent::Type::Modified:
        return "MODIFIED";
    case kube::WatchEvent::Type::Deleted:
        return "DELETED";
    case kube::WatchEvent::Type::Bookmark:
        return "BOOKMARK";
    case kube::WatchEvent::Type::Error:
        return "ERROR";
    }
    return "ERROR";
}

} // namespace

int getCommand(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("List pods, nodes or events like kubectl get."));
    addKubeOptions(parser);
    parser.addPositionalArgument(QStringLiteral("kind"), QStringLiteral("pods | nodes | events"));
    parser.addOption(
        {{QStringLiteral("A"), QStringLiteral("all-namespaces")}, QStringLiteral("All namespaces.")});
    parser.addOption({{QStringLiteral("w"), QStringLiteral("watch")},
                      QStringLiteral("After listing, print each change as it arrives.")});
    parser.addOption({QStringLiteral("watch-timeout"),
                      QStringLiteral("Stop watching after this many seconds."), QStringLiteral("s")});
    parser.addOption({{QStringLiteral("o"), QStringLiteral("output")},
                      QStringLiteral("wide | name | json"),
                      QStringLiteral("format")});
    parser.addOption({{QStringLiteral("l"), QStringLiteral("selector")},
                      QStringLiteral("Label selector."),
                      QStringLiteral("sel")});
    if (!parser.parse(arguments)) {
        err << "vigilctl get: " << parser.errorText() << '\n';
        return 2;
    }
    const QStringList positional = parser.positionalArguments();
    const QString kindArg = positional.value(0).toLower(); // the parser took "get" as the program name
    const QString output = parser.value(QStringLiteral("output"));
    if (!output.isEmpty() && output != u"wide" && output != u"name" && output != u"json") {
        err << "vigilctl get: unknown output format '" << output << "' (use wide, name or json)\n";
        return 2;
    }
    kube::ResourceType type;
    QString namePrefix;
    if (kindArg == u"pods" || kindArg == u"pod" || kindArg == u"po") {
        type = kube::ResourceType::pods();
        namePrefix = QStringLiteral("pod/");
    } else if (kindArg == u"nodes" || kindArg == u"node" || kindArg == u"no") {
        type = kube::ResourceType::nodes();
        namePrefix = QStringLiteral("node/");
    } else if (kindArg == u"events" || kindArg == u"event" || kindArg == u"ev") {
        type = kube::ResourceType::events();
        namePrefix = QStringLiteral("event/");
    } else {
        err << "vigilctl get: "
            << (kindArg.isEmpty() ? QStringLiteral("which kind? ")
                                  : QStringLiteral("unknown kind '") + kindArg + QStringLiteral("'; "))
            << "use pods, nodes or events\n";
        return 2;
    }

    Result<ResolvedKube> resolved = resolveKube(kubeFlags(parser), QProcessEnvironment::systemEnvironment());
    if (!resolved) {
        err << "vigilctl get: " << resolved.errorMessage() << '\n';
        return 1;
    }
    // The full list is `vigilctl doctor`'s job; an unverified server is always said.
    if (resolved->connection.insecureSkipTlsVerify)
        err << "WARNING: insecure-skip-tls-verify is set for this cluster: its certificate is NOT verified\n";
    const bool all = parser.isSet(QStringLiteral("all-namespaces"));
    kube::ResourcePath path{
        type, type.namespaced && !all ? resolved->connection.namespaceName : QString(), {}, {}};

    const bool wide = output == u"wide";
    const Printer printer = kindArg.startsWith(u'p')   ? podPrinter(all, wide)
                            : kindArg.startsWith(u'n') ? nodePrinter(wide)
                                                       : eventPrinter(all);

    kube::RestClient client(resolved->connection);
    kube::ListOptions listOptions;
    listOptions.labelSelector = parser.value(QStringLiteral("selector"));
    Result<kube::ListResult> list =
        await<kube::ListResult>([&](QObject *ctx, auto cb) { client.list(path, listOptions, ctx, cb); });
    if (!list) {
        err << "vigilctl get: " << list.errorMessage() << '\n';
        return 1;
    }

    QList<int> widths;
    auto printObjects = [&](const QList<std::pair<const char *, json>> &objects) {
        QList<QStringList> rows;
        for (const auto &[event, o] : objects) {
            if (output == u"json") {
                out << QString::fromStdString(event ? json{{"type", event}, {"object", o}}.dump() : o.dump())
                    << '\n';
            } else if (output == u"name") {
                out << namePrefix << QString::fromStdString(jsonValue(o["metadata"], "name", std::string()))
                    << '\n';
            } else {
                Result<QStringList> row = printer.row(o);
                if (row)
                    rows << *row;
                else
                    err << "vigilctl get: skipping an object: " << row.errorMessage() << '\n';
            }
        }
        if (!rows.isEmpty() || (widths.isEmpty() && output.isEmpty()) || wide)
            printTable(out, printer.headers, rows, &widths);
        out.flush();
    };

    const bool watch = parser.isSet(QStringLiteral("watch"));
    QList<std::pair<const char *, json>> initial;
    for (const json &item : list->items)
        initial.append({watch && output == u"json" ? "ADDED" : nullptr, item});
    if (!watch && output == u"json") {
        out << QString::fromStdString(
                   json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", list->items}}.dump(2))
            << '\n';
        return 0;
    }
    if (initial.isEmpty() && !watch) {
        err << "No resources found"
            << (path.namespaceName.isEmpty()
                    ? QString()
                    : QStringLiteral(" in ") + path.namespaceName + QStringLiteral(" namespace"))
            << ".\n";
        return 0;
    }
    printObjects(initial);
    if (!watch)
        return 0;

    // Watch from the list's resourceVersion; reconnect from the last one seen, relist never needed
    // for a printout: on 410 the user is told and the command ends, as kubectl does.
    QEventLoop loop;
    int exitCode = 0;
    QString rv = list->resourceVersion;
    kube::StreamHandle stream;
    QObject context;
    std::function<void()> startWatch = [&] {
        kube::WatchOptions wo;
        wo.resourceVersion = rv;
        wo.labelSelector = listOptions.labelSelector;
        wo.allowBookmarks = true;
        stream = client.watch(
            path, wo, &context,
            [&](const QList<kube::WatchEvent> &events) {
                QList<std::pair<const char *, json>> objects;
                for (const kube::WatchEvent &e : events) {
                    if (e.type == kube::WatchEvent::Type::Error) {
                        err << "vigilctl get: watch error: " << e.error.message << '\n';
                        if (e.expired) {
                            exitCode = 1;
                            loop.quit();
                            return;
                        }
                        continue;
                    }
                    if (!e.resourceVersion().isEmpty())
                        rv = e.resourceVersion();
                    if (e.type != kube::WatchEvent::Type::Bookmark)
                        objects.append({output == u"json" ? watchTypeName(e.type) : nullptr, e.object});
                }
                if (!objects.isEmpty())
                    printObjects(objects);
            },
            [&](Result<void> closed) {
                if (!closed)
                    err << "vigilctl get: watch ended: " << closed.errorMessage() << "; reconnecting\n";
                QTimer::singleShot(closed ? 0 : 1000, &context, [&] { startWatch(); });
            });
    };
    startWatch();
    bool ok = false;
    const int timeout = parser.value(QStringLiteral("watch-timeout")).toInt(&ok);
    if (ok && timeout > 0)
        QTimer::singleShot(timeout * 1000, &loop, &QEventLoop::quit);
    loop.exec();
    stream.cancel();
    return exitCode;
}

} // namespace vigil::cli
