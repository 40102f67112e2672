package config

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxExpandedBytes bounds ${VAR} expansion: the scalars it produces may
// total at most 1 MiB over the whole document. Without it a small file
// could reference a large variable thousands of times. Hitting it is a
// size-limit problem at the scalar where the budget ran out; the rest of
// the document is not expanded.
const MaxExpandedBytes = 1 << 20

// interpolate expands ${VAR} and ${VAR:-default} in every scalar value of
// the tree (keys are left alone). "$$" stands for a literal "$". A plain
// scalar that changed is re-typed, so "port: ${PORT:-8091}" is a number.
//
// A variable missing inside an environment other than the selected one is a
// Warning, not an error: the base must not need staging's secrets.
func (l *loader) interpolate(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if path == "" && strings.HasPrefix(key, "x-") {
				continue // anchor blocks: their aliases are expanded where they are used
			}
			l.interpolate(n.Content[i+1], joinPath(path, key))
		}
	case yaml.SequenceNode:
		for i, ch := range n.Content {
			l.interpolate(ch, path+"["+strconv.Itoa(i)+"]")
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") || l.expandedOver {
			return
		}
		out, problems, ok := expandVars(n.Value, l.lookup, MaxExpandedBytes-l.expanded)
		if !ok {
			l.expandedOver = true
			l.doc.broken[path] = true
			l.add(problemf(SeverityInvalid, "size-limit", path, l.pos(n),
				"${VAR} expansion exceeds the %s limit on expanded values (MaxExpandedBytes); reference large variables fewer times", formatBytes(MaxExpandedBytes)))
			return
		}
		l.expanded += len(out)
		sev := SeverityInvalid
		if env, ok := environmentOf(path); ok && env != l.env {
			sev = SeverityWarning
		}
		for _, msg := range problems {
			if sev == SeverityWarning {
				msg += "; validate --env " + mustEnv(path) + " needs it"
			}
			l.add(problemf(sev, "env-var", path, l.pos(n), "%s", msg))
		}
		if len(problems) > 0 {
			l.doc.broken[path] = true // its value is not what the author meant; judge nothing else on it
		}
		if out != n.Value {
			n.Value = out
			if l.interpolated == nil {
				l.interpolated = map[*yaml.Node]bool{}
			}
			l.interpolated[n] = true
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) == 0 {
				n.Tag = "" // let the value's new text decide its type
				if out == "" {
					n.Tag = "!!str" // ${VAR:-} means an empty string, not "unset"
				}
			}
		}
	}
}

// expandVars replaces ${NAME} and ${NAME:-default} in s. It returns the
// expanded text and a message for each reference it could not expand.
// A default may itself not contain "}". ok is false, and the text
// incomplete, when the result would be longer than budget bytes.
func expandVars(s string, lookup func(string) (string, bool), budget int) (_ string, _ []string, ok bool) {
	var b strings.Builder
	var problems []string
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
			continue
		case '{':
		default:
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			problems = append(problems, "unterminated ${ (write $$ for a literal $)")
			b.WriteString(s[i:])
			break
		}
		expr := s[i+2 : i+2+end]
		i += 2 + end + 1
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validVarName(name) {
			problems = append(problems, "${"+expr+"}: "+strconv.Quote(name)+" is not a variable name (letters, digits and _)")
			continue
		}
		v, ok := lookup(name)
		switch {
		case ok && (v != "" || !hasDef):
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		default:
			problems = append(problems, "environment variable "+name+" is not set (set it, add it to .env, or write ${"+name+":-default})")
		}
		if b.Len() > budget {
			return "", problems, false
		}
	}
	if b.Len() > budget {
		return "", problems, false
	}
	return b.String(), problems, true
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// environmentOf returns the environment a path lies in, if any.
func environmentOf(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "cloudflare.environments.")
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, ".")
	name, _, _ = strings.Cut(name, "[")
	return name, true
}

func mustEnv(path string) string {
	name, _ := environmentOf(path)
	return name
}
