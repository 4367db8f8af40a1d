package stack

import (
	"errors"
	"strconv"
	"strings"
)

// ErrBadOption marks an error in Options themselves (an invalid project
// name, say), as opposed to an error in a file. Callers map both to a usage
// exit code.
var ErrBadOption = errors.New("bad option")

// FileError is an error in a Compose file or an env file: what the user must
// fix, and where. The CLI maps it to the "bad input" exit code.
type FileError struct {
	File  string // as the user knows it: relative to the working dir, or "built-in stack/compose.yaml"
	Line  int    // 1-based; 0 when no line can be pinned down
	Field string // dotted path such as services.api.ports.0; empty for YAML syntax errors
	Msg   string
	Err   error // the underlying error, if any, for errors.Is/As
}

func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

func (e *FileError) Unwrap() error { return e.Err }
