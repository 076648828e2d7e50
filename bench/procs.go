package bench

import "runtime"

// runtimeProcs is GOMAXPROCS, the unit of testing.B.SetParallelism.
func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
