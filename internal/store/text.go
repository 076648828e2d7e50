package store

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
)

// CheckText tells why s cannot be stored as text, or returns nil.
// PostgreSQL refuses a NUL byte in text and invalid UTF-8 (and SQLite would
// store either); the store refuses both on either backend, so that one
// database does not accept what the other cannot hold.
func CheckText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return errors.New("holds a NUL byte")
	}
	return nil
}

// StorableText returns s with what CheckText refuses replaced by U+FFFD.
// It is for text Vigil writes itself from what it saw, such as a reason
// holding a script's output, which is worth keeping as well as it can be:
// text a client sends is refused instead.
func StorableText(s string) string {
	if CheckText(s) == nil {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}

// checkTexts applies CheckText to every text of a record, named by what.
func checkTexts(what string, texts ...string) error {
	for _, s := range texts {
		if err := CheckText(s); err != nil {
			return fmt.Errorf("%s: a text %v: %w", what, err, ErrInvalid)
		}
	}
	return nil
}

// refusedValue marks as ErrInvalid an error of PostgreSQL that the written
// values caused (data exceptions, SQLSTATE class 22, such as a bad byte
// sequence; limits, class 54, such as an index row too large), so that a
// caller drops the record instead of retrying it forever. Other errors (the
// connection, a serialization failure) are returned as they are: retrying
// them may succeed.
func refusedValue(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && (strings.HasPrefix(pg.Code, "22") || strings.HasPrefix(pg.Code, "54")) {
		return fmt.Errorf("%w: the database refused a value: %w", ErrInvalid, err)
	}
	return err
}
