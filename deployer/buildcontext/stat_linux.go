package buildcontext

import (
	"io/fs"
	"syscall"
)

// fileKey is a file's stat identity; ok is false where the file system
// gives none (the tree built into the binary), which is then not cached.
func fileKey(info fs.FileInfo) (statKey, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return statKey{}, false
	}
	return statKey{
		Size:  info.Size(),
		Mtime: info.ModTime().UnixNano(),
		Ctime: st.Ctim.Nano(),
		Ino:   st.Ino,
		Dev:   uint64(st.Dev),
	}, true
}
