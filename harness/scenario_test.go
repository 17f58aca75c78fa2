package harness

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
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
	if a.Name("dev") != a.Name("dev") {
		t.Fatal("one scenario got two names for one alias")
	}
	if r := NewRun(nil); !regexp.MustCompile(`^hs[0-9a-f]{6}$`).MatchString(r.Prefix) {
		t.Fatalf("run prefix %q", r.Prefix)
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
}
