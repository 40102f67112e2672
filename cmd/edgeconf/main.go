// Command edgeconf configures, checks and deploys the Quantum Terminal
// Dashboard on Cloudflare Workers. Run `edgeconf --help` for the commands.
package main

import (
	"os"
	"time"

	"github.com/mattn/go-isatty"
)

func main() {
	d := &deps{
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		LookupEnv: os.LookupEnv,
		Now:       time.Now,
		IsTerminal: func(f any) bool {
			file, ok := f.(*os.File)
			return ok && (isatty.IsTerminal(file.Fd()) || isatty.IsCygwinTerminal(file.Fd()))
		},
	}
	os.Exit(run(d, os.Args[1:]))
}
