package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"syscall"

	"github.com/joho/godotenv"
	"go.yaml.in/yaml/v3"
)

// DefaultMaxBytes is the largest configuration Parse accepts unless
// LoadOptions.MaxBytes says otherwise. It keeps the YAML decoder, which is
// quadratic on huge flat maps, far from pathological inputs.
const DefaultMaxBytes = 256 << 10

// ErrNotRegular is returned (wrapped) by Load for a path that is not a
// regular file: a FIFO, a device, a socket or a directory.
var ErrNotRegular = errors.New("not a regular file")

// fileKind names the type of a non-regular file for an error.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "FIFO"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// DefaultFile is the configuration file name looked up in the working directory.
const DefaultFile = "cloudflare-config.yaml"

// ErrUnknownEnvironment is returned when LoadOptions.Env names an
// environment the file does not declare under cloudflare.environments.
var ErrUnknownEnvironment = errors.New("unknown environment")

// LoadOptions tunes Parse and Load. The zero value is ready to use.
type LoadOptions struct {
	// Env names the cloudflare.environments section to merge over the
	// base; "" means the base configuration alone.
	Env string
	// LookupEnv resolves ${VAR}; optional, nil means no variable is set
	// apart from those in the .env file. The CLI passes os.LookupEnv.
	LookupEnv func(name string) (string, bool)
	// MaxBytes caps the input size; optional, 0 means DefaultMaxBytes.
	MaxBytes int64
	// Filename names the input in positions; optional for Parse, where ""
	// means "<input>". Load sets it to the path it was given.
	Filename string
	// DotEnv is the path of a dotenv file whose variables fill in for those
	// LookupEnv does not know (the real environment wins). Load sets it to
	// the .env beside the configuration when that file exists; optional.
	DotEnv string
}

// Document is a loaded configuration: the typed values plus where each
// came from. Problems holds everything the loader found wrong; it is empty
// for a clean file.
type Document struct {
	Config   Config
	File     string   // name used in positions
	Env      string   // merged environment, "" for the base
	Problems Problems // load problems, sorted by position

	sources  map[string]Source   // dotted path -> winning source
	shadowed map[string][]Source // dotted path -> sources it overrides (env over file)
	broken   map[string]bool     // paths dropped because they could not be decoded
	dir      string              // directory of the file, for relative paths
	root     *yaml.Node          // the checked, merged tree Config was decoded from
}

// Source says which layer set a value and where.
type Source struct {
	Layer string   `json:"layer"` // "default", "file", "environment:<name>" or "kv"
	Pos   Position `json:"position"`
	// For LayerKV: the KV key, who set it and when, and when it expires
	// (RFC 3339; "" for never).
	Key       string `json:"key,omitempty"`
	SetBy     string `json:"setBy,omitempty"`
	SetAt     string `json:"setAt,omitempty"`
	ExpiresAt string `json:"expiresAt,omitempty"`
	Ref       string `json:"ref,omitempty"` // the cross-API reference the value came from
}

// Layer names used in Source.Layer.
const (
	LayerDefault = "default"
	LayerFile    = "file"
	LayerKV      = "kv"
)

// EnvironmentLayer is the layer name of an environment section.
func EnvironmentLayer(name string) string { return "environment:" + name }

// Load reads and parses the configuration file at path.
// A missing or unreadable file is returned as an error wrapping the
// os error (errors.Is(err, fs.ErrNotExist) holds for a missing file).
// Everything else follows Parse.
//
// Only a regular file is read: a FIFO, device or directory is refused
// without blocking (ErrNotRegular). The mode is checked on the opened file,
// which is opened with O_NONBLOCK so that opening a FIFO cannot wait for
// a writer.
func Load(path string, opts LoadOptions) (*Document, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open config: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open config %s: %w (it is a %s)", path, ErrNotRegular, fileKind(fi.Mode()))
	}
	if opts.Filename == "" {
		opts.Filename = path
	}
	if opts.DotEnv == "" {
		dotenv := filepath.Join(filepath.Dir(path), ".env")
		if _, err := os.Stat(dotenv); err == nil {
			opts.DotEnv = dotenv
		}
	}
	doc, err := Parse(f, opts)
	if doc != nil {
		doc.dir = filepath.Dir(path)
	}
	return doc, err
}

