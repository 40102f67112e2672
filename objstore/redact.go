package objstore

import (
	"errors"
	"net/url"
)

// RedactURL returns raw without its query string, fragment and user
// information. Presigned URLs carry their signature in the query, and Go's
// *url.Error prints the whole URL (reliability case R2-6), so any URL that
// may be presigned goes through RedactURL before it reaches an error
// message or a log.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// RedactError removes the query strings and user information from the
// URLs of every *url.Error in err's chain, in place, and returns err, so
// that a failed request to a presigned URL can be reported without its
// signature. errors.Is and errors.As keep working on the result. Call it
// before wrapping err with fmt.Errorf, which formats its message at once;
// the error types of net/http and the AWS SDK format theirs when asked.
func RedactError(err error) error {
	var walk func(error)
	walk = func(e error) {
		for e != nil {
			if ue, ok := e.(*url.Error); ok {
				ue.URL = RedactURL(ue.URL)
			}
			switch x := e.(type) {
			case interface{ Unwrap() []error }:
				for _, inner := range x.Unwrap() {
					walk(inner)
				}
				return
			default:
				e = errors.Unwrap(e)
			}
		}
	}
	walk(err)
	return err
}
