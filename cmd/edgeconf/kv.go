package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/target"
)

type kvOptions struct {
	Binding string
	g       *globalOptions
}

func newKVCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &kvOptions{g: g}
	cmd := &cobra.Command{
		Use:   "kv",
		Short: "Read and write KV namespaces directly (Workers KV semantics and limits)",
		Long: `Kv reads and writes a KV namespace of the local state folder
($EDGECONF_STATE_DIR, else .edgeconf beside the configuration) with the rules of Workers KV: keys up
to 512 bytes, values up to 25 MiB, metadata a JSON object up to 1024 bytes,
TTL at least 60 s. Bulk files use wrangler's format:
[{"key": ..., "value": ..., "expiration_ttl": ..., "metadata": {...}}].

With --remote the namespace is the binding's on Cloudflare, found in the
configuration (cloudflare.kvNamespaces id, else title) or, for CONFIG, in
KV_NAMESPACE_ID. Remote bulk writes go in batches of at most 10,000 pairs and
re-send only the keys Cloudflare reports as unsuccessful.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&o.Binding, "binding", configBinding, "the namespace's binding name")
	g.target.add(cmd.PersistentFlags())
	cmd.AddCommand(newKVGetCmd(d, o), newKVPutCmd(d, o), newKVListCmd(d, o), newKVDeleteCmd(d, o),
		newKVBulkPutCmd(d, o), newKVBulkDeleteCmd(d, o))
	return cmd
}

// withKV opens the namespace, says which it is, and runs fn.
func withKV(ctx context.Context, d *deps, o *kvOptions, write bool, fn func(kvstore.Store) error) error {
	if err := o.g.target.check(); err != nil {
		return err
	}
	var doc *config.Document
	if o.g.target.Remote {
		// The configuration maps bindings to namespaces; without one,
		// KV_NAMESPACE_ID still names CONFIG's.
		doc, _ = o.g.load(d)
	}
	ctx, cancel := o.g.target.context(ctx)
	defer cancel()
	st, err := openKV(ctx, targetOptions(d, o.g, doc, write), o.Binding)
	if err != nil {
		return err
	}
	defer st.close()
	printTarget(d, o.g, st.target)
	if err := fn(st.kv); err != nil {
		if _, ok := err.(*exitError); ok {
			return err
		}
		return &exitError{code: exitFailed, err: err}
	}
	return nil
}

func newKVGetCmd(d *deps, o *kvOptions) *cobra.Command {
	var withMeta bool
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Print a value (raw bytes), or with -o json a JSON object {key, value, metadata, expiration}",
		Long: `Get prints the value's bytes as they are stored (-o raw, the default), or
with -o json an object {key, value, metadata, expiration}, where value is
the text when it is valid UTF-8 and otherwise base64 with "base64": true.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			return withKV(cmd.Context(), d, o, false, func(s kvstore.Store) error {
				e, err := s.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if !withMeta && output.Value == "raw" {
					_, err = d.Stdout.Write(e.Value)
					return err
				}
				out := map[string]any{"key": e.Key, "metadata": e.Metadata}
				if utf8.Valid(e.Value) {
					out["value"] = string(e.Value)
				} else {
					out["value"], out["base64"] = base64.StdEncoding.EncodeToString(e.Value), true
				}
				if !e.Expiration.IsZero() {
					out["expiration"] = e.Expiration.Unix()
				}
				return writeJSONValue(d.Stdout, out)
			})
		},
	}
	output = addOutputFlag(cmd.Flags(), "raw", "json")
	cmd.Flags().BoolVar(&withMeta, "metadata", false, "the same as -o json")
	return cmd
}

func newKVPutCmd(d *deps, o *kvOptions) *cobra.Command {
	var (
		path, metadata string
		ttl            time.Duration
		expiration     int64
		output         *outputFlag
	)
	cmd := &cobra.Command{
		Use:   "put KEY [VALUE]",
		Short: "Write a value (from VALUE, --path FILE, or stdin)",
		Args:  usageArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			var value []byte
			var err error
			switch {
			case len(args) == 2 && path != "":
				return usageErrorf("give a VALUE or --path, not both")
			case len(args) == 2:
				value = []byte(args[1])
			case path != "":
				f, err := os.Open(path)
				if err != nil {
					return usageErrorf("%v", err)
				}
				value, err = kvstore.ReadValue(f)
				f.Close()
				if err != nil {
					return usageErrorf("%s: %v", path, err)
				}
			default:
				if value, err = kvstore.ReadValue(d.Stdin); err != nil {
					return usageErrorf("stdin: %v", err)
				}
			}
			opts := kvstore.PutOptions{TTL: ttl}
			if expiration != 0 {
				opts.Expiration = time.Unix(expiration, 0)
			}
			if metadata != "" {
				opts.Metadata = json.RawMessage(metadata)
			}
			return withKV(cmd.Context(), d, o, true, func(s kvstore.Store) error {
				if err := s.Put(cmd.Context(), args[0], value, opts); err != nil {
					// A broken limit (key name, TTL, metadata) is checked
					// before anything is sent: the arguments are wrong.
					if le := (*kvstore.LimitError)(nil); errors.As(err, &le) {
						return usageErrorf("%v", err)
					}
					return err
				}
				return output.result(d.Stdout, map[string]any{"key": args[0], "bytes": len(value), "written": true},
					"wrote %d bytes to %s", len(value), printable(args[0]))
			})
		},
	}
	output = addResultFlag(cmd.Flags())
	cmd.Flags().StringVar(&path, "path", "", "read the value from this file")
	cmd.Flags().StringVar(&metadata, "metadata", "", "a JSON object of at most 1024 bytes")
	dayDurationVar(cmd.Flags(), &ttl, "ttl", 0, "expire after this long (at least 60s; accepts days: 7d)")
	cmd.Flags().Int64Var(&expiration, "expiration", 0, "expire at this unix time (at least 60 s ahead)")
	return cmd
}

