package harness

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestScenarioNamesAreUniquePerScenarioAndRun(t *testing.T) {
	run := &Run{Prefix: "hsabc123"}
	a, b := run.NewScenario(), run.NewScenario()
	if !regexp.MustCompile(`^hsabc123-myFirstDevice-[0-9a-f]{8}$`).MatchString(a.Name("myFirstDevice")) {
		t.Fatalf("Name = %q", a.Name("myFirstDevice"))
	}
	if a.Name("dev") == b.Name("dev") {
		t.Fatal("two scenarios got the same name for one alias")
	}
	if first, again := a.Name("dev"), a.Name("dev"); first != again {
		t.Fatalf("one scenario got two names for one alias: %q, %q", first, again)
	}
	if r := NewRun(nil); !regexp.MustCompile(`^hs[0-9a-z]{5}[0-9a-f]{2}$`).MatchString(r.Prefix) {
		t.Fatalf("run prefix %q", r.Prefix)
	}
}

// TestRunPrefixSaysWhenTheRunBegan: the prefix, and every id made under
// it, give back the minute the run began; nothing else parses.
func TestRunPrefixSaysWhenTheRunBegan(t *testing.T) {
	began := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	prefix := runPrefix(began)
	if len(prefix) != 9 {
		t.Fatalf("prefix %q: want 9 characters", prefix)
	}
	name := (&Run{Prefix: prefix}).NewScenario().Name("myFirstDevice")
	for _, id := range []string{prefix, name} {
		got, ok := runStarted(id)
		if !ok || !got.Equal(began.Truncate(time.Minute)) {
			t.Errorf("runStarted(%q) = %v, %v; want %v", id, got, ok, began.Truncate(time.Minute))
		}
	}
	for _, id := range []string{"", "hs", "hsabc-dev-1", "myFirstDevice", "xx" + prefix[2:] + "-d-1",
		prefix[:7] + "zz-d-1", strings.ToUpper(prefix) + "-d-1", "hs-----0a-d-1"} {
		if got, ok := runStarted(id); ok {
			t.Errorf("runStarted(%q) = %v, want not a run's id", id, got)
		}
	}
}

// TestCleanupRunsEverythingLastFirst: a failing cleanup does not stop the
// others, and the errors come back joined.
func TestCleanupRunsEverythingLastFirst(t *testing.T) {
	s := (&Run{Prefix: "hs"}).NewScenario()
	var order []string
	for _, name := range []string{"device", "module", "connection"} {
		s.Defer(name, func(context.Context) error {
			order = append(order, name)
			if name == "module" {
				return errors.New("boom")
			}
			return nil
		})
	}
	err := s.Cleanup(context.Background())
	if got := strings.Join(order, ","); got != "connection,module,device" {
		t.Fatalf("cleanup order %s", got)
	}
	if err == nil || !strings.Contains(err.Error(), "cleanup module: boom") {
		t.Fatalf("Cleanup error = %v", err)
	}
	order = nil
	if err := s.Cleanup(context.Background()); err != nil || len(order) != 0 {
		t.Fatalf("second Cleanup ran %v, %v", order, err)
	}
}

func TestConfigAndOpen(t *testing.T) {
	t.Setenv("IOTHUB_TARGET", "")
	if c := ConfigFromEnv(); c.Target != "embedded" {
		t.Fatalf("default target %q", c.Target)
	}
	for _, target := range []string{"cloud"} {
		if _, err := Open(context.Background(), Config{Target: target}, nil); err == nil {
			t.Fatalf("Open(%q) succeeded", target)
		}
	}
	tg, err := Open(context.Background(), Config{Target: "embedded"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if tg.Name() != "embedded" || !strings.Contains(tg.ServiceConnectionString(), "SharedAccessKeyName=iothubowner") {
		t.Fatalf("embedded target: %s %q", tg.Name(), tg.ServiceConnectionString())
	}
	if _, ok := tg.(ConnectionAwaiter); !ok {
		t.Fatal("embedded target cannot await connections")
	}
	if !IsEmulator(tg) {
		t.Fatal("embedded target does not say it is an emulator")
	}
}

// startEmbedded starts an emulator for one test and closes it after.
func startEmbedded(t *testing.T) *Embedded {
	t.Helper()
	emb, err := StartEmbedded(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	return emb
}
