package emulator

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hubspec/hubspec/hub"
)

// failingStore refuses every commit; loadDevice answers from what was
// committed before it started refusing.
type failingStore struct {
	kept map[string]*deviceEntry
	fail bool
}

func (f *failingStore) saveDevice(id string, d *deviceEntry, _ uint64) error {
	if f.fail {
		return errors.New("disk full")
	}
	if d == nil {
		delete(f.kept, id)
	} else {
		f.kept[id] = storedDeviceOf(d).entry()
	}
	return nil
}

func (f *failingStore) loadDevice(id string) (*deviceEntry, error) {
	d, ok := f.kept[id]
	if !ok {
		return nil, nil
	}
	return storedDeviceOf(d).entry(), nil
}

// TestAWriteTheStoreRefusesIsUndone: when a commit fails the client gets
// 500 ServerError, the state is as it was, and no event tells a connected
// client of the change.
func TestAWriteTheStoreRefusesIsUndone(t *testing.T) {
	reg, _, log := newTwinRegistry(t)
	st := &failingStore{kept: map[string]*deviceEntry{}}
	reg.restore(reg.devices, reg.etagSeq, st)
	mustPutDevice(t, reg, "d2", `{}`) // committed
	before := getTwinView(t, reg, "myFirstDevice", "myFirstModule")
	st.kept["myFirstDevice"] = storedDeviceOf(reg.devices["myFirstDevice"]).entry()
	st.fail = true

	for what, err := range map[string]error{
		"desired patch": func() error {
			_, err := reg.patchTwin("myFirstDevice", "myFirstModule", []byte(`{"properties":{"desired":{"k":1}}}`), precondition{})
			return err
		}(),
		"reported patch": func() error {
			_, err := reg.patchReported("myFirstDevice", "myFirstModule", []byte(`{"k":1}`))
			return err
		}(),
		"module delete": reg.deleteModule("myFirstDevice", "myFirstModule", precondition{}),
		"device create": func() error { _, err := reg.putDevice("d3", []byte(`{}`), precondition{}); return err }(),
		"device delete": reg.deleteDevice("d2", precondition{}),
	} {
		if !errIs(err, hub.ErrServerError) {
			t.Errorf("%s with a failing store: got %v, want 500 ServerError", what, err)
		}
	}
	if after := getTwinView(t, reg, "myFirstDevice", "myFirstModule"); after.Version != before.Version || after.ETag != before.ETag {
		t.Errorf("the twin changed although nothing was stored: version %d → %d", before.Version, after.Version)
	}
	if _, err := reg.getDevice("d3"); err == nil {
		t.Error("a device whose creation was not stored exists")
	}
	if _, err := reg.getDevice("d2"); err != nil {
		t.Errorf("a device whose deletion was not stored is gone: %v", err)
	}
	var listed []string
	for _, d := range reg.listDevices(10) {
		listed = append(listed, d.DeviceID)
	}
	if want := []string{"d2", "myFirstDevice"}; !slices.Equal(listed, want) {
		t.Errorf("devices listed %v, want %v", listed, want)
	}
	if len(log.desired) != 0 || len(log.gone) != 0 {
		t.Errorf("events of writes that were not stored: %v %v", log.desired, log.gone)
	}
}

// TestDataDirRefusesADamagedFile: a record whose bytes changed, a file cut
// short, a file of another format and a directory another emulator holds
// all stop Start with an error naming the problem; nothing is half loaded.
func TestDataDirRefusesADamagedFile(t *testing.T) {
	seed := func(t *testing.T) string {
		t.Helper()
		dir := t.TempDir()
		s, err := Start(context.Background(), Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.registry.putDevice("recognisable-device", []byte(`{}`), precondition{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	damage := func(t *testing.T, dir string, fn func([]byte) []byte) {
		t.Helper()
		path := filepath.Join(dir, storeFile)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, fn(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	startFails := func(t *testing.T, dir, want string) {
		t.Helper()
		s, err := Start(context.Background(), Options{DataDir: dir})
		if err == nil {
			s.Close()
			t.Fatalf("Start on a damaged data dir succeeded")
		}
		if !strings.Contains(err.Error(), filepath.Join(dir, storeFile)) || !strings.Contains(err.Error(), want) {
			t.Fatalf("Start: %v; want an error naming %s and %q", err, storeFile, want)
		}
	}

	t.Run("a record's bytes changed", func(t *testing.T) {
		dir := seed(t)
		damage(t, dir, func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"id":"recognisable-device"`))
			if i < 0 {
				t.Fatal("the device record is not in the file")
			}
			b[i+7] ^= 0x20 // recognisable → Recognisable
			return b
		})
		startFails(t, dir, `devices/"recognisable-device" fails its checksum`)
	})
	t.Run("the file cut short", func(t *testing.T) {
		dir := seed(t)
		damage(t, dir, func(b []byte) []byte { return b[:len(b)/3] })
		startFails(t, dir, "corrupt")
	})
	t.Run("garbage", func(t *testing.T) {
		dir := seed(t)
		damage(t, dir, func(b []byte) []byte { return bytes.Repeat([]byte{0xA5}, len(b)) })
		startFails(t, dir, "")
	})
	t.Run("another emulator holds it", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Start(context.Background(), Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		startFails(t, dir, "in use by another process")
	})
}
