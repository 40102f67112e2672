package flags

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/factory-wager/edgeconf/config"
)

var update = flag.Bool("update", false, "rewrite testdata/flags-vectors.json from the Go implementation")

const vectorsPath = "testdata/flags-vectors.json"

// vectorUsers is how many user IDs the vector file holds.
const vectorUsers = 100_000

// vectorFile is the layout of testdata/flags-vectors.json, which holds the
// decisions of the Go implementation for the JavaScript one to match.
//
// Users lists the user IDs. For each flag key with an enabled case,
// Buckets holds the bucket of every user as four decimal digits per user
// ("----" for the empty ID, which has no bucket). Each case holds a flag and, in Decisions, one
// reason code per user (see reasonCodes); Enabled follows from the reason,
// and Decision.Bucket is the user's bucket for reasons in-rollout and
// out-of-rollout (except the empty ID) and -1 otherwise.
type vectorFile struct {
	Bucketing string            `json:"bucketing"`
	Layout    string            `json:"layout"`
	Codes     map[string]Reason `json:"codes"`
	Users     []string          `json:"users"`
	Buckets   map[string]string `json:"buckets"`
	Cases     []vectorCase      `json:"cases"`
	_         struct{}          `json:"-"`
}

type vectorCase struct {
	Name      string             `json:"name"`
	Key       string             `json:"key"`
	Flag      config.FeatureFlag `json:"flag"`
	Decisions string             `json:"decisions"`
}

const vectorLayout = "users[i] is a user ID; buckets[key] holds 4 decimal digits per user (---- = no bucket, the empty ID); " +
	"cases[c].decisions holds one reason code per user (see codes); enabled iff the reason is allowed-user or in-rollout; " +
	"the decision's bucket is buckets[key][i] for in-rollout/out-of-rollout with a non-empty ID, else -1"

// reasonCodes are the one-letter codes of the vector file.
var reasonCodes = map[Reason]byte{
	ReasonDisabled:     'D',
	ReasonAllowedUser:  'A',
	ReasonNoUser:       'N',
	ReasonInRollout:    'I',
	ReasonOutOfRollout: 'O',
}

// vectorIDs makes the vector file's user IDs from a fixed seed: every
// shape of ID a Worker sees, with non-ASCII (2-, 3- and 4-byte UTF-8,
// emoji sequences), JSON-escaped characters, every tail length of the
// 4-byte murmur3 blocks, IDs long enough for Go's streaming hash path, and
// the empty ID.
func vectorIDs() []string {
	r := rand.New(rand.NewPCG(3, 20250101))
	pick := func(n int) int { return int(r.Uint64() % uint64(n)) }
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	nonASCII := []string{"é", "ü", "ß", "ø", "ñ", "Ж", "я", "ω", "ش", "ע", "中", "文", "日", "本", "한", "국", "€", "ℕ", "🚀", "👩‍💻", "🇫🇷", "😀", "𝄞", "a", "-", "."}
	words := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "zoë", "josé", "françois", "søren", "müller"}
	ids := make([]string, 0, vectorUsers)
	seen := map[string]bool{}
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	add("")
	add("alice@factory-wager.com")
	for len(ids) < vectorUsers {
		var b strings.Builder
		switch k := pick(100); {
		case k < 25: // sequential
			fmt.Fprintf(&b, "user-%d", len(ids))
		case k < 45: // e-mail
			fmt.Fprintf(&b, "%s%d@factory-wager.com", words[pick(len(words))], pick(100000))
		case k < 60: // UUID
			fmt.Fprintf(&b, "%08x-%04x-4%03x-%04x-%012x", r.Uint32(), pick(1<<16), pick(1<<12), 0x8000|pick(1<<14), r.Uint64()&(1<<48-1))
		case k < 75: // short alphanumeric, 1..8 bytes: every murmur3 tail length
			for n := 1 + pick(8); n > 0; n-- {
				b.WriteByte(alnum[pick(len(alnum))])
			}
		case k < 90: // non-ASCII
			for n := 1 + pick(12); n > 0; n-- {
				b.WriteString(nonASCII[pick(len(nonASCII))])
			}
		case k < 99: // printable ASCII including quotes, backslash and space; sometimes a tab
			for n := 1 + pick(16); n > 0; n-- {
				b.WriteByte(byte(' ' + pick('~'-' '+1)))
			}
			if pick(4) == 0 {
				b.WriteByte('\t')
			}
		default: // long: past Go's stack buffer
			b.WriteString("tenant-")
			for n := 125 + pick(60); b.Len() < n; {
				b.WriteString(nonASCII[pick(len(nonASCII))])
				b.WriteByte(alnum[pick(len(alnum))])
			}
		}
		add(b.String())
	}
	return ids
}

