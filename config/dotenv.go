package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/joho/godotenv"
)

// dotenvError replaces a .env parse error, whose text quotes the rest of
// the file from the broken line on (secrets included), by one that names
// only the file and the line.
func dotenvError(path string, err error) error {
	msg := err.Error()
	i := strings.LastIndex(msg, ` near "`)
	if i < 0 {
		if os.IsNotExist(err) || os.IsPermission(err) {
			return fmt.Errorf("read %s: %w", path, err)
		}
		return fmt.Errorf("read %s: malformed (want NAME=value lines; the text is not shown, it may hold secrets)", path)
	}
	reason := msg[:i]
	if strings.Contains(reason, "in variable name") {
		// godotenv names the character it stopped at (often the line
		// break after a name with a space in it); say what a line wants.
		reason = "not NAME=value (a name is letters, digits, _ and ., with no spaces, then =)"
	}
	line := 0
	if rest, uerr := strconv.Unquote(msg[i+len(" near "):]); uerr == nil {
		if data, rerr := os.ReadFile(path); rerr == nil && strings.HasSuffix(string(data), rest) {
			line = strings.Count(string(data[:len(data)-len(rest)]), "\n") + 1
		}
	}
	if line == 0 {
		return fmt.Errorf("read %s: %s (want NAME=value lines; the text is not shown, it may hold secrets)", path, reason)
	}
	return fmt.Errorf("read %s: line %d: %s (want NAME=value; the text is not shown, it may hold secrets)", path, line, reason)
}

// ReadDotEnv reads a file of NAME=value lines (a .env, a secrets file) of
// at most maxBytes (limitName names that limit in the error). Its errors
// name the file, the line and the limit, never the text: it may hold
// secrets.
func ReadDotEnv(path string, maxBytes int64, limitName string) (map[string]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file", path)
	}
	if st.Size() > maxBytes {
		return nil, fmt.Errorf("read %s: %d bytes is over the limit of %d (%s)", path, st.Size(), maxBytes, limitName)
	}
	vars, err := godotenv.Read(path)
	if err != nil {
		return nil, dotenvError(path, err)
	}
	return vars, nil
}
