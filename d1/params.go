package d1

import "strconv"

// Placeholders returns how many parameters statement sql takes, as SQLite
// numbers them: each ? takes the next number after the largest so far,
// ?NNN takes NNN, and the count is the largest number. Text inside quotes
// ('…', "…", `…`, […]) and comments is skipped. It returns -1 when it
// cannot tell: named parameters (:name, @name, $name, which D1 does not
// bind) or an unterminated quote or comment.
func Placeholders(sql string) int {
	largest := 0
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; c {
		case '\'', '"', '`', '[':
			end := c
			if c == '[' {
				end = ']'
			}
			j := i + 1
			for j < len(sql) && sql[j] != end {
				j++
			}
			if j == len(sql) {
				return -1
			}
			i = j // a doubled quote ('') is two quoted runs: the same count
		case '-':
			if i+1 < len(sql) && sql[i+1] == '-' {
				for i < len(sql) && sql[i] != '\n' {
					i++
				}
			}
		case '/':
			if i+1 < len(sql) && sql[i+1] == '*' {
				j := i + 2
				for j+1 < len(sql) && !(sql[j] == '*' && sql[j+1] == '/') {
					j++
				}
				if j+1 >= len(sql) {
					return -1
				}
				i = j + 1
			}
		case '?':
			j := i + 1
			for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
				j++
			}
			if j == i+1 {
				largest++
			} else {
				n, err := strconv.Atoi(sql[i+1 : j])
				if err != nil || n < 1 || n > maxVariableNumber {
					return -1 // SQLite refuses it and says so
				}
				largest = max(largest, n)
			}
			i = j - 1
		case ':', '@', '$':
			if i+1 < len(sql) && isNameByte(sql[i+1]) && (i == 0 || !isNameByte(sql[i-1])) {
				return -1
			}
		}
	}
	return largest
}

// maxVariableNumber is SQLite's largest ?NNN (SQLITE_MAX_VARIABLE_NUMBER).
const maxVariableNumber = 32766

func isNameByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80
}
