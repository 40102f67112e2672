package config

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

var configType = reflect.TypeFor[Config]()

// schemaWalker checks a YAML tree against the Go types before decoding,
// so that every unknown key, duplicate key and wrongly typed value is
// reported with its position, and removed so the decoder sees a clean tree.
type schemaWalker struct{ l *loader }

// check verifies n against t and reports whether the caller should keep n.
func (s *schemaWalker) check(n *yaml.Node, t reflect.Type, path string) bool {
	if isNull(n) {
		return true
	}
	if s.l.interpolated[n] && n.Kind == yaml.ScalarNode && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		switch t.Kind() {
		case reflect.Bool, reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64, reflect.Float32:
			n.Style, n.Tag = 0, "" // type it by its expanded text
		}
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			s.typeProblem(n, path, "a mapping of keys")
			return false
		}
		fields := structFields(t)
		s.checkMapping(n, path, func(k *yaml.Node, v *yaml.Node, kpath string) bool {
			ft, ok := fields[k.Value]
			if !ok && path == "" && strings.HasPrefix(k.Value, "x-") {
				return false // top-level x-* keys hold YAML anchors for reuse; they are ignored
			}
			if !ok {
				s.l.add(problemf(SeverityInvalid, "unknown-key", kpath, s.l.pos(k),
					"unknown key %q%s", k.Value, suggest(k.Value, fieldNames(t), "keys")))
				return false
			}
			if isNull(v) {
				return false // null means "not set": the default stays
			}
			return s.check(v, ft, kpath)
		})
		return true
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			s.typeProblem(n, path, "a mapping of names")
			return false
		}
		s.checkMapping(n, path, func(k *yaml.Node, v *yaml.Node, kpath string) bool {
			return s.check(v, t.Elem(), kpath)
		})
		return true
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			s.typeProblem(n, path, "a list")
			return false
		}
		for i, item := range n.Content {
			ipath := path + "[" + strconv.Itoa(i) + "]"
			ok := !isNull(item)
			if !ok {
				s.typeProblem(item, ipath, "a value")
			} else {
				ok = s.check(item, t.Elem(), ipath)
			}
			if !ok {
				s.l.doc.broken[ipath] = true
				// Keep the indexes of later items: the decoder drops nulls,
				// so stand in the element type's zero value.
				n.Content[i] = zeroNode(t.Elem(), item)
			}
		}
		return true
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			s.typeProblem(n, path, "a string")
			return false
		}
		if n.ShortTag() != "!!str" {
			// 2025-01-01, 0123 or true written for a string field mean the text.
			n.Tag = "!!str"
		}
		return true
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			s.typeProblem(n, path, "true or false")
			return false
		}
		return true
	case reflect.Int, reflect.Int64, reflect.Int32:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
			if _, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
				return true
			}
		}
		s.typeProblem(n, path, "a whole number")
		return false
	case reflect.Float64, reflect.Float32:
		if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
			var f float64
			if err := n.Decode(&f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				return true
			}
		}
		s.typeProblem(n, path, "a number")
		return false
	case reflect.Interface:
		return true
	}
	s.typeProblem(n, path, t.String())
	return false
}

// checkMapping walks the pairs of a mapping, reporting duplicate and
// non-string keys, and drops the pairs fn refuses.
func (s *schemaWalker) checkMapping(n *yaml.Node, path string, fn func(k, v *yaml.Node, kpath string) bool) {
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	kept := make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			s.l.add(problemf(SeverityInvalid, "type", path, s.l.pos(k), "keys must be plain names, not %s", describe(k)))
			continue
		}
		kpath := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			s.l.add(problemf(SeverityInvalid, "duplicate-key", kpath, s.l.pos(k),
				"duplicate key %q (first set at line %d)", k.Value, first.Line))
			continue
		}
		seen[k.Value] = k
		if !fn(k, v, kpath) {
			if !isNull(v) {
				s.l.doc.broken[kpath] = true
			}
			continue
		}
		kept = append(kept, k, v)
	}
	n.Content = kept
}

func (s *schemaWalker) typeProblem(n *yaml.Node, path, want string) {
	s.l.add(problemf(SeverityInvalid, "type", path, s.l.pos(n), "expected %s, got %s", want, describe(n)))
}

// joinPath appends a key to a dotted path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// zeroNode is a node that decodes as the zero value of t, placed where
// the refused node was.
func zeroNode(t reflect.Type, at *yaml.Node) *yaml.Node {
	n := &yaml.Node{Line: at.Line, Column: at.Column}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		n.Kind, n.Tag = yaml.MappingNode, "!!map"
	case reflect.Slice:
		n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
	case reflect.Bool:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!bool", "false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64, reflect.Float32:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!int", "0"
	default:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!str", ""
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's kind and a short form of its value for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:37] + "..."
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "the number " + v
	case "!!bool":
		return v
	case "!!null":
		return "nothing"
	}
	return strconv.Quote(v)
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// structFields maps the yaml names of t's fields (inline structs
// flattened) to their types.
func structFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" {
			for k, v := range structFields(f.Type) {
				m[k] = v
			}
			continue
		}
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for k := range structFields(t) {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// suggest proposes the closest known name for a mistyped one, or lists
// the known names (called noun in the message).
func suggest(got string, known []string, noun string) string {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s))
	}
	best, bestDist := "", 3
	for _, k := range known {
		if norm(k) == norm(got) || strings.HasPrefix(k, got) && len(got) >= 3 {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
		// A misspelt start of a longer name ("rolout" for rolloutPercentage).
		if len(got) >= 4 && len(k) > len(got) && levenshtein(strings.ToLower(got), strings.ToLower(k[:len(got)+1])) <= 1 {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
		if d := levenshtein(strings.ToLower(got), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Sprintf("; known %s: %s", noun, strings.Join(known, ", "))
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
