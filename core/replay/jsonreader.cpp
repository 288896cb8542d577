#include "core/replay/jsonreader.h"

#include "core/util/jsondepth.h"

#include <QFile>

#include <cmath>
#include <limits>

namespace vigil::replay {
namespace {

using nlohmann::json;

QString typeOf(const json &v)
{
    switch (v.type()) {
    case json::value_t::null:
        return QStringLiteral("null");
    case json::value_t::boolean:
        return QStringLiteral("a boolean");
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
        return QStringLiteral("an integer");
    case json::value_t::number_float:
        return QStringLiteral("a number");
    case json::value_t::string:
        return QStringLiteral("a string");
    case json::value_t::array:
        return QStringLiteral("a list");
    case json::value_t::object:
        return QStringLiteral("an object");
    default:
        return QStringLiteral("an unsupported value");
    }
}

QString qs(const std::string &s)
{
    return QString::fromUtf8(s.data(), qsizetype(s.size()));
}

const json &emptyArray()
{
    static const json empty = json::array();
    return empty;
}

} // namespace

Result<json> parseJsonDocument(const QByteArray &text, const QString &source, qint64 maxBytes, int maxDepth)
{
    if (text.size() > maxBytes)
        return Error(QStringLiteral("%1: %2 bytes, more than the %3 allowed")
                         .arg(source)
                         .arg(text.size())
                         .arg(maxBytes));
    if (jsonNestingDepth(text, maxDepth) > maxDepth)
        return Error(QStringLiteral("%1: nested deeper than %2 levels").arg(source).arg(maxDepth));
    json doc;
    try {
        doc = json::parse(text.constData(), text.constData() + text.size());
    } catch (const json::exception &e) {
        return Error(QStringLiteral("%1: not valid JSON: %2").arg(source, QString::fromUtf8(e.what())));
    }
    if (!doc.is_object())
        return Error(
            QStringLiteral("%1: the document must be a JSON object, got %2").arg(source, typeOf(doc)));
    return doc;
}

Result<json> readJsonFile(const QString &path, qint64 maxBytes, int maxDepth)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return Error(QStringLiteral("%1: cannot read: %2").arg(path, f.errorString()));
    // One byte more than allowed tells "too big" apart from "exactly the limit".
    const QByteArray text = f.read(maxBytes + 1);
    if (f.error() != QFileDevice::NoError)
        return Error(QStringLiteral("%1: cannot read: %2").arg(path, f.errorString()));
    return parseJsonDocument(text, path, maxBytes, maxDepth);
}

JsonReader::JsonReader(QString source)
    : m_source(std::move(source))
{
}

void JsonReader::fail(const QString &path, const QString &message)
{
    if (m_failed)
        return;
    m_failed = true;
    m_error = m_source + QStringLiteral(": ");
    if (!path.isEmpty())
        m_error += path + QStringLiteral(": ");
    m_error += message;
}

QString JsonReader::join(const QString &path, const char *key)
{
    const QString k = QString::fromUtf8(key);
    return path.isEmpty() ? k : path + u'.' + k;
}

QString JsonReader::index(const QString &path, qsizetype i)
{
    return path + QStringLiteral("[%1]").arg(i);
}

bool JsonReader::object(const json &value, const QString &path, std::initializer_list<const char *> allowed)
{
    if (m_failed)
        return false;
    if (!value.is_object()) {
        fail(path, QStringLiteral("expected an object, got ") + typeOf(value));
        return false;
    }
    for (auto it = value.begin(); it != value.end(); ++it) {
        bool known = false;
        for (const char *k : allowed)
            known = known || it.key() == k;
        if (!known) {
            QStringList names;
            for (const char *k : allowed)
                names << QString::fromUtf8(k);
            fail(path, QStringLiteral("unknown field '%1' (known: %2)")
                           .arg(qs(it.key()).left(64), names.join(QStringLiteral(", "))));
            return false;
        }
    }
    return true;
}

const json *JsonReader::member(const json &object, const QString &path, const char *key, bool required)
{
    if (m_failed || !object.is_object())
        return nullptr;
    const auto it = object.find(key);
    if (it == object.end()) {
        if (required)
            fail(join(path, key), QStringLiteral("required field is missing"));
        return nullptr;
    }
    return &*it;
}

QString JsonReader::string(const json &object, const QString &path, const char *key, bool required,
                           int maxChars)
{
    const json *v = member(object, path, key, required);
    if (!v || (v->is_null() && !required))
        return QString();
    if (!v->is_string()) {
        fail(join(path, key), QStringLiteral("expected a string, got ") + typeOf(*v));
        return QString();
    }
    const QString s = qs(v->get_ref<const std::string &>());
    if (required && s.isEmpty()) {
        fail(join(path, key), QStringLiteral("must not be empty"));
        return QString();
    }
    if (s.size() > maxChars) {
        fail(join(path, key),
             QStringLiteral("%1 characters, more than the %2 allowed").arg(s.size()).arg(maxChars));
        return QString();
    }
    return s;
}

