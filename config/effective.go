package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrNoSuchPath is returned by Lookup for a path the configuration lacks.
var ErrNoSuchPath = errors.New("no such path")

// Value is an effective configuration value: a scalar, list or mapping,
// kept in schema order. It marshals to JSON and YAML.
type Value struct{ node *yaml.Node }

// MarshalYAML renders the value as written in the schema order.
func (v Value) MarshalYAML() (any, error) { return v.node, nil }

// MarshalJSON renders the value with keys in schema order.
func (v Value) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, v.node); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Interface returns the value as plain Go data (map[string]any, []any,
// string, int, float64, bool or nil).
func (v Value) Interface() any {
	var out any
	_ = v.node.Decode(&out)
	return out
}

// String renders a scalar as its text and a collection as flow YAML.
func (v Value) String() string {
	if v.node.Kind == yaml.ScalarNode {
		return v.node.Value
	}
	c := *v.node
	c.Style = yaml.FlowStyle
	out, _ := yaml.Marshal(&c)
	return strings.TrimSpace(string(out))
}

func (v Value) zero() bool {
	switch v.node.Kind {
	case yaml.ScalarNode:
		switch v.node.ShortTag() {
		case "!!null":
			return true
		case "!!bool":
			return v.node.Value == "false"
		case "!!int", "!!float":
			return v.node.Value == "0"
		}
		return v.node.Value == ""
	}
	return len(v.node.Content) == 0
}

func writeJSON(b *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			b.Write(k)
			b.WriteByte(':')
			if err := writeJSON(b, n.Content[i+1]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, ch := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, ch); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	default:
		var v any
		if err := n.Decode(&v); err != nil {
			return err
		}
		out, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b.Write(out)
	}
	return nil
}

// tree encodes the effective configuration in schema order, with the
// password of a proxy URL redacted: effective values are for display.
func (d *Document) tree() *yaml.Node {
	c := d.Config
	c.Proxy.URL = RedactURL(c.Proxy.URL)
	n, ok := encodeNode(reflect.ValueOf(c))
	if !ok {
		panic("config: encode effective config: a field of a kind encodeNode does not know") // TestEncodeNode_* catch it
	}
	return n
}

// splitPath turns "a.b[2].c" or "a.b.2.c" into its elements.
func splitPath(path string) []string {
	path = strings.ReplaceAll(path, "[", ".")
	path = strings.ReplaceAll(path, "]", "")
	var out []string
	for _, p := range strings.Split(path, ".") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Lookup returns the effective value at a dotted path such as
// features.premium.rolloutPercentage or cloudflare.kvNamespaces[0].id;
// "" is the whole configuration. The path is returned in canonical form.
func (d *Document) Lookup(path string) (string, Value, error) {
	n := d.tree()
	canon := ""
	for _, el := range splitPath(path) {
		switch n.Kind {
		case yaml.MappingNode:
			i := mappingIndex(n, el)
			if i < 0 {
				return "", Value{}, fmt.Errorf("%w %q: %q has no key %q", ErrNoSuchPath, path, canonOr(canon), el)
			}
			n = n.Content[i+1]
			canon = joinPath(canon, el)
		case yaml.SequenceNode:
			idx, err := strconv.Atoi(el)
			if err != nil || idx < 0 || idx >= len(n.Content) {
				return "", Value{}, fmt.Errorf("%w %q: %q is a list of %d, index %q is out of range", ErrNoSuchPath, path, canon, len(n.Content), el)
			}
			n = n.Content[idx]
			canon += "[" + el + "]"
		default:
			return "", Value{}, fmt.Errorf("%w %q: %q is a single value", ErrNoSuchPath, path, canon)
		}
	}
	return canon, Value{node: n}, nil
}

func canonOr(p string) string {
	if p == "" {
		return "(top level)"
	}
	return p
}

// Leaf is one scalar (or empty collection) of the effective configuration.
type Leaf struct {
	Path   string `json:"path"`
	Value  Value  `json:"value"`
	Source Source `json:"source"`
}

// Leaves lists every leaf under prefix ("" for all) in schema order, each
// with the source that set it.
func (d *Document) Leaves(prefix string) []Leaf {
	canon, v, err := d.Lookup(prefix)
	if err != nil {
		return nil
	}
	var out []Leaf
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch {
		case n.Kind == yaml.MappingNode && len(n.Content) > 0:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], joinPath(path, n.Content[i].Value))
			}
		case n.Kind == yaml.SequenceNode && len(n.Content) > 0:
			for i, ch := range n.Content {
				walk(ch, path+"["+strconv.Itoa(i)+"]")
			}
		default:
			out = append(out, Leaf{Path: path, Value: Value{node: n}, Source: d.Source(path)})
		}
	}
	walk(v.node, canon)
	return out
}

// Explanation says where an effective value came from and what it shadows.
type Explanation struct {
	Path     string   `json:"path"`
	Value    Value    `json:"value"`
	Source   Source   `json:"source"`
	Shadowed []Source `json:"shadows,omitempty"`
}

// Explain returns the value at path with its winning source and the
// sources it shadows.
func (d *Document) Explain(path string) (Explanation, error) {
	canon, v, err := d.Lookup(path)
	if err != nil {
		return Explanation{}, err
	}
	return Explanation{Path: canon, Value: v, Source: d.Source(canon), Shadowed: d.Shadowed(canon)}, nil
}

// Index returns every path of the effective configuration (sections and
// leaves, in canonical form) with its value, for lookups that must not
// allocate, such as a resolved snapshot's Get.
func (d *Document) Index() map[string]Value {
	idx := map[string]Value{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		idx[path] = Value{node: n}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], joinPath(path, n.Content[i].Value))
			}
		case yaml.SequenceNode:
			for i, ch := range n.Content {
				walk(ch, path+"["+strconv.Itoa(i)+"]")
			}
		}
	}
	walk(d.tree(), "")
	return idx
}
