package cloudflare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"sort"
	"time"

	"github.com/cloudflare/cloudflare-go/v6/d1"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/workers"
)

// Limits of the Workers API that the client checks before sending, so that
// a request Cloudflare would refuse fails here with the limit named.
const (
	MaxDeploymentVersions = 2   // versions one deployment splits traffic between
	MaxRollbackVersions   = 100 // how far back a deployment (a rollback) may reach
	MaxVersionMessage     = 100 // characters of a version's workers/message annotation
	MaxVersionTag         = 25  // characters of a version's workers/tag annotation
	maxWorkerModules      = 1000
)

// Binding is one binding of a Worker version, in the shape the upload
// metadata and the version API use. Type selects which fields matter:
// kv_namespace (NamespaceID), r2_bucket (BucketName, Jurisdiction), d1 (ID,
// the database uuid), durable_object_namespace (ClassName, ScriptName),
// plain_text (Text), json (JSON), secret_text (never sent in a version: see
// Upload.KeepBindings), version_metadata and inherit (Name only).
type Binding struct {
	Type         string          `json:"type"`
	Name         string          `json:"name"`
	NamespaceID  string          `json:"namespace_id,omitempty"`
	BucketName   string          `json:"bucket_name,omitempty"`
	Jurisdiction string          `json:"jurisdiction,omitempty"`
	ID           string          `json:"id,omitempty"`
	ClassName    string          `json:"class_name,omitempty"`
	ScriptName   string          `json:"script_name,omitempty"`
	Text         string          `json:"text,omitempty"`
	JSON         json.RawMessage `json:"json,omitempty"`
}

// Module is one file of a Worker: its name (as imports name it), content
// type (application/javascript+module for ES modules) and bytes.
type Module struct {
	Name        string
	ContentType string
	Content     []byte
}

// Migrations is a Durable Object migration step, sent with a script upload.
type Migrations struct {
	OldTag           string          `json:"old_tag,omitempty"`
	NewTag           string          `json:"new_tag,omitempty"`
	NewClasses       []string        `json:"new_classes,omitempty"`
	NewSQLiteClasses []string        `json:"new_sqlite_classes,omitempty"`
	DeletedClasses   []string        `json:"deleted_classes,omitempty"`
	RenamedClasses   []RenamedClass  `json:"renamed_classes,omitempty"`
	TransferredClass json.RawMessage `json:"transferred_classes,omitempty"`
}

