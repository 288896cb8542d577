#include "core/reason/rulereasoner.h"

#include "core/gather/evidence.h"
#include "core/reason/analyzers.h"
#include "core/reason/replyvalidator.h"

namespace vigil::reason {

bool RuleReasoner::handles(const QString &reason) const
{
    return analyzedReasons().contains(reason);
}

Result<Diagnosis> RuleReasoner::diagnose(const gather::Evidence &evidence) const
{
    for (const Analyzer &a : analyzers()) {
        if (evidence.subject.reason != QLatin1String(a.reason))
            continue;
        Diagnosis d = a.analyze(evidence);
        // Rules get no free pass: their output must be a valid reply too.
        const auto checked = validateReplyObject(diagnosisToJson(d));
        if (!checked)
            return Error(QStringLiteral("rules for %1 produced an invalid diagnosis: %2")
                             .arg(evidence.subject.reason, checked.errorMessage()));
        d.source = DiagnosisSource{DiagnosisSource::Rules, QString(), QString()};
        return d;
    }
    return Error(QStringLiteral("no rule analyzes incident reason \"%1\"").arg(evidence.subject.reason));
}

} // namespace vigil::reason
