package schema

import (
	"encoding/json"
	"testing"
)

func TestConfig(t *testing.T) {
	var s struct {
		ID string `json:"$id"`
	}
	if err := json.Unmarshal(Config(), &s); err != nil {
		t.Fatalf("Config() is not JSON: %v", err)
	}
	if s.ID == "" {
		t.Errorf("Config() has no $id")
	}
	a := Config()
	a[0] = 'x'
	if Config()[0] == 'x' {
		t.Errorf("Config() returns the embedded bytes, not a copy")
	}
}
