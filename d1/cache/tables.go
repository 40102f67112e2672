package cache

import (
	"strings"
	"unicode"
)

// Access is what a statement reads and writes, as far as a lexical scan
// can tell.
type Access struct {
	// Cacheable: a read-only statement whose result depends only on the
	// tables in Reads (no clock, no randomness, no schema tables).
	Cacheable bool
	Reads     []string // lower-case table names after FROM and JOIN
	Writes    []string // lower-case tables written
	// WritesAll: a statement this scan cannot place (PRAGMA, triggers,
	// ATTACH, VACUUM, unknown forms): it invalidates every cached query.
	WritesAll bool
}

// The word lists are switches rather than maps so that the package does
// no work at init (issue 12).

// volatile reports whether a word makes a query's result change between
// runs.
func volatile(word string) bool {
	switch word {
	case "RANDOM", "RANDOMBLOB", "CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME",
		"CHANGES", "TOTAL_CHANGES", "LAST_INSERT_ROWID", "'NOW'":
		return true
	}
	return false
}

// writeWord reports whether a word makes a statement write.
func writeWord(word string) bool {
	switch word {
	case "INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP",
		"ALTER", "RETURNING", "PRAGMA", "ATTACH", "DETACH", "VACUUM", "REINDEX", "ANALYZE":
		return true
	}
	return false
}

// clauseEnd reports whether a token ends a FROM list.
func clauseEnd(tok string) bool {
	switch tok {
	case "WHERE", "GROUP", "ORDER", "LIMIT", "HAVING", "WINDOW", "UNION",
		"EXCEPT", "INTERSECT", "ON", "USING", "SET", "VALUES", "SELECT",
		"JOIN", "LEFT", "RIGHT", "INNER", "CROSS", "NATURAL", "FULL", "OUTER",
		"AS", "INDEXED", "NOT", ")", "(", ";", "RETURNING":
		return true
	}
	return false
}

type token struct {
	text  string // upper-cased for words; quoted identifiers keep their case, unquoted
	ident bool   // a bare word or a quoted identifier
	str   bool   // a string literal
}

// tokenize splits SQL into words, quoted identifiers, string literals and
// punctuation, dropping comments.
func tokenize(sql string) []token {
	var out []token
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				i = len(sql)
			} else {
				i += end + 4
			}
		case c == '\'' || c == '"' || c == '`' || c == '[':
			q := c
			if q == '[' {
				q = ']'
			}
			j := i + 1
			for j < len(sql) && sql[j] != q {
				j++
			}
			body := sql[min(i+1, len(sql)):min(j, len(sql))]
			if c == '\'' {
				out = append(out, token{text: "'" + strings.ToUpper(body) + "'", str: true})
			} else {
				out = append(out, token{text: body, ident: true})
			}
			i = j + 1
		case c == '_' || unicode.IsLetter(rune(c)) || c >= 0x80:
			j := i
			for j < len(sql) && (sql[j] == '_' || sql[j] == '$' || sql[j] >= 0x80 || unicode.IsLetter(rune(sql[j])) || unicode.IsDigit(rune(sql[j]))) {
				j++
			}
			out = append(out, token{text: strings.ToUpper(sql[i:j]), ident: true})
			i = j
		case unicode.IsSpace(rune(c)):
			i++
		default:
			out = append(out, token{text: string(c)})
			i++
		}
	}
	return out
}

// name reads a possibly schema-qualified table name at toks[i] and
// returns it lower-cased and the index after it.
func name(toks []token, i int) (string, int) {
	if i >= len(toks) || !toks[i].ident {
		return "", i
	}
	n := toks[i].text
	i++
	if i+1 < len(toks) && toks[i].text == "." && toks[i+1].ident {
		n = toks[i+1].text
		i += 2
	}
	return strings.ToLower(n), i
}

// Classify scans one statement.
func Classify(sql string) Access {
	toks := tokenize(sql)
	if len(toks) == 0 {
		return Access{WritesAll: true}
	}
	var a Access
	write := false
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.ident && writeWord(t.text) {
			write = true
		}
		if t.ident && (t.text == "FROM" || t.text == "JOIN") {
			j := i + 1
			for j < len(toks) {
				if toks[j].text == "(" {
					break // a subquery: its own FROM is scanned in turn
				}
				n, k := name(toks, j)
				if n == "" || clauseEnd(toks[j].text) {
					break
				}
				a.Reads = append(a.Reads, n)
				j = k
				// skip an alias
				if j < len(toks) && toks[j].ident && toks[j].text == "AS" {
					j++
				}
				if j < len(toks) && toks[j].ident && !clauseEnd(toks[j].text) {
					j++
				}
				if j < len(toks) && toks[j].text == "," && t.text == "FROM" {
					j++
					continue
				}
				break
			}
		}
	}
	first := toks[0].text
	if !write && (first == "SELECT" || first == "WITH" || first == "VALUES") {
		a.Cacheable = true
		for _, t := range toks {
			if volatile(t.text) {
				a.Cacheable = false
			}
		}
		for _, r := range a.Reads {
			if strings.HasPrefix(r, "sqlite_") || r == "pragma_table_info" {
				a.Cacheable = false
			}
		}
		a.Reads = dedupe(a.Reads)
		return a
	}
	a.Reads = dedupe(a.Reads)
	a.Writes = writes(toks)
	if a.Writes == nil {
		a.WritesAll = true
	}
	return a
}

// writes finds the table a write statement changes, or nil when it
// cannot tell.
func writes(toks []token) []string {
	i := 0
	if toks[0].text == "WITH" {
		// WITH … INSERT/UPDATE/DELETE: find the statement's verb at depth 0.
		depth := 0
		for i = 1; i < len(toks); i++ {
			switch toks[i].text {
			case "(":
				depth++
			case ")":
				depth--
			case "INSERT", "UPDATE", "DELETE", "REPLACE":
				if depth == 0 {
					goto verb
				}
			}
		}
		return nil
	}
verb:
	at := func(j int, words ...string) int {
		for _, w := range words {
			if j >= len(toks) || toks[j].text != w {
				return -1
			}
			j++
		}
		return j
	}
	skipOr := func(j int) int {
		if k := at(j, "OR"); k > 0 {
			return k + 1
		}
		return j
	}
	var n string
	switch toks[i].text {
	case "INSERT", "REPLACE":
		j := skipOr(i + 1)
		if k := at(j, "INTO"); k > 0 {
			n, _ = name(toks, k)
		}
	case "UPDATE":
		n, _ = name(toks, skipOr(i+1))
	case "DELETE":
		if k := at(i+1, "FROM"); k > 0 {
			n, _ = name(toks, k)
		}
	case "CREATE", "DROP", "ALTER":
		j := i + 1
		for j < len(toks) && (toks[j].text == "TEMP" || toks[j].text == "TEMPORARY" || toks[j].text == "UNIQUE" || toks[j].text == "VIRTUAL") {
			j++
		}
		switch {
		case at(j, "TABLE") > 0:
			j++
			if k := at(j, "IF", "NOT", "EXISTS"); k > 0 {
				j = k
			} else if k := at(j, "IF", "EXISTS"); k > 0 {
				j = k
			}
			n, _ = name(toks, j)
		case at(j, "INDEX") > 0 && toks[i].text == "CREATE":
			for ; j < len(toks); j++ {
				if toks[j].text == "ON" {
					n, _ = name(toks, j+1)
					break
				}
			}
		case at(j, "INDEX") > 0 || at(j, "VIEW") > 0:
			return []string{} // no table's rows change
		}
	}
	if n == "" {
		return nil
	}
	return []string{n}
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
