package deployer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"golang.org/x/sync/errgroup"
)

// LogsOptions select and shape log output.
type LogsOptions struct {
	Services   []string // empty: all
	Follow     bool
	Tail       string // "all" or a number
	Timestamps bool
	Since      string
}

// LogLine is one line of a container's output.
type LogLine struct {
	Service   string
	Container string
	Stderr    bool
	Text      string
}

// Logs streams the selected services' logs line by line to fn, which is
// never called concurrently. With Follow it returns when ctx ends.
func Logs(ctx context.Context, eng Engine, project string, opts LogsOptions, fn func(LogLine)) error {
	cs, err := listContainers(ctx, eng, project)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, s := range opts.Services {
		want[s] = true
	}
	known := map[string]bool{}
	for _, c := range cs {
		known[c.Service] = true
	}
	for s := range want {
		if !known[s] {
			return fmt.Errorf("no container for service %s in project %s", s, project)
		}
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range cs {
		if len(want) > 0 && !want[c.Service] {
			continue
		}
		g.Go(func() error {
			rc, err := eng.ContainerLogs(gctx, c.ID, container.LogsOptions{
				ShowStdout: true, ShowStderr: true, Follow: opts.Follow, Tail: opts.Tail, Timestamps: opts.Timestamps, Since: opts.Since,
			})
			if err != nil {
				return fmt.Errorf("logs of %s: %w", c.Name, err)
			}
			defer rc.Close()
			lines := func(stderr bool) *lineWriter {
				return &lineWriter{fn: func(s string) {
					mu.Lock()
					defer mu.Unlock()
					fn(LogLine{Service: c.Service, Container: c.Name, Stderr: stderr, Text: s})
				}}
			}
			out, errw := lines(false), lines(true)
			_, err = stdcopy.StdCopy(out, errw, rc)
			out.flush()
			errw.flush()
			if err != nil && gctx.Err() == nil && err != io.EOF {
				return fmt.Errorf("logs of %s: %w", c.Name, err)
			}
			return nil
		})
	}
	err = g.Wait()
	if ctx.Err() != nil {
		return nil // following ends with the context: not an error
	}
	return err
}

// lineWriter calls fn once per complete line written to it.
type lineWriter struct {
	buf bytes.Buffer
	fn  func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			return len(p), nil
		}
		w.fn(line[:len(line)-1])
	}
}

func (w *lineWriter) flush() {
	if w.buf.Len() > 0 {
		w.fn(w.buf.String())
		w.buf.Reset()
	}
}
