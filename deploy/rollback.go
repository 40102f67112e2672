package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/factory-wager/edgeconf/cloudflare"
)

// RollbackAPI is what Rollback reads and changes; *cloudflare.Client has it.
type RollbackAPI interface {
	Deployments(ctx context.Context, script string) ([]cloudflare.Deployment, error)
	Versions(ctx context.Context, script string, limit int) ([]cloudflare.Version, error)
	Version(ctx context.Context, script, id string) (cloudflare.Version, error)
	Namespaces(ctx context.Context) ([]cloudflare.Namespace, error)
	Bucket(ctx context.Context, name string) (cloudflare.Bucket, error)
	DatabaseByID(ctx context.Context, uuid string) (cloudflare.Database, error)
	Deploy(ctx context.Context, script string, o cloudflare.DeployOptions) (cloudflare.Deployment, error)
}

// RollbackOptions describe a rollback.
type RollbackOptions struct {
	Worker string
	// To is the version to put back at 100 %; "" means the version with
	// the largest share in the deployment before the live one.
	To      string
	Message string
}

// RollbackResult is what a rollback did.
type RollbackResult struct {
	Worker     string             `json:"worker"`
	From       []cloudflare.Split `json:"from"`
	To         string             `json:"to"`
	Deployment string             `json:"deploymentId"`
	Warnings   []string           `json:"warnings,omitempty"`
}

// ErrRollbackRefused is wrapped by the errors of a rollback its pre-flight
// checks refused; nothing was changed.
var ErrRollbackRefused = errors.New("rollback refused")

// Rollback puts an earlier version of a Worker back at 100 % after checking
// that it can: the version is among the last cloudflare.MaxRollbackVersions,
// and the KV namespaces, R2 buckets and D1 databases its bindings name still
// exist. It warns when the version's secrets differ from the live one's. It
// never touches data.
func Rollback(ctx context.Context, api RollbackAPI, o RollbackOptions) (*RollbackResult, error) {
	deps, err := api.Deployments(ctx, o.Worker)
	if err != nil {
		return nil, err
	}
	if len(deps) == 0 {
		return nil, fmt.Errorf("%w: %s has no deployment", ErrRollbackRefused, o.Worker)
	}
	res := &RollbackResult{Worker: o.Worker, From: deps[0].Versions}
	to := o.To
	if to == "" {
		if len(deps) < 2 {
			return nil, fmt.Errorf("%w: %s has only one deployment; name a version with --to", ErrRollbackRefused, o.Worker)
		}
		to = majority(deps[1].Versions)
	}
	if len(deps[0].Versions) == 1 && deps[0].Versions[0].VersionID == to {
		return nil, fmt.Errorf("%w: version %s is already live at 100 %%", ErrRollbackRefused, to)
	}
	recent, err := api.Versions(ctx, o.Worker, cloudflare.MaxRollbackVersions)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(recent, func(v cloudflare.Version) bool { return v.ID == to }) {
		return nil, fmt.Errorf("%w: version %s is not among the %d most recent versions of %s (only those can be deployed)", ErrRollbackRefused, to, cloudflare.MaxRollbackVersions, o.Worker)
	}
	target, err := api.Version(ctx, o.Worker, to)
	if err != nil {
		return nil, err
	}
	if missing, err := missingResources(ctx, api, target.Bindings); err != nil {
		return nil, err
	} else if len(missing) > 0 {
		return nil, fmt.Errorf("%w: version %s binds resources that no longer exist: %s", ErrRollbackRefused, to, strings.Join(missing, ", "))
	}
	if live, err := api.Version(ctx, o.Worker, majority(deps[0].Versions)); err == nil {
		if a, b := secretNames(live.Bindings), secretNames(target.Bindings); !slices.Equal(a, b) {
			res.Warnings = append(res.Warnings, fmt.Sprintf("the secrets differ: the live version has [%s], version %s has [%s]; secret values set since then are not rolled back",
				strings.Join(a, " "), to, strings.Join(b, " ")))
		}
	}
	msg := o.Message
	if msg == "" {
		msg = "edgeconf rollback"
	}
	d, err := api.Deploy(ctx, o.Worker, cloudflare.DeployOptions{Versions: []cloudflare.Split{{VersionID: to, Percentage: 100}}, Message: msg})
	if err != nil {
		return nil, err
	}
	res.To, res.Deployment = to, d.ID
	return res, nil
}

func majority(splits []cloudflare.Split) string {
	best := splits[0]
	for _, s := range splits {
		if s.Percentage > best.Percentage {
			best = s
		}
	}
	return best.VersionID
}

func secretNames(bs []cloudflare.Binding) []string {
	var out []string
	for _, b := range bs {
		if b.Type == "secret_text" {
			out = append(out, b.Name)
		}
	}
	slices.Sort(out)
	return out
}

// missingResources lists the namespaces, buckets and databases that
// bindings name and the account no longer has.
func missingResources(ctx context.Context, api RollbackAPI, bs []cloudflare.Binding) ([]string, error) {
	var missing []string
	var nsIDs map[string]bool
	for _, b := range bs {
		switch b.Type {
		case "kv_namespace":
			if nsIDs == nil {
				nss, err := api.Namespaces(ctx)
				if err != nil {
					return nil, err
				}
				nsIDs = map[string]bool{}
				for _, ns := range nss {
					nsIDs[ns.ID] = true
				}
			}
			if !nsIDs[b.NamespaceID] {
				missing = append(missing, fmt.Sprintf("kv namespace %s (binding %s)", b.NamespaceID, b.Name))
			}
		case "r2_bucket":
			if _, err := api.Bucket(ctx, b.BucketName); errors.Is(err, cloudflare.ErrNotFound) {
				missing = append(missing, fmt.Sprintf("r2 bucket %s (binding %s)", b.BucketName, b.Name))
			} else if err != nil {
				return nil, err
			}
		case "d1":
			if _, err := api.DatabaseByID(ctx, b.ID); errors.Is(err, cloudflare.ErrNotFound) {
				missing = append(missing, fmt.Sprintf("d1 database %s (binding %s)", b.ID, b.Name))
			} else if err != nil {
				return nil, err
			}
		}
	}
	return missing, nil
}
