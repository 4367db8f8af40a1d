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
	c, err := open(fsys, dockerfile)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	// every variable-length field is length-prefixed: no two contexts can
	// produce the same stream of fields
	field := func(s string) { io.WriteString(h, strconv.Itoa(len(s))+":"+s+"\n") }
	field("swdeploy build context v1")
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
	err = c.walk(func(e entry) error {
		field(e.name)
		field(fmt.Sprintf("%o %d", uint32(e.mode), e.size))
		field(e.linkname)
		if e.mode.IsRegular() {
			return c.copy(h, e, buf) // e.size bytes: the length is already in
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
