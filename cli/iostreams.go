package cli

import (
	"io"
	"os"

	"github.com/moby/term"
)

// IOStreams are the command's input and outputs.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// OutTTY and ErrTTY say whether the outputs are terminals: live
	// progress and colour only go to a terminal.
	OutTTY, ErrTTY bool
}

// System returns the process's own streams.
func System() IOStreams {
	return IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		OutTTY: term.IsTerminal(os.Stdout.Fd()), ErrTTY: term.IsTerminal(os.Stderr.Fd()),
	}
}
