package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/fathat101/swdeploy/api"
)

// statusOf is the one code-to-status table. A code missing here is a bug;
// it answers 500 like an error without a code.
var statusOf = map[string]int{
	api.CodeBadRequest:           http.StatusBadRequest,
	api.CodeEmailInvalid:         http.StatusBadRequest,
	api.CodePasswordInvalid:      http.StatusBadRequest,
	api.CodeUserAlreadyExists:    http.StatusBadRequest,
	api.CodeAccountDisabled:      http.StatusBadRequest,
	api.CodeEmailUnverified:      http.StatusBadRequest,
	api.CodeAuthorisationNeeded:  http.StatusUnauthorized,
	api.CodeTokenInvalid:         http.StatusUnauthorized,
	api.CodeTokenExpired:         http.StatusUnauthorized,
	api.CodeForbidden:            http.StatusForbidden,
	api.CodeNotFound:             http.StatusNotFound,
	api.CodeCharactersNotFound:   http.StatusNotFound,
	api.CodeFilmsNotFound:        http.StatusNotFound,
	api.CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	api.CodePayloadTooLarge:      http.StatusRequestEntityTooLarge,
	api.CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	api.CodeInternal:             http.StatusInternalServerError,
	api.CodeUpstreamError:        http.StatusBadGateway,
	api.CodeUnavailable:          http.StatusServiceUnavailable,
	api.CodeTooManyRequests:      http.StatusTooManyRequests,
	api.CodeUpstreamTimeout:      http.StatusGatewayTimeout,
}

// errorBody is every error response. Message is the code, never the
// error's text: causes go to the log only.
type errorBody struct {
	Status    string `json:"status"`
	Message   string `json:"message"`
	Parameter string `json:"parameter,omitempty"`
}

// writeError answers with err's code and status, and hands err to the
// request log.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, param := api.CodeInternal, ""
	var e *api.Error
	if errors.As(err, &e) {
		code = e.Code
		if code == api.CodeBadRequest {
			param = e.Parameter
		}
	}
	status, ok := statusOf[code]
	if !ok {
		code, status, param = api.CodeInternal, http.StatusInternalServerError, ""
	}
	if info := infoFrom(r.Context()); info != nil {
		info.err = err
	}
	writeJSON(w, status, errorBody{Status: "error", Message: code, Parameter: param})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own payload types reach here; they always encode.
		status = http.StatusInternalServerError
		b = []byte(`{"status":"error","message":"internal-error"}`)
	}
	writeRaw(w, status, b)
}

// writeRaw answers b with its length: a large answer (a film list) is then
// sent in one piece rather than chunked.
func writeRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

var okBody = []byte(`{"status":"ok"}`)

func writeOK(w http.ResponseWriter) { writeRaw(w, http.StatusOK, okBody) }
