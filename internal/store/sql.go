package store

// Helpers shared by the statements of this package, which run unchanged on
// SQLite and PostgreSQL.

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// where builds a WHERE clause with numbered parameters, so that a filter
// leaves out the conditions it does not use and indexes stay usable.
type where struct {
	conds []string
	args  []any
}

// add appends a condition in which "?" stands for the next parameter.
func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.Replace(cond, "?", fmt.Sprintf("$%d", len(w.args)), 1))
}

// param appends a parameter that is not part of a condition and returns its name.
func (w *where) param(arg any) string {
	w.args = append(w.args, arg)
	return fmt.Sprintf("$%d", len(w.args))
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// rowLimit turns "0 means no limit" into a value both databases accept.
func rowLimit(n int) int64 {
	if n <= 0 {
		return math.MaxInt64
	}
	return int64(n)
}

// upper turns a zero "until" into no upper bound.
func upper(t time.Time) int64 {
	if t.IsZero() {
		return math.MaxInt64
	}
	return ms(t)
}

func scanHealth(s string) (status.Health, error) {
	h, err := status.ParseHealth(s)
	if err != nil {
		return h, fmt.Errorf("stored health: %w", err)
	}
	return h, nil
}

func validHealth(h status.Health) bool { return h <= status.Dead }
