#include "core/reason/prompts.h"

#include "core/gather/evidence.h"
#include "core/reason/llm/strictschema.h"

#include <QCryptographicHash>
#include <QFile>

namespace vigil::reason {
namespace {

Result<QString> readText(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return Error(QStringLiteral("prompt file %1: cannot open: %2").arg(path, f.errorString()));
    const QByteArray bytes = f.readAll();
    if (bytes.isEmpty())
        return Error(QStringLiteral("prompt file %1: empty").arg(path));
    return QString::fromUtf8(bytes);
}

} // namespace

QString defaultPromptDirectory()
{
    return QStringLiteral(":/prompts");
}

QString promptVersion(const QString &system, const QString &userTemplate, const QString &schema)
{
    QCryptographicHash h(QCryptographicHash::Sha256);
    for (const QString *part : {&system, &userTemplate, &schema}) {
        const QByteArray utf8 = part->toUtf8();
        h.addData(QByteArray(QByteArray::number(utf8.size()) + ':'));
        h.addData(utf8);
    }
    return QString::fromLatin1(h.result().toHex().left(12));
}

Result<PromptSet> loadPrompts(const QString &directory)
{
    PromptSet set;
    auto system = readText(directory + QStringLiteral("/system.md"));
    if (!system)
        return system.error();
    auto user = readText(directory + QStringLiteral("/user.md"));
    if (!user)
        return user.error();
    auto schema = readText(directory + QStringLiteral("/reply.schema.json"));
    if (!schema)
        return schema.error();
    set.system = *system;
    set.userTemplate = *user;
    set.schemaText = *schema;
    try {
        set.schema = nlohmann::ordered_json::parse(set.schemaText.toStdString());
    } catch (const nlohmann::json::exception &e) {
        return Error(QStringLiteral("prompt file %1/reply.schema.json: invalid JSON: %2")
                         .arg(directory, QString::fromUtf8(e.what())));
    }
    if (!set.schema.is_object())
        return Error(QStringLiteral("prompt file %1/reply.schema.json: not a JSON object").arg(directory));
    set.wireSchemaText = QString::fromStdString(llm::strictJsonSchema(set.schema).dump());
    set.version = promptVersion(set.system, set.userTemplate, set.schemaText);
    return set;
}

Result<QString> renderTemplate(const QString &templ, const QMap<QString, QString> &values)
{
    QString out;
    out.reserve(templ.size());
    qsizetype pos = 0;
    while (pos < templ.size()) {
        const qsizetype open = templ.indexOf(QStringLiteral("{{"), pos);
        if (open < 0) {
            out += QStringView(templ).mid(pos);
            break;
        }
        out += QStringView(templ).mid(pos, open - pos);
        const qsizetype close = templ.indexOf(QStringLiteral("}}"), open + 2);
        if (close < 0)
            return Error(QStringLiteral("prompt template: unterminated placeholder at offset %1").arg(open));
        const QString name = templ.mid(open + 2, close - open - 2).trimmed();
        const auto it = values.constFind(name);
        if (it == values.cend())
            return Error(QStringLiteral("prompt template: unknown placeholder {{%1}}").arg(name));
        out += *it;
        pos = close + 2;
    }
    return out;
}

Result<QString> renderUserPrompt(const PromptSet &prompts, const gather::Evidence &evidence)
{
    const gather::IncidentSubject &s = evidence.subject;
    QString text = evidence.text;
    text.replace(QStringLiteral("</evidence"), QStringLiteral("<\\/evidence"), Qt::CaseInsensitive);
    text.replace(QStringLiteral("<evidence"), QStringLiteral("<\\evidence"), Qt::CaseInsensitive);
    const QString workload =
        s.workloadKind.isEmpty() ? s.workloadName : s.workloadKind + u' ' + s.workloadName;
    return renderTemplate(
        prompts.userTemplate,
        {
            {QStringLiteral("reason"), s.reason},
            {QStringLiteral("workload"), workload.isEmpty() ? QStringLiteral("-") : workload},
            {QStringLiteral("namespace"), s.namespaceName.isEmpty() ? QStringLiteral("-") : s.namespaceName},
            {QStringLiteral("count"), QString::number(s.count)},
            {QStringLiteral("evidence"), text},
        });
}

} // namespace vigil::reason
