//go:build !linux && !darwin && !freebsd && !netbsd

package buildcontext

import "io/fs"

// fileKey gives no identity here: without a ctime an in-place edit with
// its mtime set back could not be told apart, so nothing is cached.
func fileKey(fs.FileInfo) (statKey, bool) { return statKey{}, false }
