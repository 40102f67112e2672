package refs

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Validator checks a resolved value.
type Validator func(value []byte) error

// validator returns the named check a crossReference or override may ask
// for; the names match config.Validators. A switch rather than a map, so
// the package does no work at init (issue 12).
func validator(name string) (Validator, bool) {
	switch name {
	case "json":
		return validJSON, true
	case "json-string-list":
		return validJSONStringList, true
	case "pem-certificate":
		return validPEMCertificate, true
	case "url":
		return validURL, true
	case "non-empty":
		return validNonEmpty, true
	case "number":
		return validNumber, true
	}
	return nil, false
}

// Check applies the validator named name ("" checks nothing).
func Check(name string, value []byte) error {
	if name == "" {
		return nil
	}
	v, ok := validator(name)
	if !ok {
		return fmt.Errorf("unknown validator %q", name)
	}
	if err := v(value); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func validJSON(b []byte) error {
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		return fmt.Errorf("not valid JSON (%v)", err)
	}
	return nil
}

func validJSONStringList(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err != nil || list == nil {
		return errors.New(`want a JSON array of strings, like ["a","b"]`)
	}
	for i, s := range list {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("item %d is empty", i)
		}
	}
	return nil
}

func validPEMCertificate(b []byte) error {
	rest := b
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d does not parse: %v", n+1, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("no PEM CERTIFICATE block")
	}
	return nil
}

func validURL(b []byte) error {
	s := string(bytes.TrimSpace(b))
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return errors.New("want an absolute URL such as https://example.com/path")
	}
	return nil
}

func validNonEmpty(b []byte) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return errors.New("the value is empty")
	}
	return nil
}

func validNumber(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return fmt.Errorf("%q is not a number", truncate(s, 40))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
