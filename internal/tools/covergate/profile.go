package main

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// counts is the statement coverage of one package.
type counts struct {
	statements int
	covered    int
}

// parseProfile reads a coverage profile (the format of `go test
// -coverprofile`) and returns the statement counts per package import path.
// A block listed more than once (profiles of several test binaries
// concatenated) counts once, as covered if any listing ran it.
func parseProfile(r io.Reader) (map[string]*counts, error) {
	type block struct {
		pkg     string
		stmts   int
		covered bool
	}
	blocks := make(map[string]*block)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			if !strings.HasPrefix(text, "mode: ") {
				return nil, fmt.Errorf("line 1: %q is not a coverage profile header (want \"mode: ...\")", text)
			}
			continue
		}
		if text == "" {
			continue
		}
		// name.go:line.column,line.column numberOfStatements count
		fields := strings.Fields(text)
		if len(fields) != 3 {
			return nil, fmt.Errorf("line %d: %q: want \"file:range statements count\"", line, text)
		}
		colon := strings.LastIndexByte(fields[0], ':')
		if colon <= 0 {
			return nil, fmt.Errorf("line %d: %q: no file name before the block range", line, fields[0])
		}
		stmts, err := strconv.Atoi(fields[1])
		if err != nil || stmts < 0 {
			return nil, fmt.Errorf("line %d: statement count %q is not a non-negative integer", line, fields[1])
		}
		count, err := strconv.ParseUint(fields[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: execution count %q is not a non-negative integer", line, fields[2])
		}
		b := blocks[fields[0]]
		if b == nil {
			b = &block{pkg: path.Dir(fields[0][:colon]), stmts: stmts}
			blocks[fields[0]] = b
		}
		b.covered = b.covered || count > 0
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if line == 0 {
		return nil, fmt.Errorf("empty profile")
	}
	cov := make(map[string]*counts)
	for _, b := range blocks {
		c := cov[b.pkg]
		if c == nil {
			c = &counts{}
			cov[b.pkg] = c
		}
		c.statements += b.stmts
		if b.covered {
			c.covered += b.stmts
		}
	}
	return cov, nil
}
