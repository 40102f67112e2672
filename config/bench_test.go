package config_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/factory-wager/edgeconf/config"
)

// BenchmarkLoadValidate measures what `edgeconf validate` does in-process
// on the example configuration: parse, check, merge and validate.
func BenchmarkLoadValidate(b *testing.B) {
	src, err := os.ReadFile("../cloudflare-config.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		doc, err := config.Parse(bytes.NewReader(src), config.LoadOptions{Filename: "cloudflare-config.yaml"})
		if err != nil {
			b.Fatal(err)
		}
		if r := config.Validate(doc, config.ValidateOptions{Now: testNow}); r.Metrics.Invalid != 0 {
			b.Fatal("invalid")
		}
	}
}
