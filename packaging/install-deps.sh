#!/usr/bin/env bash
# Installs Vigil's build and test dependencies from Debian's packages.
# Idempotent: does nothing when everything is present; uses sudo only when not root.
#   packaging/install-deps.sh          what `make run` and `make test` need
#   packaging/install-deps.sh --fuzz   also clang-14 and libFuzzer for `make fuzz`
#   packaging/install-deps.sh --sanitize   also valgrind (and python3) for `make check-sanitize`
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  qt6-base-dev qt6-base-dev-tools libqt6sql6-sqlite qt6-qpa-plugins
  qt6-charts-dev libqt6opengl6-dev qt6-svg-dev qtkeychain-qt6-dev
  libyaml-cpp-dev nlohmann-json3-dev
  xvfb xauth openssl curl procps psmisc iproute2 dpkg-dev file
  golang-go
)
for option in "$@"; do
  case "$option" in
    --fuzz) packages+=(clang-14 libclang-rt-14-dev) ;;
    --sanitize) packages+=(valgrind python3) ;;
    *) echo "install-deps: unknown option $option" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # The machine's own Go (newer than Debian's) is fine; only install golang-go when no go exists.
    if [ "$p" = golang-go ] && command -v go >/dev/null 2>&1; then continue; fi
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: missing packages (${missing[*]}) and not root, and sudo is not installed." >&2
    echo "install-deps: run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
