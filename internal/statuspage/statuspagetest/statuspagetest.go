// Package statuspagetest validates documents against the JSON Schemas of the
// Statuspage public API kept in internal/statuspage/testdata, for the tests
// of the package that builds them and of the server that serves them.
package statuspagetest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/vigil-go/vigil/internal/statuspage"
)

// baseURL is the $id prefix of every schema in testdata.
const baseURL = "https://vigil.test/statuspage/"

// SchemaFile names the schema of document d: its path with "/" as "-",
// such as incidents-unresolved.schema.json.
func SchemaFile(d statuspage.Document) string {
	return strings.ReplaceAll(strings.TrimSuffix(string(d), ".json"), "/", "-") + ".schema.json"
}

// Dir is the directory of the schemas.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// Validator checks documents against their schemas.
type Validator struct {
	schemas map[statuspage.Document]*jsonschema.Schema
}

// New compiles every schema of testdata, with formats (date-time, uri)
// asserted. It fails the test when one does not compile.
func New(tb testing.TB) *Validator {
	tb.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files, err := filepath.Glob(filepath.Join(Dir(), "*.schema.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no schema in %s: %v", Dir(), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		if err := c.AddResource(baseURL+filepath.Base(f), doc); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
	}
	v := &Validator{schemas: make(map[statuspage.Document]*jsonschema.Schema)}
	for _, d := range statuspage.Documents {
		sch, err := c.Compile(baseURL + SchemaFile(d))
		if err != nil {
			tb.Fatalf("schema of %s: %v", d, err)
		}
		v.schemas[d] = sch
	}
	return v
}

// Validate checks the encoded body of document d.
func (v *Validator) Validate(d statuspage.Document, body []byte) error {
	sch := v.schemas[d]
	if sch == nil {
		return fmt.Errorf("no schema for %s", d)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: not JSON: %w", d, err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("%s: %w", d, err)
	}
	return nil
}
