// Command genswaggerui copies the Swagger UI files the server needs out of
// github.com/swaggo/files/v2 (the version go.mod pins) into ../../swaggerui.
// The module embeds the whole Swagger UI distribution, source maps and
// unused bundles included (13 MB); linking it would put the API image over
// its 20 MB budget, so the server embeds this subset instead. Run
// `go generate ./api/httpapi` after upgrading the module.
package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	swaggerfiles "github.com/swaggo/files/v2"
)

// files are those index.html loads; swagger-initializer.js is the
// server's own.
var files = []string{
	"index.html", "index.css", "swagger-ui.css", "swagger-ui-bundle.js",
	"swagger-ui-standalone-preset.js", "favicon-16x16.png", "favicon-32x32.png",
}

func main() {
	out := "swaggerui"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	for _, name := range files {
		b, err := fs.ReadFile(swaggerfiles.FS, name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "genswaggerui:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "genswaggerui:", err)
			os.Exit(1)
		}
	}
}
