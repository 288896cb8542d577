#include "core/gather/redactor.h"

#include <QList>
#include <QRegularExpression>

#include <algorithm>

namespace vigil::gather {
namespace {

// A pattern redacts capture group `group` (0 = the whole match, -1 = the
// first group that matched, for alternatives).
struct Pattern {
    QString kind;
    QRegularExpression re;
    int group = 0;
    enum Gate { Always, Emails, Ips, NearAwsKeyId, RandomLooking } gate = Always;
};

QRegularExpression rx(const QString &pattern, bool caseInsensitive = false)
{
    QRegularExpression re(pattern, caseInsensitive ? QRegularExpression::CaseInsensitiveOption
                                                   : QRegularExpression::NoPatternOption);
    re.optimize();
    return re;
}

// Secret-looking name components, matched as whole words between _ - . or
// camelCase boundaries are not split on purpose: "author" must not hit AUTH.
const QString kSecretWords =
    QStringLiteral("(?:password|passwd|passphrase|pwd|secret|secret[_-]?key|client[_"
                   "-]?secret|token|api[_-]?key|apikey|access[_-]?key"
                   "|private[_-]?key|credentials?|auth|authorization|dsn|conn|"
                   "connection[_-]?string|conn[_-]?str|sas|signature|account[_-]?key|"
                   "storage[_-]?key|master[_-]?key|shared[_-]?key)");

// Words that are secret even glued to a prefix (PGPASSWORD, SessionToken).
const QString kGluedSecretWords = QStringLiteral("(?:password|passwd|secret|token)");

// A base64 run that stands alone (not part of a longer token, a path or a
// sha512-... integrity string).
const QString kB64Before = QStringLiteral("(?<![A-Za-z0-9/+=_.\\-])");
const QString kB64After = QStringLiteral("(?![A-Za-z0-9/+=_-])");

// Value characters: stop at whitespace, quotes and separators; never start on
// a placeholder (« starts one) so a second pass cannot re-redact it.
const QString kValue = QStringLiteral("([^\\s\"'`,;&«][^\\s\"'`,;&]*)");

const QList<Pattern> &patterns()
{
    static const QList<Pattern> all = [] {
        QList<Pattern> p;
        // Structured secrets first, so a later generic pattern sees placeholders.
        // Also inside JSON that is itself a string value (\"private_key\": \"...\").
        p << Pattern{QStringLiteral("gcp_private_key"),
                     rx(QStringLiteral(
                         "\\\\?\"private_key\\\\?\"\\s*:\\s*\\\\?\"((?:[^\"\\\\«]|\\\\[^\"])(?:[^\"\\\\]|"
                         "\\\\[^\"])*)")),
                     1};
        p << Pattern{QStringLiteral("pem"),
                     rx(QStringLiteral("-----BEGIN ([A-Z0-9 ]{1,40})-----(?:[\\s\\S]{0,20000}?-----END "
                                       "\\1-----|[A-Za-z0-9+/=\\s\\\\]{0,20000})"))};
        p << Pattern{QStringLiteral("jwt"),
                     rx(QStringLiteral("\\beyJ[A-Za-z0-9_-]{4,}\\.eyJ[A-Za-z0-9_-]{4,}\\.[A-Za-z0-9_-]*"))};
        p << Pattern{QStringLiteral("bearer"),
                     rx(QStringLiteral("\\b(?:bearer|basic)[ \\t]+([A-Za-z0-9\\-._~+/]{8,}=*)"), true), 1};
        // A bare secret access key on the line of its access key id
        // ("AKIA... / wJalr..."): the id, raw or already a placeholder, is the context.
        p << Pattern{QStringLiteral("aws_secret_key"),
                     rx(kB64Before + QStringLiteral("([A-Za-z0-9/+]{40})") + kB64After), 1,
                     Pattern::NearAwsKeyId};
        p << Pattern{
            QStringLiteral("aws_access_key"),
            rx(QStringLiteral("\\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{16}\\b"))};
        // aws_secret_access_key = ..., "SecretAccessKey": "...", --aws-secret-access-key ...
        p << Pattern{QStringLiteral("aws_secret_key"),
                     rx(QStringLiteral("(?:aws[_-]?secret[_-]?(?:access[_-]?)?key|secret[_-]?access[_-]?key)"
                                       "\\\\?[\"']?(?:[ \\t]*[:=]|[ \\t])[ \\t]*\\\\?[\"']?"
                                       "([A-Za-z0-9/+=]{16,128})(?![A-Za-z0-9/+=])"),
                        true),
                     1};
        p << Pattern{QStringLiteral("gcp_api_key"),
                     rx(QStringLiteral("\\bAIza[0-9A-Za-z_\\-]{35}(?![0-9A-Za-z_\\-])"))};
        p << Pattern{
            QStringLiteral("azure_key"),
            rx(QStringLiteral("\\b(?:AccountKey|SharedAccessKey)[ \\t]*=[ \\t]*([^;\"'\\s«][^;\"'\\s]*)"),
               true),
            1};
        // Storage and Cosmos DB account keys: 64 random bytes, 88 base64 characters.
        p << Pattern{QStringLiteral("azure_key"),
                     rx(kB64Before + QStringLiteral("([A-Za-z0-9/+]{86}==)") + kB64After), 1,
                     Pattern::RandomLooking};
        // Entra ID (Azure AD) client secrets: "xxx8Q~..." (the Q~ marks the format).
        p << Pattern{QStringLiteral("azure_client_secret"),
                     rx(QStringLiteral("(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}\\dQ~[A-Za-z0-9_~.-]{31,34}"
                                       "(?![A-Za-z0-9_~.-])"))};
        p << Pattern{QStringLiteral("azure_sas"),
                     rx(QStringLiteral(
                            "\\b(?:SharedAccessSignature[ \\t]*=[ \\t]*|[?&]sig=)([^;&\"'\\s«][^;&\"'\\s]*)"),
                        true),
                     1};
        p << Pattern{QStringLiteral("gcp_client_secret"),
                     rx(QStringLiteral("\\bGOCSPX-[A-Za-z0-9_-]{28}(?![A-Za-z0-9_-])"))};
        p << Pattern{
            QStringLiteral("github_token"),
            rx(QStringLiteral("\\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})\\b"))};
        p << Pattern{QStringLiteral("slack_token"),
                     rx(QStringLiteral("\\bxox[abposre]-[A-Za-z0-9-]{10,255}"))};
        p << Pattern{QStringLiteral("anthropic_key"),
                     rx(QStringLiteral("\\bsk-ant-[A-Za-z0-9_\\-]{20,255}"))};
        p << Pattern{QStringLiteral("openai_key"),
                     rx(QStringLiteral("\\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\\-]{20,255}"))};
        p << Pattern{
            QStringLiteral("url_password"),
            rx(QStringLiteral("\\b[a-z][a-z0-9+.\\-]{0,30}://[^:/@\\s]{0,256}:([^@/\\s«][^@/\\s]{0,256})@"),
               true),
            1};
        // Quoted values may hold spaces and semicolons: Password="a b;c" / Password='a b'.
        p << Pattern{
            QStringLiteral("conn_password"),
            rx(QStringLiteral("\\b(?:password|passwd|pwd)[ \\t]*=[ \\t]*(?:\"([^\"«][^\"]{0,256})\"|'([^'«]["
                              "^']{0,256})')"),
               true),
            -1};
        // PGPASSWORD=x too; DB_PASSWORD=x is left to the name=value pattern below.
        p << Pattern{
            QStringLiteral("conn_password"),
            rx(QStringLiteral(
                   "(?:\\b|(?<=[A-Za-z0-9]))(?:password|passwd)[ \\t]*=[ \\t]*([^;&\\s\"'«][^;&\\s\"']*)|"
                   "\\bpwd[ \\t]*=[ \\t]*([^;&\\s\"'«][^;&\\s\"']*)"),
               true),
            -1};
        // name=value / name: value / "name": "value" with a secret-looking name.
        p << Pattern{QStringLiteral("secret"),
                     rx(QStringLiteral("(?:(?<![A-Za-z0-9])(?:[A-Za-z0-9]{1,64}[_.-]){0,8}") + kSecretWords +
                            QStringLiteral("|(?<![A-Za-z0-9])[A-Za-z0-9]{1,32}") + kGluedSecretWords +
                            QStringLiteral(")") +
                            QStringLiteral("(?:[_.-][A-Za-z0-9]{1,64}){0,8}[\"']?[ \\t]*[=:][ "
                                           "\\t]*[\"']?(?!(?:bearer|basic)[ \\t])") +
                            kValue,
                        true),
                     1};
        p << Pattern{QStringLiteral("email"),
                     rx(QStringLiteral("\\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\\.[A-Za-z0-9-]{1,63})"
                                       "*\\.[A-Za-z]{2,24}\\b")),
                     0, Pattern::Emails};
        p << Pattern{QStringLiteral("ip"),
                     rx(QStringLiteral(
                         "\\b(?:(?:25[0-5]|2[0-4]\\d|1?\\d?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1?\\d?\\d)\\b")),
                     0, Pattern::Ips};
        p << Pattern{QStringLiteral("ip"),
                     rx(QStringLiteral("(?<![\\w:])(?:(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|(?:[0-9a-fA-F]"
                                       "{1,4}:){1,7}:(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,6})?|::(?:[0-"
                                       "9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,6}))(?![\\w:])")),
                     0, Pattern::Ips};
        return p;
    }();
    return all;
}

const QRegularExpression &secretName()
{
    static const QRegularExpression re =
        rx(QStringLiteral("^(?:[A-Za-z0-9]+[_.-])*(?:") + kSecretWords + QStringLiteral("|[A-Za-z0-9]+") +
               kGluedSecretWords + QStringLiteral(")(?:[_.-][A-Za-z0-9]+)*$"),
           true);
    return re;
}

const QRegularExpression &secretNameCamel()
{
    // apiKey, dbPassword, clientSecret: camelCase components.
    static const QRegularExpression re = rx(
        QStringLiteral("(?:^|[a-z0-9])(?:Password|Passwd|Secret|Token|ApiKey|AccessKey|PrivateKey|"
                       "Credentials?|Auth|Dsn)(?:[A-Z0-9_]|$)|^(?:password|secret|token|apiKey|dsn|auth)"));
    return re;
}

// A random key mixes upper and lower case with digits or / and +; hex ids,
// digests and words do not.
bool randomLooking(QStringView s)
{
    bool upper = false, lower = false, other = false;
    for (QChar c : s) {
        upper = upper || (c >= u'A' && c <= u'Z');
        lower = lower || (c >= u'a' && c <= u'z');
        other = other || (c >= u'0' && c <= u'9') || c == u'/' || c == u'+';
    }
    return upper && lower && other;
}

// True when the line around [start, end) names an AWS access key id, raw or
// already replaced by its placeholder, within a short distance.
bool nearAwsKeyId(const QString &text, qsizetype start, qsizetype end)
{
    static const QRegularExpression id = rx(
        QStringLiteral(
            "\\b(?:AKIA|ASIA)[A-Z0-9]{16}\\b|«REDACTED:aws_access_key:\\d+»|aws_access_key_id|AccessKeyId"),
        true);
    constexpr qsizetype kWindow = 160;
    qsizetype from = start, to = end;
    while (from > 0 && start - from < kWindow && text.at(from - 1) != u'\n')
        --from;
    while (to < text.size() && to - end < kWindow && text.at(to) != u'\n')
        ++to;
    return QStringView(text).mid(from, to - from).contains(id);
}

// True when `pos` lies inside a placeholder we wrote ("«REDACTED:secret:1»"
// contains "secret:1", which must not look like a name=value pair).
bool insidePlaceholder(const QString &text, qsizetype pos)
{
    static const QString open = QStringLiteral("«REDACTED:");
    for (qsizetype i = pos - 1, stop = std::max<qsizetype>(0, pos - 64); i >= stop; --i) {
        const QChar c = text.at(i);
        if (c == QChar(0x00BB))
            return false;
        if (c == QChar(0x00AB))
            return QStringView(text).mid(i).startsWith(open);
    }
    return false;
}

} // namespace

int RedactionReport::total() const
{
    int n = 0;
    for (int c : counts)
        n += c;
    return n;
}

void RedactionReport::merge(const RedactionReport &other)
{
    for (auto it = other.counts.cbegin(); it != other.counts.cend(); ++it)
        counts[it.key()] += it.value();
}

Redactor::Redactor(Options options)
    : m_options(options)
{
    (void)patterns(); // compile up front, not on the first incident
}

Redactor::~Redactor() = default;
Redactor::Redactor(Redactor &&) noexcept = default;
Redactor &Redactor::operator=(Redactor &&) noexcept = default;

bool Redactor::looksSecretName(const QString &name)
{
    return secretName().match(name).hasMatch() || secretNameCamel().match(name).hasMatch();
}

bool Redactor::isPlaceholder(const QString &text)
{
    static const QRegularExpression re(QStringLiteral("^«REDACTED:[a-z0-9_]+:\\d+»$"));
    return re.match(text).hasMatch();
}

QString Redactor::placeholder(const QString &kind, const QString &secret)
{
    // Keyed by the secret alone: a password seen in an env var and again in a
    // log line is one placeholder, named after where it was first seen.
    auto it = m_placeholders.constFind(secret);
    if (it == m_placeholders.cend()) {
        const int n = ++m_counters[kind];
        it = m_placeholders.insert(secret, QStringLiteral("«REDACTED:") + kind + u':' + QString::number(n) +
                                               QStringLiteral("»"));
    }
    const QString named = it->mid(10, it->indexOf(u':', 10) - 10);
    m_report.counts[named] += 1;
    if (m_callReport)
        m_callReport->counts[named] += 1;
    return *it;
}

Redactor::Redacted Redactor::redact(const QString &text)
{
    Redacted out;
    out.text = text;
    m_callReport = &out.report;
    for (const Pattern &p : patterns()) {
        if ((p.gate == Pattern::Emails && !m_options.emails) ||
            (p.gate == Pattern::Ips && !m_options.ipAddresses))
            continue;
        // One pass per kind: collect matches, then rebuild the string once.
        QString rebuilt;
        qsizetype copied = 0;
        auto it = p.re.globalMatch(out.text);
        bool any = false;
        while (it.hasNext()) {
            const QRegularExpressionMatch m = it.next();
            int group = p.group;
            if (group < 0) {
                group = 1;
                while (group < m.lastCapturedIndex() && m.capturedStart(group) < 0)
                    ++group;
            }
            const qsizetype start = m.capturedStart(group);
            if (start < 0 || start < copied)
                continue;
            const QString secret = m.captured(group);
            if (secret.isEmpty() || isPlaceholder(secret) || insidePlaceholder(out.text, start))
                continue;
            if (p.gate == Pattern::RandomLooking && !randomLooking(secret))
                continue;
            if (p.gate == Pattern::NearAwsKeyId &&
                (!randomLooking(secret) || !nearAwsKeyId(out.text, start, start + secret.size())))
                continue;
            if (!any) {
                rebuilt.reserve(out.text.size());
                any = true;
            }
            rebuilt += QStringView(out.text).mid(copied, start - copied);
            rebuilt += placeholder(p.kind, secret);
            copied = start + secret.size();
        }
        if (any) {
            rebuilt += QStringView(out.text).mid(copied);
            out.text = std::move(rebuilt);
        }
    }
    m_callReport = nullptr;
    return out;
}

QString Redactor::redactEnvValue(const QString &name, const QString &value)
{
    if (value.isEmpty() || isPlaceholder(value))
        return value;
    if (looksSecretName(name))
        return placeholder(QStringLiteral("env"), value);
    return redact(value).text;
}

} // namespace vigil::gather
