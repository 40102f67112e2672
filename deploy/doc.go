// Package deploy deploys the Worker the configuration describes.
//
// A deploy is computed before anything changes: Spec is what the
// configuration and the built bundle want (SpecFrom), State is what the
// account has for it (Observe, read-only), and Compute diffs the two into a
// Plan of changes — resources to create or adopt, bindings, variables,
// compatibility settings, code, secrets, Durable Object migrations, routes,
// custom domains and DNS records — each marked when it is destructive or
// touches something edgeconf does not own. Compute is a pure function, so
// the plan `edgeconf deploy --plan` prints is the plan a deploy carries out.
package deploy
