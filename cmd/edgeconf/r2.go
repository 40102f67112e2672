package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/internal/atomicfile"
	"github.com/factory-wager/edgeconf/objstore"
	"github.com/factory-wager/edgeconf/r2"
	"github.com/factory-wager/edgeconf/refs"
	"github.com/factory-wager/edgeconf/target"
)

// localR2BaseURL is where presigned URLs of local buckets point: the
// dashboard's address, under which a server mounts localfs.Handler for
// each bucket at /r2/BUCKET.
const localR2BaseURL = target.LocalR2BaseURL

// r2Options are the flags every r2 command shares.
type r2Options struct {
	RequesterPays bool
	g             *globalOptions // --local/--remote come from g.target
}

func newR2Cmd(d *deps, g *globalOptions) *cobra.Command {
	o := &r2Options{g: g}
	cmd := &cobra.Command{
		Use:   "r2",
		Short: "Read and write R2 objects: the local state folder, or R2 with --remote",
		Long: `r2 puts, gets, lists, deletes and presigns objects, addressed as wrangler
does: BUCKET/KEY, where BUCKET is a binding of cloudflare.r2Buckets (FILES) or
a bucket name (quantum-files).

--local (the default) keeps each bucket in $EDGECONF_STATE_DIR/r2/BUCKET
(default .edgeconf/r2/BUCKET beside the configuration). --remote talks to R2's S3 API at
$R2_ENDPOINT, else https://$CLOUDFLARE_ACCOUNT_ID.r2.cloudflarestorage.com,
with $R2_ACCESS_KEY_ID and $R2_SECRET_ACCESS_KEY. Objects larger than 16 MiB
go up in parallel 16 MiB parts, with retries; an interrupted upload of the
same file resumes. Every command says on stderr which bucket it used.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	g.target.add(cmd.PersistentFlags())
	cmd.PersistentFlags().Lookup("remote").Usage = "use R2 over its S3 API: needs R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY, and CLOUDFLARE_ACCOUNT_ID or R2_ENDPOINT (environment or .env)"
	cmd.PersistentFlags().Lookup("timeout").Usage = "with --remote: give up on R2 after this long, retries included"
	cmd.PersistentFlags().BoolVar(&o.RequesterPays, "requester-pays", false, "send x-amz-request-payer: requester (S3-compatible stores; R2 ignores it); set per binding with requesterPays")
	cmd.AddCommand(newR2PutCmd(d, g, o), newR2GetCmd(d, g, o), newR2ListCmd(d, g, o), newR2RemoveCmd(d, g, o), newR2PresignCmd(d, g, o))
	return cmd
}

// r2Bucket is an open bucket and what the commands say about it.
type r2Bucket struct {
	store  objstore.Store
	name   string // the bucket's name
	target string
	local  bool
}

func (b *r2Bucket) Close() error {
	if c, ok := b.store.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// r2Address splits BUCKET/KEY. needKey requires a non-empty key.
func r2Address(arg string, needKey bool) (bucket, key string, err error) {
	bucket, key, _ = strings.Cut(arg, "/")
	if bucket == "" {
		return "", "", usageErrorf("%q: expected BUCKET/KEY, where BUCKET is a binding or a bucket name", arg)
	}
	if needKey && key == "" {
		return "", "", usageErrorf("%q: expected BUCKET/KEY with a key after the slash", arg)
	}
	return bucket, key, nil
}

// r2BucketRef is a bucket as the command line names it.
type r2BucketRef struct {
	Name          string
	Binding       string // "" when the argument was a bucket name
	RequesterPays bool
}

// resolveBucket turns the BUCKET argument into a bucket name. An argument
// that can only be a binding is looked up in the configuration; one that
// is also a valid bucket name is used as a name when no binding matches
// (or there is no configuration file). A bucket name is never looked up,
// so `r2 --local` works without a configuration.
func resolveBucket(d *deps, g *globalOptions, arg string) (r2BucketRef, error) {
	validName := objstore.CheckBucketName(arg) == nil
	// What is not a JavaScript identifier cannot be a binding.
	if !config.IsIdentifier(arg) {
		if !validName {
			return r2BucketRef{}, usageErrorf("%q is neither a binding nor a bucket name: %v", arg, objstore.CheckBucketName(arg))
		}
		return r2BucketRef{Name: arg}, nil
	}
	path := g.configPath(d)
	doc, err := config.Load(path, config.LoadOptions{Env: g.Env, LookupEnv: d.LookupEnv})
	var problems config.Problems
	switch {
	case err == nil, errors.As(err, &problems) && doc != nil:
	case errors.Is(err, fs.ErrNotExist) && validName:
		return r2BucketRef{Name: arg}, nil
	case errors.Is(err, fs.ErrNotExist):
		return r2BucketRef{}, usageErrorf("%s looks like a binding, but %s does not exist to look it up in (pass -c FILE)", arg, path)
	default:
		return r2BucketRef{}, &exitError{code: exitUsage, err: err}
	}
	var bound []string
	for _, b := range doc.Config.Cloudflare.R2Buckets {
		if b.Binding != arg {
			bound = append(bound, b.Binding)
			continue
		}
		if err := objstore.CheckBucketName(b.Bucket); err != nil {
			return r2BucketRef{}, &exitError{code: exitFailed, err: fmt.Errorf("%s: r2 binding %s: %w", path, arg, err)}
		}
		return r2BucketRef{Name: b.Bucket, Binding: arg, RequesterPays: b.RequesterPays}, nil
	}
	if validName {
		return r2BucketRef{Name: arg}, nil
	}
	if len(bound) == 0 {
		bound = []string{"none"}
	}
	return r2BucketRef{}, usageErrorf("%s is not an r2 binding of %s (bindings: %s)", arg, path, strings.Join(bound, ", "))
}

// openR2 opens the bucket named by the BUCKET part of an argument and
// says which it is on stderr. baseURL is where local presigned URLs
// point ("" for the default).
func openR2(d *deps, g *globalOptions, o *r2Options, arg, baseURL string) (*r2Bucket, error) {
	if err := g.target.check(); err != nil {
		return nil, err
	}
	ref, err := resolveBucket(d, g, arg)
	if err != nil {
		return nil, err
	}
	ref.RequesterPays = ref.RequesterPays || o.RequesterPays
	b, err := openBucket(d, ref, g.target.Remote, baseURL)
	if err != nil {
		return nil, err
	}
	if ref.Binding != "" {
		b.target += " (binding " + ref.Binding + ")"
	}
	printTarget(d, g, b.target)
	if ref.RequesterPays {
		if s, ok := b.store.(*r2.Store); ok && s.IsR2() {
			fmt.Fprintf(d.Stderr, "edgeconf: warning: %s\n", r2.RequesterPaysWarning)
		}
	}
	return b, nil
}

// openBucket opens a local bucket folder or a remote bucket through the
// target package. baseURL is where local presigned URLs point ("" for the
// default).
func openBucket(d *deps, ref r2BucketRef, remote bool, baseURL string) (*r2Bucket, error) {
	opts := target.Options{ConfigPath: target.ConfigPath("", d.LookupEnv), LookupEnv: withStateDir(d.LookupEnv, stateDir(d)), Remote: remote, Now: d.Now}
	b, err := target.OpenBucket(opts, target.BucketRef(ref), baseURL)
	switch {
	case errors.Is(err, target.ErrUsage):
		return nil, &exitError{code: exitUsage, err: err}
	case err != nil:
		return nil, &exitError{code: exitFailed, err: err}
	}
	return &r2Bucket{store: b.Store, name: b.Name, target: b.Description, local: b.Local}, nil
}

// withStateDir answers EDGECONF_STATE_DIR with dir: the state folder this
// run resolved.
func withStateDir(lookup func(string) (string, bool), dir string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if name == target.EnvStateDir {
			return dir, true
		}
		return lookup(name)
	}
}

// failed marks an error of the job (exit 1) unless it already has a code.
func failed(err error) error {
	var ee *exitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	return &exitError{code: exitFailed, err: err}
}

// byteProgress is a byte-counting bar on stderr when it is a terminal,
// and nothing otherwise. total -1 shows a spinner.
func byteProgress(d *deps, total int64, what string) *progressbar.ProgressBar {
	if d.IsTerminal == nil || !d.IsTerminal(d.Stderr) {
		return progressbar.DefaultBytesSilent(total, what)
	}
	return progressbar.NewOptions64(total, progressbar.OptionSetWriter(d.Stderr), progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true), progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish(), progressbar.OptionSpinnerType(14))
}

func newR2PutCmd(d *deps, g *globalOptions, o *r2Options) *cobra.Command {
	var file, contentType string
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "put BUCKET/KEY [--file PATH]",
		Short: "Upload an object from --file, or from stdin",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			bucketArg, key, err := r2Address(args[0], true)
			if err != nil {
				return err
			}
			body, size, closeBody, err := putSource(d, file)
			if err != nil {
				return err
			}
			defer closeBody()
			b, err := openR2(d, g, o, bucketArg, "")
			if err != nil {
				return err
			}
			defer b.Close()
			if contentType == "" {
				contentType = mime.TypeByExtension(path.Ext(key))
			}
			ctx := cmd.Context()
			bar := byteProgress(d, size, "uploading")
			info, err := b.store.Put(ctx, key, body, size, objstore.PutOptions{
				ContentType: contentType,
				Progress:    func(n int64) { _ = bar.Set64(n) },
			})
			_ = bar.Finish()
			if err != nil {
				return failed(err)
			}
			return output.result(d.Stdout, map[string]any{"bucket": b.name, "key": key, "size": info.Size, "etag": info.ETag},
				"wrote %d bytes to %s/%s (ETag %s)", info.Size, b.name, printable(key), info.ETag)
		},
	}
	output = addResultFlag(cmd.Flags())
	cmd.Flags().StringVar(&file, "file", "", "read the object from this file (default stdin)")
	cmd.Flags().StringVar(&contentType, "content-type", "", "the object's content type (default: from the key's extension)")
	return cmd
}

// putSource opens what put uploads and says its size (-1 when unknown).
func putSource(d *deps, file string) (io.Reader, int64, func(), error) {
	if file == "" || file == "-" {
		size := int64(-1)
		if f, ok := d.Stdin.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
				if off, err := f.Seek(0, io.SeekCurrent); err == nil {
					size = st.Size() - off
				}
			}
		}
		return d.Stdin, size, func() {}, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, nil, usageErrorf("%v", err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, nil, usageErrorf("%s: not a regular file", file)
	}
	return f, st.Size(), func() { f.Close() }, nil
}

func newR2GetCmd(d *deps, g *globalOptions, o *r2Options) *cobra.Command {
	var file string
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "get BUCKET/KEY [--file PATH]",
		Short: "Download an object to --file, or to stdout",
		Long: `Get streams an object to stdout, or with --file to a file, which appears
only once the whole object arrived (a temporary file is renamed into place);
a large object is then read in 16 MiB ranges, four at a time, pinned to its
ETag. An object uploaded in one piece and read in one request is checked
against its MD5 ETag. With --file, -o json prints {bucket, key, size, file}.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			if output.Value == "json" && (file == "" || file == "-") {
				return usageErrorf("-o json describes a download to --file; without --file the object itself goes to stdout")
			}
			bucketArg, key, err := r2Address(args[0], true)
			if err != nil {
				return err
			}
			b, err := openR2(d, g, o, bucketArg, "")
			if err != nil {
				return err
			}
			defer b.Close()
			ctx := cmd.Context()
			if file != "" && file != "-" {
				n, err := saveFile(ctx, d, b.store, key, file)
				if err != nil {
					return failed(err)
				}
				return output.result(d.Stdout, map[string]any{"bucket": b.name, "key": key, "size": n, "file": file},
					"wrote %d bytes to %s", n, file)
			}
			body, info, err := b.store.Get(ctx, key, objstore.GetOptions{})
			if err != nil {
				return failed(err)
			}
			defer body.Close()
			bar := byteProgress(d, info.Size, "downloading")
			defer bar.Finish()
			_, err = copyChecked(d.Stdout, io.TeeReader(body, bar), info)
			return failed(err)
		},
	}
	output = addResultFlag(cmd.Flags())
	cmd.Flags().StringVar(&file, "file", "", "write the object to this file (default stdout)")
	return cmd
}

