package config

import (
	"bytes"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// source is the config text before and after ${NAME} interpolation. The TOML
// decoder sees the interpolated text, but positions are reported against the
// file as the user wrote it.
type source struct {
	file string
	raw  []byte // as read
	text []byte // after interpolation
	subs []substitution
	// unset names the variables referenced as ${NAME} that were not set,
	// and so were left as written.
	unset []string
}

// substitution records one ${NAME} replaced by its value.
type substitution struct {
	rawOff, rawLen   int
	textOff, textLen int
}

// interpolate replaces ${NAME} with the value of the environment variable
// NAME when it is set. Like envsubst-rs, which Vigil uses, it knows only the
// braced form: $NAME, $(cmd) and ${NAME:-default} are left as written, and so
// is a reference to an unset variable. Values are pasted verbatim and never
// rescanned. Only referenced variables are looked up, so unrelated variables
// holding "$", "{" or "}" (exported shell functions) do no harm.
func interpolate(file string, raw []byte, lookupEnv func(string) (string, bool)) *source {
	s := &source{file: file, raw: raw, text: raw}
	if lookupEnv == nil {
		return s
	}
	var out []byte
	last := 0
	for i := 0; i < len(raw); {
		j := bytes.Index(raw[i:], []byte("${"))
		if j < 0 {
			break
		}
		j += i
		k := j + 2
		if k < len(raw) && isNameStart(raw[k]) {
			k++
			for k < len(raw) && isNameChar(raw[k]) {
				k++
			}
			if k < len(raw) && raw[k] == '}' {
				if v, ok := lookupEnv(string(raw[j+2 : k])); ok {
					out = append(out, raw[last:j]...)
					s.subs = append(s.subs, substitution{rawOff: j, rawLen: k + 1 - j, textOff: len(out), textLen: len(v)})
					out = append(out, v...)
					last = k + 1
					i = k + 1
					continue
				}
				s.unset = append(s.unset, string(raw[j+2:k]))
			}
		}
		i = j + 2
	}
	if s.subs != nil {
		s.text = append(out, raw[last:]...)
	}
	return s
}

// unsetIn returns the name of an unset variable whose ${NAME} reference
// val still holds, or "".
func (s *source) unsetIn(val string) string {
	for _, name := range s.unset {
		if strings.Contains(val, "${"+name+"}") {
			return name
		}
	}
	return ""
}

func isNameStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isNameChar(c byte) bool  { return isNameStart(c) || '0' <= c && c <= '9' }

// rawOffset maps an offset in the interpolated text back to the file. An
// offset inside a substituted value maps to the "${" that produced it.
func (s *source) rawOffset(off int) int {
	delta := 0
	for _, sub := range s.subs {
		if off < sub.textOff {
			break
		}
		if off < sub.textOff+sub.textLen {
			return sub.rawOff
		}
		delta = sub.rawOff + sub.rawLen - (sub.textOff + sub.textLen)
	}
	return off + delta
}

// textOffset converts a 1-based line and byte column of the interpolated
// text, as go-toml reports them, to an offset.
func (s *source) textOffset(line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(s.text[off:], '\n')
		if i < 0 {
			return len(s.text)
		}
		off += i + 1
	}
	return min(off+col-1, len(s.text))
}

// problem builds a Problem at an offset of the interpolated text; off < 0
// means no position.
func (s *source) problem(off int, key, msg string) Problem {
	p := Problem{File: s.file, Key: key, Msg: msg}
	if off < 0 {
		return p
	}
	off = s.rawOffset(off)
	lineStart := bytes.LastIndexByte(s.raw[:off], '\n') + 1
	p.Line = bytes.Count(s.raw[:lineStart], []byte("\n")) + 1
	p.Column = off - lineStart + 1
	return p
}

// keyIndex knows where each key of the document is. Paths carry array
// indexes, as in probe.service[1].node[0].replicas[2]; offsets are in the
// interpolated text.
type keyIndex struct {
	pos map[string]int // path → offset of its key, of its element, or of the "[" of its table header
	val map[string]int // path of a key-value → offset of its value
	at  map[int]string // offset of a key or of a value → path
}

// indexKeys walks the document with go-toml's parser. It stops at the first
// syntax error, which the decoder reports anyway.
func indexKeys(text []byte) *keyIndex {
	ix := &keyIndex{pos: map[string]int{}, val: map[string]int{}, at: map[int]string{}}
	counts := map[string]int{} // array-table path → elements so far
	var p unstable.Parser
	p.Reset(text)
	table := ""
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			header := lineIndent(text, keyOffset(e))
			path := ""
			it := e.Key()
			for it.Next() {
				k := it.Node()
				path = keyJoin(path, string(k.Data))
				switch {
				case it.IsLast() && e.Kind == unstable.ArrayTable:
					n := counts[path]
					counts[path] = n + 1
					path = keyIndexed(path, n)
				case counts[path] > 0:
					path = keyIndexed(path, counts[path]-1)
				}
				ix.add(path, header)
			}
			ix.at[keyOffset(e)] = path
			table = path
		case unstable.KeyValue:
			ix.addKeyValue(text, table, e)
		}
	}
	return ix
}

