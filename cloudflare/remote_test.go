package cloudflare_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/kvstore"
)

func TestNewKV(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	ns, _, err := e.client.EnsureNamespace(ctx, "quantum-config")
	if err != nil {
		t.Fatal(err)
	}
	base := cloudflare.Options{BaseURL: e.srv.URL + "/client/v4", Token: testToken, AccountID: testAccount}
	for _, o := range []cloudflare.KVOptions{
		{Options: base, NamespaceID: ns.ID},
		{Options: base, Title: "quantum-config"},
		{Options: base, NamespaceID: ns.ID, Title: "CONFIG"},
	} {
		kv, err := cloudflare.NewKV(ctx, o)
		if err != nil {
			t.Fatalf("NewKV(%q, %q): %v", o.NamespaceID, o.Title, err)
		}
		if kv.NamespaceID() != ns.ID || !strings.Contains(kv.Target(), "quantum-config") {
			t.Errorf("NewKV: %s", kv.Target())
		}
		if err := kv.Put(ctx, "k", []byte("v"), kvstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(1e9)
	}
	tests := []struct {
		name string
		o    cloudflare.KVOptions
		want string
	}{
		{"no token", cloudflare.KVOptions{NamespaceID: ns.ID}, cloudflare.EnvAPIToken},
		{"no account", cloudflare.KVOptions{Options: cloudflare.Options{BaseURL: base.BaseURL, Token: testToken}, NamespaceID: ns.ID}, cloudflare.EnvAccountID},
		{"no namespace", cloudflare.KVOptions{Options: base}, cloudflare.EnvNamespaceID},
		{"missing namespace", cloudflare.KVOptions{Options: base, Title: "absent"}, "not found"},
	}
	for _, tc := range tests {
		if _, err := cloudflare.NewKV(ctx, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestCheckRemote(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	ns, _, _ := e.client.EnsureNamespace(ctx, "quantum-config")
	e.client.EnsureBucket(ctx, "quantum-files")
	e.client.EnsureDatabase(ctx, "quantum-db")
	ok := cloudflare.Resources{
		Namespaces: []cloudflare.NamespaceRef{{ID: ns.ID}, {Title: "quantum-config"}},
		Buckets:    []string{"quantum-files"},
		Databases:  []string{"quantum-db"},
	}
	if p := e.client.CheckRemote(ctx, ok); p != nil {
		t.Errorf("CheckRemote(all present) = %v", p)
	}
	bad := cloudflare.Resources{
		Namespaces: []cloudflare.NamespaceRef{{Title: "nope"}},
		Buckets:    []string{"quantum-files", "missing-bucket"},
		Databases:  []string{"missing-db"},
	}
	problems := e.client.CheckRemote(ctx, bad)
	if len(problems) != 3 {
		t.Fatalf("CheckRemote = %v, want 3 problems", problems)
	}
	for _, p := range problems {
		if !p.Missing() || !strings.Contains(p.Error(), p.Name) {
			t.Errorf("problem %v", p)
		}
	}
	wrong := newEnv(t, envOptions{client: cloudflare.Options{Token: "wrong"}})
	problems = wrong.client.CheckRemote(ctx, ok)
	if len(problems) != 1 || problems[0].Kind != "token" || problems[0].Missing() || !cloudflare.HasCode(problems[0].Err, cloudflare.CodeInvalidToken) {
		t.Errorf("wrong token: %v", problems)
	}
	if !errors.Is(cloudflare.Problem{Err: cloudflare.ErrNotFound}.Err, cloudflare.ErrNotFound) {
		t.Error("Problem.Err does not wrap")
	}
}
