package config

import (
	"reflect"
	"strconv"

	"github.com/vigil-go/vigil/internal/notify"
)

// The TOML is decoded into a document type made at start from Config and
// notify's registry: Config's fields, with a [notify] table that holds
// Notify's own keys plus one field per registered channel. The channels
// thus come from the one table in notify, and decoding stays strict (an
// unknown key in [notify.slack] is reported at its line) without config
// naming any channel.
var (
	notifyType   = reflect.TypeFor[Notify]()
	configType   = reflect.TypeFor[Config]()
	notifyField  = fieldIndex(configType, "Notify")
	channelsOf   = fieldIndex(notifyType, "Channels")
	documentType = makeDocumentType()
)

// fieldIndex returns the index of a field that must exist.
func fieldIndex(t reflect.Type, name string) int {
	f, ok := t.FieldByName(name)
	if !ok || len(f.Index) != 1 {
		panic("config: no field " + t.Name() + "." + name)
	}
	return f.Index[0]
}

func makeDocumentType() reflect.Type {
	var notifyFields []reflect.StructField
	for i := range notifyType.NumField() {
		if i != channelsOf {
			notifyFields = append(notifyFields, notifyType.Field(i))
		}
	}
	for i, d := range notify.Registry() {
		notifyFields = append(notifyFields, reflect.StructField{
			Name: "Channel" + strconv.Itoa(i),
			Type: reflect.PointerTo(d.Type),
			Tag:  reflect.StructTag(`toml:"` + d.Name + `"`),
		})
	}
	var fields []reflect.StructField
	for i := range configType.NumField() {
		f := configType.Field(i)
		if i == notifyField {
			f.Type = reflect.PointerTo(reflect.StructOf(notifyFields))
		}
		fields = append(fields, f)
	}
	return reflect.StructOf(fields)
}

// newDocument returns a pointer to a new document holding cfg's values,
// its defaults, to decode over.
func newDocument(cfg *Config) reflect.Value {
	doc := reflect.New(documentType)
	src := reflect.ValueOf(cfg).Elem()
	for i := range configType.NumField() {
		if i != notifyField {
			doc.Elem().Field(i).Set(src.Field(i))
		}
	}
	return doc
}

// fromDocument copies a decoded document into cfg: the channel fields that
// were present become cfg.Notify.Channels, in registry order.
func fromDocument(doc reflect.Value, cfg *Config) {
	d := doc.Elem()
	dst := reflect.ValueOf(cfg).Elem()
	for i := range configType.NumField() {
		if i != notifyField {
			dst.Field(i).Set(d.Field(i))
		}
	}
	dn := d.Field(notifyField)
	if dn.IsNil() {
		cfg.Notify = nil
		return
	}
	dn = dn.Elem()
	n := &Notify{}
	nv := reflect.ValueOf(n).Elem()
	own := 0
	for i := range notifyType.NumField() {
		if i != channelsOf {
			nv.Field(i).Set(dn.Field(own))
			own++
		}
	}
	for i := own; i < dn.NumField(); i++ {
		if f := dn.Field(i); !f.IsNil() {
			n.Channels = append(n.Channels, f.Interface().(notify.Section))
		}
	}
	cfg.Notify = n
}

// sectionChecker is the checker of one [notify.<name>] section, for the
// channel's own Check: keys are relative to the section.
type sectionChecker struct {
	c         *checker
	prefix    string // "notify.slack."
	pageTitle string
}

func (s sectionChecker) Secret(key, val string, required bool) bool {
	return s.c.secret(s.prefix+key, val, required)
}

func (s sectionChecker) PageTitle() string { return s.pageTitle }

func (s sectionChecker) Has(key string) bool { return s.c.has(s.prefix + key) }

func (s sectionChecker) Required(key, val string) bool { return s.c.required(s.prefix+key, val) }

func (s sectionChecker) RequiredList(key string, vals []string) {
	s.c.requiredList(s.prefix+key, vals)
}

func (s sectionChecker) URL(key, val string) bool {
	return val != "" && s.c.url(s.prefix+key, val) != nil
}

func (s sectionChecker) Errorf(key, format string, args ...any) {
	s.c.errorf(s.prefix+key, format, args...)
}

func (s sectionChecker) Warnf(key, format string, args ...any) {
	s.c.warnf(s.prefix+key, format, args...)
}
