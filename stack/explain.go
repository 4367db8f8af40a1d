package stack

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/errdefs"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/go-viper/mapstructure/v2"
	"go.yaml.in/yaml/v4"
)

// compose-go reports most errors with the field path only in the message,
// each stage in its own words; these pick the path back out.
var (
	// schema: "validating FILE: services.api.ports.0 must be a string"
	schemaErr = regexp.MustCompile(`(?s)^validating (.*?): (.*)$`)
	// interpolation: the path, then what went wrong
	interpErr  = regexp.MustCompile(`^error while interpolating (\S+): (.*)$`)
	invalidFmt = regexp.MustCompile(`(?s)^invalid interpolation format for (\S+?)\.\n.*\n(.*)$`)
	// schema, for an unknown key: "services.api additional properties 'x' not allowed"
	unknownKeys = regexp.MustCompile(`^additional properties '([^']+)'(?:, '[^']+')* not allowed$`)
	// transforms and checks that start with the path: "services.api.ports: invalid type"
	leadingPath = regexp.MustCompile(`^((?:services|networks|volumes|secrets|configs|models)(?:\.[^\s:]+|\[[^\]]*\])*):? (.*)$`)
	// mapstructure's field names: services[api].healthcheck.interval
	bracket = regexp.MustCompile(`\[([^\]]*)\]`)
)

// explain turns an error from compose-go into a FileError that names the
// file, the line and the field, or returns nil when it cannot tell where.
func explain(err error, srcs []*source) *FileError {
	msg := strings.TrimSuffix(err.Error(), ": "+errdefs.ErrInvalid.Error())
	var de *mapstructure.DecodeError
	var le *yaml.LoadErrors
	switch {
	case errors.As(err, &le) && len(le.Errors) > 0:
		// a duplicate key: compose-go decodes the nodes this package only parsed
		if src := sourceNamed(srcs, msg, "failed to parse "); src != nil {
			return constructError(src, le.Errors[0], err)
		}
	case errors.As(err, &de):
		// decoding runs on the merged files: a later file has the last word
		field := strings.TrimPrefix(bracket.ReplaceAllString(de.Name(), ".$1"), ".")
		return at(srcs, field, "", true, strings.TrimPrefix(de.Unwrap().Error(), "time: "), err)
	}
	if m := schemaErr.FindStringSubmatch(msg); m != nil {
		src := sourceNamed(srcs, msg, "validating ")
		if src == nil {
			return nil
		}
		// the file named is the one whose merge broke the schema: look there first
		ordered := append([]*source{src}, reversed(srcs, src)...)
		field, text := splitPath(ordered, m[2])
		if k := unknownKeys.FindStringSubmatch(text); k != nil {
			field, text = join(field, k[1]), "unknown key"
		} else if text == "false schema" {
			text = "unknown key"
		}
		return at(ordered, field, "", false, text, err)
	}
	// interpolation runs file by file, before merging: the first file that has the field failed
	if m := interpErr.FindStringSubmatch(firstLine(msg)); m != nil {
		text, hint := m[2], hintOf(err)
		var ne *strconv.NumError
		if strings.HasPrefix(text, "failed to cast") && errors.As(err, &ne) {
			text, hint = fmt.Sprintf("%q is not %s", ne.Num, numKinds[ne.Func]), ne.Num
		}
		return at(srcs, m[1], hint, false, text, err)
	}
	if m := invalidFmt.FindStringSubmatch(msg); m != nil {
		return at(srcs, m[1], m[2], false, "invalid interpolation format "+strconv.Quote(m[2])+" (write $$ for a literal $)", err)
	}
	if m := leadingPath.FindStringSubmatch(firstLine(msg)); m != nil {
		field := strings.TrimPrefix(bracket.ReplaceAllString(m[1], ".$1"), ".")
		if fe := at(srcs, field, "", true, m[2], err); fe.Line > 0 {
			return fe
		}
	}
	return nil
}

// numKinds names what compose-go wanted when it failed to cast an
// interpolated value, by the strconv function that failed.
var numKinds = map[string]string{
	"Atoi": "an integer", "ParseInt": "an integer", "ParseUint": "a positive integer",
	"ParseFloat": "a number", "ParseBool": "true or false",
}

// constructError reports a value the YAML decoder refused: a duplicate key.
// v4.0.0-rc.4 gives the error's own line inside its text ("line 4: ...")
// and line 1 outside.
func constructError(src *source, ce *yaml.LoadError, err error) *FileError {
	fe := &FileError{File: src.display, Line: ce.Line, Msg: ce.Err.Error(), Err: err}
	if m := lineMsg.FindStringSubmatch(fe.Msg); m != nil {
		fe.Line, fe.Msg = atoi(m[1]), m[2]
	}
	fe.Msg = "invalid YAML: " + fe.Msg
	return fe
}

var lineMsg = regexp.MustCompile(`(?s)^line (\d+): (.*)$`)

// hintOf names the value an interpolation error is about, to choose among
// list items: the variable that was required.
func hintOf(err error) string {
	var mr *template.MissingRequiredError
	if errors.As(err, &mr) {
		return "${" + mr.Variable
	}
	return ""
}

// at builds the FileError for a field: the file and line where it was found,
// the field with concrete list indexes when one was found whole.
func at(srcs []*source, field, hint string, lastFirst bool, msg string, err error) *FileError {
	m := locate(srcs, field, hint, lastFirst)
	fe := &FileError{Field: field, Msg: msg, Err: err, Line: m.line}
	if m.src == nil && len(srcs) > 0 {
		m.src = srcs[0]
		if lastFirst {
			m.src = srcs[len(srcs)-1]
		}
	}
	if m.src != nil {
		fe.File = m.src.display
	}
	if m.full {
		fe.Field = strings.Join(m.segments, ".")
	}
	return fe
}

// splitPath separates "services.api.ports.0 must be a string" into the path
// and the message. Keys may hold dots and even spaces, so the longest prefix
// found in a file wins; failing that, the first space splits them.
func splitPath(srcs []*source, s string) (string, string) {
	if strings.HasPrefix(s, " ") { // the error is about the top level
		return "", s[1:]
	}
	for i := len(s) - 1; i > 0; i-- {
		if s[i] != ' ' {
			continue
		}
		if m := locate(srcs, s[:i], "", false); m.full {
			return s[:i], s[i+1:]
		}
	}
	path, msg, _ := strings.Cut(s, " ")
	return path, msg
}

// sourceNamed finds the file that msg names right after prefix.
func sourceNamed(srcs []*source, msg, prefix string) *source {
	for _, s := range srcs {
		if strings.HasPrefix(msg, prefix+s.path+":") {
			return s
		}
	}
	return nil
}

func reversed(srcs []*source, skip *source) []*source {
	var out []*source
	for i := len(srcs) - 1; i >= 0; i-- {
		if srcs[i] != skip {
			out = append(out, srcs[i])
		}
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
