package flags

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/factory-wager/edgeconf/internal/termsafe"
)

// Output formats accepted by the Write functions.
const (
	FormatTable = "table" // aligned columns for people; "" means the same
	FormatJSON  = "json"  // stable, documented fields; one document per call
)

// ErrUnknownFormat is wrapped by the Write functions' error for a format
// other than FormatTable, FormatJSON or "".
var ErrUnknownFormat = errors.New("unknown output format")

// listJSON is the document `edgeconf flags list -o json` prints.
type listJSON struct {
	Bucketing string `json:"bucketing"`
	Flags     []Row  `json:"flags"`
}

// WriteList writes the rows from List to w in format.
func WriteList(w io.Writer, rows []Row, format string) error {
	switch format {
	case FormatJSON:
		if rows == nil {
			rows = []Row{}
		}
		return writeJSON(w, listJSON{Bucketing: Bucketing, Flags: rows})
	case FormatTable, "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tENABLED\tROLLOUT\tALLOWED USERS\tSOURCE")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%t\t%s\t%d\t%s\n", termsafe.String(r.Name), r.Enabled, percent(r.RolloutPercentage), r.AllowedUsers, termsafe.String(orDash(r.Source)))
		}
		return flush(tw)
	}
	return badFormat(format)
}

// WriteEvaluation writes the result of Eval to w in format.
func WriteEvaluation(w io.Writer, e Evaluation, format string) error {
	switch format {
	case FormatJSON:
		return writeJSON(w, e)
	case FormatTable, "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "flag\t%s\n", termsafe.String(e.Flag))
		fmt.Fprintf(tw, "user\t%s\n", strconv.Quote(e.User))
		fmt.Fprintf(tw, "enabled\t%t\n", e.Enabled)
		fmt.Fprintf(tw, "reason\t%s\n", e.Reason)
		fmt.Fprintf(tw, "bucket\t%s\n", bucketText(e.Bucket, e.Threshold))
		fmt.Fprintf(tw, "rollout\t%s (buckets below %d)\n", percent(e.RolloutPercentage), e.Threshold)
		fmt.Fprintf(tw, "bucketing\t%s\n", e.Bucketing)
		return flush(tw)
	}
	return badFormat(format)
}

// histogramWidth is the length of the longest bar in the simulate table.
const histogramWidth = 50

// WriteSimulation writes the result of Simulate to w in format. The table
// shows one histogram row per percent; rows marked * are inside the rollout.
func WriteSimulation(w io.Writer, s SimulateResult, format string) error {
	switch format {
	case FormatJSON:
		return writeJSON(w, s)
	case FormatTable, "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "flag\t%s (enabled: %t, rollout %s)\n", termsafe.String(s.Flag), s.FlagEnabled, percent(s.RolloutPercentage))
		fmt.Fprintf(tw, "users\t%d\n", s.Users)
		fmt.Fprintf(tw, "enabled\t%d (%.2f%%)\n", s.Enabled, s.EnabledPercent)
		fmt.Fprintf(tw, "reasons\t%s\n", reasonCounts(s.Reasons))
		fmt.Fprintf(tw, "bucketing\t%s\n", s.Bucketing)
		if err := flush(tw); err != nil {
			return err
		}
		peak := slices.Max(s.Histogram[:])
		perRow := Buckets / len(s.Histogram)
		var b strings.Builder
		fmt.Fprintf(&b, "\n%8s %8s\n", "PERCENT", "USERS")
		for i, n := range s.Histogram {
			mark := " "
			if (i+1)*perRow <= s.Threshold {
				mark = "*"
			}
			bar := 0
			if peak > 0 {
				bar = n * histogramWidth / peak
			}
			fmt.Fprintf(&b, "%8s %8d %s %s\n", strconv.Itoa(i)+"-"+strconv.Itoa(i+1)+"%", n, mark, strings.Repeat("#", bar))
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return fmt.Errorf("write table: %w", err)
		}
		_, err := fmt.Fprintln(w, "* inside the rollout")
		return err
	}
	return badFormat(format)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

func flush(tw *tabwriter.Writer) error {
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func badFormat(format string) error {
	return fmt.Errorf("%w %q (want %s or %s)", ErrUnknownFormat, format, FormatTable, FormatJSON)
}

func percent(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) + "%" }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func bucketText(b, threshold int) string {
	switch {
	case b == NoBucket:
		return "- (not needed for this decision)"
	case b < threshold:
		return fmt.Sprintf("%d (< %d)", b, threshold)
	}
	return fmt.Sprintf("%d (>= %d)", b, threshold)
}

func reasonCounts(m map[Reason]int) string {
	var parts []string
	for _, r := range []Reason{ReasonInRollout, ReasonOutOfRollout, ReasonAllowedUser, ReasonNoUser, ReasonDisabled} {
		if n := m[r]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r, n))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
