# Shared by tests/cluster/build and tests/cluster/cluster. Sourced, not run.
# Versions come from the tools' go.mod files, so bumping a version there
# is the whole upgrade: the cache key changes and the next build rebuilds.

CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS_DIR="$CLUSTER_DIR/tools"
VIGIL_CACHE=${VIGIL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil}

die() { echo "cluster: $*" >&2; exit 1; }

# module_version DIR MODULE: the version DIR/go.mod requires for MODULE.
module_version() {
  awk -v m="$2" '$1 == "require" && $2 == m { print $3; exit } $1 == m && $2 ~ /^v/ { print $2; exit }' "$TOOLS_DIR/$1/go.mod"
}

K8S_VERSION=$(module_version kubernetes k8s.io/kubernetes)
ETCD_VERSION=$(module_version etcd go.etcd.io/etcd/server/v3)
KWOK_VERSION=$(module_version kwok sigs.k8s.io/kwok)
METRICS_VERSION=$(module_version metrics-server sigs.k8s.io/metrics-server)

K8S_BIN="$VIGIL_CACHE/k8s-$K8S_VERSION/bin"
ETCD_BIN="$VIGIL_CACHE/etcd-$ETCD_VERSION/bin"
KWOK_BIN="$VIGIL_CACHE/kwok-$KWOK_VERSION/bin"
METRICS_BIN="$VIGIL_CACHE/metrics-server-$METRICS_VERSION/bin"
LOG_DIR="$VIGIL_CACHE/logs"
KWOK_MANIFESTS="$VIGIL_CACHE/kwok-$KWOK_VERSION/manifests"
METRICS_MANIFESTS="$VIGIL_CACHE/metrics-server-$METRICS_VERSION/manifests"

KUBECTL="$K8S_BIN/kubectl"
KWOKCTL="$KWOK_BIN/kwokctl"
