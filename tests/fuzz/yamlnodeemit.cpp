// See yamlnodecopy.cpp: this odr-use makes clang emit the base-object
// YAML::Node copy constructor that file forwards to.

#include <yaml-cpp/yaml.h>

YAML::Node vigilFuzzCopyYamlNode(const YAML::Node &node);
YAML::Node vigilFuzzCopyYamlNode(const YAML::Node &node)
{
    return YAML::Node(node);
}
