package deployer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// configParts digests each top-level part of a service's configuration.
// Parts that do not change the container (how the image is made or pulled,
// ordering, scaling, profiles) are left out, so changing them recreates
// nothing.
func configParts(cfg types.ServiceConfig) (map[string]string, error) {
	cfg.Build = nil
	cfg.PullPolicy = ""
	cfg.DependsOn = nil
	cfg.Scale = nil
	cfg.Deploy = nil
	cfg.Profiles = nil
	cfg.Develop = nil
	cfg.Attach = nil
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode configuration: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("decode configuration: %w", err)
	}
	parts := make(map[string]string, len(fields))
	for k, v := range fields {
		if string(v) == "null" {
			continue
		}
		parts[k] = shortDigest(v)
	}
	return parts, nil
}

// configHash folds parts into one digest, the value of the config-hash
// label.
func configHash(parts map[string]string) string {
	return shortDigest([]byte(encodeParts(parts)))[:16]
}

// encodeParts writes parts as "a:1234abcd,b:..." in key order; it is the
// value of the config-parts label.
func encodeParts(parts map[string]string) string {
	var b strings.Builder
	for i, k := range sortedKeys(parts) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + ":" + parts[k])
	}
	return b.String()
}

func decodeParts(s string) map[string]string {
	parts := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, ":"); ok {
			parts[k] = v
		}
	}
	return parts
}

// changedParts lists the parts that differ between two part sets.
func changedParts(old, new map[string]string) []string {
	var changed []string
	for k, v := range new {
		if old[k] != v {
			changed = append(changed, k)
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			changed = append(changed, k)
		}
	}
	slices.Sort(changed)
	return changed
}

func shortDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

func digestJSON(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return shortDigest(raw), nil
}
