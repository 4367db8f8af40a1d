// Package stack loads the declared stack: the Compose file (or files) read
// with compose-go, interpolated, normalised and checked for what swdeploy
// needs, with every error in a file reported as one *FileError that names
// the file, the line and the field.
//
// The default stack is the checkout's stack/compose.yaml when the caller is
// inside a checkout, else the copy built into the binary; see Load.
package stack
