#include "core/kube/config/yamlguard.h"

#include <QFile>
#include <QFileInfo>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/node/parse.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <sstream>
#include <vector>

namespace vigil::kube {

namespace {

// Counts documents and remembers where the second one starts; builds no nodes.
// A document starting where the previous one did is yaml-cpp 0.7 stuck on a
// token it cannot use (it would hand out empty documents there forever).
class DocumentCounter : public YAML::EventHandler {
public:
    int documents = 0;
    YAML::Mark second = YAML::Mark::null_mark();
    bool stuck = false;
    YAML::Mark stuckAt = YAML::Mark::null_mark();

    void OnDocumentStart(const YAML::Mark &mark) override
    {
        if (documents > 0 && mark.pos <= m_lastStart) {
            stuck = true;
            stuckAt = mark;
        }
        m_lastStart = mark.pos;
        if (++documents == 2)
            second = mark;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark &, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark &, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark &, const std::string &, YAML::anchor_t, const std::string &) override {}
    void OnSequenceStart(const YAML::Mark &, const std::string &, YAML::anchor_t,
                         YAML::EmitterStyle::value) override
    {
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark &, const std::string &, YAML::anchor_t,
                    YAML::EmitterStyle::value) override
    {
    }
    void OnMapEnd() override {}

private:
    int m_lastStart = -1;
};

bool isBlank(char c)
{
    return c == ' ' || c == '\t';
}

// True when the line (without its comment) ends in a block scalar header: | or >
// optionally followed by chomping/indentation indicators.
bool endsWithBlockScalarHeader(const QByteArray &content)
{
    int i = int(content.size()) - 1;
    while (i >= 0 && isBlank(content.at(i)))
        --i;
    while (i >= 0 &&
           (content.at(i) == '+' || content.at(i) == '-' || (content.at(i) >= '1' && content.at(i) <= '9')))
        --i;
    if (i < 0 || (content.at(i) != '|' && content.at(i) != '>'))
        return false;
    return i == 0 || isBlank(content.at(i - 1));
}

} // namespace

int yamlNestingDepth(const QByteArray &text, int limit)
{
    std::vector<int> blockLevels; // columns of open block collections
    int flow = 0;
    int maxDepth = 0;
    int blockScalarIndent = -1; // >= 0 while skipping a block scalar's body
    char quote = 0;             // open quote carried across lines

    qsizetype pos = 0;
    const qsizetype n = text.size();
    while (pos < n) {
        qsizetype end = text.indexOf('\n', pos);
        if (end < 0)
            end = n;
        const QByteArray line = text.mid(pos, end - pos);
        pos = end + 1;

        int indent = 0;
        while (indent < line.size() && isBlank(line.at(indent)))
            ++indent;
        const bool blank = indent >= line.size() || line.at(indent) == '\r';

        if (blockScalarIndent >= 0) {
            if (blank || indent > blockScalarIndent)
                continue;
            blockScalarIndent = -1;
        }
        if (quote == 0) {
            if (blank || line.at(indent) == '#')
                continue;
            if (indent == 0 && (line.startsWith("---") || line.startsWith("..."))) {
                blockLevels.clear();
                flow = 0;
                continue;
            }
        }

        int col = indent;
        bool nodeStart = quote == 0;
        if (quote == 0 && flow == 0) {
            while (!blockLevels.empty() && blockLevels.back() > indent)
                blockLevels.pop_back();
            if (blockLevels.empty() || blockLevels.back() < indent)
                blockLevels.push_back(indent);
            // "- - - x" and "? ? x" nest one level per indicator on the same line.
            while (col < line.size() && (line.at(col) == '-' || line.at(col) == '?') &&
                   (col + 1 >= line.size() || isBlank(line.at(col + 1)) || line.at(col + 1) == '\r')) {
                ++col;
                while (col < line.size() && isBlank(line.at(col)))
                    ++col;
                blockLevels.push_back(col);
                if (int(blockLevels.size()) + flow > limit)
                    return int(blockLevels.size()) + flow;
            }
        }

        qsizetype contentEnd = line.size();
        for (qsizetype i = col; i < line.size(); ++i) {
            const char c = line.at(i);
            if (quote != 0) {
                if (quote == '"' && c == '\\') {
                    ++i;
                } else if (c == quote) {
                    if (quote == '\'' && i + 1 < line.size() && line.at(i + 1) == '\'')
                        ++i; // '' is an escaped quote
                    else
                        quote = 0;
                }
                continue;
            }
            if (isBlank(c))
                continue;
            if (c == '#' && (i == 0 || isBlank(line.at(i - 1)))) {
                contentEnd = i;
                break;
            }
            const bool followedByBlank =
                i + 1 >= line.size() || isBlank(line.at(i + 1)) || line.at(i + 1) == '\r';
            if (nodeStart && (c == '\'' || c == '"')) {
                quote = c;
                nodeStart = false;
            } else if (nodeStart && (c == '[' || c == '{')) {
                ++flow;
                maxDepth = std::max(maxDepth, int(blockLevels.size()) + flow);
                if (maxDepth > limit)
                    return maxDepth;
            } else if (flow > 0 && (c == ']' || c == '}')) {
                --flow;
                nodeStart = false;
            } else if (flow > 0 && c == ',') {
                nodeStart = true;
            } else if (c == ':' && (followedByBlank || (flow > 0))) {
                nodeStart = true;
            } else if ((c == '-' || c == '?') && nodeStart && followedByBlank) {
                nodeStart = true;
            } else if ((c == '&' || c == '!') && nodeStart) {
                while (i + 1 < line.size() && !isBlank(line.at(i + 1)))
                    ++i; // an anchor or tag precedes the node itself
            } else {
                nodeStart = false;
            }
        }
        maxDepth = std::max(maxDepth, int(blockLevels.size()) + flow);
        if (maxDepth > limit)
            return maxDepth;
        if (quote == 0 && flow == 0 && endsWithBlockScalarHeader(line.left(contentEnd)))
            blockScalarIndent = indent;
    }
    return maxDepth;
}

Result<YAML::Node> parseYaml(const QByteArray &text, const QString &fileName)
{
    const int depth = yamlNestingDepth(text, kMaxYamlDepth);
    if (depth > kMaxYamlDepth)
        return Error(QStringLiteral("%1: YAML is nested more than %2 levels deep; refusing to parse it")
                         .arg(fileName)
                         .arg(kMaxYamlDepth));
    try {
        return YAML::Load(text.toStdString());
    } catch (const YAML::Exception &e) {
        return Error(QStringLiteral("%1: malformed YAML at line %2, column %3: %4")
                         .arg(fileName)
                         .arg(e.mark.line + 1)
                         .arg(e.mark.column + 1)
                         .arg(QString::fromStdString(e.msg)));
    } catch (const std::exception &e) {
        return Error(QStringLiteral("%1: cannot parse YAML: %2").arg(fileName, QString::fromUtf8(e.what())));
    }
}

SingleYamlDocument loadSingleYamlDocument(const QByteArray &text)
{
    SingleYamlDocument doc;
    try {
        const std::string source = text.toStdString();
        std::istringstream stream(source);
        YAML::Parser parser(stream);
        DocumentCounter counter;
        // Three documents: a stuck parser may first hand out one phantom
        // document after a valid one, then repeat it.
        while (counter.documents < 3 && !counter.stuck && parser.HandleNextDocument(counter)) {
        }
        if (counter.stuck) {
            doc.line = counter.stuckAt.line + 1;
            doc.error = QStringLiteral("invalid YAML: cannot parse past line %1, column %2")
                            .arg(doc.line)
                            .arg(counter.stuckAt.column + 1);
            return doc;
        }
        if (counter.documents > 1) {
            doc.line = counter.second.is_null() ? 0 : counter.second.line + 1;
            doc.multipleDocuments = true;
            doc.error = QStringLiteral("a second YAML document starts here");
            return doc;
        }
        doc.node = YAML::Load(source);
    } catch (const YAML::Exception &e) {
        doc.line = e.mark.is_null() ? 0 : e.mark.line + 1;
        doc.error = QStringLiteral("invalid YAML: ") + QString::fromStdString(e.msg);
    } catch (const std::exception &e) {
        doc.error = QStringLiteral("invalid YAML: ") + QString::fromUtf8(e.what());
    }
    return doc;
}

QByteArray readAtMost(QIODevice &device, qint64 max)
{
    if (device.isSequential() || device.size() <= 0)
        return device.read(max); // a pipe or /proc file: its size is unknown up front
    return device.read(std::min(max, device.size() - device.pos()));
}

Result<YAML::Node> loadYamlFile(const QString &fileName)
{
    QFile file(fileName);
    if (!file.exists())
        return Error(QStringLiteral("%1: no such file").arg(fileName));
    if (QFileInfo(fileName).isDir())
        return Error(QStringLiteral("%1: is a directory, not a kubeconfig file").arg(fileName));
    if (!file.open(QIODevice::ReadOnly))
        return Error(QStringLiteral("%1: cannot read: %2").arg(fileName, file.errorString()));
    if (file.size() > kMaxKubeconfigBytes)
        return Error(QStringLiteral("%1: file is larger than %2 MiB; refusing to read it")
                         .arg(fileName)
                         .arg(kMaxKubeconfigBytes / (1024 * 1024)));
    return parseYaml(readAtMost(file, kMaxKubeconfigBytes + 1), fileName);
}

} // namespace vigil::kube
