#include "core/reason/replyvalidator.h"

#include <QRegularExpression>

#include <cmath>
#include <set>
#include <string>
#include <vector>

namespace vigil::reason {
namespace {

using nlohmann::json;

QString q(const std::string &s)
{
    return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size()));
}

// What a value looks like, for messages: short and never the whole reply.
QString describe(const json &v)
{
    QString text = q(v.dump(-1, ' ', false, json::error_handler_t::replace));
    if (text.size() > 60)
        text = text.left(57) + QStringLiteral("...");
    QString type;
    switch (v.type()) {
    case json::value_t::null:
        return QStringLiteral("null");
    case json::value_t::boolean:
        type = QStringLiteral("boolean");
        break;
    case json::value_t::string:
        type = QStringLiteral("string");
        break;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
        type = QStringLiteral("integer");
        break;
    case json::value_t::number_float:
        type = QStringLiteral("number");
        break;
    case json::value_t::object:
        return QStringLiteral("an object");
    case json::value_t::array:
        return QStringLiteral("an array");
    default:
        type = QStringLiteral("value");
        break;
    }
    return type + u' ' + text;
}

Error fail(const QString &message)
{
    return Error(QStringLiteral("invalid reply: ") + message);
}

// Scans for top-level {...} spans outside strings, without recursion.
struct Span {
    qsizetype start;
    qsizetype end; // exclusive
};

Result<QList<Span>> topLevelObjects(const QString &text, int maxDepth)
{
    QList<Span> spans;
    int depth = 0;
    bool inString = false;
    bool escaped = false;
    qsizetype start = -1;
    for (qsizetype i = 0; i < text.size(); ++i) {
        const QChar c = text.at(i);
        if (inString) {
            if (escaped)
                escaped = false;
            else if (c == u'\\')
                escaped = true;
            else if (c == u'"')
                inString = false;
            continue;
        }
        if (depth > 0 && c == u'"') {
            inString = true;
        } else if (c == u'{' || (depth > 0 && c == u'[')) {
            if (depth == 0)
                start = i;
            if (++depth > maxDepth)
                return fail(QStringLiteral("JSON nested deeper than %1 levels").arg(maxDepth));
        } else if (depth > 0 && (c == u'}' || c == u']')) {
            if (--depth == 0)
                spans << Span{start, i + 1};
        }
    }
    if (depth > 0)
        return fail(QStringLiteral("the JSON object is not closed (missing '}' or ']')"));
    return spans;
}

const QRegularExpression &fence()
{
    static const QRegularExpression re(QStringLiteral("```[ \\t]*([A-Za-z]*)[ \\t]*\\r?\\n([\\s\\S]*?)```"));
    return re;
}

const QRegularExpression &dnsLabel()
{
    static const QRegularExpression re(QStringLiteral("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"));
    return re;
}

const QRegularExpression &dnsSubdomain()
{
    static const QRegularExpression re(QStringLiteral("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"));
    return re;
}

// Exact key set check for one object.
Result<void> exactKeys(const json &obj, const std::vector<std::string> &allowed, const QString &where)
{
    QStringList allowedNames;
    for (const auto &a : allowed)
        allowedNames << q(a);
    const QString list =
        allowedNames.isEmpty() ? QStringLiteral("none") : allowedNames.join(QStringLiteral(", "));
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end())
            return fail(
                QStringLiteral("unknown field \"%1%2\" (allowed fields: %3)").arg(where, q(it.key()), list));
    }
    for (const auto &a : allowed) {
        if (!obj.contains(a))
            return fail(
                QStringLiteral("missing field \"%1%2\" (required fields: %3)").arg(where, q(a), list));
    }
    return {};
}

Result<QString> stringField(const json &obj, const char *key, const QString &path, int maxChars,
                            bool allowEmpty = false)
{
    const json &v = obj.at(key);
    if (!v.is_string())
        return fail(QStringLiteral("\"%1\" must be a string, got %2").arg(path, describe(v)));
    const QString s = q(v.get_ref<const std::string &>());
    if (!allowEmpty && s.trimmed().isEmpty())
        return fail(QStringLiteral("\"%1\" must not be empty").arg(path));
    if (s.size() > maxChars)
        return fail(QStringLiteral("\"%1\" is %2 characters long; the limit is %3")
                        .arg(path)
                        .arg(s.size())
                        .arg(maxChars));
    if (s.contains(QChar(0)))
        return fail(QStringLiteral("\"%1\" contains a NUL character").arg(path));
    return s;
}