var (
	vectorsOnce  sync.Once
	vectorsBuilt vectorFile
)

// builtVectors returns buildVectors(), computed once for all tests.
func builtVectors() vectorFile {
	vectorsOnce.Do(func() { vectorsBuilt = buildVectors() })
	return vectorsBuilt
}

// buildVectors evaluates every case for every user.
func buildVectors() vectorFile {
	users := vectorIDs()
	// Allowed users come from the user list so that they are evaluated:
	// every 997th user (a mix of shapes, non-ASCII among them) plus alice.
	var allowed []string
	for i := 1; i < len(users); i += 997 {
		allowed = append(allowed, users[i])
	}
	var allowedNonASCII []string
	for _, u := range users {
		if len(allowedNonASCII) < 20 && utf8.RuneCountInString(u) != len(u) {
			allowedNonASCII = append(allowedNonASCII, u)
		}
	}
	const unicodeKey = "nouvelle-fonctionnalité-🚀"
	cases := []vectorCase{
		{Name: "25 percent with allowed users", Key: "premium", Flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 25, AllowedUsers: allowed}},
		{Name: "0 percent with allowed users", Key: "premium", Flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 0, AllowedUsers: allowed}},
		{Name: "finest step", Key: "premium", Flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 0.01}},
		{Name: "half a step rounds up", Key: "premium", Flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 0.005}},
		{Name: "99.99 percent", Key: "premium", Flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 99.99}},
		{Name: "100 percent", Key: "premium", Flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 100}},
		{Name: "disabled with allowed users", Key: "premium", Flag: config.FeatureFlag{Enabled: false, RolloutPercentage: 50, AllowedUsers: allowed}},
		{Name: "10 percent", Key: "ptySupport", Flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 10}},
		{Name: "two decimals", Key: "ptySupport", Flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 33.33}},
		{Name: "three decimals round", Key: "ptySupport", Flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 12.345}},
		{Name: "50 percent", Key: "terminal", Flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 50}},
		{Name: "non-ASCII key and allowed users", Key: unicodeKey, Flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 50, AllowedUsers: allowedNonASCII}},
		{Name: "disabled at 0", Key: "webgl", Flag: config.FeatureFlag{Enabled: false, RolloutPercentage: 0}},
	}
	v := vectorFile{
		Bucketing: Bucketing,
		Layout:    vectorLayout,
		Codes:     map[string]Reason{},
		Users:     users,
		Buckets:   map[string]string{},
	}
	for r, c := range reasonCodes {
		v.Codes[string(c)] = r
	}
	for _, c := range cases {
		if _, ok := v.Buckets[c.Key]; ok || !c.Flag.Enabled {
			continue // buckets are only needed for keys with an enabled case
		}
		var b strings.Builder
		for _, u := range users {
			if u == "" {
				b.WriteString("----")
				continue
			}
			fmt.Fprintf(&b, "%04d", Bucket(c.Key, u))
		}
		v.Buckets[c.Key] = b.String()
	}
	for _, c := range cases {
		c.Flag.Index()
		dec := make([]byte, len(users))
		for i, u := range users {
			dec[i] = reasonCodes[Evaluate(c.Key, c.Flag, u).Reason]
		}
		c.Decisions = string(dec)
		v.Cases = append(v.Cases, c)
	}
	return v
}

// encodeVectors writes one user per line so that diffs stay readable.
func encodeVectors(v vectorFile) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode vectors: %w", err)
	}
	return buf.Bytes(), nil
}

// TestVectors_File checks that testdata/flags-vectors.json holds what the
// Go implementation decides today, or rewrites it with -update.
func TestVectors_File(t *testing.T) {
	if !*update {
		t.Parallel()
	}
	want, err := encodeVectors(builtVectors())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(vectorsPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", vectorsPath, len(want))
	}
	got, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("read vectors (create them with go test ./flags -run TestVectors_File -update): %v", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	// Name the decisions that differ, if any, before giving up.
	var v vectorFile
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("decode %s: %v", vectorsPath, err)
	}
	checkVectors(t, v)
	t.Fatalf("%s is out of date with its generator; regenerate it with go test ./flags -run TestVectors_File -update", vectorsPath)
}

