package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Default returns a Config holding Vigil's code defaults: what a config.cfg
// without the optional keys means. Required keys are left empty.
func Default() *Config {
	return &Config{
		Server: Server{
			LogLevel: "error",
			Inet:     "[::1]:8080",
			Workers:  4,

			ReporterReplicaIDMaxBytes:  1024,
			ReporterReplicasPerNodeMax: 5000,
			MCPSessionsMax:             1000,
			RequestBodyTimeout:         30,
		},
		Assets:   Assets{Path: "./res/assets/"},
		Branding: Branding{PageTitle: "Status Page", ColorScheme: ColorSchemes[0]},
		Metrics: Metrics{
			PollInterval:               120,
			PollRetry:                  2,
			PollRetryWait:              500,
			PollHTTPStatusHealthyAbove: 200,
			PollHTTPStatusHealthyBelow: 400,
			PollDelayDead:              10,
			PollDelaySick:              5,
			PollParallelism:            4,
			PushDelayDead:              20,
			PushSystemCPUSickAbove:     0.99,
			PushSystemRAMSickAbove:     0.99,
			PushReplicaExpire:          0,
			PollTLSExpirySickDays:      14,
			ScriptInterval:             300,
			ScriptParallelism:          2,
			ScriptTimeout:              60,
			LocalDelayDead:             40,
			FailureThreshold:           1,
			SuccessThreshold:           1,
		},
		Storage: Storage{
			Driver:                 "sqlite",
			Path:                   "./vigil.db",
			RetentionMinuteSamples: 2 * 86400,
			RetentionHourSamples:   90 * 86400,
			RetentionChanges:       90 * 86400,
			RetentionIncidents:     365 * 86400,
			RetentionOutbox:        7 * 86400,
		},
		Cluster: Cluster{
			HeartbeatInterval: 5,
			MemberTimeout:     15,
		},
		Subscriptions: Subscriptions{
			MaxPending:  DefaultSubscriptionsMaxPending,
			ClientRate:  DefaultSubscriptionsClientRate,
			AddressRate: DefaultSubscriptionsAddressRate,
		},
	}
}

// Load reads the config file at path and returns it decoded, defaulted and
// validated; see Parse. lookupEnv resolves ${NAME} references and is usually
// os.LookupEnv.
//
// The error is an Errors value, one problem per line, except when the file
// cannot be read.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, []Warning, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, lookupEnv)
}

// Parse decodes the config text data read from file (which is used in
// messages only). It replaces ${NAME} with the value lookupEnv gives for
// NAME, leaving unset references as written (nil lookupEnv: all of them),
// decodes the TOML, applies Vigil's defaults and checks every key.
//
// Unknown keys are warnings: Vigil ignores them, and so do we. Warnings are
// returned even when there are errors. The error, if any, is an Errors
// listing every problem found, each as "file:line:col: key: message"; a TOML
// syntax or type error stops decoding, so it comes alone.
func Parse(file string, data []byte, lookupEnv func(string) (string, bool)) (*Config, []Warning, error) {
	src := interpolate(file, data, lookupEnv)
	c := &checker{src: src, ix: indexKeys(src.text)}

	cfg := Default()
	cfg.File = file
	doc := newDocument(cfg)
	err := toml.NewDecoder(bytes.NewReader(src.text)).DisallowUnknownFields().Decode(doc.Interface())
	var strict *toml.StrictMissingError
	var de *toml.DecodeError
	switch {
	case err == nil:
	case errors.As(err, &strict):
		// The document was decoded in full; only the unknown keys are left.
		c.unknownKeys(strict)
	case errors.As(err, &de):
		return nil, nil, Errors{c.decodeError(de)}
	default:
		return nil, nil, Errors{{Problem: src.problem(-1, "", err.Error()), Err: err}}
	}
	fromDocument(doc, cfg)

	c.applyDefaults(cfg)
	c.validate(cfg)
	sortWarnings(c.warns)
	if len(c.errs) > 0 {
		sortErrors(c.errs)
		return nil, c.warns, c.errs
	}
	return cfg, c.warns, nil
}