// RenamedClass is a Durable Object class renamed by a migration.
type RenamedClass struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Upload is a Worker to upload: as a script (the first upload of a Worker,
// deployed at once at 100 %) or as a version (not deployed).
type Upload struct {
	MainModule         string
	Modules            []Module
	Bindings           []Binding
	CompatibilityDate  string
	CompatibilityFlags []string
	// KeepBindings names binding types the new version inherits from the
	// latest one instead of listing them (secret_text keeps the secrets,
	// whose values the client never sees).
	KeepBindings []string
	// Secrets are secret_text bindings the upload sets (name → value): a
	// secret set this way goes live with the version that carries it. The
	// values go only into the request body, never into errors or logs.
	Secrets    map[string]string
	Migrations *Migrations // script uploads only
	Message    string      // version annotation workers/message
	Tag        string      // version annotation workers/tag
}

// Version is an uploaded version of a Worker.
type Version struct {
	ID                 string    `json:"id"`
	Number             int       `json:"number"`
	CreatedOn          time.Time `json:"created_on"`
	Source             string    `json:"source,omitempty"`
	Message            string    `json:"message,omitempty"`
	Tag                string    `json:"tag,omitempty"`
	Etag               string    `json:"etag,omitempty"` // the hash of the version's code, from Get only
	Bindings           []Binding `json:"bindings,omitempty"`
	CompatibilityDate  string    `json:"compatibility_date,omitempty"`
	CompatibilityFlags []string  `json:"compatibility_flags,omitempty"`
}

// Split is one version of a deployment and the share of traffic it gets.
type Split struct {
	VersionID  string  `json:"version_id"`
	Percentage float64 `json:"percentage"`
}

// Deployment is a split of a Worker's traffic between one or two versions.
type Deployment struct {
	ID          string    `json:"id"`
	CreatedOn   time.Time `json:"created_on"`
	Source      string    `json:"source,omitempty"`
	Message     string    `json:"message,omitempty"`
	AuthorEmail string    `json:"author_email,omitempty"`
	Versions    []Split   `json:"versions"`
}

// Script is a Worker of the account.
type Script struct {
	Name       string
	CreatedOn  time.Time
	ModifiedOn time.Time
	Etag       string
	// MigrationTag is the tag of the last Durable Object migration applied
	// to the Worker ("" when none); the next migration names it old_tag.
	MigrationTag string
}

// ScriptUploadResult is what a script upload answers.
type ScriptUploadResult struct {
	Etag string
	// VersionID is the version the upload made and deployed (the answer's
	// deployment_id, which names a version despite its name); "" when the
	// API did not say, in which case Deployments tells.
	VersionID string
}

func (c *Client) scriptPath(script string) (string, error) {
	if err := c.needAccount(); err != nil {
		return "", err
	}
	if script == "" {
		return "", errors.New("cloudflare: a Worker name is required")
	}
	return "accounts/" + url.PathEscape(c.accountID) + "/workers/scripts/" + url.PathEscape(script), nil
}

// workersSDK is the SDK's Workers service, made on first use (it builds a
// few dozen sub-services).
func (c *Client) workersSDK() *workers.WorkerService {
	c.workersOnce.Do(func() { c.workers = workers.NewWorkerService(c.sdk...) })
	return c.workers
}

func (c *Client) accountParam() (string, bool) { return c.accountID, true }

// metadata is the JSON part of an upload.
func (u Upload) metadata(script bool) ([]byte, error) {
	bindings := nonNil(slices.Clone(u.Bindings))
	names := make([]string, 0, len(u.Secrets))
	for n := range u.Secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		bindings = append(bindings, Binding{Type: "secret_text", Name: n, Text: u.Secrets[n]})
	}
	m := map[string]any{
		"main_module":         u.MainModule,
		"bindings":            bindings,
		"compatibility_date":  u.CompatibilityDate,
		"compatibility_flags": nonNil(u.CompatibilityFlags),
	}
	if len(u.KeepBindings) > 0 {
		m["keep_bindings"] = u.KeepBindings
	}
	if script && u.Migrations != nil {
		m["migrations"] = u.Migrations
	}
	ann := map[string]string{}
	if u.Message != "" {
		ann["workers/message"] = u.Message
	}
	if u.Tag != "" {
		ann["workers/tag"] = u.Tag
	}
	if len(ann) > 0 {
		m["annotations"] = ann
	}
	return json.Marshal(m)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (u Upload) check() error {
	if u.MainModule == "" {
		return errors.New("a Worker upload needs a main module")
	}
	if len(u.Modules) == 0 || len(u.Modules) > maxWorkerModules {
		return fmt.Errorf("a Worker upload has 1 to %d modules, not %d", maxWorkerModules, len(u.Modules))
	}
	found := false
	for _, m := range u.Modules {
		found = found || m.Name == u.MainModule
	}
	if !found {
		return fmt.Errorf("the main module %q is not among the uploaded modules", u.MainModule)
	}
	if n := len([]rune(u.Message)); n > MaxVersionMessage {
		return fmt.Errorf("the version message has %d characters; the limit is %d (MaxVersionMessage)", n, MaxVersionMessage)
	}
	if n := len([]rune(u.Tag)); n > MaxVersionTag {
		return fmt.Errorf("the version tag has %d characters; the limit is %d (MaxVersionTag)", n, MaxVersionTag)
	}
	for _, b := range u.Bindings {
		if b.Type == "secret_text" {
			return fmt.Errorf("binding %s: secrets go in Upload.Secrets (or PutSecret) and are kept with KeepBindings, never in Bindings", b.Name)
		}
	}
	return nil
}

// multipart encodes an upload as the API takes it: a "metadata" JSON part
// and one part per module, named and filed under the module's name.
func (u Upload) multipart(script bool) ([]byte, string, error) {
	meta, err := u.metadata(script)
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="metadata"`)
	h.Set("Content-Type", "application/json")
	p, err := w.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	p.Write(meta)
	for _, m := range u.Modules {
		ct := m.ContentType
		if ct == "" {
			ct = "application/javascript+module"
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, m.Name, m.Name))
		h.Set("Content-Type", ct)
		p, err := w.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		p.Write(m.Content)
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// UploadScript uploads a Worker as a script: the API creates the Worker if
// needed and deploys the upload at 100 % at once. The first upload of a
// Worker must be a script upload; later ones should be versions.
func (c *Client) UploadScript(ctx context.Context, script string, up Upload) (ScriptUploadResult, error) {
	path, err := c.scriptPath(script)
	if err != nil {
		return ScriptUploadResult{}, err
	}
	if err := up.check(); err != nil {
		return ScriptUploadResult{}, fmt.Errorf("upload worker %s: %w", script, err)
	}
	body, ct, err := up.multipart(true)
	if err != nil {
		return ScriptUploadResult{}, fmt.Errorf("upload worker %s: %w", script, err)
	}
	var env struct {
		Result struct {
			Etag      string `json:"etag"`
			VersionID string `json:"deployment_id"`
		} `json:"result"`
	}
	if err := c.callJSON(ctx, http.MethodPut, path, ct, body, &env); err != nil {
		return ScriptUploadResult{}, fmt.Errorf("upload worker %s: %w", script, err)
	}
	return ScriptUploadResult{Etag: env.Result.Etag, VersionID: env.Result.VersionID}, nil
}

// UploadVersion uploads a new version of an existing Worker without
// deploying it.
func (c *Client) UploadVersion(ctx context.Context, script string, up Upload) (Version, error) {
	path, err := c.scriptPath(script)
	if err != nil {
		return Version{}, err
	}
	if err := up.check(); err != nil {
		return Version{}, fmt.Errorf("upload a version of %s: %w", script, err)
	}
	if up.Migrations != nil {
		return Version{}, fmt.Errorf("upload a version of %s: Durable Object migrations need a script upload, not a version upload", script)
	}
	body, ct, err := up.multipart(false)
	if err != nil {
		return Version{}, fmt.Errorf("upload a version of %s: %w", script, err)
	}
	var env struct {
		Result wireVersion `json:"result"`
	}
	if err := c.callJSON(ctx, http.MethodPost, path+"/versions", ct, body, &env); err != nil {
		return Version{}, fmt.Errorf("upload a version of %s: %w", script, c.notFound(err, "worker "+script))
	}
	return env.Result.version(), nil
}

// wireVersion is a version as the API returns it.
type wireVersion struct {
	ID          string            `json:"id"`
	Number      int               `json:"number"`
	Annotations map[string]string `json:"annotations"`
	Metadata    struct {
		CreatedOn time.Time `json:"created_on"`
		Source    string    `json:"source"`
	} `json:"metadata"`
	Resources struct {
		Bindings []Binding `json:"bindings"`
		Script   struct {
			Etag string `json:"etag"`
		} `json:"script"`
		ScriptRuntime struct {
			CompatibilityDate  string   `json:"compatibility_date"`
			CompatibilityFlags []string `json:"compatibility_flags"`
		} `json:"script_runtime"`
	} `json:"resources"`
}

func (w wireVersion) version() Version {
	return Version{
		ID: w.ID, Number: w.Number, CreatedOn: w.Metadata.CreatedOn, Source: w.Metadata.Source,
		Message: w.Annotations["workers/message"], Tag: w.Annotations["workers/tag"],
		Etag: w.Resources.Script.Etag, Bindings: w.Resources.Bindings,
		CompatibilityDate:  w.Resources.ScriptRuntime.CompatibilityDate,
		CompatibilityFlags: w.Resources.ScriptRuntime.CompatibilityFlags,
	}
}

// Versions lists the deployable versions of a Worker, newest first, at most
// limit of them (0 means MaxRollbackVersions). A missing Worker is an error
// wrapping ErrNotFound.
func (c *Client) Versions(ctx context.Context, script string, limit int) ([]Version, error) {
	if _, err := c.scriptPath(script); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxRollbackVersions {
		limit = MaxRollbackVersions
	}
	var out []Version
	for page := int64(1); len(out) < limit; page++ {
		var p workers.ScriptVersionListParams
		p.AccountID.Value, p.AccountID.Present = c.accountParam()
		p.Deployable.Value, p.Deployable.Present = true, true
		p.Page.Value, p.Page.Present = page, true
		p.PerPage.Value, p.PerPage.Present = int64(limit), true
		var env struct {
			Result struct {
				Items []wireVersion `json:"items"`
			} `json:"result"`
			ResultInfo struct {
				TotalPages int `json:"total_pages"`
			} `json:"result_info"`
		}
		if _, err := c.workersSDK().Scripts.Versions.List(ctx, script, p, option.WithResponseBodyInto(&env)); err != nil {
			return nil, fmt.Errorf("list versions of %s: %w", script, c.notFound(err, "worker "+script))
		}
		for _, v := range env.Result.Items {
			if len(out) < limit {
				out = append(out, v.version())
			}
		}
		if len(env.Result.Items) == 0 || int(page) >= env.ResultInfo.TotalPages {
			break
		}
	}
	return out, nil
}

// Version returns one version of a Worker with its bindings and settings.
func (c *Client) Version(ctx context.Context, script, id string) (Version, error) {
	if _, err := c.scriptPath(script); err != nil {
		return Version{}, err
	}
	var p workers.ScriptVersionGetParams
	p.AccountID.Value, p.AccountID.Present = c.accountParam()
	var env struct {
		Result wireVersion `json:"result"`
	}
	if _, err := c.workersSDK().Scripts.Versions.Get(ctx, script, id, p, option.WithResponseBodyInto(&env)); err != nil {
		return Version{}, fmt.Errorf("version %s of %s: %w", id, script, c.notFound(err, "version "+id))
	}
	return env.Result.version(), nil
}

// DeployOptions describes a deployment.
type DeployOptions struct {
	Versions []Split // one or two, percentages adding up to 100
	Message  string  // annotation workers/message
	// Force creates the deployment even when the API would block it (a
	// rollback past a secret change).
	Force bool
}

func (o DeployOptions) check() error {
	if len(o.Versions) < 1 || len(o.Versions) > MaxDeploymentVersions {
		return fmt.Errorf("a deployment splits traffic between 1 and %d versions (MaxDeploymentVersions), not %d", MaxDeploymentVersions, len(o.Versions))
	}
	sum := 0.0
	for _, v := range o.Versions {
		if v.VersionID == "" {
			return errors.New("a deployment names a version without an id")
		}
		if v.Percentage < 0 || v.Percentage > 100 {
			return fmt.Errorf("version %s gets %v %%: a share is between 0 and 100", v.VersionID, v.Percentage)
		}
		sum += v.Percentage
	}
	if sum < 100-1e-9 || sum > 100+1e-9 {
		return fmt.Errorf("the shares of a deployment add up to %v %%, not 100", sum)
	}
	if len(o.Versions) == 2 && o.Versions[0].VersionID == o.Versions[1].VersionID {
		return fmt.Errorf("a deployment names version %s twice", o.Versions[0].VersionID)
	}
	if n := len([]rune(o.Message)); n > MaxVersionMessage {
		return fmt.Errorf("the deployment message has %d characters; the limit is %d", n, MaxVersionMessage)
	}
	return nil
}

// Deploy creates a deployment: it makes the split live.
func (c *Client) Deploy(ctx context.Context, script string, o DeployOptions) (Deployment, error) {
	if _, err := c.scriptPath(script); err != nil {
		return Deployment{}, err
	}
	if err := o.check(); err != nil {
		return Deployment{}, fmt.Errorf("deploy %s: %w", script, err)
	}
	var p workers.ScriptDeploymentNewParams
	p.AccountID.Value, p.AccountID.Present = c.accountParam()
	if o.Force {
		p.Force.Value, p.Force.Present = true, true
	}
	vs := make([]workers.DeploymentVersionParam, len(o.Versions))
	for i, v := range o.Versions {
		vs[i].VersionID.Value, vs[i].VersionID.Present = v.VersionID, true
		vs[i].Percentage.Value, vs[i].Percentage.Present = v.Percentage, true
	}
	p.Deployment.Strategy.Value, p.Deployment.Strategy.Present = workers.DeploymentStrategyPercentage, true
	p.Deployment.Versions.Value, p.Deployment.Versions.Present = vs, true
	if o.Message != "" {
		var a workers.DeploymentAnnotationsParam
		a.WorkersMessage.Value, a.WorkersMessage.Present = o.Message, true
		p.Deployment.Annotations.Value, p.Deployment.Annotations.Present = a, true
	}
	var env struct {
		Result wireDeployment `json:"result"`
	}
	if _, err := c.workersSDK().Scripts.Deployments.New(ctx, script, p, option.WithResponseBodyInto(&env)); err != nil {
		return Deployment{}, fmt.Errorf("deploy %s: %w", script, c.notFound(err, "worker "+script))
	}
	return env.Result.deployment(), nil
}

type wireDeployment struct {
	ID          string            `json:"id"`
	CreatedOn   time.Time         `json:"created_on"`
	Source      string            `json:"source"`
	AuthorEmail string            `json:"author_email"`
	Versions    []Split           `json:"versions"`
	Annotations map[string]string `json:"annotations"`
}

func (w wireDeployment) deployment() Deployment {
	return Deployment{ID: w.ID, CreatedOn: w.CreatedOn, Source: w.Source, AuthorEmail: w.AuthorEmail,
		Versions: w.Versions, Message: w.Annotations["workers/message"]}
}

// Deployments lists a Worker's deployments, the live one first.
func (c *Client) Deployments(ctx context.Context, script string) ([]Deployment, error) {
	if _, err := c.scriptPath(script); err != nil {
		return nil, err
	}
	var p workers.ScriptDeploymentListParams
	p.AccountID.Value, p.AccountID.Present = c.accountParam()
	var env struct {
		Result struct {
			Deployments []wireDeployment `json:"deployments"`
		} `json:"result"`
	}
	if _, err := c.workersSDK().Scripts.Deployments.List(ctx, script, p, option.WithResponseBodyInto(&env)); err != nil {
		return nil, fmt.Errorf("list deployments of %s: %w", script, c.notFound(err, "worker "+script))
	}
	out := make([]Deployment, len(env.Result.Deployments))
	for i, d := range env.Result.Deployments {
		out[i] = d.deployment()
	}
	return out, nil
}

// Scripts lists the account's Workers, by name.
func (c *Client) Scripts(ctx context.Context) ([]Script, error) {
	if err := c.needAccount(); err != nil {
		return nil, err
	}
	var p workers.ScriptListParams
	p.AccountID.Value, p.AccountID.Present = c.accountParam()
	var env struct {
		Result []struct {
			ID           string    `json:"id"`
			CreatedOn    time.Time `json:"created_on"`
			ModifiedOn   time.Time `json:"modified_on"`
			Etag         string    `json:"etag"`
			MigrationTag string    `json:"migration_tag"`
		} `json:"result"`
	}
	if _, err := c.workersSDK().Scripts.List(ctx, p, option.WithResponseBodyInto(&env)); err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	out := make([]Script, len(env.Result))
	for i, s := range env.Result {
		out[i] = Script{Name: s.ID, CreatedOn: s.CreatedOn, ModifiedOn: s.ModifiedOn, Etag: s.Etag, MigrationTag: s.MigrationTag}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteScript deletes a Worker with its versions, deployments and secrets.
// A missing Worker is an error wrapping ErrNotFound.
func (c *Client) DeleteScript(ctx context.Context, script string) error {
	if _, err := c.scriptPath(script); err != nil {
		return err
	}
	var p workers.ScriptDeleteParams
	p.AccountID.Value, p.AccountID.Present = c.accountParam()
	if _, err := c.workersSDK().Scripts.Delete(ctx, script, p, option.WithResponseBodyInto(&json.RawMessage{})); err != nil {
		return fmt.Errorf("delete worker %s: %w", script, c.notFound(err, "worker "+script))
	}
	return nil
}

// PutSecret sets a secret of a Worker. The value goes only into the
// request body: it never appears in errors or logs.
func (c *Client) PutSecret(ctx context.Context, script, name, value string) error {
	if _, err := c.scriptPath(script); err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("set a secret of %s: a secret needs a name", script)
	}
	var body workers.ScriptSecretUpdateParamsBodyWorkersBindingKindSecretText
	body.Name.Value, body.Name.Present = name, true
	body.Text.Value, body.Text.Present = value, true
	body.Type.Value, body.Type.Present = workers.ScriptSecretUpdateParamsBodyWorkersBindingKindSecretTextTypeSecretText, true
	var p workers.ScriptSecretUpdateParams
	p.AccountID.Value, p.AccountID.Present = c.accountParam()
	p.Body = body
	if _, err := c.workersSDK().Scripts.Secrets.Update(ctx, script, p, option.WithResponseBodyInto(&json.RawMessage{})); err != nil {
		return fmt.Errorf("set secret %s of %s: %w", name, script, c.notFound(err, "worker "+script))
	}
	return nil
}

// Secrets lists the names of a Worker's secrets (the API never returns
// their values).
func (c *Client) Secrets(ctx context.Context, script string) ([]string, error) {
	if _, err := c.scriptPath(script); err != nil {
		return nil, err
	}
	var p workers.ScriptSecretListParams
	p.AccountID.Value, p.AccountID.Present = c.accountParam()
	var env struct {
		Result []struct {
			Name string `json:"name"`
		} `json:"result"`
	}
	if _, err := c.workersSDK().Scripts.Secrets.List(ctx, script, p, option.WithResponseBodyInto(&env)); err != nil {
		return nil, fmt.Errorf("list secrets of %s: %w", script, c.notFound(err, "worker "+script))
	}
	out := make([]string, len(env.Result))
	for i, s := range env.Result {
		out[i] = s.Name
	}
	sort.Strings(out)
	return out, nil
}

// DeleteSecret removes a secret of a Worker; a missing one is an error
// wrapping ErrNotFound.
func (c *Client) DeleteSecret(ctx context.Context, script, name string) error {
	if _, err := c.scriptPath(script); err != nil {
		return err
	}
	var p workers.ScriptSecretDeleteParams
	p.AccountID.Value, p.AccountID.Present = c.accountParam()
	if _, err := c.workersSDK().Scripts.Secrets.Delete(ctx, script, name, p, option.WithResponseBodyInto(&json.RawMessage{})); err != nil {
		return fmt.Errorf("delete secret %s of %s: %w", name, script, c.notFound(err, "secret "+name))
	}
	return nil
}

// callJSON sends a hand-built request (uploads are multipart, which the
// SDK's typed bindings cannot express for every binding kind) and decodes
// the envelope into out.
func (c *Client) callJSON(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	res, err := c.send(ctx, method, path, contentType, body, "application/json")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if err := json.NewDecoder(io.LimitReader(res.Body, maxEnvelope)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

// maxEnvelope bounds the JSON answers the Workers calls decode.
const maxEnvelope = 16 << 20

// notFound wraps ErrNotFound into a 404 so callers can branch with
// errors.Is.
func (c *Client) notFound(err error, what string) error {
	if IsNotFound(err) {
		return fmt.Errorf("%s: %w in account %s: %w", what, ErrNotFound, c.accountID, err)
	}
	return err
}

// DatabaseByID returns the D1 database with that uuid, or an error wrapping
// ErrNotFound.
func (c *Client) DatabaseByID(ctx context.Context, uuid string) (Database, error) {
	if err := c.needAccount(); err != nil {
		return Database{}, err
	}
	var p d1.DatabaseGetParams
	p.AccountID.Value, p.AccountID.Present = c.accountParam()
	db, err := c.dbs.Get(ctx, uuid, p)
	if err != nil {
		return Database{}, fmt.Errorf("d1 database %s: %w", uuid, c.notFound(err, "d1 database "+uuid))
	}
	return Database{UUID: db.UUID, Name: db.Name}, nil
}

// DeleteNamespace deletes a KV namespace and its keys; a missing one is an
// error wrapping ErrNotFound.
func (c *Client) DeleteNamespace(ctx context.Context, id string) error {
	if err := c.needAccount(); err != nil {
		return err
	}
	path := "accounts/" + url.PathEscape(c.accountID) + "/storage/kv/namespaces/" + url.PathEscape(id)
	if err := c.callJSON(ctx, http.MethodDelete, path, "", nil, &json.RawMessage{}); err != nil {
		return fmt.Errorf("delete kv namespace %s: %w", id, c.notFound(err, "kv namespace "+id))
	}
	return nil
}

// DeleteBucket deletes an empty R2 bucket; a missing one is an error
// wrapping ErrNotFound.
func (c *Client) DeleteBucket(ctx context.Context, name string) error {
	if err := c.needAccount(); err != nil {
		return err
	}
	path := "accounts/" + url.PathEscape(c.accountID) + "/r2/buckets/" + url.PathEscape(name)
	if err := c.callJSON(ctx, http.MethodDelete, path, "", nil, &json.RawMessage{}); err != nil {
		return fmt.Errorf("delete r2 bucket %s: %w", name, c.notFound(err, "r2 bucket "+name))
	}
	return nil
}

// DeleteDatabase deletes a D1 database; a missing one is an error wrapping
// ErrNotFound.
func (c *Client) DeleteDatabase(ctx context.Context, uuid string) error {
	if err := c.needAccount(); err != nil {
		return err
	}
	path := "accounts/" + url.PathEscape(c.accountID) + "/d1/database/" + url.PathEscape(uuid)
	if err := c.callJSON(ctx, http.MethodDelete, path, "", nil, &json.RawMessage{}); err != nil {
		return fmt.Errorf("delete d1 database %s: %w", uuid, c.notFound(err, "d1 database "+uuid))
	}
	return nil
}
