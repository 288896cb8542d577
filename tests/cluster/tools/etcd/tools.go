//go:build tools

// Package tools pins the commands tests/cluster/build compiles.
package tools

import _ "go.etcd.io/etcd/server/v3"
