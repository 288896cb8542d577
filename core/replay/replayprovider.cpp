#include "core/replay/replayprovider.h"

#include "core/reason/llm/costmeter.h"
#include "core/replay/jsonreader.h"

namespace vigil::replay {
namespace {

using nlohmann::json;

constexpr int kMaxReplies = 8;
constexpr int kMaxContentChars = 256 * 1024;

Result<RecordedReplies> fromJson(const json &doc, const QString &source)
{
    const auto version = doc.find(kRepliesVersionKey);
    if (version == doc.end())
        return Error(QStringLiteral("%1: not a recorded-replies file (no \"%2\" field)")
                         .arg(source, QString::fromLatin1(kRepliesVersionKey)));
    if (!version->is_number_integer() || version->get<int64_t>() != kRepliesVersion)
        return Error(QStringLiteral("%1: %2: version %3 is not supported (this vigilctl reads version %4)")
                         .arg(source, QString::fromLatin1(kRepliesVersionKey),
                              QString::fromStdString(version->dump()).left(32))
                         .arg(kRepliesVersion));
    JsonReader r(source);
    RecordedReplies out;
    if (!r.object(doc, QString(), {kRepliesVersionKey, "provider", "model", "note", "replies"}))
        return r.error();
    out.provider = r.string(doc, QString(), "provider");
    out.model = r.string(doc, QString(), "model", true, 256);
    out.note = r.string(doc, QString(), "note", false, 4000);
    if (!r.member(doc, QString(), "replies", true))
        return r.error();
    const json &list = r.array(doc, QString(), "replies", kMaxReplies);
    if (!r.failed() && list.empty())
        r.fail(QStringLiteral("replies"), QStringLiteral("needs at least one reply"));
    for (std::size_t i = 0; i < list.size() && !r.failed(); ++i) {
        const QString at = JsonReader::index(QStringLiteral("replies"), qsizetype(i));
        if (!r.object(list[i], at, {"content", "promptTokens", "completionTokens"}))
            break;
        RecordedReply reply;
        if (!r.member(list[i], at, "content", true))
            break;
        reply.content = r.string(list[i], at, "content", false, kMaxContentChars);
        reply.promptTokens = r.integer(list[i], at, "promptTokens");
        reply.completionTokens = r.integer(list[i], at, "completionTokens");
        if (!r.failed() && (reply.promptTokens < 0 || reply.completionTokens < 0))
            r.fail(at, QStringLiteral("token counts cannot be negative"));
        out.replies << reply;
    }
    if (r.failed())
        return r.error();
    return out;
}

} // namespace

Result<RecordedReplies> parseRecordedReplies(const QByteArray &text, const QString &source)
{
    Result<json> doc = parseJsonDocument(text, source, kMaxRepliesBytes, kMaxRepliesDepth);
    if (!doc)
        return doc.error();
    return fromJson(*doc, source);
}

Result<RecordedReplies> readRecordedRepliesFile(const QString &path)
{
    Result<json> doc = readJsonFile(path, kMaxRepliesBytes, kMaxRepliesDepth);
    if (!doc)
        return doc.error();
    return fromJson(*doc, path);
}

QByteArray serializeRecordedReplies(const RecordedReplies &replies)
{
    json j;
    j[kRepliesVersionKey] = kRepliesVersion;
    if (!replies.provider.isEmpty())
        j["provider"] = replies.provider.toStdString();
    j["model"] = replies.model.toStdString();
    if (!replies.note.isEmpty())
        j["note"] = replies.note.toStdString();
    j["replies"] = json::array();
    for (const RecordedReply &r : replies.replies)
        j["replies"].push_back({{"content", r.content.toStdString()},
                                {"promptTokens", r.promptTokens},
                                {"completionTokens", r.completionTokens}});
    return QByteArray::fromStdString(j.dump(2)) + '\n';
}

ReplayProvider::ReplayProvider(llm::CostMeter *meter, QObject *parent)
    : LlmProvider(parent)
    , m_meter(meter)
{
}

ReplayProvider::~ReplayProvider() = default;

void ReplayProvider::setReplies(const QString &recordId, const RecordedReplies &replies)
{
    m_recordId = recordId;
    m_replies = replies;
    m_next = 0;
    m_served.clear();
}

llm::LlmCall *ReplayProvider::complete(const llm::LlmRequest &request)
{
    auto *call = new llm::LlmCall(this);
    llm::LlmReply reply;
    reply.provider = name();
    if (m_replies.replies.isEmpty()) {
        reply.model = request.model;
        reply.errorKind = llm::LlmErrorKind::Config;
        reply.error = Error(QStringLiteral("no recorded reply for record %1").arg(m_recordId));
        call->finish(std::move(reply));
        return call;
    }
    const RecordedReply &r = m_replies.replies.at(std::min(m_next, m_replies.replies.size() - 1));
    ++m_next;
    m_served << r.content;
    reply.model = m_replies.model;
    reply.content = r.content;
    reply.finishReason = llm::FinishReason::Stop;
    reply.finishReasonRaw = QStringLiteral("stop");
    reply.promptTokens = r.promptTokens;
    reply.completionTokens = r.completionTokens;
    reply.httpStatus = 200;
    if (m_meter)
        reply.costUsd = m_meter->record(m_replies.model, r.promptTokens, r.completionTokens);
    call->finish(std::move(reply));
    return call;
}

} // namespace vigil::replay
