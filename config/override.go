package config

import (
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Override is a value set above the file layers, such as a Workers KV
// override. Value is plain JSON-decoded data (map[string]any, []any,
// string, float64, bool, nil).
type Override struct {
	Path   string
	Value  any
	Source Source // Layer is usually LayerKV; Key and SetBy say where it lives
}

// CheckPath reports whether path names a value of the schema: struct
// fields by name, maps by any key (a new feature flag, a new var), lists
// by an index that exists. It returns the canonical path.
func (d *Document) CheckPath(path string) (string, error) {
	els := splitPath(path)
	if len(els) == 0 {
		return "", fmt.Errorf("%w %q: give a dotted path such as features.premium.rolloutPercentage", ErrNoSuchPath, path)
	}
	_, canon, err := d.resolvePath(els)
	return canon, err
}

// resolvePath walks the schema types (and, for list indexes, the current
// tree) along els and returns the type at the end.
func (d *Document) resolvePath(els []string) (reflect.Type, string, error) {
	t := configType
	n := d.root
	canon := ""
	for _, el := range els {
		switch t.Kind() {
		case reflect.Struct:
			ft, ok := structFields(t)[el]
			if !ok {
				return nil, "", fmt.Errorf("%w %q: %s has no key %q%s", ErrNoSuchPath, strings.Join(els, "."), canonOr(canon), el, suggest(el, fieldNames(t), "keys"))
			}
			t = ft
			n = childNode(n, el)
			canon = joinPath(canon, el)
		case reflect.Map:
			t = t.Elem()
			n = childNode(n, el)
			canon = joinPath(canon, el)
		case reflect.Slice:
			idx, err := strconv.Atoi(el)
			size := 0
			if n != nil && n.Kind == yaml.SequenceNode {
				size = len(n.Content)
			}
			if err != nil || idx < 0 || idx >= size {
				return nil, "", fmt.Errorf("%w %q: %s is a list of %d; index %q does not exist (override the whole list instead)", ErrNoSuchPath, strings.Join(els, "."), canon, size, el)
			}
			t = t.Elem()
			n = n.Content[idx]
			canon += "[" + el + "]"
		default:
			return nil, "", fmt.Errorf("%w %q: %s is a single value", ErrNoSuchPath, strings.Join(els, "."), canon)
		}
	}
	return t, canon, nil
}

func childNode(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	return mappingValue(n, key)
}

// Apply returns a new document with the overrides applied on top of d's
// layers, in order. An override whose path is unknown or whose value has
// the wrong type is not applied; its problems are returned, located at
// the override's source. d is not modified.
func (d *Document) Apply(ovs []Override) (*Document, Problems) {
	nd := &Document{
		Config:   DefaultConfig(),
		File:     d.File,
		Env:      d.Env,
		Problems: append(Problems(nil), d.Problems...),
		sources:  maps.Clone(d.sources),
		shadowed: map[string][]Source{},
		broken:   maps.Clone(d.broken),
		dir:      d.dir,
		root:     deepCopy(d.root),
	}
	for k, v := range d.shadowed {
		nd.shadowed[k] = append([]Source(nil), v...)
	}
	if nd.root == nil {
		nd.root = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	var problems Problems
	for _, ov := range ovs {
		pos := ov.Source.Pos
		if pos.File == "" {
			pos.File = ov.Source.Key
		}
		t, canon, err := nd.resolvePath(splitPath(ov.Path))
		if err != nil {
			problems = append(problems, problemf(SeverityInvalid, "override-path", ov.Path, pos, "%v", err))
			continue
		}
		if ov.Value == nil {
			problems = append(problems, problemf(SeverityInvalid, "override-value", canon, pos, "null is not a value; delete the override to fall back to the file"))
			continue
		}
		var val yaml.Node
		if err := val.Encode(ov.Value); err != nil {
			problems = append(problems, problemf(SeverityInvalid, "override-value", canon, pos, "cannot encode the value: %v", err))
			continue
		}
		l := &loader{file: pos.File, doc: &Document{broken: map[string]bool{}}}
		s := &schemaWalker{l: l}
		if !s.check(&val, t, canon) || len(l.doc.Problems) > 0 {
			if len(l.doc.Problems) == 0 {
				l.add(problemf(SeverityInvalid, "type", canon, pos, "the value does not fit the schema"))
			}
			for _, p := range l.doc.Problems {
				p.Pos = pos
				problems = append(problems, p)
			}
			continue
		}
		markPositions(&val)
		setPath(nd.root, splitPath(canon), &val)
		prev := nd.Source(canon)
		for p := range nd.sources {
			if p == canon || strings.HasPrefix(p, canon+".") || strings.HasPrefix(p, canon+"[") {
				delete(nd.sources, p)
			}
		}
		nd.shadowed[canon] = append([]Source{prev}, nd.shadowed[canon]...)
		src := ov.Source
		if src.Layer == "" {
			src.Layer = LayerKV
		}
		recordTree(nd.sources, &val, canon, src)
	}
	if err := nd.root.Decode(&nd.Config); err != nil {
		problems = append(problems, problemf(SeverityInvalid, "override-value", "", Position{}, "decode: %v", err))
	}
	for k, f := range nd.Config.Features {
		f.Index()
		nd.Config.Features[k] = f
	}
	return nd, problems
}

// markPositions clears positions so values from a store never claim a line.
func markPositions(n *yaml.Node) {
	n.Line, n.Column = 0, 0
	for _, c := range n.Content {
		markPositions(c)
	}
}

// recordTree gives every value under n the source src.
func recordTree(sources map[string]Source, n *yaml.Node, path string, src Source) {
	sources[path] = src
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			recordTree(sources, n.Content[i+1], joinPath(path, n.Content[i].Value), src)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			recordTree(sources, c, path+"["+strconv.Itoa(i)+"]", src)
		}
	}
}

// setPath puts val at els under root, creating mappings on the way.
func setPath(root *yaml.Node, els []string, val *yaml.Node) {
	n := root
	for i, el := range els {
		last := i == len(els)-1
		if n.Kind == yaml.SequenceNode {
			idx, _ := strconv.Atoi(el) // resolvePath checked it
			if last {
				n.Content[idx] = val
				return
			}
			n = n.Content[idx]
			continue
		}
		if n.Kind != yaml.MappingNode {
			*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		j := mappingIndex(n, el)
		if last {
			if j >= 0 {
				n.Content[j+1] = val
			} else {
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: el}, val)
			}
			return
		}
		if j < 0 {
			child := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: el}, child)
			n = child
			continue
		}
		n = n.Content[j+1]
	}
}

func deepCopy(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = deepCopy(ch)
	}
	return &c
}
