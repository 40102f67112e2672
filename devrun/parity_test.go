package devrun_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/factory-wager/edgeconf/flags"
	"github.com/factory-wager/edgeconf/kvstore"
)

// TestParity_FlagsOverHTTP holds the Worker's decisions, over HTTP on
// workerd, to Go's flags.Eval for 10,000 user ids per flag.
func TestParity_FlagsOverHTTP(t *testing.T) {
	srv, doc := startExample(t, kvstore.NewMemory(nil))
	const users = 10000
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	for _, flag := range []string{"premium", "ptySupport"} {
		var (
			mu       sync.Mutex
			failures []string
			wg       sync.WaitGroup
		)
		jobs := make(chan int)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					user := fmt.Sprintf("user-%d@example.com", i)
					if i%1000 == 0 {
						user = "alice@factory-wager.com"
					}
					want, err := flags.Eval(doc.Config.Features, flag, user)
					if err != nil {
						panic(err)
					}
					resp, err := client.Get(srv.URL + "/api/flags/" + flag + "?user=" + url.QueryEscape(user))
					var got flags.Evaluation
					if err == nil {
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						err = json.Unmarshal(b, &got)
					}
					if err != nil || got != want {
						mu.Lock()
						if len(failures) < 10 {
							failures = append(failures, fmt.Sprintf("%s %q: worker %+v (%v), Go %+v", flag, user, got, err, want))
						}
						mu.Unlock()
					}
				}
			}()
		}
		for i := range users {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		if len(failures) > 0 {
			t.Errorf("the Worker disagrees with flags.Eval:\n%v", failures)
		}
	}
}
