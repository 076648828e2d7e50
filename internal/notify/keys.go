package notify

import (
	"reflect"
	"strings"
)

// A channel declares how each of its keys is checked in a `check` struct
// tag next to its `toml` tag, and a default in a `default` tag:
//
//	required     must be set
//	url          a required absolute URL
//	optional-url an absolute URL when set (usually with a default)
//	secret       a required credential (see Checker.Secret)
//	secret-url   a required URL that is itself a credential (a webhook)
//	list         a required, non-empty array of non-empty strings
//
// CheckSection applies them, then the section's own Check for what a tag
// cannot say, so that a channel with nothing special declares its keys and
// their checks in one place and writes no code for them.

// extraChecker is a section with checks beyond its tags.
type extraChecker interface {
	Check(c Checker)
}

// CheckSection fills s's defaults and reports its problems through c.
func CheckSection(s Section, c Checker) {
	checkFields(reflect.ValueOf(s).Elem(), c)
	if x, ok := s.(extraChecker); ok {
		x.Check(c)
	}
}

// checkFields applies the tags of v's fields, those of embedded structs
// included.
func checkFields(v reflect.Value, c Checker) {
	for i := range v.NumField() {
		f, fv := v.Type().Field(i), v.Field(i)
		if f.Anonymous && fv.Kind() == reflect.Struct {
			checkFields(fv, c)
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if def, ok := f.Tag.Lookup("default"); ok && fv.Kind() == reflect.String && !c.Has(key) {
			fv.SetString(def)
		}
		rule := f.Tag.Get("check")
		if rule == "" {
			continue
		}
		if rule == "list" {
			list, _ := fv.Interface().([]string)
			c.RequiredList(key, list)
			continue
		}
		val := fv.String()
		switch rule {
		case "required":
			c.Required(key, val)
		case "url":
			if c.Required(key, val) {
				c.URL(key, val)
			}
		case "optional-url":
			c.URL(key, val)
		case "secret":
			c.Secret(key, val, true)
		case "secret-url":
			if c.Secret(key, val, true) {
				c.URL(key, val)
			}
		default:
			c.Errorf(key, "vigil cannot check this key (unknown check %q on %s.%s)", rule, v.Type(), f.Name)
		}
	}
}
