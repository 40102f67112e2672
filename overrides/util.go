package overrides

import (
	"errors"

	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/objstore"
)

// isNotFound reports a referenced value that does not exist (yet) in its store.
func isNotFound(err error) bool {
	return errors.Is(err, kvstore.ErrNotFound) || errors.Is(err, objstore.ErrNotFound)
}
