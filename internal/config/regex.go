package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// compileBodyMatch compiles http_body_healthy_match. Vigil uses Rust's regex
// crate; Go's RE2 syntax is close, but a few Rust forms fail to compile in Go
// and a few others compile with another meaning, which would silently change
// what counts as healthy. Both kinds are rejected with what to write instead.
// \Q…\E is rejected too: Go accepts it, Rust does not, and a config should
// keep working with both.
//
// Unlike Rust, Go's \d, \w, \s and \b are ASCII-only; that difference only
// shows on non-ASCII bodies and is not reported.
func compileBodyMatch(expr string) (*regexp.Regexp, error) {
	if msg := rustOnlyRegex(expr); msg != "" {
		return nil, fmt.Errorf("%s", msg)
	}
	return compileRegex(expr)
}

// compileRegex compiles a Go (RE2) regular expression of a key Vigil does
// not have, so with no Rust form to guard against.
func compileRegex(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return re, nil
}

// rustOnlyRegex scans a pattern for forms that Rust's regex crate and Go's
// regexp treat differently, and returns a message about the first one, or "".
func rustOnlyRegex(expr string) string {
	inClass := false
	classStart := 0 // offset right after "[" or "[^", where "]" is literal
	for i := 0; i < len(expr); {
		c := expr[i]
		if c == '\\' {
			if i+1 >= len(expr) {
				return "" // a trailing backslash: the compiler reports it
			}
			if msg := rustOnlyEscape(expr, i, inClass); msg != "" {
				return msg
			}
			i += escapeLen(expr, i)
			continue
		}
		if inClass {
			switch {
			case c == ']' && i != classStart:
				inClass = false
			case c == '[' && strings.HasPrefix(expr[i:], "[:"):
				// A POSIX class such as [:alpha:], the same in both engines.
				if end := strings.Index(expr[i+2:], ":]"); end >= 0 {
					i += 2 + end + 2
					continue
				}
			case c == '[':
				return `nested character class: Rust reads "[" inside [...] as a nested class, Go as a literal "["; flatten the class, or write \[ for a literal bracket`
			case i+1 < len(expr) && expr[i+1] == c && (c == '&' || c == '-' || c == '~'):
				return classOpMessage(c)
			}
			i++
			continue
		}
		switch c {
		case '[':
			inClass = true
			i++
			if i < len(expr) && expr[i] == '^' {
				i++
			}
			classStart = i
			continue
		case '(':
			if msg := rustOnlyFlags(expr[i:]); msg != "" {
				return msg
			}
		case '{':
			if msg := bigRepeat(expr[i:]); msg != "" {
				return msg
			}
		}
		i++
	}
	return ""
}

func classOpMessage(c byte) string {
	switch c {
	case '&':
		return `class intersection "&&" inside [...] is Rust-only (Go reads it as literal "&" characters); list the wanted characters explicitly`
	case '-':
		return `class difference "--" inside [...] is Rust-only (Go reads it as a range); list the wanted characters explicitly, or write \- for a literal hyphen`
	default:
		return `class symmetric difference "~~" inside [...] is Rust-only (Go reads it as literal "~" characters); list the wanted characters explicitly, or write \~ for a literal tilde`
	}
}

// rustOnlyEscape checks the escape starting at expr[i] == '\\'.
func rustOnlyEscape(expr string, i int, inClass bool) string {
	n := expr[i+1]
	switch n {
	case 'u', 'U':
		return fmt.Sprintf(`Rust-only escape \%c is not supported; write \x{%s} instead`, n, escapeHex(expr[i+2:]))
	case 'Q':
		return `\Q...\E quoting is not supported by Rust's regex; escape each special character with \ instead`
	case '<', '>':
		if !inClass {
			return fmt.Sprintf(`Rust-only word boundary \%c is not supported; write \b instead`, n)
		}
	case 'b':
		if !inClass && strings.HasPrefix(expr[i+2:], "{") {
			if end := strings.IndexByte(expr[i+2:], '}'); end >= 0 {
				return fmt.Sprintf(`Rust-only word boundary \b%s is not supported; write \b instead`, expr[i+2:i+3+end])
			}
		}
	}
	return ""
}

// escapeHex returns the hexadecimal digits of a \u or \U escape, for the
// suggested \x{…}: "\u{e9}" and "\u00e9" both give "e9" or "00e9".
func escapeHex(rest string) string {
	if strings.HasPrefix(rest, "{") {
		if end := strings.IndexByte(rest, '}'); end > 0 {
			return rest[1:end]
		}
	}
	n := 0
	for n < len(rest) && n < 8 && strings.IndexByte("0123456789abcdefABCDEF", rest[n]) >= 0 {
		n++
	}
	if n == 0 {
		return "…"
	}
	return rest[:n]
}

// escapeLen is the length of the escape at expr[i] == '\\', so that the
// braces of \x{…}, \p{…} and \P{…} are not read as a repeat.
func escapeLen(expr string, i int) int {
	switch expr[i+1] {
	case 'x', 'p', 'P':
		if strings.HasPrefix(expr[i+2:], "{") {
			if end := strings.IndexByte(expr[i+2:], '}'); end >= 0 {
				return 2 + end + 1
			}
		}
	}
	return 2
}

// rustOnlyFlags checks a group opening "(?flags)" or "(?flags:" for the
// flags Go lacks: x (verbose), R (CRLF) and u (Unicode).
func rustOnlyFlags(s string) string {
	if !strings.HasPrefix(s, "(?") {
		return ""
	}
	end := 2
	for end < len(s) && (s[end] == '-' || isNameStart(s[end])) {
		end++
	}
	if end >= len(s) || (s[end] != ')' && s[end] != ':') {
		return "" // a named group or something the compiler will judge
	}
	flags := s[2:end]
	switch {
	case strings.ContainsRune(flags, 'x'):
		return "Rust-only verbose flag x (as in (?x)) is not supported; remove it, along with the spaces and # comments it allowed"
	case strings.ContainsRune(flags, 'R'):
		return `Rust-only CRLF flag R (as in (?R)) is not supported; remove it and match line ends with \r?$ under (?m)`
	case strings.ContainsRune(flags, 'u'):
		return `Rust-only Unicode flag u (as in (?-u)) is not supported; remove it (Go's \d, \w, \s and \b are always ASCII; use \pL or \pN for Unicode classes)`
	}
	return ""
}

// bigRepeat checks a counted repeat "{n}", "{n,}" or "{n,m}" for a count
// above Go's limit of 1000, which Rust accepts.
func bigRepeat(s string) string {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return ""
	}
	lo, hi, _ := strings.Cut(s[1:end], ",")
	for _, part := range []string{lo, hi} {
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil {
			return "" // not a repeat: a literal brace in both engines
		}
		if n > 1000 {
			return fmt.Sprintf("repeat count %d in %s is above Go's limit of 1000 (Rust allows more); use at most {1000} or an open-ended {1000,}", n, s[:end+1])
		}
	}
	return ""
}
