//go:build tools

// Package tools pins the commands tests/cluster/build compiles.
package tools

import _ "sigs.k8s.io/metrics-server/cmd/metrics-server"