Result<QString> nameField(const json &obj, const char *key, bool label)
{
    const QString path = QStringLiteral("parameters.") + QLatin1String(key);
    auto s = stringField(obj, key, path, label ? 63 : 253);
    if (!s)
        return s;
    if (!(label ? dnsLabel() : dnsSubdomain()).match(*s).hasMatch())
        return fail(
            QStringLiteral("\"%1\" must name exactly one Kubernetes object (lowercase %2), got \"%3\"")
                .arg(path, label ? QStringLiteral("DNS label") : QStringLiteral("DNS subdomain"),
                     s->left(80)));
    return s;
}

Result<void> validateParameters(ActionKind action, const json &p, const ReplyLimits &limits)
{
    const QString where = QStringLiteral("parameters.");
    switch (action) {
    case ActionKind::None:
        if (!p.empty())
            return fail(QStringLiteral("action \"none\" takes no parameters; \"parameters\" must be {}"));
        return {};
    case ActionKind::RestartPod: {
        if (auto r = exactKeys(p, {"namespace", "pod"}, where); !r)
            return r;
        if (auto r = nameField(p, "namespace", true); !r)
            return r.error();
        if (auto r = nameField(p, "pod", false); !r)
            return r.error();
        return {};
    }
    case ActionKind::ScaleDeployment: {
        if (auto r = exactKeys(p, {"namespace", "deployment", "replicas"}, where); !r)
            return r;
        if (auto r = nameField(p, "namespace", true); !r)
            return r.error();
        if (auto r = nameField(p, "deployment", false); !r)
            return r.error();
        const json &rep = p.at("replicas");
        const auto range =
            QStringLiteral("an integer from %1 to %2").arg(limits.minReplicas).arg(limits.maxReplicas);
        if (!rep.is_number_integer())
            return fail(
                QStringLiteral("\"parameters.replicas\" must be %1, got %2").arg(range, describe(rep)));
        const bool negative = rep.is_number_integer() && !rep.is_number_unsigned() && rep.get<int64_t>() < 0;
        const uint64_t value = negative ? 0 : rep.get<uint64_t>();
        if (negative || value < static_cast<uint64_t>(limits.minReplicas) ||
            value > static_cast<uint64_t>(limits.maxReplicas))
            return fail(
                QStringLiteral("\"parameters.replicas\" must be %1, got %2").arg(range, describe(rep)));
        return {};
    }
    case ActionKind::CordonNode: {
        if (auto r = exactKeys(p, {"node"}, where); !r)
            return r;
        if (auto r = nameField(p, "node", false); !r)
            return r.error();
        return {};
    }
    case ActionKind::CreateAlert: {
        if (auto r = exactKeys(p, {"severity", "summary"}, where); !r)
            return r;
        const json &sev = p.at("severity");
        if (!sev.is_string() || (sev != "info" && sev != "warning" && sev != "critical"))
            return fail(
                QStringLiteral(
                    "\"parameters.severity\" must be one of \"info\", \"warning\", \"critical\", got %1")
                    .arg(describe(sev)));
        if (auto r = stringField(p, "summary", QStringLiteral("parameters.summary"), limits.maxSummaryChars);
            !r)
            return r.error();
        return {};
    }
    }
    return fail(QStringLiteral("unsupported action"));
}

} // namespace

Result<QString> extractJsonObject(const QString &reply, const ReplyLimits &limits)
{
    if (reply.size() > limits.maxReplyChars)
        return fail(QStringLiteral("the reply is %1 characters; the limit is %2")
                        .arg(reply.size())
                        .arg(limits.maxReplyChars));
    QString body = reply.trimmed();
    if (body.isEmpty())
        return fail(QStringLiteral("the reply is empty; answer with one JSON object"));

    // Fenced blocks: exactly one may hold the answer.
    QStringList fenced;
    auto it = fence().globalMatch(body);
    while (it.hasNext())
        fenced << it.next().captured(2);
    if (fenced.size() > 1)
        return fail(QStringLiteral("found %1 fenced code blocks; answer with exactly one JSON object")
                        .arg(fenced.size()));
    if (fenced.size() == 1)
        body = fenced.first().trimmed();

    if (body.startsWith(u'['))
        return fail(QStringLiteral("expected a JSON object, got an array"));
    auto spans = topLevelObjects(body, limits.maxDepth);
    if (!spans)
        return spans.error();
    if (spans->isEmpty())
        return fail(QStringLiteral("no JSON object found; answer with exactly one JSON object"));
    if (spans->size() > 1)
        return fail(QStringLiteral("found %1 JSON objects; answer with exactly one").arg(spans->size()));
    const Span s = spans->first();
    return body.mid(s.start, s.end - s.start);
}

