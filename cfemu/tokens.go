package cfemu

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
)

func (e *Emulator) tokenRoutes(rt *router) {
	rt.handle("GET", "user/tokens/verify", func(c *call) error { return e.verifyToken(c, false) })
	rt.handle("GET", "accounts/{account_id}/tokens/verify", func(c *call) error { return e.verifyToken(c, true) })
}

// verifyToken answers token verification. A user token verifies at
// /user/tokens/verify and an account-owned token at
// /accounts/{id}/tokens/verify; each endpoint rejects the other kind
// with 1000 "Invalid API Token", as Cloudflare does.
func (e *Emulator) verifyToken(c *call, accountEndpoint bool) error {
	if accountEndpoint != e.opts.AccountOwnedToken {
		return fail(http.StatusUnauthorized, codeInvalidToken, "Invalid API Token")
	}
	sum := sha256.Sum256([]byte("cfemu token id\x00" + c.token))
	writeJSON(c.w, http.StatusOK, envelope{
		Success:  true,
		Errors:   []errorItem{},
		Messages: []errorItem{{Code: codeAuth, Message: "This API Token is valid and active"}},
		Result:   map[string]any{"id": hex.EncodeToString(sum[:16]), "status": "active"},
	})
	return nil
}
