package cloudflare_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
)

func TestVerifyToken(t *testing.T) {
	ctx := context.Background()
	t.Run("user token", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		st, err := e.client.VerifyToken(ctx)
		if err != nil || st.Status != "active" || st.AccountOwned || st.ID == "" {
			t.Errorf("VerifyToken = %+v, %v", st, err)
		}
	})
	t.Run("account token", func(t *testing.T) {
		e := newEnv(t, envOptions{emu: cfemu.Options{AccountOwnedToken: true}})
		st, err := e.client.VerifyToken(ctx)
		if err != nil || !st.AccountOwned {
			t.Errorf("VerifyToken = %+v, %v", st, err)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		e := newEnv(t, envOptions{client: cloudflare.Options{Token: "wrong-token"}})
		_, err := e.client.VerifyToken(ctx)
		if !cloudflare.HasCode(err, cloudflare.CodeInvalidToken) || !strings.Contains(err.Error(), "neither a valid user token nor an account token") {
			t.Errorf("VerifyToken = %v", err)
		}
		// Other calls with a wrong token: 403 Authentication error, not retried.
		_, err = e.client.Namespaces(ctx)
		var ae *cloudflare.APIError
		if !errors.As(err, &ae) || ae.Status != 403 || ae.Code != cloudflare.CodeAuthentication || ae.Attempts != 1 {
			t.Errorf("Namespaces with a wrong token = %v", err)
		}
	})
	t.Run("inactive", func(t *testing.T) {
		_, c := newScripted(t, step{status: 200, body: `{"success":true,"errors":[],"messages":[],"result":{"id":"abc","status":"expired"}}`})
		st, err := c.VerifyToken(ctx)
		if !errors.Is(err, cloudflare.ErrTokenInactive) || st.Status != "expired" {
			t.Errorf("VerifyToken = %+v, %v", st, err)
		}
	})
	t.Run("server error", func(t *testing.T) {
		_, c := newScriptedWith(t, cloudflare.RetryPolicy{MaxAttempts: 1}, step{status: 500})
		if _, err := c.VerifyToken(ctx); !cloudflare.IsStatus(err, 500) {
			t.Errorf("VerifyToken = %v", err)
		}
		_, c = newScriptedWith(t, cloudflare.RetryPolicy{MaxAttempts: 1},
			step{status: 401, body: `{"success":false,"errors":[{"code":1000,"message":"Invalid API Token"}]}`}, step{status: 500})
		if _, err := c.VerifyToken(ctx); !cloudflare.IsStatus(err, 500) || !strings.Contains(err.Error(), "account") {
			t.Errorf("account verify failing: %v", err)
		}
	})
}

func TestCredentials(t *testing.T) {
	const secret = "cftoken-SECRET-do-not-print"
	env := map[string]string{
		cloudflare.EnvAPIToken:  " " + secret + "\n",
		cloudflare.EnvAccountID: testAccount,
		cloudflare.EnvBaseURL:   "http://127.0.0.1:8788/client/v4",
	}
	c := cloudflare.CredentialsFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if c.Token != secret || c.AccountID != testAccount {
		t.Fatalf("CredentialsFromEnv = %+v", c.Options().AccountID)
	}
	if m := c.Missing(); m != nil {
		t.Errorf("Missing() = %v", m)
	}
	if m := c.Missing(cloudflare.EnvNamespaceID, cloudflare.EnvZoneID); fmt.Sprint(m) != "[KV_NAMESPACE_ID CLOUDFLARE_ZONE_ID]" {
		t.Errorf("Missing(ns, zone) = %v", m)
	}
	if c.MissingError() != nil {
		t.Error("MissingError with everything set")
	}
	empty := cloudflare.Credentials{}
	if m := empty.Missing(); fmt.Sprint(m) != "[CLOUDFLARE_API_TOKEN CLOUDFLARE_ACCOUNT_ID]" {
		t.Errorf("Missing() of nothing = %v", m)
	}
	tests := []struct {
		extra []string
		want  string
	}{
		{nil, "CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID are not set"},
		{[]string{cloudflare.EnvNamespaceID}, "CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID and KV_NAMESPACE_ID are not set"},
	}
	for _, tc := range tests {
		if err := empty.MissingError(tc.extra...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("MissingError(%v) = %v", tc.extra, err)
		}
	}
	if err := (cloudflare.Credentials{Token: "x"}).MissingError(); err == nil || !strings.Contains(err.Error(), "CLOUDFLARE_ACCOUNT_ID is not set") {
		t.Errorf("MissingError = %v", err)
	}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("creds", "c", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v|%+v|%s|%#v|%q", c, c, c, c, c), c.String(), c.GoString(), logs.String()} {
		if strings.Contains(s, secret) {
			t.Errorf("the token leaked: %s", s)
		}
		if !strings.Contains(s, testAccount) {
			t.Errorf("no account in %s", s)
		}
	}
	if o := c.Options(); o.Token != secret || o.BaseURL != env[cloudflare.EnvBaseURL] || strings.Contains(fmt.Sprintf("%v %+v %#v", o, o, o), secret) {
		t.Errorf("Options() = %v", o)
	}
}
