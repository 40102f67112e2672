package deploy

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/factory-wager/edgeconf/bundle"
	"github.com/factory-wager/edgeconf/config"
)

// PrepareOptions are the inputs of Prepare.
type PrepareOptions struct {
	Doc *config.Document // the configuration, its --env merged
	API API
	// SecretAvailable reports whether a value for a declared secret is at
	// hand; nil means none is.
	SecretAvailable func(name string) bool
	Logger          *slog.Logger // optional
}

// Prepared is a deploy worked out and not yet carried out.
type Prepared struct {
	Spec  Spec
	State State
	Plan  Plan
}

// Prepare builds the Worker in memory, reads what the account has and
// computes the plan. It changes nothing.
func Prepare(ctx context.Context, o PrepareOptions) (*Prepared, error) {
	if f := o.Doc.Fatal(); len(f) > 0 {
		return nil, fmt.Errorf("the configuration cannot be read: %v (run edgeconf validate)", f[0].Error())
	}
	bo, err := bundle.FromDocument(o.Doc)
	if err != nil {
		return nil, err
	}
	bo.Logger = o.Logger
	res, err := bundle.Build(bo)
	if err != nil {
		return nil, fmt.Errorf("build the Worker: %w", err)
	}
	spec, err := SpecFrom(o.Doc, res.Script)
	if err != nil {
		return nil, err
	}
	st, err := Observe(ctx, o.API, spec)
	if err != nil {
		return nil, fmt.Errorf("read what the account has: %w", err)
	}
	return &Prepared{Spec: spec, State: st, Plan: Compute(spec, st, PlanOptions{SecretAvailable: o.SecretAvailable})}, nil
}
