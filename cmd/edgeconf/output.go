package main

import (
	"fmt"
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

func (o *outputFlag) String() string { return fmt.Sprint(o.Value) }

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
