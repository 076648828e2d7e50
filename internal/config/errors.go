package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Problem says where in a config file something is wrong and what.
type Problem struct {
	File   string // the path the config was read from
	Line   int    // 1-based; 0 when unknown
	Column int    // 1-based, in bytes like Go's own tools; 0 when unknown
	Key    string // key path such as probe.service[1].node[0].replicas[2]; "" when none
	Msg    string
}

// String formats p as "file:line:col: key: message", leaving out the parts
// that are unknown.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
		if p.Column > 0 {
			b.WriteString(":" + strconv.Itoa(p.Column))
		}
	}
	if p.Key != "" {
		b.WriteString(": " + p.Key)
	}
	b.WriteString(": " + p.Msg)
	return b.String()
}

// Warning is a mistake that does not stop Vigil from starting, such as an
// unknown key, which is ignored.
type Warning struct {
	Problem
}

// Error is a mistake that stops Vigil from starting.
type Error struct {
	Problem
	Err error // the underlying error, if any (a *toml.DecodeError, a regexp error, …)
}

// Error formats e as "file:line:col: key: message".
func (e *Error) Error() string { return e.String() }

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Errors is every mistake found in one config file, sorted by position.
// Its message holds one problem per line, so a caller can print it as is or
// range over the slice.
type Errors []*Error

// Error joins the problems, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// compareProblems orders problems by position; problems without one come first.
func compareProblems(a, b Problem) int {
	return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
}

func sortErrors(es Errors) {
	slices.SortStableFunc(es, func(a, b *Error) int { return compareProblems(a.Problem, b.Problem) })
}

func sortWarnings(ws []Warning) {
	slices.SortStableFunc(ws, func(a, b Warning) int { return compareProblems(a.Problem, b.Problem) })
}
