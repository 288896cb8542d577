#pragma once

// Workloads the hardening runs add beside the scenario catalog: a Deployment
// whose pods go through the crash-loop scenario's kwok stages
// (tests/scenarios/kwok, label vigil.dev/sim=crashloop), with any env and args.

#include <QString>

#include <nlohmann/json.hpp>

namespace vigil::test {

inline nlohmann::json crashLoopingDeployment(const QString &ns, const QString &name,
                                             const nlohmann::json &env = nlohmann::json::array(),
                                             const nlohmann::json &args = nlohmann::json::array())
{
    using json = nlohmann::json;
    const std::string n = name.toStdString();
    const json labels = {{"app", n}};
    json container = {{"name", n}, {"image", "registry.example.com/ops/" + n + ":3.1.0"}};
    if (!env.empty())
        container["env"] = env;
    if (!args.empty())
        container["args"] = args;
    return {
        {"apiVersion", "apps/v1"},
        {"kind", "Deployment"},
        {"metadata", {{"name", n}, {"namespace", ns.toStdString()}, {"labels", labels}}},
        {"spec",
         {{"replicas", 1},
          {"selector", {{"matchLabels", labels}}},
          {"template",
           {{"metadata",
             {{"labels", {{"app", n}, {"vigil.dev/sim", "crashloop"}}},
              // Weight 0: kwok's stock pod-ready stage never races the crash-loop stages.
              {"annotations", {{"pod-ready.stage.kwok.x-k8s.io/weight", "0"}}}}},
            {"spec", {{"terminationGracePeriodSeconds", 0}, {"containers", json::array({container})}}}}}}}};
}

} // namespace vigil::test
