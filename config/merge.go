package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// mergeEnvironment deep-merges cloudflare.environments.<env> over the
// cloudflare section: mappings merge key by key, anything else (lists,
// scalars) replaces. It records what each replaced value shadowed.
func (l *loader) mergeEnvironment(top *yaml.Node, env string) error {
	cf := mappingValue(top, "cloudflare")
	var envs, over *yaml.Node
	if cf != nil {
		envs = mappingValue(cf, "environments")
	}
	if envs != nil {
		over = mappingValue(envs, env)
	}
	if over == nil {
		declared := "none"
		if envs != nil {
			var names []string
			for i := 0; i+1 < len(envs.Content); i += 2 {
				names = append(names, envs.Content[i].Value)
			}
			if len(names) > 0 {
				sort.Strings(names)
				declared = strings.Join(names, ", ")
			}
		}
		return fmt.Errorf("%w %q: %s declares %s under cloudflare.environments", ErrUnknownEnvironment, env, l.file, declared)
	}
	if isNull(over) {
		return nil // "production: ~" or "production: {}" changes nothing
	}
	l.envNodes = map[*yaml.Node]bool{}
	markAll(over, l.envNodes)
	l.mergeMapping(cf, over, "cloudflare")
	return nil
}

func markAll(n *yaml.Node, set map[*yaml.Node]bool) {
	set[n] = true
	for _, ch := range n.Content {
		markAll(ch, set)
	}
}

func (l *loader) mergeMapping(base, over *yaml.Node, path string) {
	for i := 0; i+1 < len(over.Content); i += 2 {
		k, v := over.Content[i], over.Content[i+1]
		kpath := joinPath(path, k.Value)
		j := mappingIndex(base, k.Value)
		if j < 0 {
			base.Content = append(base.Content, k, v)
			continue
		}
		old := base.Content[j+1]
		if old.Kind == yaml.MappingNode && v.Kind == yaml.MappingNode {
			l.mergeMapping(old, v, kpath)
			continue
		}
		pos := l.pos(old)
		if old.Kind != yaml.ScalarNode {
			pos = l.pos(base.Content[j])
		}
		l.doc.shadowed[kpath] = append(l.doc.shadowed[kpath], Source{Layer: LayerFile, Pos: pos})
		base.Content[j+1] = v
	}
}

func mappingIndex(m *yaml.Node, key string) int {
	if m == nil || m.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if i := mappingIndex(m, key); i >= 0 {
		return m.Content[i+1]
	}
	return nil
}

// recordSources notes, for every value in the final tree, the layer and
// position that set it. Scalars point at the value, collections at the key.
func (l *loader) recordSources(top *yaml.Node, env string) {
	var walk func(n *yaml.Node, keyPos Position, t reflect.Type, path string, inEnvDecl bool)
	walk = func(n *yaml.Node, keyPos Position, t reflect.Type, path string, inEnvDecl bool) {
		layer := LayerFile
		if !inEnvDecl && l.envNodes[n] {
			layer = EnvironmentLayer(env)
		}
		pos := keyPos
		if n.Kind == yaml.ScalarNode || path == "" {
			pos = l.pos(n)
		}
		if path != "" {
			l.doc.sources[path] = Source{Layer: layer, Pos: pos}
		}
		switch n.Kind {
		case yaml.MappingNode:
			var fields map[string]reflect.Type
			if t != nil && t.Kind() == reflect.Struct {
				fields = structFields(t)
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				var ft reflect.Type
				switch {
				case fields != nil:
					ft = fields[k.Value]
				case t != nil && t.Kind() == reflect.Map:
					ft = t.Elem()
				}
				kpath := joinPath(path, k.Value)
				walk(v, l.pos(k), ft, kpath, inEnvDecl || kpath == "cloudflare.environments")
			}
		case yaml.SequenceNode:
			var et reflect.Type
			if t != nil && t.Kind() == reflect.Slice {
				et = t.Elem()
			}
			for i, item := range n.Content {
				walk(item, l.pos(item), et, path+"["+strconv.Itoa(i)+"]", inEnvDecl)
			}
		}
	}
	walk(top, Position{}, configType, "", false)
}
