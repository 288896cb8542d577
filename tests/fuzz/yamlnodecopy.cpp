// clang-14 references yaml-cpp 0.7's inline, out-of-line defaulted
// YAML::Node copy constructor from yamlguard.cpp (inside std::variant) as the
// complete-object symbol (C1) without ever emitting it, so the fuzzers that
// reach yamlguard.cpp do not link. Supply C1 by forwarding to the
// base-object constructor (C2), which fuzz_kubeconfig.cpp makes clang emit;
// the two are identical for a class without virtual bases. This file must
// not include yaml-cpp, or clang sees the symbol defined twice.

extern "C" void vigilFuzzYamlNodeCopyC2(void *self, const void *other) __asm__("_ZN4YAML4NodeC2ERKS0_");
extern "C" void vigilFuzzYamlNodeCopyC1(void *self, const void *other) __asm__("_ZN4YAML4NodeC1ERKS0_");

extern "C" void vigilFuzzYamlNodeCopyC1(void *self, const void *other)
{
    vigilFuzzYamlNodeCopyC2(self, other);
}
