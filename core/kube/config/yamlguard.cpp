#include "core/kube/config/yamlguard.h"

#include <QFile>
#include <QFileInfo>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/node/parse.h>

#include <algorithm>
#include <vector>

namespace vigil::kube {

namespace {

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
