#include "jsonschemacheck.h"

#include <QFile>
#include <QRegularExpression>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace vigil::test {
namespace {

nlohmann::json plainScalar(const std::string &s)
{
    if (s.empty() || s == "null" || s == "~" || s == "Null" || s == "NULL")
        return nullptr;
    if (s == "true" || s == "True" || s == "TRUE")
        return true;
    if (s == "false" || s == "False" || s == "FALSE")
        return false;
    char *end = nullptr;
    errno = 0;
    const long long i = std::strtoll(s.c_str(), &end, 10);
    if (end && *end == '\0' && errno == 0)
        return i;
    errno = 0;
    const double d = std::strtod(s.c_str(), &end);
    if (end && *end == '\0' && std::isfinite(d) && s.find_first_of("0123456789") != std::string::npos)
        return d;
    return s;
}

QString typeOf(const nlohmann::json &v)
{
    if (v.is_null())
        return QStringLiteral("null");
    if (v.is_boolean())
        return QStringLiteral("boolean");
    if (v.is_number_integer())
        return QStringLiteral("integer");
    if (v.is_number())
        return QStringLiteral("number");
    if (v.is_string())
        return QStringLiteral("string");
    if (v.is_array())
        return QStringLiteral("array");
    return QStringLiteral("object");
}

bool hasType(const nlohmann::json &v, const std::string &type)
{
    if (type == "null")
        return v.is_null();
    if (type == "boolean")
        return v.is_boolean();
    if (type == "integer")
        return v.is_number_integer() ||
               (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
    if (type == "number")
        return v.is_number();
    if (type == "string")
        return v.is_string();
    if (type == "array")
        return v.is_array();
    if (type == "object")
        return v.is_object();
    return false;
}

QString shortDump(const nlohmann::json &v)
{
    QString s = QString::fromStdString(v.dump());
    return s.size() > 80 ? s.left(77) + QStringLiteral("...") : s;
}

} // namespace

nlohmann::json yamlToJson(const YAML::Node &node)
{
    switch (node.Type()) {
    case YAML::NodeType::Map: {
        nlohmann::json obj = nlohmann::json::object();
        for (const auto &kv : node)
            obj[kv.first.as<std::string>()] = yamlToJson(kv.second);
        return obj;
    }
    case YAML::NodeType::Sequence: {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto &item : node)
            arr.push_back(yamlToJson(item));
        return arr;
    }
    case YAML::NodeType::Scalar:
        return node.Tag() == "!" ? nlohmann::json(node.Scalar()) : plainScalar(node.Scalar());
    default:
        return nullptr;
    }
}

Result<OpenApiSchemas> OpenApiSchemas::load(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return Error(QStringLiteral("%1: %2").arg(path, f.errorString()));
    try {
        const YAML::Node root = YAML::Load(f.readAll().toStdString());
        return OpenApiSchemas(yamlToJson(root));
    } catch (const YAML::Exception &e) {
        return Error(QStringLiteral("%1: %2").arg(path, QString::fromStdString(e.what())));
    }
}

bool OpenApiSchemas::hasSchema(const QString &name) const
{
    return resolve("#/components/schemas/" + name.toStdString()) != nullptr;
}

const nlohmann::json *OpenApiSchemas::resolve(const std::string &ref) const
{
    if (ref.rfind("#/", 0) != 0)
        return nullptr;
    try {
        const auto ptr = nlohmann::json::json_pointer(ref.substr(1));
        return m_doc.contains(ptr) ? &m_doc.at(ptr) : nullptr;
    } catch (const nlohmann::json::exception &) {
        return nullptr;
    }
}

QStringList OpenApiSchemas::validate(const nlohmann::json &instance, const QString &schemaName) const
{
    QStringList errors;
    const auto *schema = resolve("#/components/schemas/" + schemaName.toStdString());
    if (!schema)
        return {QStringLiteral("no schema named %1").arg(schemaName)};
    check(*schema, instance, QStringLiteral("$"), &errors, 0);
    return errors;
}

