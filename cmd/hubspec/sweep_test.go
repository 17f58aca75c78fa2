package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubspec/hubspec/hub/service"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub"
)

// TestSweepUsage: the sweep never starts without both limits and a hub.
func TestSweepUsage(t *testing.T) {
	const cs = "HostName=hub.example;SharedAccessKeyName=iothubowner;SharedAccessKey=c2VjcmV0"
	for _, tc := range []struct {
		name, connectionString string
		args                   []string
		stderrHint             string
	}{
		{name: "no prefix", connectionString: cs, args: []string{"--older-than", "1h"}, stderrHint: "--prefix is required"},
		{name: "empty prefix", connectionString: cs, args: []string{"--prefix=", "--older-than", "1h"}, stderrHint: "--prefix is required"},
		{name: "no age", connectionString: cs, args: []string{"--prefix", "hs1a2b3c"}, stderrHint: "--older-than is required"},
		{name: "bad age", connectionString: cs, args: []string{"--prefix", "hs1a2b3c", "--older-than", "soon"}, stderrHint: "invalid value"},
		{name: "no hub", args: []string{"--prefix", "hs1a2b3c", "--older-than", "1h"}, stderrHint: "IOTHUB_CONNECTION_STRING is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("IOTHUB_CONNECTION_STRING", tc.connectionString)
			t.Setenv("IOTHUB_CA_FILE", "")
			status, stdout, stderr := hubspec(t, append([]string{"sweep"}, tc.args...)...)
			if status != exitUsage || stdout != "" {
				t.Fatalf("status %d, want 2; stdout %q", status, stdout)
			}
			if !strings.Contains(stderr, tc.stderrHint) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderrHint, stderr)
			}
		})
	}
}

// TestSweepDeletesWhatARunLeft uses an emulator as the live hub, reached as
// a live hub is (connection string and CA file from the environment): only
// the run's own devices go, and only once the run is old enough.
func TestSweepDeletesWhatARunLeft(t *testing.T) {
	ctx := context.Background()
	s := emulatorAsLiveHub(t)
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	run := harness.NewRun(nil)
	flipped := "0" // another run of the same minute: the prefix's last random digit differs
	if strings.HasSuffix(run.Prefix, "0") {
		flipped = "1"
	}
	otherRun := &harness.Run{Prefix: run.Prefix[:len(run.Prefix)-1] + flipped}
	leftover, otherLeftover, bystander := run.NewScenario().Name("lamp"), otherRun.NewScenario().Name("lamp"), "thermostat"
	for _, id := range []string{leftover, otherLeftover, bystander} {
		if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: id}); err != nil {
			t.Fatal(err)
		}
	}

	status, stdout, stderr := hubspec(t, "sweep", "--prefix", run.Prefix, "--older-than", "1h")
	if status != exitPassed || stdout != "" {
		t.Fatalf("a run younger than --older-than: status %d, deleted %q\n%s", status, stdout, stderr)
	}
	status, stdout, stderr = hubspec(t, "sweep", "--prefix", run.Prefix, "--older-than", "0s")
	if status != exitPassed || stdout != leftover+"\n" {
		t.Fatalf("status %d, deleted %q, want %s\n%s", status, stdout, leftover, stderr)
	}
	if _, err := reg.GetDevice(ctx, leftover); !errors.Is(err, hub.ErrDeviceNotFound) {
		t.Errorf("the leftover is still there: %v", err)
	}
	for _, id := range []string{otherLeftover, bystander} {
		if _, err := reg.GetDevice(ctx, id); err != nil {
			t.Errorf("device %s of someone else: %v", id, err)
		}
	}

	t.Setenv("IOTHUB_CA_FILE", "testdata/tagged.feature")
	if status, _, stderr := hubspec(t, "sweep", "--prefix", run.Prefix, "--older-than", "0s"); status != exitFailed || !strings.Contains(stderr, "no PEM certificate") {
		t.Errorf("a CA file without a certificate: status %d\n%s", status, stderr)
	}
}

// emulatorAsLiveHub starts an emulator and points the IOTHUB_* environment
// at it the way a live hub is configured (liveHub).
func emulatorAsLiveHub(t *testing.T) *emulator.Server {
	t.Helper()
	s, env := liveHub(t)
	setEnv(t, env)
	return s
}

// liveHub starts an emulator and returns the IOTHUB_* environment that
// points at it the way a live hub is configured: connection string, CA
// file, MQTT and AMQP addresses and the built-in endpoint's connection
// string, no IOTHUB_TARGET.
func liveHub(t *testing.T) (*emulator.Server, []string) {
	t.Helper()
	s, err := emulator.Start(context.Background(), emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, s.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return s, []string{
		"IOTHUB_TARGET=",
		"IOTHUB_CONNECTION_STRING=" + s.ConnectionString(),
		"IOTHUB_CA_FILE=" + caFile,
		"IOTHUB_MQTT_ADDRESS=" + s.MQTTAddr(),
		"IOTHUB_AMQP_ADDRESS=" + s.AMQPAddr(),
		"IOTHUB_EVENTHUB_CONNECTION_STRING=" + s.EventHubConnectionString(),
	}
}
