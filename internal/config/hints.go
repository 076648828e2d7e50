package config

import (
	"fmt"
	"reflect"
	"strings"
)

// schema lists the keys each table accepts, read from the toml tags of the
// decoded document (Config and the registered channels) so that it cannot
// drift from the structs.
type schema struct {
	keys   map[string][]string // table (without indexes, "" for the root) → its keys
	tables map[string][]string // key → the tables that accept it
}

func newSchema() *schema {
	s := &schema{keys: map[string][]string{}, tables: map[string][]string{}}
	s.walk("", documentType)
	return s
}

func (s *schema) walk(table string, t reflect.Type) {
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			s.walk(table, f.Type) // its keys are the table's own
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		s.keys[table] = append(s.keys[table], name)
		s.tables[name] = append(s.tables[name], table)
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			s.walk(strings.TrimPrefix(table+"."+name, "."), ft)
		}
	}
}

// unknownKeyMessage explains an unknown key or table at path: where the key
// belongs when another table takes it (a global metric written on a node is
// the classic case), or the closest key of its own table.
func (s *schema) unknownKeyMessage(path string, table bool) string {
	msg := "unknown key, ignored"
	if table {
		msg = "unknown table, ignored"
	}
	names := genericKey(path)
	if len(names) == 0 {
		return msg
	}
	name := names[len(names)-1]
	parent := strings.Join(names[:len(names)-1], ".")
	if elsewhere := s.tables[name]; len(elsewhere) > 0 {
		var where []string
		for _, t := range elsewhere {
			if t == "" {
				where = append(where, "the top level")
			} else {
				where = append(where, "["+t+"]")
			}
		}
		return fmt.Sprintf("%s (%s belongs in %s)", msg, name, strings.Join(where, " or "))
	}
	best, bestDist := "", 3
	for _, k := range s.keys[parent] {
		if d := editDistance(name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("%s (did you mean %s?)", msg, best)
	}
	return msg
}

// unknownSectionMessage explains an unknown top-level section, naming the
// closest known one.
func (s *schema) unknownSectionMessage(name string) string {
	const msg = "unknown section, its keys would all be ignored"
	best, bestDist := "", 3
	for _, k := range s.keys[""] {
		if d := editDistance(strings.ToLower(name), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return fmt.Sprintf("%s (the sections are [%s])", msg, strings.Join(s.keys[""], "], ["))
	}
	return fmt.Sprintf("%s (did you mean [%s]?)", msg, best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
