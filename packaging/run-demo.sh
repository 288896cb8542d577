#!/usr/bin/env bash
# Opens Vigil on the demo cluster, or says clearly why it cannot.
# Usage: packaging/run-demo.sh BUILD_DIR KUBECONFIG
set -euo pipefail
build_dir=$1
kubeconfig=$2
vigil="$build_dir/app/vigil/vigil"
vigilctl="$build_dir/app/vigilctl/vigilctl"

echo
echo "The demo cluster is up. Its kubeconfig: $kubeconfig"
echo "  export KUBECONFIG=$kubeconfig"
echo "  kubectl: $("$(dirname "$0")/../tests/cluster/build" --print | head -1)/kubectl"
echo "Broken workloads run in namespace 'demo' (see tests/scenarios/README.md)."
echo "Stop it with: make cluster-down"
echo

if [ ! -x "$vigil" ]; then
  echo "The desktop app is not built yet in this version; use vigilctl:"
  echo "  $vigilctl help"
  exit 0
fi
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "run: no display (neither DISPLAY nor WAYLAND_DISPLAY is set), so the window cannot open." >&2
  echo "run: on a desktop, run: $vigil --kubeconfig $kubeconfig --namespace demo" >&2
  echo "run: on a headless machine: xvfb-run -a $vigil --kubeconfig $kubeconfig --namespace demo" >&2
  exit 1
fi
exec "$vigil" --kubeconfig "$kubeconfig" --namespace demo