void OpenApiSchemas::check(const nlohmann::json &schema, const nlohmann::json &v, const QString &path,
                           QStringList *errors, int depth) const
{
    if (depth > 64) {
        errors->append(path + QStringLiteral(": schema nesting too deep"));
        return;
    }
    if (schema.is_boolean()) {
        if (!schema.get<bool>())
            errors->append(path + QStringLiteral(": no value is allowed here"));
        return;
    }
    if (!schema.is_object())
        return;
    if (schema.contains("$ref")) {
        const std::string ref = schema["$ref"].get<std::string>();
        const auto *target = resolve(ref);
        if (!target)
            errors->append(path + QStringLiteral(": unresolvable $ref ") + QString::fromStdString(ref));
        else
            check(*target, v, path, errors, depth + 1);
    }
    // OpenAPI 3.0 nullable: the schema also admits null.
    if (v.is_null() && schema.value("nullable", false))
        return;

    if (schema.contains("type")) {
        const auto &t = schema["type"];
        bool ok = false;
        if (t.is_string())
            ok = hasType(v, t.get<std::string>());
        else if (t.is_array())
            for (const auto &each : t)
                ok = ok || (each.is_string() && hasType(v, each.get<std::string>()));
        if (!ok) {
            errors->append(QStringLiteral("%1: expected type %2, got %3 %4")
                               .arg(path, shortDump(t), typeOf(v), shortDump(v)));
            return;
        }
    }
    if (schema.contains("enum") && schema["enum"].is_array()) {
        bool found = false;
        for (const auto &e : schema["enum"])
            found = found || e == v;
        if (!found)
            errors->append(
                QStringLiteral("%1: %2 is not one of %3").arg(path, shortDump(v), shortDump(schema["enum"])));
    }
    if (schema.contains("const") && schema["const"] != v)
        errors->append(
            QStringLiteral("%1: %2 is not %3").arg(path, shortDump(v), shortDump(schema["const"])));

    if (schema.contains("allOf"))
        for (const auto &sub : schema["allOf"])
            check(sub, v, path, errors, depth + 1);
    for (const char *kw : {"anyOf", "oneOf"}) {
        if (!schema.contains(kw))
            continue;
        int matches = 0;
        QStringList why;
        for (const auto &sub : schema[kw]) {
            QStringList subErrors;
            check(sub, v, path, &subErrors, depth + 1);
            if (subErrors.isEmpty())
                ++matches;
            else
                why.append(subErrors.first());
        }
        const bool one = std::string(kw) == "oneOf";
        if (matches == 0)
            errors->append(QStringLiteral("%1: matches none of %2 (%3)")
                               .arg(path, QLatin1String(kw), why.join(QStringLiteral("; "))));
        else if (one && matches > 1)
            errors->append(QStringLiteral("%1: matches %2 alternatives of oneOf").arg(path).arg(matches));
    }
    if (schema.contains("not")) {
        QStringList subErrors;
        check(schema["not"], v, path, &subErrors, depth + 1);
        if (subErrors.isEmpty())
            errors->append(path + QStringLiteral(": matches a 'not' schema"));
    }

    if (v.is_object()) {
        if (schema.contains("required"))
            for (const auto &r : schema["required"])
                if (r.is_string() && !v.contains(r.get<std::string>()))
                    errors->append(QStringLiteral("%1: missing required property %2")
                                       .arg(path, QString::fromStdString(r.get<std::string>())));
        const auto props = schema.value("properties", nlohmann::json::object());
        for (auto it = v.begin(); it != v.end(); ++it) {
            const QString sub = path + u'.' + QString::fromStdString(it.key());
            if (props.contains(it.key()))
                check(props[it.key()], it.value(), sub, errors, depth + 1);
            else if (schema.contains("additionalProperties")) {
                const auto &ap = schema["additionalProperties"];
                if (ap.is_boolean() && !ap.get<bool>())
                    errors->append(sub + QStringLiteral(": property not allowed"));
                else if (ap.is_object())
                    check(ap, it.value(), sub, errors, depth + 1);
            }
        }
    }
    if (v.is_array()) {
        const auto n = static_cast<qint64>(v.size());
        if (schema.contains("minItems") && n < schema["minItems"].get<qint64>())
            errors->append(QStringLiteral("%1: %2 items, fewer than %3")
                               .arg(path)
                               .arg(n)
                               .arg(schema["minItems"].get<qint64>()));
        if (schema.contains("maxItems") && n > schema["maxItems"].get<qint64>())
            errors->append(QStringLiteral("%1: %2 items, more than %3")
                               .arg(path)
                               .arg(n)
                               .arg(schema["maxItems"].get<qint64>()));
        if (schema.contains("items") && schema["items"].is_object())
            for (qint64 i = 0; i < n; ++i)
                check(schema["items"], v[static_cast<size_t>(i)], QStringLiteral("%1[%2]").arg(path).arg(i),
                      errors, depth + 1);
    }
    if (v.is_number()) {
        const double d = v.get<double>();
        if (schema.contains("minimum") && schema["minimum"].is_number() &&
            d < schema["minimum"].get<double>())
            errors->append(QStringLiteral("%1: %2 is below the minimum %3")
                               .arg(path)
                               .arg(d)
                               .arg(schema["minimum"].get<double>()));
        if (schema.contains("maximum") && schema["maximum"].is_number() &&
            d > schema["maximum"].get<double>())
            errors->append(QStringLiteral("%1: %2 is above the maximum %3")
                               .arg(path)
                               .arg(d)
                               .arg(schema["maximum"].get<double>()));
    }
    if (v.is_string()) {
        const QString s = QString::fromStdString(v.get<std::string>());
        if (schema.contains("minLength") && s.size() < schema["minLength"].get<qint64>())
            errors->append(QStringLiteral("%1: string shorter than %2")
                               .arg(path)
                               .arg(schema["minLength"].get<qint64>()));
        if (schema.contains("maxLength") && s.size() > schema["maxLength"].get<qint64>())
            errors->append(
                QStringLiteral("%1: string longer than %2").arg(path).arg(schema["maxLength"].get<qint64>()));
        if (schema.contains("pattern") && schema["pattern"].is_string()) {
            const QRegularExpression re(QString::fromStdString(schema["pattern"].get<std::string>()));
            if (re.isValid() && !re.match(s).hasMatch())
                errors->append(QStringLiteral("%1: '%2' does not match %3").arg(path, s, re.pattern()));
        }
    }
}

