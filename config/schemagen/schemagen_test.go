package schemagen

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite ../../schema/cloudflare-config.schema.json")

// TestGenerate_Golden keeps schema/cloudflare-config.schema.json (the file
// edgeconf embeds and the example config points editors at) equal to what
// Generate returns.
func TestGenerate_Golden(t *testing.T) {
	const golden = "../../schema/cloudflare-config.schema.json"
	got, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Generate() differs from %s: run go test ./config/schemagen -update after checking the change\n--- got\n%s", golden, got)
	}
}
