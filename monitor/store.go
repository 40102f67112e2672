package monitor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/objstore"
)

// Where alerts are kept, and bounds.
const (
	AlertKeyPrefix    = "edgeconf/v1/alerts/"
	AlertObjectPrefix = "edgeconf/alerts/"
	DefaultAlertTTL   = 30 * 24 * time.Hour
	MaxAlertsPerDay   = 10_000 // alerts in one day's R2 object; more are dropped with an error
	maxListedAlerts   = 1000
)

// KVAlerts keeps each alert as a KV key with a TTL.
type KVAlerts struct {
	Open OpenKV
	TTL  time.Duration // 0 means DefaultAlertTTL
}

// alertKey sorts by time: AlertKeyPrefix + UTC time to the nanosecond +
// dependency.
func alertKey(a Alert) string {
	return AlertKeyPrefix + a.At.UTC().Format("20060102T150405.000000000Z") + "-" + a.Dependency
}

// Put implements AlertStore.
func (k KVAlerts) Put(ctx context.Context, a Alert) error {
	s, release, err := k.Open(ctx)
	if err != nil {
		return err
	}
	defer release()
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	ttl := k.TTL
	if ttl == 0 {
		ttl = DefaultAlertTTL
	}
	return s.Put(ctx, alertKey(a), b, kvstore.PutOptions{TTL: ttl})
}

// List implements AlertStore: newest first, at most limit (≤ 1000).
func (k KVAlerts) List(ctx context.Context, limit int) ([]Alert, error) {
	if limit <= 0 || limit > maxListedAlerts {
		limit = maxListedAlerts
	}
	s, release, err := k.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var keys []string
	cursor := ""
	for {
		page, err := s.List(ctx, kvstore.ListOptions{Prefix: AlertKeyPrefix, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, ki := range page.Keys {
			keys = append(keys, ki.Name)
		}
		if page.Cursor == "" || len(keys) >= 10*maxListedAlerts {
			break
		}
		cursor = page.Cursor
	}
	sort.Sort(sort.Reverse(sort.StringSlice(keys)))
	var out []Alert
	for _, key := range keys {
		if len(out) == limit {
			break
		}
		e, err := s.Get(ctx, key)
		if errors.Is(err, kvstore.ErrNotFound) {
			continue // expired since the listing
		}
		if err != nil {
			return nil, err
		}
		var a Alert
		if json.Unmarshal(e.Value, &a) == nil {
			out = append(out, a)
		}
	}
	return out, nil
}

// R2Alerts keeps one object per day, a JSON line per alert.
type R2Alerts struct{ Store objstore.Store }

func dayKey(t time.Time) string { return AlertObjectPrefix + t.UTC().Format("2006-01-02") + ".jsonl" }

func readLines(ctx context.Context, s objstore.Store, key string) ([]Alert, error) {
	rc, _, err := s.Get(ctx, key, objstore.GetOptions{})
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []Alert
	sc := bufio.NewScanner(io.LimitReader(rc, 64<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var a Alert
		if json.Unmarshal(sc.Bytes(), &a) == nil {
			out = append(out, a)
		}
	}
	return out, sc.Err()
}

// Put implements AlertStore: it appends to the day's object.
func (r R2Alerts) Put(ctx context.Context, a Alert) error {
	key := dayKey(a.At)
	day, err := readLines(ctx, r.Store, key)
	if err != nil {
		return err
	}
	if len(day) >= MaxAlertsPerDay {
		return fmt.Errorf("r2 alerts: %s holds %d alerts, the limit (MaxAlertsPerDay)", key, MaxAlertsPerDay)
	}
	day = append(day, a)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, x := range day {
		if err := enc.Encode(x); err != nil {
			return err
		}
	}
	_, err = r.Store.Put(ctx, key, bytes.NewReader(buf.Bytes()), int64(buf.Len()), objstore.PutOptions{ContentType: "application/x-ndjson"})
	return err
}

// List implements AlertStore: the newest days first, newest first.
func (r R2Alerts) List(ctx context.Context, limit int) ([]Alert, error) {
	if limit <= 0 || limit > maxListedAlerts {
		limit = maxListedAlerts
	}
	res, err := objstore.ListAll(ctx, r.Store, objstore.ListOptions{Prefix: AlertObjectPrefix})
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, o := range res.Objects {
		if strings.HasSuffix(o.Key, ".jsonl") {
			keys = append(keys, o.Key)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(keys)))
	var out []Alert
	for _, key := range keys {
		day, err := readLines(ctx, r.Store, key)
		if err != nil {
			return nil, err
		}
		for i := len(day) - 1; i >= 0 && len(out) < limit; i-- {
			out = append(out, day[i])
		}
		if len(out) >= limit {
			break
		}
	}
	return out, nil
}
