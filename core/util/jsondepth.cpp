#include "core/util/jsondepth.h"

#include <QString>

namespace vigil {

int jsonNestingDepth(QByteArrayView text, int limit)
{
    int depth = 0;
    int deepest = 0;
    bool inString = false;
    bool escaped = false;
    for (const char c : text) {
        if (inString) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                inString = false;
        } else if (c == '"') {
            inString = true;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest) {
                deepest = depth;
                if (deepest > limit)
                    return limit + 1;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

Result<nlohmann::json> parseJson(QByteArrayView text, int limit)
{
    if (jsonNestingDepth(text, limit) > limit)
        return Error(QStringLiteral("nested deeper than %1 levels").arg(limit));
    try {
        return nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception &e) {
        return Error(QStringLiteral("not valid JSON (%1)").arg(QString::fromUtf8(e.what())));
    }
}

} // namespace vigil
