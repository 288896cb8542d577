#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 in BUILD_DIR and runs each one
# for SECONDS of fuzzing over its seed corpus (tests/fuzz/corpus/<target>),
# after checking that every deep-nesting seed is refused without a crash.
# Usage: tests/fuzz/run.sh [BUILD_DIR=build/fuzz] [SECONDS=60] [TARGET...]
# New corpus entries go to BUILD_DIR/corpus/<target>, crashes to BUILD_DIR/artifacts/.
set -uo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build/fuzz}
seconds=${2:-60}
shift 2 2>/dev/null || shift $#
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(kubeconfig watchstream reply policy audit)

if ! command -v clang++-14 >/dev/null; then
  echo "fuzz: clang++-14 is missing (apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DCMAKE_CXX_COMPILER=clang++-14 -DVIGIL_BUILD_UI=OFF -DVIGIL_BUILD_TESTS=OFF -DVIGIL_FUZZ=ON >/dev/null || exit 2
nice -n 19 cmake --build "$build" -j 2 --target "${targets[@]/#/fuzz_}" || exit 2

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export QT_LOGGING_RULES="*=false"
failed=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/fuzz_$t"
  seeds="$src/tests/fuzz/corpus/$t"
  mkdir -p "$build/corpus/$t" "$build/artifacts"
  # Deep seeds are longer than -max_len, so they are run whole, one by one.
  deep=("$seeds"/deep-* "$seeds"/*-deep-*)
  existing=()
  for f in "${deep[@]}"; do [[ -e $f ]] && existing+=("$f"); done
  if [[ ${#existing[@]} -gt 0 ]]; then
    echo "== fuzz_$t: ${#existing[@]} deep-nesting seeds"
    VIGIL_FUZZ_PRINT=1 nice -n 19 "$bin" -rss_limit_mb=2048 "${existing[@]}" 2>&1 | grep -E '^(vigil|==|SUMMARY|Executed)'
    [[ ${PIPESTATUS[0]} -eq 0 ]] || { failed+=("$t (deep seed)"); continue; }
  fi
  echo "== fuzz_$t: ${seconds}s"
  # -max_total_time and -timeout are wall time (generous: the machine may be
  # shared); the CPU time actually spent is printed after the run.
  /usr/bin/time -f "cpu_seconds: %U user + %S sys" nice -n 19 "$bin" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -max_len=65536 -timeout=120 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t-" "$build/corpus/$t" "$seeds" 2>&1 \
    | grep -E '^(stat::|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written|Done |cpu_seconds)|#[0-9]+.*DONE'
  [[ ${PIPESTATUS[0]} -eq 0 ]] || failed+=("$t")
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: FAILED: ${failed[*]} (reproducers in $build/artifacts)" >&2
  exit 1
fi
echo "fuzz: all targets ran ${seconds}s without a crash"
