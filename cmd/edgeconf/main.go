// Command edgeconf configures, checks and deploys the Quantum Terminal
// Dashboard on Cloudflare Workers. Run `edgeconf --help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
)

func main() {
	ctx, stop := interruptContext()
	d := &deps{
		Context:   ctx,
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
	code := run(d, os.Args[1:])
	stop()
	os.Exit(code)
}

// interruptContext is the context every command runs under: Ctrl-C
// (SIGINT) or SIGTERM cancels it, so that remote calls stop and servers
// shut down cleanly. Once it is cancelled, a second signal kills the
// process as usual.
func interruptContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	return ctx, stop
}
