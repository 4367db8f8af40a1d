package swapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// object is an upstream JSON object with its keys in upstream order, so
// that responses keep the upstream shape exactly (encoding/json maps would
// sort the keys).
type object []field

type field struct {
	name string // decoded key
	key  []byte // key as JSON, with quotes
	val  []byte // compact JSON value
}

func decodeObject(data []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var obj object
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("read key: %w", err)
		}
		name, _ := tok.(string) // inside an object a token here is always a key
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("read %q: %w", name, err)
		}
		var val bytes.Buffer
		if err := json.Compact(&val, raw); err != nil {
			return nil, fmt.Errorf("compact %q: %w", name, err)
		}
		key, _ := json.Marshal(name) // a string always encodes
		obj = append(obj, field{name: name, key: key, val: val.Bytes()})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("read end of object: %w", err)
	}
	return obj, nil
}

// scalar returns a field's value for filtering and sorting: the text of a
// string, number or boolean. A missing or null field reads as "".
func (o object) scalar(name string) value {
	for _, f := range o {
		if f.name != name {
			continue
		}
		if len(f.val) > 0 && f.val[0] == '"' {
			var s string
			if json.Unmarshal(f.val, &s) == nil {
				return newValue(s)
			}
		}
		if string(f.val) == "null" {
			return newValue("")
		}
		return newValue(string(f.val))
	}
	return newValue("")
}

// appendJSON renders o without the dropped keys.
func (o object) appendJSON(buf []byte, drop []string) []byte {
	buf = append(buf, '{')
	first := true
	for _, f := range o {
		if slices.Contains(drop, f.name) {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, f.key...)
		buf = append(buf, ':')
		buf = append(buf, f.val...)
	}
	return append(buf, '}')
}

// page is one upstream list page.
type page struct {
	count   int
	results []object
}

func decodePage(data []byte) (page, error) {
	var raw struct {
		Count   int               `json:"count"`
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return page{}, fmt.Errorf("decode page: %w", err)
	}
	p := page{count: max(raw.Count, 0), results: make([]object, 0, len(raw.Results))}
	for i, r := range raw.Results {
		obj, err := decodeObject(r)
		if err != nil {
			return page{}, fmt.Errorf("decode result %d: %w", i, err)
		}
		p.results = append(p.results, obj)
	}
	return p, nil
}