int64_t JsonReader::integer64(const json &object, const QString &path, const char *key, int64_t fallback)
{
    const json *v = member(object, path, key, false);
    if (!v)
        return fallback;
    if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
        fail(join(path, key), QStringLiteral("integer out of range"));
        return fallback;
    }
    if (!v->is_number_integer()) {
        fail(join(path, key), QStringLiteral("expected an integer, got ") + typeOf(*v));
        return fallback;
    }
    return v->get<int64_t>();
}

int JsonReader::integer(const json &object, const QString &path, const char *key, int fallback, bool required)
{
    if (required && !member(object, path, key, true))
        return fallback;
    const int64_t n = integer64(object, path, key, fallback);
    if (n < std::numeric_limits<int>::min() || n > std::numeric_limits<int>::max()) {
        fail(join(path, key), QStringLiteral("integer %1 out of range").arg(n));
        return fallback;
    }
    return int(n);
}

double JsonReader::number(const json &object, const QString &path, const char *key, double fallback,
                          bool required)
{
    const json *v = member(object, path, key, required);
    if (!v)
        return fallback;
    if (!v->is_number()) {
        fail(join(path, key), QStringLiteral("expected a number, got ") + typeOf(*v));
        return fallback;
    }
    const double d = v->get<double>();
    if (!std::isfinite(d)) {
        fail(join(path, key), QStringLiteral("not a finite number"));
        return fallback;
    }
    return d;
}

bool JsonReader::boolean(const json &object, const QString &path, const char *key, bool fallback)
{
    const json *v = member(object, path, key, false);
    if (!v)
        return fallback;
    if (!v->is_boolean()) {
        fail(join(path, key), QStringLiteral("expected true or false, got ") + typeOf(*v));
        return fallback;
    }
    return v->get<bool>();
}

QDateTime JsonReader::time(const json &object, const QString &path, const char *key)
{
    const json *v = member(object, path, key, false);
    if (!v || v->is_null())
        return QDateTime();
    if (!v->is_string()) {
        fail(join(path, key), QStringLiteral("expected an RFC 3339 time string, got ") + typeOf(*v));
        return QDateTime();
    }
    const QString text = qs(v->get_ref<const std::string &>());
    QDateTime t = QDateTime::fromString(text, Qt::ISODateWithMs);
    if (!t.isValid())
        t = QDateTime::fromString(text, Qt::ISODate);
    if (!t.isValid()) {
        fail(join(path, key), QStringLiteral("'%1' is not an RFC 3339 time").arg(text.left(64)));
        return QDateTime();
    }
    return t.toUTC();
}

QStringList JsonReader::strings(const json &object, const QString &path, const char *key, int maxItems)
{
    QStringList out;
    const json &list = array(object, path, key, maxItems);
    const QString here = join(path, key);
    for (std::size_t i = 0; i < list.size() && !m_failed; ++i) {
        if (!list[i].is_string()) {
            fail(index(here, qsizetype(i)), QStringLiteral("expected a string, got ") + typeOf(list[i]));
            return {};
        }
        out << qs(list[i].get_ref<const std::string &>());
    }
    return out;
}

QMap<QString, QString> JsonReader::stringMap(const json &object, const QString &path, const char *key)
{
    QMap<QString, QString> out;
    const json *v = member(object, path, key, false);
    if (!v || v->is_null())
        return out;
    const QString here = join(path, key);
    if (!v->is_object()) {
        fail(here, QStringLiteral("expected an object of strings, got ") + typeOf(*v));
        return out;
    }
    for (auto it = v->begin(); it != v->end(); ++it) {
        if (!it.value().is_string()) {
            fail(join(here, it.key().c_str()),
                 QStringLiteral("expected a string, got ") + typeOf(it.value()));
            return {};
        }
        out.insert(qs(it.key()), qs(it.value().get_ref<const std::string &>()));
    }
    return out;
}

const json &JsonReader::array(const json &object, const QString &path, const char *key, int maxItems)
{
    const json *v = member(object, path, key, false);
    if (!v || v->is_null())
        return emptyArray();
    if (!v->is_array()) {
        fail(join(path, key), QStringLiteral("expected a list, got ") + typeOf(*v));
        return emptyArray();
    }
    if (v->size() > std::size_t(maxItems)) {
        fail(join(path, key),
             QStringLiteral("%1 items, more than the %2 allowed").arg(v->size()).arg(maxItems));
        return emptyArray();
    }
    return *v;
}

json timeToJson(const QDateTime &time)
{
    if (!time.isValid())
        return nullptr;
    return time.toUTC().toString(Qt::ISODateWithMs).toStdString();
}

json stringsToJson(const QStringList &list)
{
    json out = json::array();
    for (const QString &s : list)
        out.push_back(s.toStdString());
    return out;
}

json stringMapToJson(const QMap<QString, QString> &map)
{
    json out = json::object();
    for (auto it = map.cbegin(); it != map.cend(); ++it)
        out[it.key().toStdString()] = it.value().toStdString();
    return out;
}

} // namespace vigil::replay