// addKeyValue records a key-value expression, under prefix, and everything
// inside its value.
func (ix *keyIndex) addKeyValue(text []byte, prefix string, e *unstable.Node) {
	start := keyOffset(e)
	path := prefix
	it := e.Key()
	var end int
	for it.Next() {
		k := it.Node()
		path = keyJoin(path, string(k.Data))
		ix.add(path, start)
		end = int(k.Raw.Offset + k.Raw.Length)
	}
	ix.at[start] = path
	// The value starts after "=" and blanks; arrays carry no range of their
	// own, so find it in the text.
	v := end
	for v < len(text) && text[v] != '=' {
		v++
	}
	for v++; v < len(text) && (text[v] == ' ' || text[v] == '\t'); v++ {
	}
	ix.at[v] = path
	if _, ok := ix.val[path]; !ok {
		ix.val[path] = v
	}
	ix.addValue(text, path, e.Value())
}

func (ix *keyIndex) addValue(text []byte, path string, v *unstable.Node) {
	switch v.Kind {
	case unstable.Array:
		i := 0
		it := v.Children()
		for it.Next() {
			el := it.Node()
			if el.Kind == unstable.Comment {
				continue
			}
			elPath := keyIndexed(path, i)
			i++
			if el.Raw.Length > 0 { // nested arrays carry no range
				ix.add(elPath, int(el.Raw.Offset))
				ix.at[int(el.Raw.Offset)] = elPath
			}
			ix.addValue(text, elPath, el)
		}
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if kv := it.Node(); kv.Kind == unstable.KeyValue {
				ix.addKeyValue(text, path, kv)
			}
		}
	}
}

// add records the first position seen for path: a table named again in a
// later header keeps the place where it was introduced.
func (ix *keyIndex) add(path string, off int) {
	if _, ok := ix.pos[path]; !ok {
		ix.pos[path] = off
	}
}

// has reports whether path is written in the document.
func (ix *keyIndex) has(path string) bool {
	_, ok := ix.pos[path]
	return ok
}

// find returns where a problem with path is shown: the offset of its value
// when path is a key written with one (so that every problem with a value
// points at the value, whatever checked it), else of path or of its closest
// written ancestor, or -1.
func (ix *keyIndex) find(path string) int {
	if off, ok := ix.val[path]; ok {
		return off
	}
	for p := path; p != ""; p = keyParent(p) {
		if off, ok := ix.pos[p]; ok {
			return off
		}
	}
	return -1
}

// keyOffset is the offset of the first part of the key of a table header or
// key-value expression.
func keyOffset(e *unstable.Node) int {
	it := e.Key()
	it.Next()
	return int(it.Node().Raw.Offset)
}

// lineIndent returns the offset of the first non-blank byte of the line
// holding off: the "[" of a table header.
func lineIndent(text []byte, off int) int {
	i := bytes.LastIndexByte(text[:off], '\n') + 1
	for i < off && (text[i] == ' ' || text[i] == '\t') {
		i++
	}
	return i
}

// keyJoin appends a key part to a path, quoting it when it is not a bare
// TOML key.
func keyJoin(path, name string) string {
	if !isBareKey(name) {
		name = strconv.Quote(name)
	}
	if path == "" {
		return name
	}
	return path + "." + name
}

// keyIndexed appends an array index to a path.
func keyIndexed(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isNameChar(c) && c != '-' {
			return false
		}
	}
	return true
}

// keySegments splits a path into its parts: names (quoted ones unquoted)
// and "[n]" indexes.
func keySegments(path string) []string {
	var segs []string
	for path != "" {
		switch path[0] {
		case '.':
			path = path[1:]
		case '[':
			i := strings.IndexByte(path, ']')
			if i < 0 {
				return append(segs, path)
			}
			segs = append(segs, path[:i+1])
			path = path[i+1:]
		case '"':
			q, err := strconv.QuotedPrefix(path)
			if err != nil {
				return append(segs, path)
			}
			name, _ := strconv.Unquote(q)
			segs = append(segs, name)
			path = path[len(q):]
		default:
			i := strings.IndexAny(path, ".[")
			if i < 0 {
				i = len(path)
			}
			segs = append(segs, path[:i])
			path = path[i:]
		}
	}
	return segs
}

// keyParent drops the last part of a path.
func keyParent(path string) string {
	segs := keySegments(path)
	if len(segs) == 0 {
		return ""
	}
	return joinSegments(segs[:len(segs)-1])
}

func joinSegments(segs []string) string {
	path := ""
	for _, s := range segs {
		if strings.HasPrefix(s, "[") {
			path += s
		} else {
			path = keyJoin(path, s)
		}
	}
	return path
}

// genericKey drops the array indexes of a path: probe.service.node.mode.
func genericKey(path string) []string {
	var names []string
	for _, s := range keySegments(path) {
		if !strings.HasPrefix(s, "[") {
			names = append(names, s)
		}
	}
	return names
}

// sortedKeys returns the keys of m in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
