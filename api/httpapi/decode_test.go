package httpapi

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/fathat101/swdeploy/api"
)

func TestDecodeBody(t *testing.T) {
	type body struct {
		Email    string  `json:"email"`
		Password string  `json:"password"`
		Role     *string `json:"access_role"`
	}
	tests := []struct {
		in string
		ok bool
	}{
		{`{"email":"a@b.org","password":"x"}`, true},
		{` {"email":"a@b.org"} `, true},
		{`{}`, true},
		{``, false},
		{`null`, false},
		{`[]`, false},
		{`"x"`, false},
		{`{"email":"a@b.org"`, false},
		{`{"email":"a@b.org"}{}`, false},
		{`{"email":"a@b.org"} x`, false},
		{`{"email":1}`, false},
		{`{"other":1}`, false},
		{"{\"email\":\"\xff\"}", false},
		{`{"email":"\ud800"}`, true}, // an escaped lone surrogate is valid JSON text
	}
	for _, tt := range tests {
		var b body
		err := decodeBody([]byte(tt.in), &b)
		if tt.ok && err != nil {
			t.Errorf("decodeBody(%q) = %v", tt.in, err)
		}
		if !tt.ok && api.ErrorCode(err) != api.CodeBadRequest {
			t.Errorf("decodeBody(%q) = %v, want bad-request", tt.in, err)
		}
	}
}

// FuzzDecodeBody: decoding never panics, fails only with bad-request, and
// accepts only valid UTF-8 JSON objects with known fields.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"email":"a@b.org","password":"Secret123"}`,
		`{"email":"a@b.org","password":"Secret123","access_role":"admin"}`,
		`{"email":null}`, `{}`, `[]`, `null`, ``, `{"email":"a"}{}`, "{\"email\":\"\xff\"}",
		`{"disabled":true,"access_role":"basic","email":"x@y.org"}`, `{"EMAIL":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var c credentials
		err := decodeBody(in, &c)
		if err != nil {
			if api.ErrorCode(err) != api.CodeBadRequest {
				t.Fatalf("error code %q for %q", api.ErrorCode(err), in)
			}
			return
		}
		if !utf8.Valid(in) || !json.Valid(in) {
			t.Fatalf("accepted invalid input %q", in)
		}
		var u userChange
		_ = decodeBody(in, &u)
	})
}
