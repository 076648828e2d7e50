package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/vigil-go/vigil/internal/store"
)

// Every id, label and text the reporter and manager APIs take is shown on
// the page and stored. The store refuses NUL bytes and invalid UTF-8
// (store.CheckText), and Go's JSON decoder would silently turn invalid UTF-8
// into U+FFFD, storing something the client never sent: both are refused at
// the edge with a 400 and the reason, before a replica with such an id
// exists.

// checkJSONText tells why a JSON body holds text no id, label or text may
// hold: invalid UTF-8 anywhere, or a NUL (which JSON can only carry escaped,
// as \u0000) in any key or string value. The reason names the field. A body
// that is not JSON passes: decoding it says what is wrong.
func checkJSONText(body []byte) error {
	if !utf8.Valid(body) {
		return errors.New("body: not valid UTF-8")
	}
	if !bytes.Contains(body, []byte(`\u0000`)) {
		return nil // no NUL can decode from it: spare the walk
	}
	type container struct {
		object  bool
		wantKey bool   // in an object: the next token is a key
		key     string // in an object: the key of the value being read
	}
	var stack []container
	// field names the value being read: its keys from the top, such as
	// "load.cpu"; without the innermost one for a key being read.
	field := func(readingKey bool) string {
		var keys []string
		for i, c := range stack {
			if c.object && !(readingKey && i == len(stack)-1) {
				keys = append(keys, c.key)
			}
		}
		if len(keys) == 0 {
			return "body"
		}
		return strings.Join(keys, ".")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or not JSON
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				stack = append(stack, container{object: d == '{', wantKey: d == '{'})
				continue
			}
			stack = stack[:len(stack)-1]
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].wantKey = true
			}
			continue
		}
		s, isString := tok.(string)
		if n := len(stack); n > 0 && stack[n-1].object {
			if top := &stack[n-1]; top.wantKey {
				if store.CheckText(s) != nil {
					return fmt.Errorf("%s: a key holds a NUL byte", field(true))
				}
				top.key, top.wantKey = s, false
				continue
			}
			stack[n-1].wantKey = true
		}
		if isString && store.CheckText(s) != nil {
			return fmt.Errorf("%s: holds a NUL byte", field(false))
		}
	}
}

// refuseBadPath answers 400 (with fail) to a request whose path holds text
// that store.CheckText refuses: the ids in it are percent-decoded, so %00 and %FF
// would reach the monitor and the store as they are.
func refuseBadPath(fail errorWriter, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := store.CheckText(r.URL.Path); err != nil {
			fail(w, http.StatusBadRequest, "path: "+err.Error())
			return
		}
		next(w, r)
	}
}
