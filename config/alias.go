package config

import (
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// errAliasBomb stops alias expansion that would grow the tree without bound.
var errAliasBomb = errors.New("excessive aliasing")

// MaxNestingDepth is how deeply mappings, lists and aliases may nest in a
// configuration; deeper input is refused with "too deeply nested".
const MaxNestingDepth = 100

// aliasBudget is how many nodes expansion may create: generous for real
// files that share blocks through anchors, far below what a "billion laughs"
// document needs.
func aliasBudget(n *yaml.Node) int {
	return min(10*countNodes(n)+10_000, 1_000_000)
}

func countNodes(n *yaml.Node) int {
	c := 1
	if n.Kind != yaml.AliasNode {
		for _, ch := range n.Content {
			c += countNodes(ch)
		}
	}
	return c
}

// expandAliases returns a copy of n with every alias replaced by a copy of
// its anchor and every merge key (<<) applied, creating at most budget nodes.
func expandAliases(n *yaml.Node, budget int) (*yaml.Node, error) {
	e := &expander{left: budget}
	return e.copy(n, 0)
}

type expander struct{ left int }

func (e *expander) copy(n *yaml.Node, depth int) (*yaml.Node, error) {
	if depth > MaxNestingDepth {
		return nil, fmt.Errorf("too deeply nested (limit %d levels, MaxNestingDepth)", MaxNestingDepth)
	}
	if e.left--; e.left < 0 {
		return nil, fmt.Errorf("%w: expanding anchors would create too many values (an alias bomb?)", errAliasBomb)
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil, fmt.Errorf("alias *%s refers to no anchor", n.Value)
		}
		return e.copy(n.Alias, depth+1)
	}
	c := *n
	c.Anchor = ""
	c.Content = make([]*yaml.Node, 0, len(n.Content))
	for _, ch := range n.Content {
		cc, err := e.copy(ch, depth+1)
		if err != nil {
			return nil, err
		}
		c.Content = append(c.Content, cc)
	}
	if c.Kind == yaml.MappingNode {
		applyMergeKeys(&c)
	}
	return &c, nil
}

// applyMergeKeys resolves "<<: *base" and "<<: [*a, *b]": keys written in
// the mapping win over merged ones, earlier merged mappings over later ones.
func applyMergeKeys(m *yaml.Node) {
	var merged []*yaml.Node
	own := make([]*yaml.Node, 0, len(m.Content))
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			switch v.Kind {
			case yaml.MappingNode:
				merged = append(merged, v)
			case yaml.SequenceNode:
				merged = append(merged, v.Content...)
			}
			continue
		}
		own = append(own, k, v)
	}
	if merged == nil {
		return
	}
	has := map[string]bool{}
	for i := 0; i < len(own); i += 2 {
		has[own[i].Value] = true
	}
	for _, src := range merged {
		if src.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(src.Content); i += 2 {
			if k := src.Content[i]; !has[k.Value] {
				has[k.Value] = true
				own = append(own, k, src.Content[i+1])
			}
		}
	}
	m.Content = own
}
