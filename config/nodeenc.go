package config

import (
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// encodeNode builds the node tree yaml's Node.Encode gives for v, without
// Node.Encode's round trip through YAML text (it emits the document, then
// parses it back), which was a quarter of validate's own work. It knows
// the kinds the configuration types use — structs (yaml tags, inline),
// maps with string keys (in yaml's key order), slices, strings, bools,
// integers and floats — and reports false for anything else, so that tree
// falls back to Node.Encode rather than guess. A string the fast rules
// below cannot place (punctuation, line breaks, a colon) is encoded by
// yaml itself, alone. The tests hold the result to Node.Encode's, node for
// node, and its YAML rendering to reading back as the same configuration.
func encodeNode(v reflect.Value) (*yaml.Node, bool) {
	switch v.Kind() {
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if !appendFields(n, v) {
			return nil, false
		}
		if len(n.Content) == 0 {
			n.Style = yaml.FlowStyle
		}
		return n, true
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return nil, false
		}
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := make([]string, 0, v.Len())
		for it := v.MapRange(); it.Next(); {
			keys = append(keys, it.Key().String())
		}
		sort.Slice(keys, func(i, j int) bool { return yamlKeyLess(keys[i], keys[j]) })
		for _, k := range keys {
			val, ok := encodeNode(v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())))
			if !ok {
				return nil, false
			}
			n.Content = append(n.Content, stringNode(k), val)
		}
		if len(n.Content) == 0 {
			n.Style = yaml.FlowStyle
		}
		return n, true
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil, false // []byte is !!binary in yaml
		}
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for i := range v.Len() {
			el, ok := encodeNode(v.Index(i))
			if !ok {
				return nil, false
			}
			n.Content = append(n.Content, el)
		}
		if len(n.Content) == 0 {
			n.Style = yaml.FlowStyle
		}
		return n, true
	case reflect.String:
		return stringNode(v.String()), true
	case reflect.Bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v.Bool())}, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v.Int(), 10)}, true
	case reflect.Float64:
		s := strconv.FormatFloat(v.Float(), 'g', -1, 64)
		switch s {
		case "+Inf":
			s = ".inf"
		case "-Inf":
			s = "-.inf"
		case "NaN":
			s = ".nan"
		}
		// Read back as YAML, a whole float ("25") is an !!int.
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: (&yaml.Node{Kind: yaml.ScalarNode, Value: s}).ShortTag(), Value: s}, true
	}
	return nil, false
}

// appendFields adds the exported fields of struct v to mapping n, in
// declaration order, with inline structs' fields in place.
func appendFields(n *yaml.Node, v reflect.Value) bool {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		switch opts {
		case "":
		case "inline":
			if f.Type.Kind() != reflect.Struct || !appendFields(n, v.Field(i)) {
				return false
			}
			continue
		default:
			return false // omitempty, flow: not used by the configuration types
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		val, ok := encodeNode(v.Field(i))
		if !ok {
			return false
		}
		n.Content = append(n.Content, stringNode(name), val)
	}
	return true
}

// stringNode is the node of string s. A plain word, number-like or not,
// is placed here; anything else is encoded by yaml alone, except that text
// with a line break that starts with a space or a line break is
// double-quoted: yaml writes it as a literal block whose indentation
// indicator it cannot read back inside a nested list (Node.Encode fails on
// a configuration holding one, and validate used to panic on it).
func stringNode(s string) *yaml.Node {
	if s == "" { // would read back as null
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle}
	}
	if plainCandidate(s) {
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
		// Text that would read back as another type (a number, a date,
		// null, an old-style boolean) is double-quoted, as yaml does.
		if (&yaml.Node{Kind: yaml.ScalarNode, Value: s}).ShortTag() != "!!str" || oldBool(s) {
			n.Style = yaml.DoubleQuotedStyle
		}
		return n
	}
	var n yaml.Node
	if awkwardBlock(s) || n.Encode(s) != nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle}
	}
	return &n
}

// awkwardBlock reports text with a line break that starts with a space or
// a line break: see stringNode.
func awkwardBlock(s string) bool {
	return strings.Contains(s, "\n") && (s[0] == ' ' || s[0] == '\n')
}

// plainCandidate reports whether yaml writes s as a plain scalar in block
// context, as far as characters go (stringNode still quotes text that
// would read back as another type): printable ASCII, no leading indicator
// (#,[]{}&*!|>'"%@` ? : -), no leading or trailing space or double space,
// no ": ", " #" or trailing colon, no "..." start, and no colon in text
// that starts with a digit (a YAML 1.1 sexagesimal number). It may refuse
// more than yaml would; what it refuses goes to yaml's own encoder.
func plainCandidate(s string) bool {
	if s == "" || strings.HasPrefix(s, "...") {
		return false
	}
	switch s[0] {
	case ' ', '#', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', '?', ':', '-':
		return false
	}
	last := s[len(s)-1]
	if last == ' ' || last == ':' {
		return false
	}
	for i := range len(s) {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e:
			return false // control characters and non-ASCII: yaml decides
		case c == ' ' && (s[i+1] == ' ' || s[i+1] == '#'):
			return false
		case c == ':' && (s[i+1] == ' ' || '0' <= s[0] && s[0] <= '9' || s[0] == '+'):
			return false
		}
	}
	return true
}

// oldBool reports the YAML 1.1 booleans yaml quotes so that older readers
// do not take them for true or false.
func oldBool(s string) bool {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
		"n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return true
	}
	return false
}

// yamlKeyLess is the order yaml gives string map keys: runs of digits
// compare as numbers, letters before other characters except right after
// a digit.
func yamlKeyLess(a, b string) bool {
	ar, br := []rune(a), []rune(b)
	digits := false
	for i := 0; i < len(ar) && i < len(br); i++ {
		if ar[i] == br[i] {
			digits = unicode.IsDigit(ar[i])
			continue
		}
		al, bl := unicode.IsLetter(ar[i]), unicode.IsLetter(br[i])
		if al && bl {
			return ar[i] < br[i]
		}
		if al || bl {
			if digits {
				return al
			}
			return bl
		}
		var an, bn int64
		if ar[i] == '0' || br[i] == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(ar[j]); j-- {
				if ar[j] != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		ai, bi := i, i
		for ; ai < len(ar) && unicode.IsDigit(ar[ai]); ai++ {
			an = an*10 + int64(ar[ai]-'0')
		}
		for ; bi < len(br) && unicode.IsDigit(br[bi]); bi++ {
			bn = bn*10 + int64(br[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return ar[i] < br[i]
	}
	return len(ar) < len(br)
}
