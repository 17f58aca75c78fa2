package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/service"

	"github.com/hubspec/hubspec/hub"
)

// sweepHub is an emulator standing in for a live hub with leftovers, and a
// registry client for it.
func sweepHub(t *testing.T) *service.RegistryClient {
	t.Helper()
	emb := startEmbedded(t)
	reg, err := service.NewRegistryClient(emb.ServiceConnectionString(), emb.RegistryOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func mustCreate(t *testing.T, reg *service.RegistryClient, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := reg.CreateDevice(context.Background(), &hub.Device{DeviceID: id}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSweepDeletesOnlyOldLeftoversOfThePrefix: old identities of runs under
// the prefix go, with their modules; young runs, other prefixes and ids
// that merely start like a run stay.
func TestSweepDeletesOnlyOldLeftoversOfThePrefix(t *testing.T) {
	ctx := context.Background()
	reg := sweepHub(t)
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	old, young := runPrefix(now.Add(-2*time.Hour)), runPrefix(now.Add(-10*time.Minute))
	if old[:4] != young[:4] {
		t.Fatalf("test set-up: %s and %s should share 4 characters", old, young)
	}
	oldIDs := []string{old + "-myFirstDevice-0a1b2c3d", old + "-house-4e5f6a7b"}
	kept := []string{
		young + "-myFirstDevice-0a1b2c3d",          // a run that may still be going
		"xx" + old[2:] + "-myFirstDevice-0a1b2c3d", // another prefix
		old[:4] + "-manual-1",                      // under the prefix, but not a run's name
		old,                                        // a run prefix alone is no scenario's identity
		"myFirstDevice",
	}
	mustCreate(t, reg, append(slices.Clone(oldIDs), kept...)...)
	if _, err := reg.CreateModule(ctx, &hub.Module{DeviceID: oldIDs[0], ModuleID: "myFirstModule"}); err != nil {
		t.Fatal(err)
	}

	deleted, err := Sweep(ctx, reg, old[:4], time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(deleted)
	if want := slices.Sorted(slices.Values(oldIDs)); !slices.Equal(deleted, want) {
		t.Fatalf("Sweep deleted %v, want %v", deleted, want)
	}
	if _, err := reg.GetModule(ctx, oldIDs[0], "myFirstModule"); !errors.Is(err, hub.ErrDeviceNotFound) && !errors.Is(err, hub.ErrModuleNotFound) {
		t.Fatalf("module of a swept device: %v", err)
	}
	for _, id := range kept {
		if _, err := reg.GetDevice(ctx, id); err != nil {
			t.Errorf("%s was not to be swept: %v", id, err)
		}
	}

	// One run's own prefix and no age limit: what a CI job does after its run.
	deleted, err = Sweep(ctx, reg, young, 0, now)
	if err != nil || !slices.Equal(deleted, kept[:1]) {
		t.Fatalf("Sweep(%s, 0) = %v, %v; want %v", young, deleted, err, kept[:1])
	}
	if deleted, err := Sweep(ctx, reg, old[:4], 0, now); err != nil || len(deleted) != 0 {
		t.Fatalf("second sweep = %v, %v; want nothing left", deleted, err)
	}
}

// TestSweepRefusesWhatCouldWipeAHub: no prefix, a short one, one that is
// not a run's, a negative age, no client.
func TestSweepRefusesWhatCouldWipeAHub(t *testing.T) {
	ctx, now := context.Background(), time.Now()
	reg := sweepHub(t)
	mustCreate(t, reg, runPrefix(now.Add(-48*time.Hour))+"-dev-0a1b2c3d")
	for _, prefix := range []string{"", "h", "hs", "hsa", "xxabcde12", "HSABCDE12", "myFirstDevice"} {
		if deleted, err := Sweep(ctx, reg, prefix, time.Hour, now); err == nil || len(deleted) != 0 {
			t.Errorf("Sweep(%q) = %v, %v; want a refusal", prefix, deleted, err)
		}
	}
	if _, err := Sweep(ctx, reg, "hsab", -time.Second, now); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("negative age: %v", err)
	}
	if _, err := Sweep(ctx, nil, "hsab", time.Hour, now); err == nil {
		t.Error("nil client accepted")
	}
	if list, err := reg.ListDevices(ctx, 0); err != nil || len(list) != 1 {
		t.Fatalf("after refusals the hub holds %d devices (%v), want 1", len(list), err)
	}
}

// TestSweepListsAgainAfterAFullPage: GET /devices answers 1000 devices at
// most, so more leftovers than that take a second listing.
func TestSweepListsAgainAfterAFullPage(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 1003 devices")
	}
	ctx, now := context.Background(), time.Now()
	reg := sweepHub(t)
	prefix := runPrefix(now.Add(-3 * time.Hour))
	const n = sweepPage + 3
	// Created 100 at a time (the bulk operation's most): the test is
	// about the sweep's listings and deletes, not a thousand creates.
	var batch []hub.ExportImportDevice
	for i := range n {
		batch = append(batch, hub.ExportImportDevice{ID: fmt.Sprintf("%s-dev-%08x", prefix, i), ImportMode: "create"})
		if len(batch) == 100 || i == n-1 {
			if res, err := reg.BulkUpdate(ctx, batch); err != nil || !res.IsSuccessful {
				t.Fatalf("create %d devices: %+v, %v", len(batch), res, err)
			}
			batch = batch[:0]
		}
	}
	deleted, err := Sweep(ctx, reg, prefix, time.Hour, now)
	if err != nil || len(deleted) != n {
		t.Fatalf("Sweep deleted %d (%v), want %d", len(deleted), err, n)
	}
}
