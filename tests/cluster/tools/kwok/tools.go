//go:build tools

// Package tools pins the commands tests/cluster/build compiles.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
	_ "sigs.k8s.io/kwok/cmd/kwokctl"
)
