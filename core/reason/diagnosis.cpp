#include "core/reason/diagnosis.h"

#include <array>
#include <utility>

namespace vigil {
namespace {

constexpr std::array<std::pair<ActionKind, const char *>, 5> kActionNames{{
    {ActionKind::None, "none"},
    {ActionKind::RestartPod, "restart_pod"},
    {ActionKind::ScaleDeployment, "scale_deployment"},
    {ActionKind::CordonNode, "cordon_node"},
    {ActionKind::CreateAlert, "create_alert"},
}};

constexpr std::array<std::pair<RouteTier, const char *>, 5> kTierNames{{
    {RouteTier::Rules, "rules"},
    {RouteTier::Fallback, "fallback"},
    {RouteTier::Small, "small"},
    {RouteTier::Strong, "strong"},
    {RouteTier::Cache, "cache"},
}};

} // namespace

QString routeTierName(RouteTier tier)
{
    for (const auto &[t, name] : kTierNames) {
        if (t == tier)
            return QString::fromLatin1(name);
    }
    return QStringLiteral("rules");
}

bool parseRouteTierName(const QString &name, RouteTier *tier)
{
    for (const auto &[t, wire] : kTierNames) {
        if (name == QLatin1String(wire)) {
            *tier = t;
            return true;
        }
    }
    return false;
}

QString actionName(ActionKind kind)
{
    for (const auto &[k, name] : kActionNames) {
        if (k == kind)
            return QString::fromLatin1(name);
    }
    return QStringLiteral("none");
}

bool parseActionName(const QString &name, ActionKind *kind)
{
    for (const auto &[k, wire] : kActionNames) {
        if (name == QLatin1String(wire)) {
            *kind = k;
            return true;
        }
    }
    return false;
}

QString DiagnosisSource::describe() const
{
    switch (kind) {
    case Rules:
        return QStringLiteral("rules");
    case Llm:
        return provider + u'/' + model;
    case Cache:
        return QStringLiteral("cache (") +
               (provider.isEmpty() ? QStringLiteral("rules") : provider + u'/' + model) + u')';
    }
    return QStringLiteral("rules");
}

} // namespace vigil
