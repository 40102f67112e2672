package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/factory-wager/edgeconf/internal/testtool"
)

// browserTimeout bounds the whole browser session.
const browserTimeout = 90 * time.Second

// TestBrowser drives Debian's chromium (headless) through the dashboard:
// sign in, set an override through the configuration form, see a second
// tab update live, see a bad value's validation error beside the field,
// and check the page fits a 375 px screen. Any console error or uncaught
// exception fails the test. Screenshots go to $ARTIFACTS (else a temporary
// folder) and their paths are logged.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	chromium := testtool.Require(t, "chromium", "apt-get install -y chromium (or make tools APT_INSTALL=1)")
	r := newRig(t, adminToken, readToken, nil)
	shots := os.Getenv("ARTIFACTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, browserTimeout)
	defer cancelTimeout()

	var mu sync.Mutex
	var consoleErrors []string
	listen := func(tab string) func(ev any) {
		return func(ev any) {
			mu.Lock()
			defer mu.Unlock()
			switch e := ev.(type) {
			case *runtime.EventConsoleAPICalled:
				if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
					var args []string
					for _, a := range e.Args {
						args = append(args, string(a.Value))
					}
					consoleErrors = append(consoleErrors, tab+": console."+string(e.Type)+": "+strings.Join(args, " "))
				}
			case *runtime.EventExceptionThrown:
				d := e.ExceptionDetails
				text := d.Text
				if d.Exception != nil {
					text += " " + d.Exception.Description
				}
				consoleErrors = append(consoleErrors, fmt.Sprintf("%s: exception at %s:%d: %s", tab, d.URL, d.LineNumber+1, text))
			}
		}
	}
	if err := chromedp.Listen(ctx, listen("tab 1")); err != nil {
		t.Fatalf("start the browser: %v", err)
	}
	screenshot := func(ctx context.Context, name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(shots, name+".png")
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	signIn := func(ctx context.Context, page string) error {
		return chromedp.Do(ctx,
			chromedp.Navigate(r.srv.URL+"/#"+page),
			chromedp.WaitVisible("#login-token"),
			chromedp.SendKeys("#login-token", adminToken),
			chromedp.Click("#login-submit"),
			chromedp.WaitVisible("#live-status.on"),
		)
	}
	if err := signIn(ctx, "config"); err != nil {
		t.Fatalf("sign in (tab 1): %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible("#override-form"), chromedp.WaitVisible("#config-table")); err != nil {
		t.Fatalf("the configuration page: %v", err)
	}

	// A second tab, signed in, on the same page.
	ctx2, cancel2 := chromedp.NewContext(ctx)
	defer cancel2()
	if err := chromedp.Listen(ctx2, listen("tab 2")); err != nil {
		t.Fatal(err)
	}
	if err := signIn(ctx2, "config"); err != nil {
		t.Fatalf("sign in (tab 2): %v", err)
	}
	if err := chromedp.Do(ctx2, chromedp.WaitVisible("#overrides-empty")); err != nil {
		t.Fatalf("tab 2 starts with no overrides: %v", err)
	}

	// Set an override in tab 1.
	const path = "features.premium.rolloutPercentage"
	if err := chromedp.Do(ctx,
		chromedp.SendKeys("#override-path", path),
		chromedp.SendKeys("#override-value", "45"),
		chromedp.SendKeys("#override-ttl", "2h"),
		chromedp.Click("#override-submit"),
		chromedp.WaitVisible("#overrides-table"),
	); err != nil {
		t.Fatalf("set an override: %v", err)
	}
	row, err := chromedp.Run(ctx, chromedp.Text("#overrides-table"))
	if err != nil || !strings.Contains(row, path) || !strings.Contains(row, "45") {
		t.Fatalf("tab 1's overrides: %q, %v", row, err)
	}
	// Tab 2 updates by itself (server-sent events).
	if err := chromedp.Do(ctx2, chromedp.WaitVisible("#overrides-table")); err != nil {
		t.Fatalf("tab 2 did not update live: %v", err)
	}
	if row, err = chromedp.Run(ctx2, chromedp.Text("#overrides-table")); err != nil || !strings.Contains(row, path) {
		t.Fatalf("tab 2's overrides: %q, %v", row, err)
	}
	screenshot(ctx2, "dashboard-config-live")

	// A value that breaks the configuration: the error shows beside the field.
	// Filled and submitted in one script turn: the page re-renders on
	// every change event, and a step-by-step fill could race it.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		document.getElementById("override-path").value = "`+path+`";
		const v = document.getElementById("override-value");
		v.value = "400";
		v.focus();
		document.getElementById("override-submit").click();
		return true;
	})()`)); err != nil {
		t.Fatalf("submit a bad value: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible("#override-error")); err != nil {
		t.Fatalf("no validation error shown: %v", err)
	}
	if msg, err := chromedp.Run(ctx, chromedp.Text("#override-error")); err != nil || !strings.Contains(msg, "refused") {
		t.Fatalf("the validation error: %q, %v", msg, err)
	}
	if invalid, err := chromedp.Run(ctx, chromedp.AttributeValue("#override-value", "aria-invalid")); err != nil || invalid.Value != "true" {
		t.Errorf("the field is not marked invalid: %+v, %v", invalid, err)
	}
	screenshot(ctx, "dashboard-validation-error")

	// The keyboard alone: Tab to the configuration link, Enter, Tab to the
	// override form, type, Enter; the override lands.
	focusBy := func(ctx context.Context, want string) error {
		for range 60 {
			got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const a = document.activeElement; return a ? (a.id || a.getAttribute("data-page") || a.tagName) : ""; })()`))
			if err != nil {
				return err
			}
			if got == want {
				return nil
			}
			if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
				return err
			}
		}
		return fmt.Errorf("Tab never reached %s", want)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(r.srv.URL+"/#overview"), chromedp.WaitVisible("#page h2")); err != nil {
		t.Fatal(err)
	}
	const kbPath = "features.ptySupport.rolloutPercentage"
	if err := focusBy(ctx, "config"); err != nil {
		t.Fatalf("keyboard: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible("#override-form")); err != nil {
		t.Fatalf("keyboard: Enter on the configuration link: %v", err)
	}
	for _, step := range []struct{ id, text string }{{"override-path", kbPath}, {"override-value", "15"}} {
		if err := focusBy(ctx, step.id); err != nil {
			t.Fatalf("keyboard: %v", err)
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent(step.text)); err != nil {
			t.Fatalf("keyboard: type into %s: %v", step.id, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible("#overrides-table")); err != nil {
		t.Fatalf("keyboard: submit: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("overrides-table").textContent.includes("`+kbPath+`")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		rows, _ := chromedp.Run(ctx, chromedp.Text("#overrides-table"))
		t.Fatalf("keyboard: the override set with the keyboard is not listed: %v\n%s", err, rows)
	}

	// Every page renders; at 375 px nothing is wider than the screen.
	for _, page := range []string{"overview", "flags", "databases", "deployments", "audit"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(r.srv.URL+"/#"+page), chromedp.WaitVisible("#page h2")); err != nil {
			t.Errorf("page %s: %v", page, err)
		}
	}
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(375, 800),
		chromedp.Navigate(r.srv.URL+"/#config"),
		chromedp.WaitVisible("#config-table"),
	); err != nil {
		t.Fatalf("375 px: %v", err)
	}
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow {
		t.Error("at 375 px the page is wider than the screen")
	}
	screenshot(ctx, "dashboard-375px")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(r.srv.URL+"/#overview"), chromedp.WaitVisible("#page h2")); err != nil {
		t.Fatal(err)
	}
	screenshot(ctx, "dashboard")

	mu.Lock()
	defer mu.Unlock()
	if len(consoleErrors) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(consoleErrors, "\n"))
	}
}
