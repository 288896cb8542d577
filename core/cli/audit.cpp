#include "core/cli/commands.h"

#include "core/act/datapaths.h"
#include "core/audit/auditlog.h"
#include "core/guard/policy.h"

#include <QCommandLineParser>
#include <QDateTime>
#include <QFile>
#include <QRegularExpression>
#include <QTextStream>

#include <optional>

namespace vigil::cli {
namespace {

// ISO 8601, or a duration back from now: 30m, 2h, 7d.
std::optional<qint64> parseTime(const QString &text)
{
    static const QRegularExpression relative(QStringLiteral("^(\\d+)([smhd])$"));
    const auto m = relative.match(text);
    if (m.hasMatch()) {
        const qint64 n = m.captured(1).toLongLong();
        const QChar unit = m.captured(2).at(0);
        const qint64 ms = unit == u's' ? 1000 : unit == u'm' ? 60000 : unit == u'h' ? 3600000 : 86400000;
        return QDateTime::currentMSecsSinceEpoch() - n * ms;
    }
    QDateTime t = QDateTime::fromString(text, Qt::ISODateWithMs);
    if (!t.isValid())
        t = QDateTime::fromString(text, Qt::ISODate);
    if (!t.isValid())
        return std::nullopt;
    return t.toMSecsSinceEpoch();
}

QString when(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODate);
}

} // namespace

