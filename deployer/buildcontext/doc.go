// Package buildcontext turns a build context (a directory on disk or the
// tree built into the binary, both as an fs.FS) into what the engine's
// ImageBuild takes: a tar stream, filtered by the context's .dockerignore as
// docker does, and byte-for-byte the same for the same tree wherever it is
// read from. Digest names that content without building the tar, so a plan
// can tell an unchanged context from a changed one cheaply.
package buildcontext