func newKVListCmd(d *deps, o *kvOptions) *cobra.Command {
	var prefix string
	var limit int
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List keys as JSON [{name, expiration, metadata}] (or a table with -o table), following every page",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			return withKV(cmd.Context(), d, o, false, func(s kvstore.Store) error {
				type key struct {
					Name       string          `json:"name"`
					Expiration int64           `json:"expiration,omitempty"`
					Metadata   json.RawMessage `json:"metadata,omitempty"`
				}
				out := []key{}
				write := func() error {
					if output.Value == "json" {
						return writeJSONValue(d.Stdout, out)
					}
					tw := tabwriter.NewWriter(d.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tEXPIRES\tMETADATA")
					for _, k := range out {
						exp := "-"
						if k.Expiration != 0 {
							exp = time.Unix(k.Expiration, 0).UTC().Format(time.RFC3339)
						}
						md := "-"
						if len(k.Metadata) > 0 {
							md = string(k.Metadata) // JSON: control characters are escaped
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\n", printable(k.Name), exp, md)
					}
					return tw.Flush()
				}
				cursor := ""
				for {
					page, err := s.List(cmd.Context(), kvstore.ListOptions{Prefix: prefix, Cursor: cursor})
					if err != nil {
						return err
					}
					for _, k := range page.Keys {
						if limit > 0 && len(out) == limit {
							return write()
						}
						var exp int64
						if !k.Expiration.IsZero() {
							exp = k.Expiration.Unix()
						}
						out = append(out, key{Name: k.Name, Expiration: exp, Metadata: k.Metadata})
					}
					if page.Cursor == "" {
						return write()
					}
					cursor = page.Cursor
				}
			})
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "", "only keys that start with this")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many keys (default all)")
	output = addOutputFlag(cmd.Flags(), "json", "table")
	return cmd
}

func newKVDeleteCmd(d *deps, o *kvOptions) *cobra.Command {
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "delete KEY",
		Short: "Delete a key (deleting a missing key is not an error, as in Workers KV)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			return withKV(cmd.Context(), d, o, true, func(s kvstore.Store) error {
				if err := s.Delete(cmd.Context(), args[0]); err != nil {
					return err
				}
				return output.result(d.Stdout, map[string]any{"key": args[0], "deleted": true}, "deleted %s", printable(args[0]))
			})
		},
	}
	output = addResultFlag(cmd.Flags())
	return cmd
}

// progress is a bar on stderr when it is a terminal, and nothing otherwise.
func progress(d *deps, total int, what string) *progressbar.ProgressBar {
	if !d.IsTerminal(d.Stderr) {
		return progressbar.DefaultSilent(int64(total), what)
	}
	return progressbar.NewOptions(total, progressbar.OptionSetWriter(d.Stderr), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
}

func newKVBulkPutCmd(d *deps, o *kvOptions) *cobra.Command {
	var resume bool
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "bulk-put FILE",
		Short: "Write the pairs of a wrangler bulk file, in batches of at most 10,000",
		Long: `Bulk-put writes the pairs of a wrangler bulk file in batches of at most
10,000. With --remote each finished batch is recorded in a checkpoint in the
state folder; if the write is interrupted, run the same command with
--resume to send only the batches not yet written (the checkpoint is refused
if the file changed). Without --resume a write starts over.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			pairs, err := readFile(args[0], kvstore.ReadBulkFile)
			if err != nil {
				return err
			}
			return withKV(cmd.Context(), d, o, true, func(s kvstore.Store) error {
				bar := progress(d, len(pairs), "writing")
				defer bar.Finish()
				opts := target.BulkOptions{
					Checkpoint: target.CheckpointPath(stateDir(d), o.Binding, args[0]),
					Resume:     resume,
					Progress:   func(done, _ int) { _ = bar.Set(done) },
				}
				if err := target.BulkPut(cmd.Context(), s, pairs, opts); err != nil {
					return err
				}
				return output.result(d.Stdout, map[string]any{"written": len(pairs)}, "wrote %d pairs", len(pairs))
			})
		},
	}
	output = addResultFlag(cmd.Flags())
	cmd.Flags().BoolVar(&resume, "resume", false, "with --remote: continue an interrupted write of the same file from its checkpoint")
	return cmd
}

func newKVBulkDeleteCmd(d *deps, o *kvOptions) *cobra.Command {
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "bulk-delete FILE",
		Short: "Delete the keys of a JSON file: [\"k1\", \"k2\"] or [{\"key\": ...}]",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			keys, err := readFile(args[0], kvstore.ReadBulkDeleteFile)
			if err != nil {
				return err
			}
			return withKV(cmd.Context(), d, o, true, func(s kvstore.Store) error {
				bar := progress(d, len(keys), "deleting")
				defer bar.Finish()
				// On Cloudflare one bulk request per 10,000 keys.
				if err := target.BulkDelete(cmd.Context(), s, keys, func(done, _ int) { _ = bar.Set(done) }); err != nil {
					return err
				}
				return output.result(d.Stdout, map[string]any{"deleted": len(keys)}, "deleted %d keys", len(keys))
			})
		},
	}
	output = addResultFlag(cmd.Flags())
	return cmd
}

// readFile parses the file at path with parse: a missing file is a usage
// error, a bad one fails the job.
func readFile[T any](path string, parse func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, usageErrorf("%v", err)
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		return zero, &exitError{code: exitFailed, err: fmt.Errorf("%s: %w", path, err)}
	}
	return v, nil
}
