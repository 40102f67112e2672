package overrides

import (
	"errors"

	"github.com/factory-wager/edgeconf/kvstore"
)

func isNotFound(err error) bool { return errors.Is(err, kvstore.ErrNotFound) }