// checkVectors evaluates every case of v and compares it with the file, so
// a mismatch names the user and the case.
func checkVectors(t *testing.T, v vectorFile) {
	t.Helper()
	if v.Bucketing != Bucketing {
		t.Fatalf("vectors are for bucketing %q, this code implements %q", v.Bucketing, Bucketing)
	}
	if len(v.Users) < vectorUsers {
		t.Fatalf("vectors hold %d users, want at least %d", len(v.Users), vectorUsers)
	}
	mismatches := 0
	for _, c := range v.Cases {
		c.Flag.Index()
		buckets := v.Buckets[c.Key]
		if len(c.Decisions) != len(v.Users) || (c.Flag.Enabled && len(buckets) != 4*len(v.Users)) {
			t.Fatalf("case %q: %d decisions and %d bucket digits for %d users", c.Name, len(c.Decisions), len(buckets), len(v.Users))
		}
		for i, u := range v.Users {
			want := Decision{Reason: v.Codes[string(c.Decisions[i])], Bucket: NoBucket}
			want.Enabled = want.Reason == ReasonAllowedUser || want.Reason == ReasonInRollout
			if want.Reason == ReasonInRollout || want.Reason == ReasonOutOfRollout {
				if digits := buckets[4*i : 4*i+4]; digits != "----" {
					want.Bucket, _ = strconv.Atoi(digits)
				}
			}
			if got := Evaluate(c.Key, c.Flag, u); got != want {
				t.Errorf("case %q: Evaluate(%q, ..., %q) = %+v, file says %+v", c.Name, c.Key, u, got, want)
				if mismatches++; mismatches > 10 {
					t.FailNow()
				}
			}
		}
	}
}

// TestVectors_Coverage keeps the vector file honest about what it covers.
func TestVectors_Coverage(t *testing.T) {
	t.Parallel()
	v := builtVectors()
	seenReason := map[Reason]bool{}
	for _, c := range v.Cases {
		for i := range c.Decisions {
			seenReason[v.Codes[string(c.Decisions[i])]] = true
		}
	}
	for r := range reasonCodes {
		if !seenReason[r] {
			t.Errorf("no vector has reason %s", r)
		}
	}
	percents := map[float64]bool{}
	for _, c := range v.Cases {
		percents[c.Flag.RolloutPercentage] = true
	}
	for _, p := range []float64{0, 0.01, 99.99, 100} {
		if !percents[p] {
			t.Errorf("no vector case at %v%%", p)
		}
	}
	var long, nonASCII, empty int
	for _, u := range v.Users {
		switch {
		case u == "":
			empty++
		case len(u)+len("premium") > stackHashLen:
			long++
		}
		if utf8.RuneCountInString(u) != len(u) {
			nonASCII++
		}
	}
	if long < 100 || nonASCII < 1000 || empty != 1 {
		t.Errorf("vectors have %d long IDs, %d non-ASCII IDs and %d empty IDs; want ≥ 100, ≥ 1000 and 1", long, nonASCII, empty)
	}
}

// TestVectors_NodeParity runs the Worker's JavaScript implementation over the
// vector file with Node.js and requires it to agree on every decision.
func TestVectors_NodeParity(t *testing.T) {
	if *update {
		// Run after TestVectors_File has rewritten the file.
		t.Log("checking the vectors just written")
	} else {
		t.Parallel()
	}
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node not found (%v); install Node.js 20: apt-get install nodejs", err)
		}
		t.Skip("install Node.js 20: apt-get install nodejs")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "--test", "--test-reporter=tap", filepath.Join("worker", "flags_parity.test.mjs"))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test worker/flags_parity.test.mjs: %v\n%s", err, out)
	}
	// The JavaScript test prints "agreed N/N" for the vector file.
	m := regexp.MustCompile(`agreed (\d+)/(\d+) decisions`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("node test did not report its agreement:\n%s", out)
	}
	if string(m[1]) != string(m[2]) {
		t.Fatalf("JavaScript agreed on %s of %s decisions:\n%s", m[1], m[2], out)
	}
	if n, _ := strconv.Atoi(string(m[2])); n < vectorUsers {
		t.Fatalf("JavaScript checked %d decisions, want at least %d", n, vectorUsers)
	}
	t.Logf("JavaScript agreed on %s/%s decisions", m[1], m[2])
}
