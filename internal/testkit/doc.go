// Package testkit holds the small helpers Vigil's tests share: a log
// destination goroutines may write to, a clock moved by hand, a snapshot
// source set by hand, and config parsing that fails the test. It is
// imported by tests only.
package testkit
