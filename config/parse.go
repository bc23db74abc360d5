package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads the YAML file at path (none when path is ""), applies environment overrides from
// lookupEnv (none when nil; the server passes os.LookupEnv) and validates the result. It
// returns every problem it finds at once, so a user fixes a file in one pass. When only
// validation fails, the Config is returned with the error so `config check` can still print it.
func Load(path string, lookupEnv func(string) (string, bool)) (Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			// The *PathError already names the file.
			return Config{}, fmt.Errorf("config: reading config file: %w", err)
		}
		c, err = Parse(data)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	envErr := c.ApplyEnv(lookupEnv)
	if err := errors.Join(envErr, c.Validate()); err != nil {
		return c, err
	}
	return c, nil
}

// Parse decodes a YAML document over Default(): keys present replace defaults, absent keys keep
// them, and an empty document is the defaults. It does not validate values (Load does), but it
// refuses unknown and repeated keys and values of the wrong type, naming each key, so a typo
// never silently leaves a default in place.
func Parse(data []byte) (Config, error) {
	c := Default()
	// Decoding goes through a yaml.Node and decodeStruct rather than Decoder.KnownFields(true):
	// KnownFields stops at the first unknown key and names it by Go type ("config.Etcd"), while
	// the walk reports every unknown key by its dotted name ("etcd.prefx").
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return c, nil // empty file
		}
		// yaml.v3 syntax errors read "yaml: line N: ...".
		return Config{}, fmt.Errorf("config: invalid YAML: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("config: the file holds more than one YAML document (a second \"---\"); keep all settings in one")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if isNull(root) {
		return c, nil // a document that is only comments or "~"
	}
	if resolve(root).Kind != yaml.MappingNode {
		return Config{}, fmt.Errorf("config: line %d: the file must be a mapping of settings, e.g. \"httpAddr: 127.0.0.1:8080\"", root.Line)
	}
	var errs []error
	decodeStruct(resolve(root), reflect.ValueOf(&c).Elem(), "", &errs)
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// decodeStruct decodes mapping node n into struct v key by key, so each problem can be
// reported with its full dotted key ("etcd.prefix") instead of a Go type name.
func decodeStruct(n *yaml.Node, v reflect.Value, prefix string, errs *[]error) {
	t := v.Type()
	seen := make(map[string]int) // key -> line, to refuse repeats
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind != yaml.ScalarNode {
			*errs = append(*errs, &Error{Key: strings.TrimSuffix(prefix, "."), Reason: fmt.Sprintf("line %d: keys must be plain names", kn.Line)})
			continue
		}
		key := prefix + kn.Value
		if kn.Tag == "!!merge" {
			*errs = append(*errs, &Error{Key: key, Reason: fmt.Sprintf("line %d: YAML merge keys (<<) are not supported; write the settings out", kn.Line)})
			continue
		}
		if prev, dup := seen[kn.Value]; dup {
			*errs = append(*errs, &Error{Key: key, Reason: fmt.Sprintf("line %d: already set on line %d; keep one", kn.Line, prev)})
			continue
		}
		seen[kn.Value] = kn.Line
		idx, ok := fieldIndex(t, kn.Value)
		if !ok {
			*errs = append(*errs, &Error{Key: key, Reason: unknownKeyReason(t, kn)})
			continue
		}
		f := v.Field(idx)
		if f.Kind() == reflect.Struct && !isDuration(f) {
			if isNull(vn) {
				continue // "etcd:" with nothing under it keeps the defaults
			}
			if resolve(vn).Kind != yaml.MappingNode {
				*errs = append(*errs, &Error{Key: key, Reason: fmt.Sprintf("line %d: must be a mapping of settings, one per line below it", vn.Line)})
				continue
			}
			decodeStruct(resolve(vn), f, key+".", errs)
			continue
		}
		if f.Kind() == reflect.Slice && isNull(vn) {
			// yaml.v3 would set nil anyway; being explicit keeps "endpoints:" meaning "none".
			f.SetZero()
			continue
		}
		if isInteger(f) && !isNull(vn) && resolve(vn).ShortTag() != "!!int" {
			// yaml.v3 would truncate 1.5 to 1 without a word.
			*errs = append(*errs, &Error{Key: key, Reason: fmt.Sprintf("line %d: must be %s", vn.Line, describe(f))})
			continue
		}
		if err := vn.Decode(f.Addr().Interface()); err != nil {
			*errs = append(*errs, &Error{Key: key, Reason: fmt.Sprintf("line %d: must be %s", vn.Line, describe(f))})
			continue
		}
		if f.Kind() == reflect.Slice && f.Len() == 0 {
			f.SetZero() // "endpoints: []" and an absent key mean the same: none
		}
	}
}

// fieldIndex finds the field of t whose yaml tag is name. Matching is exact: keys are
// case-sensitive, as in the rest of the YAML world.
func fieldIndex(t reflect.Type, name string) (int, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && yamlName(f) == name {
			return i, true
		}
	}
	return 0, false
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// unknownKeyReason suggests the key the user probably meant, or lists the valid ones.
func unknownKeyReason(t reflect.Type, kn *yaml.Node) string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := yamlName(f)
		if strings.EqualFold(name, kn.Value) {
			return fmt.Sprintf("line %d: unknown key; keys are case-sensitive, did you mean %s?", kn.Line, name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return fmt.Sprintf("line %d: unknown key; valid keys here are %s", kn.Line, strings.Join(names, ", "))
}

// describe says in the user's terms what kind of value a field takes.
func describe(f reflect.Value) string {
	if isDuration(f) {
		return "a duration with a unit, e.g. 30s, 5m or 1h"
	}
	switch f.Kind() {
	case reflect.String:
		return "a single text value"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.Slice:
		return "a list of text values, e.g. [http://10.0.0.1:2379, http://10.0.0.2:2379]"
	}
	return "a value of type " + f.Type().String()
}

func isInteger(f reflect.Value) bool {
	switch f.Kind() {
	case reflect.Int, reflect.Int64, reflect.Uint64:
		return !isDuration(f)
	}
	return false
}

func isDuration(f reflect.Value) bool { return f.Type() == reflect.TypeFor[Duration]() }

// resolve follows an alias (*anchor) to the node it names. yaml.v3 never makes an alias name
// another alias, but the bound keeps a malformed tree from looping forever.
func resolve(n *yaml.Node) *yaml.Node {
	for range 16 {
		if n.Kind != yaml.AliasNode || n.Alias == nil {
			break
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}