int auditCommand(const QStringList &arguments, QTextStream &out, QTextStream &err)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Read, export and verify Vigil's audit log."));
    parser.addPositionalArgument(QStringLiteral("verb"),
                                 QStringLiteral("list | show ID | export | verify | prune"));
    parser.addOption(
        {QStringLiteral("db"),
         QStringLiteral("Data directory holding audit.db (default: $VIGIL_DATA_DIR or the app data dir)."),
         QStringLiteral("dir")});
    parser.addOption({QStringLiteral("format"), QStringLiteral("export format: jsonl or csv"),
                      QStringLiteral("format"), QStringLiteral("jsonl")});
    parser.addOption({QStringLiteral("since"), QStringLiteral("from this time (ISO 8601 or 30m/2h/7d ago)"),
                      QStringLiteral("time")});
    parser.addOption({QStringLiteral("until"), QStringLiteral("before this time"), QStringLiteral("time")});
    parser.addOption({{QStringLiteral("n"), QStringLiteral("namespace")},
                      QStringLiteral("only this namespace"),
                      QStringLiteral("ns")});
    parser.addOption(
        {QStringLiteral("action"), QStringLiteral("only this action"), QStringLiteral("action")});
    parser.addOption(
        {QStringLiteral("outcome"), QStringLiteral("only this outcome"), QStringLiteral("outcome")});
    parser.addOption(
        {QStringLiteral("decision"), QStringLiteral("only this decision"), QStringLiteral("id")});
    parser.addOption({QStringLiteral("limit"), QStringLiteral("at most N rows"), QStringLiteral("n"),
                      QStringLiteral("0")});
    parser.addOption({{QStringLiteral("o"), QStringLiteral("output")},
                      QStringLiteral("write the export to FILE"),
                      QStringLiteral("file")});
    parser.addOption({QStringLiteral("input"),
                      QStringLiteral("verify a JSONL export instead of the database"),
                      QStringLiteral("file")});
    parser.addOption(
        {QStringLiteral("days"), QStringLiteral("prune: drop rows older than N days"), QStringLiteral("n")});
    parser.addOption({QStringLiteral("policy"),
                      QStringLiteral("prune: take the days from this policy's audit.retentionDays"),
                      QStringLiteral("file")});
    if (!parser.parse(arguments)) {
        err << "vigilctl audit: " << parser.errorText() << '\n';
        return 2;
    }
    const QStringList args = parser.positionalArguments();
    const QString verb = args.value(0);
    if (verb != u"list" && verb != u"show" && verb != u"export" && verb != u"verify" && verb != u"prune") {
        err << "vigilctl audit: expected list, show ID, export, verify or prune\n";
        return 2;
    }
    int pruneDays = 0;
    if (verb == u"prune") {
        const bool byDays = parser.isSet(QStringLiteral("days"));
        if (byDays == parser.isSet(QStringLiteral("policy"))) {
            err << "vigilctl audit prune: give either --days N or --policy FILE\n";
            return 2;
        }
        if (byDays) {
            bool ok = false;
            pruneDays = parser.value(QStringLiteral("days")).toInt(&ok);
            if (!ok || pruneDays < 1 || pruneDays > guard::kMaxAuditRetentionDays) {
                err << "vigilctl audit prune: --days '" << parser.value(QStringLiteral("days"))
                    << "' is not a whole number of days in 1.." << guard::kMaxAuditRetentionDays << '\n';
                return 2;
            }
        } else {
            Result<guard::Policy> policy = guard::loadPolicyFile(parser.value(QStringLiteral("policy")));
            if (!policy) {
                err << "vigilctl audit prune: " << policy.errorMessage() << '\n';
                return 1;
            }
            if (policy->auditRetentionDays == 0) {
                out << "nothing to prune: " << parser.value(QStringLiteral("policy"))
                    << " keeps every row (audit.retentionDays is 0 or not set)\n";
                return 0;
            }
            pruneDays = policy->auditRetentionDays;
        }
    }

    if (verb == u"verify" && parser.isSet(QStringLiteral("input"))) {
        QFile f(parser.value(QStringLiteral("input")));
        if (!f.open(QIODevice::ReadOnly)) {
            err << "vigilctl audit verify: " << f.fileName() << ": " << f.errorString() << '\n';
            return 1;
        }
        Result<QList<audit::AuditEvent>> events = audit::readJsonl(&f);
        if (!events) {
            err << "vigilctl audit verify: " << events.errorMessage() << '\n';
            return 1;
        }
        const audit::VerifyReport report = audit::verifyChain(*events, true);
        if (!report.ok) {
            err << "vigilctl audit verify: " << f.fileName() << ": " << report.message << '\n';
            return 1;
        }
        out << "ok: " << report.rowsChecked << " rows verify (" << f.fileName() << ")\n";
        return 0;
    }

    const QString path = act::auditPath(act::dataDirectory(parser.value(QStringLiteral("db"))));
    Result<std::unique_ptr<audit::AuditLog>> log = audit::AuditLog::open(path);
    if (!log) {
        err << "vigilctl audit: " << log.errorMessage() << '\n';
        return 1;
    }

    if (verb == u"prune") {
        Result<qint64> dropped =
            (*log)->applyRetention(pruneDays, QDateTime::currentDateTimeUtc(), audit::osUserActor());
        if (!dropped) {
            err << "vigilctl audit prune: " << dropped.errorMessage() << '\n';
            return 1;
        }
        out << "dropped " << *dropped << " rows older than " << pruneDays << " days (" << path << ")";
        out << (*dropped > 0 ? "; a retention checkpoint keeps the chain verifiable\n" : "\n");
        return 0;
    }

    if (verb == u"verify") {
        Result<audit::VerifyReport> report = (*log)->verify();
        if (!report) {
            err << "vigilctl audit verify: " << report.errorMessage() << '\n';
            return 1;
        }
        if (!report->ok) {
            err << "vigilctl audit verify: " << path << ": first bad row " << report->firstBadId << ": "
                << report->message << '\n';
            return 1;
        }
        out << "ok: " << report->rowsChecked << " rows verify (" << path << ")\n";
        return 0;
    }

    audit::AuditFilter filter;
    for (const char *name : {"since", "until"}) {
        const QString key = QString::fromLatin1(name);
        if (!parser.isSet(key))
            continue;
        const auto t = parseTime(parser.value(key));
        if (!t) {
            err << "vigilctl audit: --" << key << " '" << parser.value(key)
                << "' is neither ISO 8601 nor 30m/2h/7d\n";
            return 2;
        }
        (key == u"since" ? filter.fromMs : filter.toMs) = *t;
    }
    filter.namespaceName = parser.value(QStringLiteral("namespace"));
    filter.action = parser.value(QStringLiteral("action"));
    filter.outcome = parser.value(QStringLiteral("outcome"));
    filter.decisionId = parser.value(QStringLiteral("decision"));
    filter.limit = parser.value(QStringLiteral("limit")).toInt();

    if (verb == u"export") {
        const QString format = parser.value(QStringLiteral("format"));
        if (format != u"jsonl" && format != u"csv") {
            err << "vigilctl audit export: --format must be jsonl or csv, not '" << format << "'\n";
            return 2;
        }
        QFile file;
        if (parser.isSet(QStringLiteral("output"))) {
            file.setFileName(parser.value(QStringLiteral("output")));
            if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
                err << "vigilctl audit export: " << file.fileName() << ": " << file.errorString() << '\n';
                return 1;
            }
        } else if (!file.open(stdout, QIODevice::WriteOnly)) {
            err << "vigilctl audit export: cannot write to standard output\n";
            return 1;
        }
        out.flush();
        Result<qint64> rows =
            format == u"jsonl" ? (*log)->exportJsonl(&file, filter) : (*log)->exportCsv(&file, filter);
        file.close();
        if (!rows) {
            err << "vigilctl audit export: " << rows.errorMessage() << '\n';
            return 1;
        }
        err << rows.value() << " rows exported\n";
        return 0;
    }

    if (verb == u"show") {
        bool ok = false;
        const qint64 id = args.value(1).toLongLong(&ok);
        if (!ok) {
            err << "vigilctl audit show: expected a row id, got '" << args.value(1) << "'\n";
            return 2;
        }
        Result<QList<audit::AuditEvent>> rows = (*log)->query();
        if (!rows) {
            err << "vigilctl audit show: " << rows.errorMessage() << '\n';
            return 1;
        }
        for (const audit::AuditEvent &e : *rows) {
            if (e.id != id)
                continue;
            const nlohmann::json doc = audit::toJson(e);
            out << QString::fromStdString(doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace))
                << '\n';
            return 0;
        }
        err << "vigilctl audit show: no row " << id << " in " << path << '\n';
        return 1;
    }

    Result<QList<audit::AuditEvent>> rows = (*log)->query(filter);
    if (!rows) {
        err << "vigilctl audit list: " << rows.errorMessage() << '\n';
        return 1;
    }
    out << QStringLiteral("%1  %2  %3 %4 %5 %6 %7\n")
               .arg(QStringLiteral("ID"), 6)
               .arg(QStringLiteral("TIME"), -20)
               .arg(QStringLiteral("KIND"), -14)
               .arg(QStringLiteral("ACTION"), -17)
               .arg(QStringLiteral("OUTCOME"), -14)
               .arg(QStringLiteral("TARGET"), -32)
               .arg(QStringLiteral("DECISION"));
    for (const audit::AuditEvent &e : *rows) {
        out << QStringLiteral("%1  %2  %3 %4 %5 %6 %7\n")
                   .arg(e.id, 6)
                   .arg(when(e.tsMs), -20)
                   .arg(e.kind, -14)
                   .arg(e.action, -17)
                   .arg(e.outcome, -14)
                   .arg(e.target, -32)
                   .arg(e.decisionId.left(8));
    }
    return 0;
}

} // namespace vigil::cli
