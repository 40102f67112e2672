package d1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Part is one statement of a script and the line it starts on.
type Part struct {
	SQL  string
	Line int
}

// Split splits a script into statements at the semicolons that end them:
// not those inside quotes, identifiers, comments, or the BEGIN … END body
// of a CREATE TRIGGER. Statements holding only comments are dropped.
func Split(script string) []Part {
	sc := NewScanner(strings.NewReader(script), len(script)+1)
	var out []Part
	for sc.Scan() {
		out = append(out, sc.Part())
	}
	return out
}

// Scanner reads the statements of a script one at a time from a stream,
// as Split does, holding at most one statement in memory.
type Scanner struct {
	r    *bufio.Reader
	max  int
	line int
	part Part
	err  error
}

// NewScanner returns a Scanner of r that refuses statements longer than
// max bytes (0 means MaxStatementBytes).
func NewScanner(r io.Reader, max int) *Scanner {
	if max <= 0 {
		max = MaxStatementBytes
	}
	return &Scanner{r: bufio.NewReaderSize(r, 64<<10), max: max, line: 1}
}

// Part returns the statement the last Scan read.
func (s *Scanner) Part() Part { return s.part }

// Err returns the error that stopped Scan, nil at the end of the stream.
func (s *Scanner) Err() error { return s.err }

// Scan reads the next statement; it returns false at the end of the
// stream or on an error (see Err).
func (s *Scanner) Scan() bool {
	if s.err != nil {
		return false
	}
	var b strings.Builder
	start := 0 // line of the statement's first code
	code := false
	var word strings.Builder // the current bare word, upper-cased
	var words []string       // the statement's first words, and its last one
	last := ""
	depth := 0 // trigger body: BEGIN … END
	endWord := func() {
		if word.Len() == 0 {
			return
		}
		w := word.String()
		word.Reset()
		if len(words) < 4 {
			words = append(words, w)
		}
		if isTrigger(words) {
			switch w {
			case "BEGIN", "CASE":
				depth++
			case "END":
				if depth > 0 {
					depth--
				}
			}
		}
		last = w
	}
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			endWord()
			if !errors.Is(err, io.EOF) {
				s.err = err
				return false
			}
			if code {
				s.part = Part{SQL: strings.TrimSpace(b.String()), Line: start}
				return true
			}
			return false
		}
		if b.Len() >= s.max {
			s.err = &LimitError{Limit: "MaxStatementBytes", Statement: -1, Msg: fmt.Sprintf("the statement starting on line %d is longer than %d bytes", start, s.max)}
			return false
		}
		switch {
		case c == '\'' || c == '"' || c == '`' || c == '[':
			endWord()
			if !code {
				code, start = true, s.line
			}
			q := c
			if q == '[' {
				q = ']'
			}
			b.WriteByte(c)
			for {
				d, err := s.r.ReadByte()
				if err != nil {
					s.err = fmt.Errorf("line %d: unterminated %c", s.line, c)
					if errors.Is(err, io.EOF) {
						return false
					}
					s.err = err
					return false
				}
				if b.Len() >= s.max {
					s.err = &LimitError{Limit: "MaxStatementBytes", Statement: -1, Msg: fmt.Sprintf("the statement starting on line %d is longer than %d bytes", start, s.max)}
					return false
				}
				b.WriteByte(d)
				if d == '\n' {
					s.line++
				}
				if d == q {
					break
				}
			}
			last = ""
		case c == '-' && s.peek('-'):
			endWord()
			for {
				d, err := s.r.ReadByte()
				if err != nil || d == '\n' {
					if err == nil {
						s.line++
						if code {
							b.WriteByte('\n')
						}
					}
					break
				}
			}
		case c == '/' && s.peek('*'):
			endWord()
			s.r.ReadByte()
			prev := byte(0)
			for {
				d, err := s.r.ReadByte()
				if err != nil {
					break
				}
				if d == '\n' {
					s.line++
				}
				if prev == '*' && d == '/' {
					break
				}
				prev = d
			}
			if code {
				b.WriteByte(' ')
			}
		case c == ';':
			endWord()
			if depth > 0 || (isTrigger(words) && last != "END") {
				b.WriteByte(c)
				continue
			}
			if code {
				s.part = Part{SQL: strings.TrimSpace(b.String()), Line: start}
				return true
			}
			b.Reset()
			words, last, depth = nil, "", 0
		default:
			if c == '\n' {
				s.line++
			}
			if unicode.IsSpace(rune(c)) || c == '(' || c == ')' || c == ',' {
				endWord()
			} else {
				word.WriteByte(byte(unicode.ToUpper(rune(c))))
			}
			if !unicode.IsSpace(rune(c)) && !code {
				code, start = true, s.line
			}
			if code {
				b.WriteByte(c)
			}
		}
	}
}

func (s *Scanner) peek(c byte) bool {
	b, err := s.r.Peek(1)
	return err == nil && b[0] == c
}

// isTrigger reports whether a statement's first words create a trigger,
// whose body holds semicolons up to its END.
func isTrigger(words []string) bool {
	if len(words) < 2 || words[0] != "CREATE" {
		return false
	}
	for _, w := range words[1:] {
		if w == "TRIGGER" {
			return true
		}
		if w != "TEMP" && w != "TEMPORARY" {
			return false
		}
	}
	return false
}
