#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 in BUILD_DIR and fuzzes each one
# over its seed corpus (tests/fuzz/corpus/<target>) until it has used SECONDS
# of CPU time, after checking that every deep-nesting seed is refused without a
# crash. The targets run side by side at nice 19; the budget is CPU time, not
# wall time, because on a shared machine a niced fuzzer may get little CPU.
# FUZZ_WALL_LIMIT (seconds, 0 = none) stops a target that is starved anyway.
# Usage: [FUZZ_WALL_LIMIT=S] tests/fuzz/run.sh [BUILD_DIR=build/fuzz] [CPU_SECONDS=60] [TARGET...]
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
wall_limit=${FUZZ_WALL_LIMIT:-0}
tck=$(getconf CLK_TCK)

# Fuzzes one target until its CPU time reaches $seconds; libFuzzer exits with
# -interrupt_exitcode on SIGINT after printing its final stats.
fuzz_one() {
  local t=$1 bin="$build/tests/fuzz/fuzz_$t" log="$build/fuzz_$t.log" started=$SECONDS
  nice -n 19 "$bin" -rss_limit_mb=2048 -max_len=65536 -timeout=120 -print_final_stats=1 \
    -interrupt_exitcode=0 -artifact_prefix="$build/artifacts/$t-" \
    "$build/corpus/$t" "$src/tests/fuzz/corpus/$t" >"$log" 2>&1 &
  local pid=$! cpu=0 stat
  while kill -0 "$pid" 2>/dev/null; do
    if read -ra stat <"/proc/$pid/stat" 2>/dev/null; then
      cpu=$(((stat[13] + stat[14]) / tck))
    fi
    if ((cpu >= seconds)) || ((wall_limit > 0 && SECONDS - started >= wall_limit)); then
      kill -INT "$pid" 2>/dev/null
      break
    fi
    sleep 2
  done
  wait "$pid"
  local rc=$?
  grep -E '^(stat::|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)|#[0-9]+.*DONE' "$log" | sed "s/^/fuzz_$t: /"
  echo "fuzz_$t: cpu_seconds: $cpu, wall_seconds: $((SECONDS - started)), exit: $rc (log: $log)"
  return "$rc"
}

failed=()
pids=()
names=()
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
  fuzz_one "$t" &
  pids+=($!)
  names+=("$t")
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: FAILED: ${failed[*]} (reproducers in $build/artifacts)" >&2
  exit 1
fi
echo "fuzz: all targets used ${seconds} CPU seconds without a crash"