// Parse reads a configuration from r.
//
// It always returns a Document unless reading r fails or opts.Env names an
// undeclared environment (ErrUnknownEnvironment). When the input has load
// problems the Document holds whatever could be decoded and the error is
// the Problems list, every problem located and with its key path.
func Parse(r io.Reader, opts LoadOptions) (*Document, error) {
	name := opts.Filename
	if name == "" {
		name = "<input>"
	}
	max := opts.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	doc := &Document{
		Config:   DefaultConfig(),
		File:     name,
		Env:      opts.Env,
		sources:  map[string]Source{},
		shadowed: map[string][]Source{},
		broken:   map[string]bool{},
		dir:      ".",
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > max {
		doc.Problems = Problems{problemf(SeverityInvalid, "size-limit", "", Position{File: name},
			"input is larger than the %s limit (%d bytes); split the file or raise the limit", formatBytes(max), max)}
		return doc, doc.Problems
	}

	lookup, err := envLookup(opts)
	if err != nil {
		return nil, err
	}
	l := &loader{file: name, doc: doc, lookup: lookup, env: opts.Env}
	if err := l.run(data, opts.Env); err != nil {
		return nil, err
	}
	doc.Problems.Sort()
	if doc.Problems.Invalid() {
		return doc, doc.Problems
	}
	return doc, nil
}

// envLookup combines the caller's environment with the dotenv file; the
// real environment always wins.
func envLookup(opts LoadOptions) (func(string) (string, bool), error) {
	real := opts.LookupEnv
	if real == nil {
		real = func(string) (string, bool) { return "", false }
	}
	if opts.DotEnv == "" {
		return real, nil
	}
	vars, err := godotenv.Read(opts.DotEnv)
	if err != nil {
		return nil, dotenvError(opts.DotEnv, err)
	}
	return func(k string) (string, bool) {
		if v, ok := real(k); ok {
			return v, true
		}
		v, ok := vars[k]
		return v, ok
	}, nil
}

func formatBytes(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// loader carries the state of one Parse.
type loader struct {
	file     string
	doc      *Document
	lookup   func(string) (string, bool)
	env      string              // the selected environment, "" for none
	envNodes map[*yaml.Node]bool // nodes merged in from the selected environment
	// interpolated holds scalars that ${VAR} expansion changed; a quoted
	// one may still fill a number or boolean, since in flow style
	// ("{ main: "${PORT}" }") the quotes are needed for YAML, not for type.
	interpolated map[*yaml.Node]bool
	expanded     int  // bytes of scalars ${VAR} expansion produced so far
	expandedOver bool // the MaxExpandedBytes budget ran out
}

func (l *loader) add(p Problem) { l.doc.Problems = append(l.doc.Problems, p) }

func (l *loader) pos(n *yaml.Node) Position {
	return Position{File: l.file, Line: n.Line, Column: n.Column}
}

// isParserContextError reports whether msg is one of the yaml.v3 parser
// errors whose line is 0-based.
func isParserContextError(msg string) bool {
	switch msg {
	case "did not find expected ',' or ']'",
		"did not find expected ',' or '}'",
		"did not find expected key",
		"did not find expected node content",
		"did not find expected '-' indicator",
		"did not find expected <document start>":
		return true
	}
	return false
}

// yamlLineErr splits a yaml.v3 error into its line and message. It is
// compiled on first use, not at package init (issue 12).
var yamlLineErr = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)
})

