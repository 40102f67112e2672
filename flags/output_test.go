package flags

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestWriteList(t *testing.T) {
	rows := List(testFeatures(), func(string) string { return "file cloudflare-config.yaml:7:3" })
	t.Run("json", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteList(&buf, rows, FormatJSON); err != nil {
			t.Fatal(err)
		}
		var got struct {
			Bucketing string `json:"bucketing"`
			Flags     []Row  `json:"flags"`
		}
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("WriteList json is not JSON: %v\n%s", err, buf.String())
		}
		if got.Bucketing != Bucketing || !reflect.DeepEqual(got.Flags, rows) {
			t.Errorf("WriteList json decodes to %+v, want bucketing %q and %+v", got, Bucketing, rows)
		}
	})
	t.Run("json of no flags is an empty list", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteList(&buf, nil, FormatJSON); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), `"flags": []`) {
			t.Errorf("WriteList(nil) = %s, want \"flags\": []", buf.String())
		}
	})
	t.Run("table", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteList(&buf, rows, ""); err != nil {
			t.Fatal(err)
		}
		want := "" +
			"NAME        ENABLED  ROLLOUT  ALLOWED USERS  SOURCE\n" +
			"premium     true     25%      1              file cloudflare-config.yaml:7:3\n" +
			"ptySupport  true     10%      0              file cloudflare-config.yaml:7:3\n" +
			"terminal    true     100%     0              file cloudflare-config.yaml:7:3\n" +
			"webgl       false    0%       0              file cloudflare-config.yaml:7:3\n"
		if buf.String() != want {
			t.Errorf("WriteList table =\n%s\nwant\n%s", buf.String(), want)
		}
	})
}

func TestWriteEvaluation(t *testing.T) {
	e, err := Eval(testFeatures(), "premium", "用户-🚀")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("json", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteEvaluation(&buf, e, FormatJSON); err != nil {
			t.Fatal(err)
		}
		// The documented, stable document.
		want := `{
  "flag": "premium",
  "user": "用户-🚀",
  "enabled": true,
  "reason": "in-rollout",
  "bucket": 204,
  "rolloutPercentage": 25,
  "threshold": 2500,
  "bucketing": "murmur3-x86-32/v1"
}
`
		if buf.String() != want {
			t.Errorf("WriteEvaluation json =\n%s\nwant\n%s", buf.String(), want)
		}
	})
	t.Run("table", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteEvaluation(&buf, e, FormatTable); err != nil {
			t.Fatal(err)
		}
		for _, line := range []string{"enabled    true", "reason     in-rollout", "bucket     204 (< 2500)", "bucketing  murmur3-x86-32/v1"} {
			if !strings.Contains(buf.String(), line) {
				t.Errorf("WriteEvaluation table lacks %q:\n%s", line, buf.String())
			}
		}
	})
}

func TestWriteSimulation(t *testing.T) {
	res := Simulate("premium", testFeatures()["premium"], 10000, nil)
	t.Run("json", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteSimulation(&buf, res, FormatJSON); err != nil {
			t.Fatal(err)
		}
		var got SimulateResult
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("WriteSimulation json is not JSON: %v", err)
		}
		if !reflect.DeepEqual(got, res) {
			t.Errorf("WriteSimulation json decodes to %+v, want %+v", got, res)
		}
	})
	t.Run("table", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteSimulation(&buf, res, FormatTable); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		// 25% covers the rows 0-1% .. 24-25%, which are starred; 25-26% is not.
		for _, want := range []string{"users      10000", "24-25%", "* inside the rollout"} {
			if !strings.Contains(out, want) {
				t.Errorf("WriteSimulation table lacks %q:\n%s", want, out)
			}
		}
		starred := 0
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "%") && strings.Contains(line, " * ") {
				starred++
			}
		}
		if starred != 25 {
			t.Errorf("WriteSimulation table stars %d rows, want 25:\n%s", starred, out)
		}
	})
}

func TestWrite_UnknownFormat(t *testing.T) {
	var buf bytes.Buffer
	for name, err := range map[string]error{
		"list":       WriteList(&buf, nil, "yaml"),
		"evaluation": WriteEvaluation(&buf, Evaluation{}, "yaml"),
		"simulation": WriteSimulation(&buf, SimulateResult{}, "yaml"),
	} {
		if !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("Write %s in yaml: error = %v, want one wrapping ErrUnknownFormat", name, err)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("an unknown format wrote %q, want nothing", buf.String())
	}
}

// A flag name from the file cannot repaint the terminal or forge a row.
func TestWriteList_TableStripsControlCharacters(t *testing.T) {
	var buf bytes.Buffer
	rows := []Row{{Name: "bad\x1b[1mflag\nforged  true", Enabled: true, Source: "kv\r"}}
	if err := WriteList(&buf, rows, FormatTable); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); strings.ContainsAny(out, "\x1b\r") || strings.Count(out, "\n") != 2 || !strings.Contains(out, `bad\x1b[1mflag\x0aforged`) {
		t.Errorf("table = %q", out)
	}
}
