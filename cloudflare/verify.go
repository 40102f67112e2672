package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cloudflare/cloudflare-go/v6/accounts"
)

// TokenStatus is what token verification says about the API token.
type TokenStatus struct {
	ID           string    // the token's id (not the secret)
	Status       string    // "active", "disabled" or "expired"
	ExpiresOn    time.Time // zero when the token does not expire
	AccountOwned bool      // verified at /accounts/{id}/tokens/verify
}

// ErrTokenInactive is wrapped by VerifyToken's error when Cloudflare knows
// the token but it is disabled or expired.
var ErrTokenInactive = errors.New("the API token is not active")

// VerifyToken checks the API token at /user/tokens/verify and, for
// account-owned tokens (which that endpoint rejects with code 1000), at
// /accounts/{id}/tokens/verify. A token that is unknown, disabled or
// expired is an error.
func (c *Client) VerifyToken(ctx context.Context) (TokenStatus, error) {
	res, err := c.users.Verify(ctx)
	err = sdkErr(ctx, "verify token", err)
	if err == nil {
		st := TokenStatus{ID: res.ID, Status: string(res.Status), ExpiresOn: res.ExpiresOn}
		return st, checkActive(st)
	}
	if !HasCode(err, CodeInvalidToken) || c.accountID == "" {
		return TokenStatus{}, fmt.Errorf("verify api token: %w", err)
	}
	var p accounts.TokenVerifyParams
	p.AccountID.Value, p.AccountID.Present = c.accountID, true
	ares, aerr := c.accounts.Verify(ctx, p)
	aerr = sdkErr(ctx, "verify account token", aerr)
	if aerr != nil {
		if HasCode(aerr, CodeInvalidToken) || IsStatus(aerr, http.StatusUnauthorized) {
			// Neither kind of token: report the user endpoint's answer.
			return TokenStatus{}, fmt.Errorf("verify api token: it is neither a valid user token nor an account token of %s: %w", c.accountID, err)
		}
		return TokenStatus{}, fmt.Errorf("verify api token (account %s): %w", c.accountID, aerr)
	}
	st := TokenStatus{ID: ares.ID, Status: string(ares.Status), ExpiresOn: ares.ExpiresOn, AccountOwned: true}
	return st, checkActive(st)
}

func checkActive(st TokenStatus) error {
	if st.Status != "active" {
		return fmt.Errorf("verify api token: status %q: %w", st.Status, ErrTokenInactive)
	}
	return nil
}

// IsStatus reports whether err is an *APIError with HTTP status code.
func IsStatus(err error, code int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == code
}
