package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"

	"github.com/spf13/pflag"
)

// outputFlag is the shared -o/--output flag: the formats a command
// accepts, the first being the default. New commands use addOutputFlag
// and call check before printing.
type outputFlag struct {
	Value   string
	formats []string
}

func addOutputFlag(fs *pflag.FlagSet, formats ...string) *outputFlag {
	o := &outputFlag{formats: formats}
	fs.StringVarP(&o.Value, "output", "o", formats[0], "output format: "+strings.Join(formats, " or "))
	return o
}

// check refuses a format the command does not print (a usage error).
func (o *outputFlag) check() error {
	if !slices.Contains(o.formats, o.Value) {
		return usageErrorf("unknown output format %q (want %s)", o.Value, strings.Join(o.formats, " or "))
	}
	return nil
}

// printable is s from storage with control characters (terminal escape
// sequences, tabs that would break a table) replaced by U+FFFD.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '\uFFFD'
		}
		return r
	}, s)
}

// addResultFlag adds -o table|json to a command whose output is one result:
// a line for people (table, the default) or a JSON object.
func addResultFlag(fs *pflag.FlagSet) *outputFlag { return addOutputFlag(fs, "table", "json") }

// result prints a command's result: text with -o table, v as JSON with -o json.
func (o *outputFlag) result(w io.Writer, v any, format string, args ...any) error {
	if o.Value == "json" {
		return writeJSONValue(w, v)
	}
	_, err := fmt.Fprintf(w, format+"\n", args...)
	return err
}
