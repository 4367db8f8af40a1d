package main

import "embed"

// sources are the files the default stack needs, built into the binary so
// that an installed swdeploy brings the stack up from any directory: the
// Compose file and the build contexts of the API and the edge proxy.
//
//go:embed Dockerfile .dockerignore go.mod go.sum api stack/compose.yaml edge edge/.dockerignore
var sources embed.FS