func (l *loader) run(data []byte, env string) error {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			l.add(problemf(SeverityInvalid, "yaml-empty", "", Position{File: l.file}, "the file is empty; it needs at least domain"))
			return nil
		}
		l.add(l.syntaxProblem(err))
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.add(problemf(SeverityInvalid, "yaml-multi-document", "", l.pos(&extra),
			"a second YAML document starts here; the configuration is one document"))
		return nil
	} else if !errors.Is(err, io.EOF) {
		l.add(l.syntaxProblem(err))
		return nil
	}

	top := &root
	if top.Kind == yaml.DocumentNode {
		if len(top.Content) == 0 {
			l.add(problemf(SeverityInvalid, "yaml-empty", "", Position{File: l.file}, "the file is empty; it needs at least domain"))
			return nil
		}
		top = top.Content[0]
	}
	if top.Kind == yaml.ScalarNode && top.ShortTag() == "!!null" {
		l.add(problemf(SeverityInvalid, "yaml-empty", "", Position{File: l.file}, "the file is empty; it needs at least domain"))
		return nil
	}
	expanded, err := expandAliases(top, aliasBudget(top))
	if err != nil {
		l.add(problemf(SeverityInvalid, "yaml-alias", "", l.pos(top), "%v", err))
		return nil
	}
	top = expanded
	if top.Kind != yaml.MappingNode {
		l.add(problemf(SeverityInvalid, "type", "", l.pos(top), "the configuration must be a mapping of keys, not %s", describe(top)))
		return nil
	}

	l.interpolate(top, "")
	s := &schemaWalker{l: l}
	s.check(top, configType, "")

	if env != "" {
		if err := l.mergeEnvironment(top, env); err != nil {
			return err
		}
	}
	l.recordSources(top, env)
	l.doc.root = top

	if err := top.Decode(&l.doc.Config); err != nil {
		// The schema walk removes everything the decoder would refuse, so
		// this is a safety net: keep the decoder's words, located by line.
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				l.add(l.syntaxProblem(errors.New("yaml: " + msg)))
			}
		} else {
			l.add(l.syntaxProblem(err))
		}
	}
	for k, f := range l.doc.Config.Features {
		f.Index()
		l.doc.Config.Features[k] = f
	}
	return nil
}

func (l *loader) syntaxProblem(err error) Problem {
	msg := err.Error()
	pos := Position{File: l.file}
	if m := yamlLineErr().FindStringSubmatch(msg); m != nil {
		if m[1] != "" {
			pos.Line, _ = strconv.Atoi(m[1])
			if isParserContextError(m[2]) {
				// yaml.v3 reports these at the 0-based line where the
				// enclosing collection starts; make it 1-based.
				pos.Line++
				m[2] += " (in the collection that starts on this line)"
			}
		}
		msg = m[2]
	}
	return problemf(SeverityInvalid, "yaml-syntax", "", pos, "YAML syntax: %s", msg)
}

// Environments lists the environment names the file declares, sorted.
func (d *Document) Environments() []string {
	names := make([]string, 0, len(d.Config.Cloudflare.Environments))
	for n := range d.Config.Cloudflare.Environments {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Source returns where the value at the dotted path came from. Values the
// file does not set come from LayerDefault.
func (d *Document) Source(path string) Source {
	if s, ok := d.sources[path]; ok {
		return s
	}
	return Source{Layer: LayerDefault}
}

// Shadowed returns the sources a value overrides, nearest first: the file
// value under an environment's, and the default under either.
//
// A value inside a list that an environment replaced shadows the list it
// replaced.
func (d *Document) Shadowed(path string) []Source {
	out := append([]Source(nil), d.shadowed[path]...)
	if len(out) == 0 {
		for p := parentPath(path); p != ""; p = parentPath(p) {
			if s, ok := d.shadowed[p]; ok {
				out = append(out, s...)
				break
			}
		}
	}
	if d.Source(path).Layer != LayerDefault {
		if _, ok := defaultLeaves()[path]; ok {
			out = append(out, Source{Layer: LayerDefault})
		}
	}
	return out
}

// Pos returns the position of path, or of its nearest ancestor that was
// written in the file, or just the file name.
func (d *Document) Pos(path string) Position {
	for p := path; p != ""; p = parentPath(p) {
		if s, ok := d.sources[p]; ok {
			return s.Pos
		}
	}
	return Position{File: d.File}
}

// Dir is the directory of the configuration file; relative paths in it
// (ssl.certPath, ssl.keyPath) are resolved against it.
func (d *Document) Dir() string { return d.dir }

// parentPath strips the last element of a dotted path: a.b[2] -> a.b, a.b -> a.
func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case '.':
			return p[:i]
		case '[':
			return p[:i]
		}
	}
	return ""
}
