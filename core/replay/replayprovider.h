#pragma once

// Recorded model replies and the provider that serves them. A replay with
// --responses DIR answers each model request for record <id> from
// DIR/<id>.json instead of a live model, so a recorded (possibly malicious)
// reply goes through exactly what a live one does: the Router, its reply
// validator and repair round-trip, then the guardrails.

#include "core/reason/llm/llmprovider.h"
#include "core/util/result.h"

#include <QList>
#include <QString>

namespace vigil::llm {
class CostMeter;
}

namespace vigil::replay {

inline constexpr const char *kRepliesVersionKey = "vigil.dev/recorded-replies";
inline constexpr int kRepliesVersion = 1;
inline constexpr qint64 kMaxRepliesBytes = 1024 * 1024;
inline constexpr int kMaxRepliesDepth = 8;

/// One model answer as it came back.
struct RecordedReply {
    QString content; ///< the model's raw text (normally JSON), unvalidated
    int promptTokens = 0;
    int completionTokens = 0;
};

/// The replies recorded for one incident record, served in order: the
/// first answers the first request, the second the repair request, and so
/// on; the last one answers every further request.
struct RecordedReplies {
    QString provider; ///< the provider that produced them ("openai", ...); informational
    QString model;    ///< the model that produced them; prices the tokens
    QString note;     ///< why these replies are in the corpus
    QList<RecordedReply> replies;
};

/// Strict, like the record reader: errors name the file and the field.
Result<RecordedReplies> parseRecordedReplies(const QByteArray &text, const QString &source);
Result<RecordedReplies> readRecordedRepliesFile(const QString &path);
QByteArray serializeRecordedReplies(const RecordedReplies &replies);

/// An LlmProvider that answers from RecordedReplies. Asynchronous like a real
/// provider (the reply is delivered through the event loop). Without replies
/// set, a request fails with a Config error naming the record.
class ReplayProvider final : public llm::LlmProvider {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ReplayProvider)

public:
    /// meter (may be null: no cost) is not owned; it prices the recorded tokens.
    explicit ReplayProvider(llm::CostMeter *meter, QObject *parent = nullptr);
    ~ReplayProvider() override;

    QString name() const override { return QStringLiteral("recorded"); }
    bool isLocal() const override { return true; }
    llm::LlmCall *complete(const llm::LlmRequest &request) override;

    /// The replies for the next record; `recordId` names it in errors.
    void setReplies(const QString &recordId, const RecordedReplies &replies);
    /// Every reply content served since setReplies(), in order.
    const QStringList &served() const { return m_served; }

private:
    llm::CostMeter *m_meter;
    QString m_recordId;
    RecordedReplies m_replies;
    qsizetype m_next = 0;
    QStringList m_served;
};

} // namespace vigil::replay
