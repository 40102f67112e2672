//go:build startupfloor

package main

import "os"

// With the startupfloor tag (built only by bench/validate.sh and
// bench/d1.sh) the binary exits as soon as package main is initialised:
// the runtime has started and every other package's init has run, main has
// not. Its run time is the floor every edgeconf command pays before doing
// any work of its own — the part the start-up goals cannot win back from
// edgeconf's code.
func init() { os.Exit(0) }