// copyChecked copies an object's bytes and, when its ETag is a plain MD5
// (it was uploaded in one piece), checks them against it.
func copyChecked(w io.Writer, r io.Reader, info objstore.ObjectInfo) (int64, error) {
	var h hash.Hash
	if len(info.ETag) == 32 && !strings.Contains(info.ETag, "-") {
		h = md5.New()
		w = io.MultiWriter(w, h)
	}
	n, err := io.Copy(w, r)
	if err != nil {
		return n, fmt.Errorf("get %q: %w", info.Key, err)
	}
	if n != info.Size {
		return n, fmt.Errorf("get %q: received %d bytes of %d", info.Key, n, info.Size)
	}
	if h != nil && hex.EncodeToString(h.Sum(nil)) != info.ETag {
		return n, fmt.Errorf("get %q: the bytes received do not match the ETag %s", info.Key, info.ETag)
	}
	return n, nil
}

// saveFile downloads the object into a temporary file beside path and
// renames it into place once it is complete and checked. A symbolic link,
// a device or any other non-regular file at path is refused, not replaced.
func saveFile(ctx context.Context, d *deps, s objstore.Store, key, path string) (int64, error) {
	if err := atomicfile.CheckTarget(path); err != nil {
		return 0, &exitError{code: exitUsage, err: fmt.Errorf("--file: %w", err)}
	}
	var bar *progressbar.ProgressBar
	var size int64
	started := false
	err := atomicfile.Write(path, 0o600, func(f *os.File) error {
		started = true
		info, err := objstore.Download(ctx, s, key, f, objstore.DownloadOptions{Progress: func(n, total int64) {
			if bar == nil {
				bar = byteProgress(d, total, "downloading")
			}
			_ = bar.Set64(n)
		}})
		size = info.Size
		return err
	})
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil && !started { // the temporary file could not be created: a bad --file
		return 0, &exitError{code: exitUsage, err: err}
	}
	if err != nil {
		return 0, err
	}
	return size, nil
}

