package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadWritesTheTableAndJSON runs a small load on the embedded target:
// every figure the JSON promises is filled, and the counts agree.
func TestLoadWritesTheTableAndJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out", "load.json")
	status, stdout, stderr := hubspec(t, "load", "--target", "embedded", "--devices", "20", "--modules-per-device", "1",
		"--patches", "2", "--ramp", "200", "--hold", "0s", "--concurrency", "8", "--json", path)
	if status != exitPassed {
		t.Fatalf("status %d, want 0; stderr:\n%s", status, stderr)
	}
	for _, row := range []string{"registry creates", "connects", "desired patches", "reported patches", "throttled (429)", "cleanup"} {
		if !strings.Contains(stdout, row) {
			t.Errorf("table lacks %q:\n%s", row, stdout)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Target     string `json:"target"`
		Prefix     string `json:"prefix"`
		Identities int    `json:"identities"`
		Registry   struct {
			Count     int     `json:"count"`
			PerSecond float64 `json:"perSecond"`
		} `json:"registry"`
		Connect struct {
			Count     int                `json:"count"`
			PerSecond float64            `json:"perSecond"`
			Latency   map[string]float64 `json:"latencyMs"`
		} `json:"connect"`
		Desired  map[string]float64 `json:"desiredPatch"`
		Reported map[string]float64 `json:"reportedPatch"`
		Errors   map[string]int     `json:"errors"`
		Cleanup  struct {
			Count int `json:"count"`
		} `json:"cleanup"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v:\n%s", err, b)
	}
	if got.Target != "embedded" || !strings.HasPrefix(got.Prefix, "hs") || got.Identities != 20 || got.Registry.Count != 40 ||
		got.Connect.Count != 20 || got.Cleanup.Count != 20 || got.Registry.PerSecond <= 0 || got.Connect.PerSecond <= 0 {
		t.Errorf("summary wrong:\n%s", b)
	}
	for name, l := range map[string]map[string]float64{"connect": got.Connect.Latency, "desired": got.Desired, "reported": got.Reported} {
		for _, p := range []string{"p50", "p90", "p99", "max"} {
			if l[p] <= 0 {
				t.Errorf("%s latency %s = %v, want > 0", name, p, l[p])
			}
		}
	}
	if got.Desired["count"] != 40 || got.Reported["count"] != 40 {
		t.Errorf("desired %v, reported %v patches: want 40 each", got.Desired["count"], got.Reported["count"])
	}
	for phase, n := range got.Errors {
		if n != 0 {
			t.Errorf("%d %s errors:\n%s", n, phase, b)
		}
	}
}

// TestLoadUsage: a load that cannot mean anything starts no target.
func TestLoadUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		hint string
	}{
		{[]string{"--devices", "0"}, "--devices 0"},
		{[]string{"--modules-per-device", "-1"}, "--modules-per-device -1"},
		{[]string{"--ramp", "-5"}, "--ramp -5"},
		{[]string{"--concurrency", "0"}, "--concurrency 0"},
		{[]string{"--target", "moon"}, "unknown target"},
		{[]string{"extra"}, "load takes no arguments"},
	} {
		status, stdout, stderr := hubspec(t, append([]string{"load"}, tc.args...)...)
		if status != exitUsage || stdout != "" || !strings.Contains(stderr, tc.hint) {
			t.Errorf("load %q: status %d, stdout %q, stderr %q: want 2 and %q", tc.args, status, stdout, stderr, tc.hint)
		}
	}
}
