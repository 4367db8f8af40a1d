package buildcontext

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// Tar streams fsys as a tar for the engine's ImageBuild, leaving out what
// the .dockerignore at its root excludes, but always sending the Dockerfile
// and .dockerignore themselves, as docker does. dockerfile is the
// Dockerfile's path inside fsys.
//
// The stream is the same bytes for the same tree from any fs.FS: entries in
// lexical order, times, owners and names of owners zeroed, permissions
// normalised to 0644, or 0755 for directories and executables. It is
// written through a pipe as it is read, never held whole in memory. A
// missing Dockerfile or a bad .dockerignore fails here; an error while
// walking reaches the reader.
func Tar(fsys fs.FS, dockerfile string) (io.ReadCloser, error) {
	c, err := open(fsys, dockerfile)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		buf := make([]byte, 32<<10)
		err := c.walk(func(e entry) error { return c.write(tw, e, buf) })
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err) // nil: the reader sees io.EOF
	}()
	return pr, nil
}

// epoch is every entry's time: the engine's cache must not see a checkout's
// or a build's timestamps as a change.
var epoch = time.Unix(0, 0)

func (c *tree) write(tw *tar.Writer, e entry, buf []byte) error {
	hdr := &tar.Header{
		Name:     e.name,
		Mode:     int64(e.mode.Perm()),
		ModTime:  epoch,
		Typeflag: tar.TypeReg,
	}
	switch {
	case e.mode.IsDir():
		hdr.Name += "/"
		hdr.Typeflag = tar.TypeDir
	case e.mode&fs.ModeSymlink != 0:
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.linkname
	default:
		hdr.Size = e.size
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar %s: %w", e.name, err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	return c.copy(tw, e, buf)
}

// copy sends exactly the size the entry was described with: a file that
// shrank since is an error, one that grew is cut, as the header says.
func (c *tree) copy(w io.Writer, e entry, buf []byte) error {
	f, err := c.fsys.Open(e.name)
	if err != nil {
		return fmt.Errorf("open %s: %w", e.name, err)
	}
	defer f.Close()
	n, err := io.CopyBuffer(w, io.LimitReader(f, e.size), buf)
	if err != nil {
		return fmt.Errorf("read %s: %w", e.name, err)
	}
	if n != e.size {
		return fmt.Errorf("read %s: file shrank from %d to %d bytes while being read", e.name, e.size, n)
	}
	return nil
}
