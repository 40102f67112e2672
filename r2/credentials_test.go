package r2

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
)

func TestMapError_CredentialsNameTheVariable(t *testing.T) {
	for code, want := range map[string]string{
		"SignatureDoesNotMatch": "R2_SECRET_ACCESS_KEY",
		"InvalidAccessKeyId":    "R2_ACCESS_KEY_ID",
		"AccessDenied":          "R2_ACCESS_KEY_ID",
		"InvalidToken":          "R2_SECRET_ACCESS_KEY",
		"ExpiredToken":          "R2_ACCESS_KEY_ID",
	} {
		sdk := &smithy.GenericAPIError{Code: code, Message: "The request signature we calculated does not match"}
		err := mapError(sdk)
		var ce *CredentialError
		if !errors.As(err, &ce) || ce.Code != code || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "we calculated") {
			t.Errorf("%s: %v", code, err)
		}
		var ae smithy.APIError
		if !errors.As(err, &ae) {
			t.Errorf("%s: the SDK error left the chain", code)
		}
	}
	if err := mapError(&smithy.GenericAPIError{Code: "SlowDown"}); errors.As(err, new(*CredentialError)) {
		t.Errorf("SlowDown is not a credential error: %v", err)
	}
}
