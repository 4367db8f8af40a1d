package api

import (
	"strings"
	"testing"
)

func TestRoleOrder(t *testing.T) {
	tests := []struct {
		r, min Role
		want   bool
	}{
		{RoleBasic, RoleBasic, true},
		{RoleAdmin, RoleBasic, true},
		{RoleAdmin, RoleAdmin, true},
		{RoleBasic, RoleAdmin, false},
		{Role("root"), RoleBasic, false},
		{Role(""), RoleBasic, false},
		{Role("Admin"), RoleBasic, false},
	}
	for _, tt := range tests {
		if got := tt.r.AtLeast(tt.min); got != tt.want {
			t.Errorf("%q.AtLeast(%q) = %v, want %v", tt.r, tt.min, got, tt.want)
		}
	}
}

func TestNormaliseEmail(t *testing.T) {
	tests := []struct {
		in, want string // want "" means email-invalid
	}{
		{"luke@tatooine.org", "luke@tatooine.org"},
		{"Luke.Skywalker@Tatooine.ORG", "luke.skywalker@tatooine.org"},
		{"o'brien+tag@example.co.uk", "o'brien+tag@example.co.uk"},
		{"", ""},
		{"luke", ""},
		{"luke@", ""},
		{"@tatooine.org", ""},
		{"luke@localhost", ""},
		{"luke@tatooine.", ""},
		{"luke@.org", ""},
		{"luke@tatooine..org", ""},
		{"Luke <luke@tatooine.org>", ""},
		{"<luke@tatooine.org>", ""},
		{"luke @tatooine.org", ""},
		{"luke@tatooine.org\r\nBcc: x@y.z", ""},
		{"lüke@tatooine.org", ""},
		{"luke@tatooine.org'; DROP TABLE users; --", ""},
		{strings.Repeat("a", 250) + "@b.org", ""},
		{"a\xffb@c.org", ""},
	}
	for _, tt := range tests {
		got, err := NormaliseEmail(tt.in)
		if tt.want == "" {
			if ErrorCode(err) != CodeEmailInvalid {
				t.Errorf("NormaliseEmail(%q) = %q, %v; want email-invalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormaliseEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"Secret123", true},
		{"Aa345678", true},                       // 8: shortest
		{"Aa3" + strings.Repeat("x", 29), true},  // 32: longest
		{"Aa3" + strings.Repeat("x", 30), false}, // 33
		{"Aa34567", false},                       // 7
		{"secret123", false},                     // no upper
		{"SECRET123", false},                     // no lower
		{"SecretPass", false},                    // no digit
		{"Secret 123", false},                    // space
		{"Secret\t123", false},                   // tab
		{"Secret123\n", false},                   // newline
		{"Sécret123", true},                      // unicode letters count as letters
		{"Ünïcödé1", true},                       // 8 runes, more bytes
		{"'; DROP TABLE users;--A1", false},      // whitespace
		{"';DROP-TABLE-users;--A1", true},        // metacharacters are just characters
		{"Secret12\xff", false},                  // invalid UTF-8
		{"", false},
	}
	for _, tt := range tests {
		err := CheckPassword(tt.in)
		if tt.ok && err != nil {
			t.Errorf("CheckPassword(%q) = %v, want ok", tt.in, err)
		}
		if !tt.ok && ErrorCode(err) != CodePasswordInvalid {
			t.Errorf("CheckPassword(%q) = %v, want password-invalid", tt.in, err)
		}
	}
}

func TestErrorCode(t *testing.T) {
	if got := ErrorCode(nil); got != CodeInternal {
		t.Errorf("ErrorCode(nil) = %q", got)
	}
	e := BadParameter("max_items", "too small")
	if e.Code != CodeBadRequest || e.Parameter != "max_items" {
		t.Errorf("BadParameter = %+v", e)
	}
}