namespace {

void strictCheck(const nlohmann::json &schema, const QString &path, QStringList *errors, int depth)
{
    static const QStringList allowed{"type",  "properties", "required", "additionalProperties",
                                     "items", "anyOf",      "enum",     "description",
                                     "$defs", "$ref"};
    if (depth > 64 || !schema.is_object()) {
        *errors << path + QStringLiteral(": not a schema object");
        return;
    }
    for (auto it = schema.begin(); it != schema.end(); ++it) {
        if (!allowed.contains(QString::fromStdString(it.key())))
            *errors << path + QStringLiteral(": keyword '%1' is not supported")
                                  .arg(QString::fromStdString(it.key()));
    }
    if (!schema.contains("type") && !schema.contains("anyOf") && !schema.contains("$ref"))
        *errors << path + QStringLiteral(": no type");
    const auto type = schema.value("type", nlohmann::json());
    const bool object =
        type == "object" || (type.is_array() && std::find(type.begin(), type.end(), "object") != type.end());
    if (object) {
        if (schema.value("additionalProperties", nlohmann::json(true)) != false)
            *errors << path + QStringLiteral(": additionalProperties is not false");
        const auto props = schema.value("properties", nlohmann::json::object());
        const auto required = schema.value("required", nlohmann::json::array());
        for (auto p = props.begin(); p != props.end(); ++p) {
            if (std::find(required.begin(), required.end(), p.key()) == required.end())
                *errors << path + QStringLiteral(": property '%1' is not required")
                                      .arg(QString::fromStdString(p.key()));
            strictCheck(*p, path + u'.' + QString::fromStdString(p.key()), errors, depth + 1);
        }
    }
    if (schema.contains("items"))
        strictCheck(schema["items"], path + QStringLiteral("[]"), errors, depth + 1);
    if (schema.contains("anyOf")) {
        int i = 0;
        for (const auto &branch : schema["anyOf"])
            strictCheck(branch, path + QStringLiteral(".anyOf[%1]").arg(i++), errors, depth + 1);
    }
    if (schema.contains("$defs")) {
        for (auto d = schema["$defs"].begin(); d != schema["$defs"].end(); ++d)
            strictCheck(*d, path + QStringLiteral(".$defs.") + QString::fromStdString(d.key()), errors,
                        depth + 1);
    }
}

} // namespace

QStringList strictModeViolations(const nlohmann::json &schema)
{
    QStringList errors;
    if (!schema.is_object() || schema.value("type", nlohmann::json()) != "object")
        errors << QStringLiteral("$: the root is not an object schema");
    if (schema.is_object() && schema.contains("anyOf"))
        errors << QStringLiteral("$: the root is a union (anyOf)");
    strictCheck(schema, QStringLiteral("$"), &errors, 0);
    return errors;
}

} // namespace vigil::test