Result<Diagnosis> validateReply(const QString &reply, const ReplyLimits &limits)
{
    auto text = extractJsonObject(reply, limits);
    if (!text)
        return text.error();

    // Duplicate keys are ambiguous (parsers disagree on which wins): reject them.
    std::vector<std::set<std::string>> keys;
    bool duplicate = false;
    std::string duplicateKey;
    const json::parser_callback_t cb = [&](int, json::parse_event_t event, json &parsed) {
        switch (event) {
        case json::parse_event_t::object_start:
            keys.emplace_back();
            break;
        case json::parse_event_t::object_end:
            if (!keys.empty())
                keys.pop_back();
            break;
        case json::parse_event_t::key:
            if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second && !duplicate) {
                duplicate = true;
                duplicateKey = parsed.get<std::string>();
            }
            break;
        default:
            break;
        }
        return true;
    };
    json object;
    try {
        object = json::parse(text->toStdString(), cb);
    } catch (const json::exception &e) {
        QString what = QString::fromUtf8(e.what());
        what.remove(QRegularExpression(QStringLiteral("^\\[json\\.exception\\.[a-z_]+\\.\\d+\\] ")));
        return fail(QStringLiteral("not valid JSON: ") + what);
    }
    if (duplicate)
        return fail(QStringLiteral("duplicate field \"%1\"").arg(q(duplicateKey)));
    auto d = validateReplyObject(object, limits);
    if (!d)
        return d;
    d->rawReply = reply;
    return d;
}

Result<Diagnosis> validateReplyObject(const json &o, const ReplyLimits &limits)
{
    if (!o.is_object())
        return fail(QStringLiteral("expected a JSON object, got %1").arg(describe(o)));
    if (auto r = exactKeys(o, {"diagnosis", "confidence", "action", "parameters", "reasoning"}, QString());
        !r)
        return r.error();

    Diagnosis d;
    auto diagnosis = stringField(o, "diagnosis", QStringLiteral("diagnosis"), limits.maxDiagnosisChars);
    if (!diagnosis)
        return diagnosis.error();
    d.diagnosis = *diagnosis;

    const json &conf = o.at("confidence");
    if (!conf.is_number())
        return fail(
            QStringLiteral("\"confidence\" must be a number from 0 to 1, got %1").arg(describe(conf)));
    const double c = conf.get<double>();
    if (!std::isfinite(c) || c < 0.0 || c > 1.0)
        return fail(
            QStringLiteral("\"confidence\" must be a number from 0 to 1, got %1").arg(describe(conf)));
    d.confidence = c;

    const json &action = o.at("action");
    const QString catalog =
        QStringLiteral("\"restart_pod\", \"scale_deployment\", \"cordon_node\", \"create_alert\", \"none\"");
    if (!action.is_string())
        return fail(QStringLiteral("\"action\" must be one of %1, got %2").arg(catalog, describe(action)));
    if (!parseActionName(q(action.get_ref<const std::string &>()), &d.action))
        return fail(QStringLiteral("\"action\" must be one of %1, got %2").arg(catalog, describe(action)));

    const json &params = o.at("parameters");
    if (!params.is_object())
        return fail(QStringLiteral("\"parameters\" must be an object, got %1").arg(describe(params)));
    if (auto r = validateParameters(d.action, params, limits); !r)
        return r.error();
    d.parameters = params;

    auto reasoning = stringField(o, "reasoning", QStringLiteral("reasoning"), limits.maxReasoningChars, true);
    if (!reasoning)
        return reasoning.error();
    d.reasoning = *reasoning;
    return d;
}

nlohmann::json diagnosisToJson(const Diagnosis &d)
{
    return json{{"diagnosis", d.diagnosis.toStdString()},
                {"confidence", d.confidence},
                {"action", actionName(d.action).toStdString()},
                {"parameters", d.parameters.is_object() ? d.parameters : json::object()},
                {"reasoning", d.reasoning.toStdString()}};
}

} // namespace vigil::reason
