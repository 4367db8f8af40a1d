package buildcontext

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
)

// Digest names what a build from fsys would be given: exactly the entries
// Tar sends (paths, normalised modes, link targets, contents), the
// Dockerfile's path and the build args. An unchanged context yields the same
// digest, any change another; ignored files do not count. It hashes file
// contents as it reads them, building no tar.
//
// An arg set to nil (declared without a value: taken from the environment
// at build time) differs from one set to "".
func Digest(fsys fs.FS, dockerfile string, args map[string]*string) (string, error) {
	return DigestCached(fsys, dockerfile, args, nil)
}

// DigestCached is Digest taking the sums of files whose stat has not
// changed from cache instead of reading them, and leaving the sums it read
// in cache for the next run (cache.Save writes them). A nil cache reads
// every file. The digest is the same with or without a cache.
func DigestCached(fsys fs.FS, dockerfile string, args map[string]*string, cache *Cache) (string, error) {
	c, err := open(fsys, dockerfile)
	if err != nil {
		return "", err
	}
	cache.start()
	h := sha256.New()
	// every variable-length field is length-prefixed: no two contexts can
	// produce the same stream of fields
	field := func(s string) { io.WriteString(h, strconv.Itoa(len(s))+":"+s+"\n") }
	field("swdeploy build context v2")
	field(c.dockerfile)
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		field(k)
		if v := args[k]; v == nil {
			field("unset")
		} else {
			field("=" + *v)
		}
	}
	buf := make([]byte, 32<<10)
	fh := sha256.New()
	err = c.walk(func(e entry) error {
		field(e.name)
		field(fmt.Sprintf("%o %d", uint32(e.mode), e.size))
		field(e.linkname)
		if !e.mode.IsRegular() {
			return nil
		}
		// each file's content goes in as its own sum, so that a sum kept
		// from an earlier run stands in for reading the file
		sum, key, keyed := cache.lookup(e.name, e.info)
		if sum == "" {
			fh.Reset()
			if err := c.copy(fh, e, buf); err != nil { // e.size bytes
				return err
			}
			sum = hex.EncodeToString(fh.Sum(nil))
			if keyed {
				cache.store(e.name, key, sum)
			}
		}
		field(sum)
		return nil
	})
	if err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
