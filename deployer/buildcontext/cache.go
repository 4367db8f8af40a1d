package buildcontext

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"time"
)

// cacheVersion changes whenever the file's layout or the meaning of its
// sums does: a file of another version is ignored, never misread.
const cacheVersion = 1

// racyWindow is how recent a file's change may be for its sum to be kept.
// A file written again within the same timestamp tick as the read (the
// kernel's clock is coarse; some file systems keep whole seconds) would
// otherwise look unchanged with new content.
const racyWindow = 2 * time.Second

// statKey is what identifies a file's content without reading it. ctime
// is in it because no user call can set it back: a file rewritten in
// place and given its old mtime still changes ctime.
type statKey struct {
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"` // ns
	Ctime int64  `json:"ctime"` // ns
	Ino   uint64 `json:"ino"`
	Dev   uint64 `json:"dev"`
}

type record struct {
	statKey
	Sum string `json:"sha256"`
}

type cacheFile struct {
	Version int               `json:"version"`
	Root    string            `json:"root"`
	Files   map[string]record `json:"files"`
}

// Cache remembers the content sums of one build context's files, by path
// and stat, so that a digest of an unchanged tree reads no file. It is a
// hint only: a file whose stat differs in any field is read again, a cache
// file that cannot be read or is of another version counts as empty, and
// one that cannot be written costs only the reads. A nil *Cache caches
// nothing.
type Cache struct {
	file    string
	root    string
	old     map[string]record
	seen    map[string]record
	changed bool
	since   time.Time // sums of files changed after this are not kept
	clock   func() time.Time
}

// DefaultCacheDir is where swdeploy keeps its caches on this machine, or
// "" when the user has none.
func DefaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "swdeploy")
}

// OpenCache loads the cache of the context at root from dir, one file per
// root. It never fails: an empty dir gives a nil Cache (nothing cached).
func OpenCache(dir, root string) *Cache {
	if dir == "" {
		return nil
	}
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	sum := sha256.Sum256([]byte(root))
	c := &Cache{
		file: filepath.Join(dir, "buildcontext", hex.EncodeToString(sum[:12])+".json"),
		root: root,
		seen: map[string]record{},
	}
	if data, err := os.ReadFile(c.file); err == nil {
		var f cacheFile
		if json.Unmarshal(data, &f) == nil && f.Version == cacheVersion && f.Root == root {
			c.old = f.Files
		}
	}
	return c
}

// lookup returns the remembered sum of name if its stat is unchanged.
func (c *Cache) lookup(name string, info fs.FileInfo) (sum string, key statKey, ok bool) {
	if c == nil {
		return "", key, false
	}
	key, ok = fileKey(info)
	if !ok {
		return "", key, false
	}
	r, hit := c.old[name]
	if !hit || r.statKey != key || len(r.Sum) != 2*sha256.Size {
		return "", key, true
	}
	c.seen[name] = r
	return r.Sum, key, true
}

// store keeps the sum of a file just read, unless its stat is too recent
// to vouch for the content.
func (c *Cache) store(name string, key statKey, sum string) {
	if c == nil {
		return
	}
	limit := c.since.Add(-racyWindow).UnixNano()
	if key.Mtime >= limit || key.Ctime >= limit {
		if _, ok := c.old[name]; ok {
			c.changed = true // the old record no longer holds
		}
		return
	}
	c.seen[name] = record{key, sum}
	c.changed = true
}

// start marks the beginning of a digest.
func (c *Cache) start() {
	if c == nil {
		return
	}
	c.since = time.Now()
	if c.clock != nil {
		c.since = c.clock()
	}
	clear(c.seen)
	c.changed = false
}

// Save writes what the last digest saw, replacing the file atomically, and
// only when that differs from what was loaded.
func (c *Cache) Save() error {
	if c == nil || (!c.changed && len(c.seen) == len(c.old)) {
		return nil
	}
	data, err := json.Marshal(cacheFile{Version: cacheVersion, Root: c.root, Files: c.seen})
	if err != nil {
		return err
	}
	dir := filepath.Dir(c.file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), c.file); err != nil {
		return err
	}
	c.old = maps.Clone(c.seen)
	c.changed = false
	return nil
}