// r2Entry is one line of `r2 ls -o json`.
type r2Entry struct {
	Key          string `json:"key"`
	Size         int64  `json:"size"`
	ETag         string `json:"etag"`
	LastModified string `json:"lastModified"`
}

func newR2ListCmd(d *deps, g *globalOptions, o *r2Options) *cobra.Command {
	var output string
	var recursive bool
	cmd := &cobra.Command{
		Use:   "ls BUCKET[/PREFIX] [-o json]",
		Short: "List objects one level deep (like a folder), or all with --recursive",
		Long: `Ls lists the objects whose keys start with PREFIX. Without --recursive,
keys with a "/" after the prefix are rolled up into one folder-like entry
ending in "/", as aws s3 ls does.

-o json prints {"objects": [{"key", "size", "etag", "lastModified"}],
"prefixes": ["folder/", ...]}, with lastModified in RFC 3339.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return usageErrorf("-o %s: use table or json", output)
			}
			bucketArg, prefix, err := r2Address(args[0], false)
			if err != nil {
				return err
			}
			b, err := openR2(d, g, o, bucketArg, "")
			if err != nil {
				return err
			}
			defer b.Close()
			lo := objstore.ListOptions{Prefix: prefix}
			if !recursive {
				lo.Delimiter = "/"
			}
			res, err := objstore.ListAll(cmd.Context(), b.store, lo)
			if err != nil {
				return failed(err)
			}
			if output == "json" {
				out := struct {
					Objects  []r2Entry `json:"objects"`
					Prefixes []string  `json:"prefixes"`
				}{Objects: []r2Entry{}, Prefixes: append([]string{}, res.Prefixes...)}
				for _, obj := range res.Objects {
					out.Objects = append(out.Objects, r2Entry{Key: obj.Key, Size: obj.Size, ETag: obj.ETag, LastModified: obj.LastModified.UTC().Format(time.RFC3339)})
				}
				return writeJSONValue(d.Stdout, out)
			}
			return writeR2Table(d.Stdout, res)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "list every key under the prefix, not one level")
	return cmd
}

func writeR2Table(w io.Writer, res objstore.ListResult) error {
	type row struct{ key, size, modified string }
	rows := make([]row, 0, len(res.Objects)+len(res.Prefixes))
	for _, p := range res.Prefixes {
		rows = append(rows, row{p, "-", "-"})
	}
	for _, obj := range res.Objects {
		rows = append(rows, row{obj.Key, fmt.Sprint(obj.Size), obj.LastModified.UTC().Format(time.RFC3339)})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].key < rows[j].key })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSIZE\tLAST MODIFIED")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.key, r.size, r.modified)
	}
	return tw.Flush()
}

func newR2RemoveCmd(d *deps, g *globalOptions, o *r2Options) *cobra.Command {
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "rm BUCKET/KEY",
		Short: "Delete an object (deleting a missing key is not an error, as on R2)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			bucketArg, key, err := r2Address(args[0], true)
			if err != nil {
				return err
			}
			b, err := openR2(d, g, o, bucketArg, "")
			if err != nil {
				return err
			}
			defer b.Close()
			if err := b.store.Delete(cmd.Context(), key); err != nil {
				return failed(err)
			}
			return output.result(d.Stdout, map[string]any{"bucket": b.name, "key": key, "deleted": true},
				"deleted %s/%s", b.name, printable(key))
		},
	}
	output = addResultFlag(cmd.Flags())
	return cmd
}

func newR2PresignCmd(d *deps, g *globalOptions, o *r2Options) *cobra.Command {
	var (
		expires time.Duration
		method  string
		baseURL string
		output  *outputFlag
	)
	cmd := &cobra.Command{
		Use:   "presign BUCKET/KEY [--expires 1h]",
		Short: "Print a URL that allows one request on an object without credentials",
		Long: `Presign prints a URL that lets its holder GET (or --method HEAD, PUT,
DELETE) the object until it expires (1 s to 7 days). The URL is a bearer
secret: edgeconf prints it on stdout and nowhere else.

With --remote it is an S3 SigV4 URL of R2 (R2 serves presigned URLs only on
its r2.cloudflarestorage.com endpoint, not on custom domains). -o json prints
{url, method, expires}. Locally it is
signed with a key kept in the bucket folder and served by edgeconf serve at
/r2/BUCKET: the default --base-url is http://127.0.0.1:PORT/r2/BUCKET with
the configuration's ports.dashboard, serve's default address (` + localR2BaseURL + `BUCKET
without a configuration).`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			bucketArg, key, err := r2Address(args[0], true)
			if err != nil {
				return err
			}
			if baseURL != "" && o.g.target.Remote {
				return usageErrorf("--base-url is for local buckets only")
			}
			if baseURL == "" && !o.g.target.Remote {
				baseURL = localPresignBase(d, g, bucketArg)
			}
			b, err := openR2(d, g, o, bucketArg, baseURL)
			if err != nil {
				return err
			}
			defer b.Close()
			u, err := b.store.Presign(cmd.Context(), key, objstore.PresignOptions{Method: method, Expires: expires})
			if err != nil {
				var le *objstore.LimitError
				if errors.As(err, &le) {
					return usageErrorf("%v", err)
				}
				return failed(err)
			}
			return output.result(d.Stdout, map[string]any{"url": u, "method": strings.ToUpper(method), "expires": d.Now().Add(expires).UTC().Format(time.RFC3339)},
				"%s", u)
		},
	}
	output = addResultFlag(cmd.Flags())
	dayDurationVar(cmd.Flags(), &expires, "expires", time.Hour, "how long the URL works (1s to 7d; accepts days: 7d)")
	cmd.Flags().StringVar(&method, "method", "GET", "the request the URL allows: GET, HEAD, PUT or DELETE")
	cmd.Flags().StringVar(&baseURL, "base-url", "", "local buckets: where the URL points (default http://127.0.0.1:ports.dashboard/r2/BUCKET, where edgeconf serve answers it)")
	return cmd
}

// openR2Fetcher returns the refs.Fetcher of doc's r2:// references (see
// target.R2Fetcher) and the function that closes its stores.
func openR2Fetcher(d *deps, doc *config.Document, remote bool) (refs.Fetcher, func() error, error) {
	opts := target.Options{ConfigPath: target.ConfigPath("", d.LookupEnv), LookupEnv: withStateDir(d.LookupEnv, stateDir(d)), Remote: remote, Now: d.Now}
	f, closeAll, err := target.R2Fetcher(opts, doc)
	if err != nil {
		return nil, nil, &exitError{code: exitFailed, err: err}
	}
	return f, closeAll, nil
}

// localPresignBase is where a local presigned URL of arg's bucket points
// by default: edgeconf serve's address (127.0.0.1:ports.dashboard), or ""
// (the target package's default) when the configuration or the bucket
// cannot be read, in which case opening the bucket says why.
func localPresignBase(d *deps, g *globalOptions, arg string) string {
	ref, err := resolveBucket(d, g, arg)
	if err != nil {
		return ""
	}
	doc, err := config.Load(g.configPath(d), config.LoadOptions{Env: g.Env, LookupEnv: d.LookupEnv})
	if doc == nil || err != nil && !errors.As(err, new(config.Problems)) {
		return ""
	}
	return "http://127.0.0.1:" + strconv.Itoa(doc.Config.Ports.Dashboard) + "/r2/" + ref.Name
}
