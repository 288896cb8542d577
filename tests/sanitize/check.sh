#!/usr/bin/env bash
# make check-sanitize: memory checks of every test not labelled integration.
#  1. AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer: the asan
#     preset built into ASAN_DIR, the tests run by ctest with detect_leaks=1.
#  2. valgrind memcheck over the same tests from the Debug (dev preset) build in
#     DEBUG_DIR (tests/sanitize/memcheck.py).
# Any sanitizer report, memcheck error or definite leak fails the run; the
# suppression files next to this script name only frames outside Vigil.
#
# usage: tests/sanitize/check.sh [--asan-dir D] [--debug-dir D] [--tests REGEX] [--jobs N]
#                                [--no-asan] [--no-valgrind]
#   --tests REGEX   only tests whose name matches (ctest -R), and build only those
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
here="$src/tests/sanitize"
asan_dir="$src/build/asan"
debug_dir="$src/build/dev"
regex=""
jobs=$(nproc)
run_asan=1
run_valgrind=1
while [ $# -gt 0 ]; do
  case "$1" in
    --asan-dir) asan_dir=$2; shift 2 ;;
    --debug-dir) debug_dir=$2; shift 2 ;;
    --tests) regex=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --no-asan) run_asan=0; shift ;;
    --no-valgrind) run_valgrind=0; shift ;;
    *) echo "check-sanitize: unknown option $1" >&2; exit 2 ;;
  esac
done

# Configures dir with preset (Ninja), then builds what the selected tests need: only
# their programs when a regex selects tests that are all build targets,
# everything otherwise (e.g. a test that runs vigilctl).
build() {
  local preset=$1 dir=$2
  cmake --preset "$preset" -S "$src" -B "$dir" >/dev/null
  local selected
  selected=$(ctest --test-dir "$dir" -N -LE integration ${regex:+-R "$regex"} |
    sed -n 's/^ *Test *#[0-9]*: //p')
  if [ -z "$selected" ]; then
    echo "check-sanitize: no test matches '${regex}'" >&2
    return 1
  fi
  local targets=() all=0
  if [ -n "$regex" ]; then
    local known
    known=$(ninja -C "$dir" -t targets all | sed -n 's/^\([A-Za-z0-9_]*\): .*/\1/p')
    for t in $selected; do
      if grep -qx "$t" <<<"$known"; then targets+=("$t"); else all=1; fi
    done
  else
    all=1
  fi
  echo "check-sanitize: building $( [ $all = 1 ] && echo everything || echo "${targets[*]}") in $dir ($preset)"
  if [ $all = 1 ]; then
    cmake --build "$dir" -j "$jobs"
  else
    cmake --build "$dir" -j "$jobs" --target "${targets[@]}"
  fi
}

status=0
if [ $run_asan = 1 ]; then
  build asan "$asan_dir"
  echo "check-sanitize: AddressSanitizer + UBSan + LeakSanitizer"
  # halt_on_error: the first report fails the test; the LSan suppressions are for system libraries.
  if ! ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
    LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
    ctest --test-dir "$asan_dir" -LE integration ${regex:+-R "$regex"} --output-on-failure -j "$jobs"; then
    status=1
  fi
fi

if [ $run_valgrind = 1 ]; then
  if ! command -v valgrind >/dev/null 2>&1; then
    echo "check-sanitize: valgrind is not installed (packaging/install-deps.sh --sanitize)" >&2
    exit 1
  fi
  build dev "$debug_dir"
  echo "check-sanitize: valgrind memcheck"
  python3 "$here/memcheck.py" "$debug_dir" ${regex:+--regex "$regex"} --jobs "$jobs" || status=1
fi

if [ $status = 0 ]; then
  echo "check-sanitize: clean"
else
  echo "check-sanitize: FAILED (see above)" >&2
fi
exit $status
