package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/fathat101/swdeploy/api"
)

// decodeJSON reads r's body (already buffered by limitBody) strictly into
// v: one JSON object, valid UTF-8, no unknown fields, nothing after it.
// Anything else is bad-request.
func decodeJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return &api.Error{Code: api.CodeBadRequest, Message: "read body", Err: err}
	}
	return decodeBody(body, v)
}

func decodeBody(body []byte, v any) error {
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD.
	if !utf8.Valid(body) {
		return api.Errorf(api.CodeBadRequest, "body is not valid UTF-8")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return api.Errorf(api.CodeBadRequest, "body is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &api.Error{Code: api.CodeBadRequest, Message: "decode body", Err: err}
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return api.Errorf(api.CodeBadRequest, "data after the JSON object")
	}
	return nil
}