// applyDefaults fills the defaults of optional sections, which stay nil
// when absent and so cannot be pre-filled before decoding.
func (c *checker) applyDefaults(cfg *Config) {
	n := cfg.Notify
	if n == nil {
		return
	}
	if !c.has("notify.reminder_backoff_function") {
		n.ReminderBackoffFunction = "none"
	}
	if !c.has("notify.reminder_backoff_limit") {
		n.ReminderBackoffLimit = 3
	}
}

// decodeError turns a TOML syntax or type error into a Problem at the place
// it names, with the full key path (array indexes included) when known.
func (c *checker) decodeError(de *toml.DecodeError) *Error {
	line, col := de.Position()
	off := c.src.textOffset(line, col)
	key := c.ix.at[off]
	if key == "" {
		for _, k := range de.Key() {
			key = keyJoin(key, k)
		}
	}
	msg := friendlyDecodeMessage(strings.TrimPrefix(de.Error(), "toml: "))
	return &Error{Problem: c.src.problem(off, key, msg), Err: de}
}

// unknownKeys turns the keys the decoder found no field for into warnings,
// and an unknown top-level section into an error.
func (c *checker) unknownKeys(strict *toml.StrictMissingError) {
	sch := newSchema()
	for i := range strict.Errors {
		e := &strict.Errors[i]
		line, col := e.Position()
		off := c.src.textOffset(line, col)
		key := c.ix.at[off]
		if key == "" {
			for _, k := range e.Key() {
				key = keyJoin(key, k)
			}
		}
		if p, ok := c.ix.pos[key]; ok {
			off = p // the "[" of a table header
		}
		table := strings.HasSuffix(e.Error(), "missing table")
		if table && len(genericKey(key)) == 1 {
			// A misspelled section leaves everything in it at its default
			// ([metrcis]: every check on default intervals), which is
			// never what was meant: it stops the load.
			c.errs = append(c.errs, &Error{Problem: c.src.problem(off, key, sch.unknownSectionMessage(key))})
			continue
		}
		c.warns = append(c.warns, Warning{c.src.problem(off, key, sch.unknownKeyMessage(key, table))})
	}
}

// friendlyDecodeMessage rewords go-toml's type errors, which name Go types,
// in TOML terms.
func friendlyDecodeMessage(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "cannot decode TOML "); ok {
		if got, want, ok := strings.Cut(rest, " into "); ok {
			// "into T", or "into struct field S.F of type T".
			if i := strings.LastIndex(want, " of type "); i >= 0 && strings.HasPrefix(want, "struct field ") {
				want = want[i+len(" of type "):]
			}
			if w := tomlTypeOf(want); w != "" {
				return fmt.Sprintf("wrong type: got %s %s, want %s", article(got), got, w)
			}
		}
	}
	if rest, ok := strings.CutPrefix(msg, "negative integer value "); ok {
		if n, _, ok := strings.Cut(rest, " "); ok {
			return fmt.Sprintf("must not be negative, got %s", n)
		}
	}
	if rest, ok := strings.CutPrefix(msg, "integer value "); ok {
		if n, _, ok := strings.Cut(rest, " "); ok {
			return fmt.Sprintf("integer %s is out of range", n)
		}
	}
	return msg
}

// tomlTypeOf names the TOML type that decodes into the Go type named goType.
func tomlTypeOf(goType string) string {
	goType = strings.TrimLeft(goType, "*")
	switch goType {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "float32", "float64":
		return "a float"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64",
		"config.Seconds", "config.Millis":
		return "an integer"
	case "[]string":
		return "an array of strings"
	}
	switch {
	case strings.HasPrefix(goType, "[]config."):
		return "an array of tables"
	case strings.HasPrefix(goType, "config."), strings.HasPrefix(goType, "notify."), strings.HasPrefix(goType, "map["):
		return "a table"
	}
	return ""
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
