package httpapi

import (
	"embed"
	"io/fs"
)

// The Swagger UI files /ui serves, copied from github.com/swaggo/files/v2
// by internal/genswaggerui (see there why not the module itself).
//
//go:generate go run ./internal/genswaggerui swaggerui
//go:embed swaggerui
var swaggerUIFiles embed.FS

var swaggerUI, _ = fs.Sub(swaggerUIFiles, "swaggerui")
