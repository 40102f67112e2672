package config

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// oracle is what encodeNode must reproduce: Node.Encode's tree, with the
// one deliberate difference (awkwardBlock text double-quoted). ok is false
// when Node.Encode cannot encode c at all.
func oracle(t testing.TB, v any) (*yaml.Node, bool) {
	t.Helper()
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return nil, false
	}
	var fix func(n *yaml.Node)
	fix = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && awkwardBlock(n.Value) {
			n.Style = yaml.DoubleQuotedStyle
		}
		for _, c := range n.Content {
			fix(c)
		}
	}
	fix(&n)
	return &n, true
}

// checkSame holds encodeNode to Node.Encode, node for node (when
// Node.Encode can encode c), and its rendering to reading back as c.
func checkSame(t testing.TB, what string, c Config) {
	t.Helper()
	got, ok := encodeNode(reflect.ValueOf(c))
	if !ok {
		t.Fatalf("%s: encodeNode cannot encode the configuration", what)
	}
	if want, ok := oracle(t, c); ok && !reflect.DeepEqual(got, want) {
		g, _ := yaml.Marshal(got)
		w, _ := yaml.Marshal(want)
		t.Fatalf("%s: encodeNode differs from Node.Encode\n got:\n%s\nwant:\n%s\n%s", what, g, w, firstDiff(got, want, ""))
	}
	text, err := yaml.Marshal(got)
	if err != nil {
		t.Fatalf("%s: render: %v", what, err)
	}
	var back Config
	if err := yaml.Unmarshal(text, &back); err != nil {
		t.Fatalf("%s: the rendering does not read back: %v\n%s", what, err, text)
	}
	b1, _ := yaml.Marshal(back)
	b2, _ := yaml.Marshal(c)
	if string(b1) != string(b2) {
		t.Fatalf("%s: the rendering reads back as another configuration\n%s", what, text)
	}
}

// firstDiff names the first node where a and b differ.
func firstDiff(a, b *yaml.Node, path string) string {
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Value != b.Value || a.Style != b.Style || len(a.Content) != len(b.Content) {
		return path + ": " + a.Tag + " " + a.Value + " style " + styleName(a.Style) + " vs " + b.Tag + " " + b.Value + " style " + styleName(b.Style)
	}
	for i := range a.Content {
		if d := firstDiff(a.Content[i], b.Content[i], path+"/"+a.Content[i].Value); d != "" {
			return d
		}
	}
	if !reflect.DeepEqual(a, b) {
		return path + ": other fields differ"
	}
	return ""
}

func styleName(s yaml.Style) string {
	return map[yaml.Style]string{0: "plain", yaml.DoubleQuotedStyle: "double", yaml.SingleQuotedStyle: "single", yaml.LiteralStyle: "literal", yaml.FlowStyle: "flow"}[s]
}

