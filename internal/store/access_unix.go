//go:build unix

package store

import "golang.org/x/sys/unix"

// access reports whether this process may write path, as the kernel decides
// (modes, read-only mounts, the immutable attribute).
func access(path string) error { return unix.Access(path, unix.W_OK) }
