// Package cli holds swdeploy's cobra commands: each parses its flags, loads
// the stack, calls the deployer and renders the result. Output goes only to
// the injected streams and exit codes are decided in one place (exit.go), so
// every command can be run from a test.
package cli