// TestEncodeNode_MatchesNodeEncode: every configuration in testdata, and
// the repository's own, encodes node for node as yaml's Node.Encode does.
func TestEncodeNode_MatchesNodeEncode(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	files = append(files, "../cloudflare-config.yaml")
	if len(files) < 10 {
		t.Fatalf("only %d configurations found", len(files))
	}
	for _, f := range files {
		doc, _ := Load(f, LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
		if doc == nil {
			continue // not a document at all
		}
		checkSame(t, f, doc.Config)
	}
}

// trickyStrings are strings whose YAML form is not plain.
var trickyStrings = []string{
	"", " lead", "trail ", "a  b", "plain words", "yes", "No", "on", "y", "true", "False", "null", "~", "Null",
	"123", "-7", "+1", "0x1F", "0o17", "1_000", "1e3", "1.5", ".5", ".inf", "-.inf", ".NaN", "1:20", "2025-01-01",
	"2025-01-01T10:00:00Z", "a: b", "a:b", "a #b", "a#b", "#x", "-x", "- x", "--- x", "...", "...x", "x...",
	"multi\nline", "trailing\n", "tab\there", "ü", "ключ", "日本", "@x", "%x", "`x", "!x", "&x", "*x", "|x", ">x",
	"x,y", "[x]", "{x}", "'q'", `"d"`, `back\slash`, "https://x.example:8443/p?q=1&r=2", "ctrl\x01", "bell\a",
	"(x)", "a=b", "a/b", "a.b", "a_b", "~x", "x~", "=", "()", "Quantum Terminal Dashboard",
}

var tricKeys = []string{"alpha", "beta", "f2", "f10", "F1", "x_y", "x-y", "Zeta", "a1b", "a10b", "1", "10", "2", "b.c", "ü"}

// fill sets every exported field of v from r: strings from trickyStrings,
// numbers at their edges, slices and maps empty, nil or filled.
func fill(r *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(r, v.Field(i), depth)
			}
		}
	case reflect.String:
		if r.IntN(4) == 0 {
			b := make([]byte, r.IntN(6))
			for i := range b {
				b[i] = byte(r.IntN(95) + 32)
			}
			v.SetString(string(b))
		} else {
			v.SetString(trickyStrings[r.IntN(len(trickyStrings))])
		}
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 1)
	case reflect.Int:
		v.SetInt([]int64{0, 1, -1, 8080, math.MaxInt32, math.MinInt64}[r.IntN(6)])
	case reflect.Float64:
		v.SetFloat([]float64{0, 25, 0.5, 99.99, 1e21, 1e-7, -3, math.Inf(1), math.Inf(-1), math.NaN(), 100}[r.IntN(11)])
	case reflect.Slice:
		switch n := r.IntN(4); n {
		case 0: // nil
		default:
			s := reflect.MakeSlice(v.Type(), n-1, n-1)
			for i := range s.Len() {
				if depth < 3 {
					fill(r, s.Index(i), depth+1)
				}
			}
			v.Set(s)
		}
	case reflect.Map:
		if r.IntN(4) == 0 {
			return // nil
		}
		m := reflect.MakeMap(v.Type())
		for range r.IntN(4) {
			el := reflect.New(v.Type().Elem()).Elem()
			if depth < 3 {
				fill(r, el, depth+1)
			}
			m.SetMapIndex(reflect.ValueOf(tricKeys[r.IntN(len(tricKeys))]), el)
		}
		v.Set(m)
	}
}

// TestEncodeNode_Property: random configurations, full of strings and
// numbers at YAML's edges, encode as Node.Encode does.
func TestEncodeNode_Property(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		var c Config
		fill(r, reflect.ValueOf(&c).Elem(), 0)
		checkSame(t, fmt.Sprintf("random configuration %d", i), c)
	}
}

// TestTree_AwkwardText: text yaml cannot round-trip as a literal block
// inside a list no longer makes every command that reads the effective
// configuration panic.
func TestTree_AwkwardText(t *testing.T) {
	c := Config{Features: FeatureConfig{"f": {AllowedUsers: []string{"\n0"}}}}
	if _, ok := oracle(t, c); ok {
		t.Log("Node.Encode can encode it now; the test still holds tree to a readable rendering")
	}
	d := &Document{Config: c}
	v := d.Index()["features.f.allowedUsers[0]"]
	if got := v.Interface(); got != "\n0" {
		t.Errorf("value = %#v", got)
	}
	checkSame(t, "awkward text", c)
}

func FuzzEncodeNode(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s, 0.5)
	}
	f.Add("\n0", 39.03333333333333)
	f.Fuzz(func(t *testing.T, s string, x float64) {
		c := Config{Owner: s, CrossReferences: []CrossReference{{Source: s, Path: s}}}
		c.Features = FeatureConfig{s: {RolloutPercentage: x, AllowedUsers: []string{s}}}
		c.Cloudflare.Vars = map[string]string{"V": s}
		if _, err := yaml.Marshal(s); err != nil || !utf8.ValidString(s) {
			t.Skip() // yaml encodes such text as !!binary: not configuration text
		}
		checkSame(t, fmt.Sprintf("%q %v", s, x), c)
	})
}
