package emulator

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
)

func mustPutDevice(t *testing.T, reg *registry, id, body string) deviceJSON {
	t.Helper()
	d, err := reg.putDevice(id, []byte(body), precondition{})
	if err != nil {
		t.Fatalf("create device %s: %v", id, err)
	}
	return d
}

func mustPutModule(t *testing.T, reg *registry, deviceID, moduleID, body string) moduleJSON {
	t.Helper()
	m, err := reg.putModule("hub", deviceID, moduleID, []byte(body), precondition{})
	if err != nil {
		t.Fatalf("create module %s/%s: %v", deviceID, moduleID, err)
	}
	return m
}

// wantHubError fails unless err is the hub error want (matched by code).
func wantHubError(t *testing.T, err error, want *hub.Error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("got error %v, want success", err)
		}
		return
	}
	e, ok := hub.AsError(err)
	if !ok || !errors.Is(err, want) || e.StatusCode != want.StatusCode {
		t.Fatalf("got error %v, want %s", err, want.StatusText())
	}
}

// eventLog records registry events for assertions.
type eventLog struct {
	mu      sync.Mutex
	desired []string // "d/m v=<n> <patch>"
	gone    []string // "d/m"
}

func (l *eventLog) events() registryEvents {
	return registryEvents{
		DesiredChanged: func(d, m string, patch []byte, v int64, _ bool) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.desired = append(l.desired, fmt.Sprintf("%s v=%d %s", identityName(d, m), v, patch))
		},
		IdentityGone: func(d, m string) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.gone = append(l.gone, identityName(d, m))
		},
	}
}

func (l *eventLog) take() (desired, gone []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	desired, gone, l.desired, l.gone = l.desired, l.gone, nil, nil
	return desired, gone
}

func TestCreateDeviceDefaults(t *testing.T) {
	reg := newRegistry(nil)
	d := mustPutDevice(t, reg, "dev", `{"deviceId":"dev","status":"enabled","authentication":{"symmetricKey":{"primaryKey":"","secondaryKey":""},"type":"sas"},"capabilities":{"iotEdge":false}}`)
	for _, k := range []*string{d.Authentication.SymmetricKey.PrimaryKey, d.Authentication.SymmetricKey.SecondaryKey} {
		raw, err := base64.StdEncoding.DecodeString(*k)
		if len(*k) != 44 || err != nil || len(raw) != 32 {
			t.Errorf("generated key %q: want 44 chars of base64 for 32 bytes", *k)
		}
	}
	if *d.Authentication.SymmetricKey.PrimaryKey == *d.Authentication.SymmetricKey.SecondaryKey {
		t.Error("primary and secondary keys are equal")
	}
	if raw, err := base64.StdEncoding.DecodeString(d.ETag); err != nil || !regexp.MustCompile(`^[0-9]{9}$`).Match(raw) {
		t.Errorf("etag %q is not base64 of a decimal counter", d.ETag)
	}
	if !regexp.MustCompile(`^[1-9][0-9]{17}$`).MatchString(d.GenerationID) {
		t.Errorf("generationId %q is not 18 digits", d.GenerationID)
	}
	if d.ConnectionState != "Disconnected" || d.Status != "enabled" || d.StatusReason != nil ||
		d.StatusUpdatedTime != hub.NeverTime || d.ConnectionStateUpdatedTime != hub.NeverTime || d.LastActivityTime != hub.NeverTime {
		t.Errorf("unexpected defaults: %+v", d)
	}
}

func TestPutDeviceIfMatch(t *testing.T) {
	tests := []struct {
		name     string
		exists   bool
		ifMatch  func(etag string) string
		want     *hub.Error
		newState bool // the device was created or updated (etag changed)
	}{
		{"absent If-Match creates", false, func(string) string { return "" }, nil, true},
		{"absent If-Match on existing", true, func(string) string { return "" }, hub.ErrDeviceAlreadyExists, false},
		{"bare * updates", true, func(string) string { return "*" }, nil, true},
		{"quoted * updates", true, func(string) string { return `"*"` }, nil, true},
		{"matching etag updates", true, func(e string) string { return `"` + e + `"` }, nil, true},
		{"weak matching etag updates", true, func(e string) string { return `W/"` + e + `"` }, nil, true},
		{"stale etag", true, func(string) string { return `"MTIz"` }, hub.ErrPreconditionFailed, false},
		{"unquoted etag is ignored on existing", true, func(e string) string { return e }, hub.ErrDeviceAlreadyExists, false},
		{"unquoted etag is ignored on absent", false, func(string) string { return "abc" }, nil, true},
		{"* on absent", false, func(string) string { return "*" }, hub.ErrDeviceNotFound, false},
		{"quoted etag on absent", false, func(string) string { return `"MTIz"` }, hub.ErrDeviceNotFound, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(nil)
			var before deviceJSON
			if tc.exists {
				before = mustPutDevice(t, reg, "dev", `{}`)
			}
			got, err := reg.putDevice("dev", []byte(`{"deviceId":"dev","status":"disabled"}`), parseIfMatch(tc.ifMatch(before.ETag)))
			wantHubError(t, err, tc.want)
			after, getErr := reg.getDevice("dev")
			switch {
			case tc.newState && (got.ETag == before.ETag || after.ETag != got.ETag):
				t.Errorf("etag not renewed: before %q, answer %q, stored %q", before.ETag, got.ETag, after.ETag)
			case !tc.newState && tc.exists && (after.ETag != before.ETag || after.Status != "enabled" ||
				*after.Authentication.SymmetricKey.PrimaryKey != *before.Authentication.SymmetricKey.PrimaryKey):
				t.Errorf("a rejected PUT changed the device: before %+v, after %+v", before, after)
			case !tc.newState && !tc.exists && getErr == nil:
				t.Error("a rejected PUT created the device")
			}
		})
	}
}

func TestStaleETagMessage(t *testing.T) {
	reg := newRegistry(nil)
	d := mustPutDevice(t, reg, "dev", `{}`)
	_, err := reg.putDevice("dev", []byte(`{}`), parseIfMatch(`"`+base64.StdEncoding.EncodeToString([]byte("123"))+`"`))
	cur, _ := base64.StdEncoding.DecodeString(d.ETag)
	want := "Precondition failed: Device version did not match, existingVersion:" + string(cur) + " newVersion:123"
	if e, _ := hub.AsError(err); e == nil || e.Message != want {
		t.Errorf("got %v, want message %q", err, want)
	}
}

func TestDeviceUpdate(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	reg := newRegistry(func() time.Time { return now })
	d := mustPutDevice(t, reg, "dev", `{}`)
	// Node sends empty keys on every update: they must keep the current keys.
	u, err := reg.putDevice("dev", []byte(`{"status":"Disabled","statusReason":"maintenance","authentication":{"symmetricKey":{"primaryKey":"","secondaryKey":""},"type":"sas"}}`), parseIfMatch("*"))
	wantHubError(t, err, nil)
	if *u.Authentication.SymmetricKey.PrimaryKey != *d.Authentication.SymmetricKey.PrimaryKey || u.GenerationID != d.GenerationID {
		t.Error("update with empty keys changed the keys or the generation id")
	}
	if u.Status != "disabled" || *u.StatusReason != "maintenance" || u.StatusUpdatedTime != "2025-01-01T00:00:00.0000000Z" {
		t.Errorf("status not updated: %+v", u)
	}
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	u, err = reg.putDevice("dev", []byte(`{"authentication":{"symmetricKey":{"primaryKey":"`+key+`"}}}`), parseIfMatch("*"))
	wantHubError(t, err, nil)
	if *u.Authentication.SymmetricKey.PrimaryKey != key || *u.Authentication.SymmetricKey.SecondaryKey != *d.Authentication.SymmetricKey.SecondaryKey || u.Status != "disabled" {
		t.Errorf("supplied key not stored, or other fields changed: %+v", u)
	}
}

func TestDeviceBodyValidation(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		name, id, body string
		want           *hub.Error
	}{
		{"all allowed specials", "a-.%_*?!(),:=@$'Z9", `{}`, nil},
		{"device id starting with $", "$dev", `{}`, nil},
		{"128 chars", strings.Repeat("x", 128), `{}`, nil},
		{"129 chars", strings.Repeat("x", 129), `{}`, hub.ErrArgumentInvalid},
		{"plus", "a+b", `{}`, hub.ErrArgumentInvalid},
		{"hash", "a#b", `{}`, hub.ErrArgumentInvalid},
		{"slash", "a/b", `{}`, hub.ErrArgumentInvalid},
		{"space", "a b", `{}`, hub.ErrArgumentInvalid},
		{"non-ASCII", "gerät", `{}`, hub.ErrArgumentInvalid},
		{"body id mismatch", "dev", `{"deviceId":"other"}`, hub.ErrArgumentInvalid},
		{"body id empty is filled", "dev", `{"deviceId":""}`, nil},
		{"16-byte key", "dev", `{"authentication":{"symmetricKey":{"primaryKey":"` + b64(16) + `"}}}`, nil},
		{"64-byte key", "dev", `{"authentication":{"symmetricKey":{"primaryKey":"` + b64(64) + `"}}}`, nil},
		{"15-byte key", "dev", `{"authentication":{"symmetricKey":{"primaryKey":"` + b64(15) + `"}}}`, hub.ErrArgumentInvalid},
		{"65-byte key", "dev", `{"authentication":{"symmetricKey":{"secondaryKey":"` + b64(65) + `"}}}`, hub.ErrArgumentInvalid},
		{"key not base64", "dev", `{"authentication":{"symmetricKey":{"primaryKey":"not base64!"}}}`, hub.ErrArgumentInvalid},
		{"unknown auth type", "dev", `{"authentication":{"type":"magic"}}`, hub.ErrArgumentInvalid},
		{"selfSigned without thumbprint", "dev", `{"authentication":{"type":"selfSigned"}}`, hub.ErrArgumentInvalid},
		{"selfSigned bad thumbprint", "dev", `{"authentication":{"type":"selfSigned","x509Thumbprint":{"primaryThumbprint":"xyz"}}}`, hub.ErrArgumentInvalid},
		{"selfSigned", "dev", `{"authentication":{"type":"selfSigned","x509Thumbprint":{"primaryThumbprint":"` + strings.Repeat("ab", 20) + `"}}}`, nil},
		{"bad status", "dev", `{"status":"paused"}`, hub.ErrArgumentInvalid},
		{"long statusReason", "dev", `{"statusReason":"` + strings.Repeat("r", 129) + `"}`, hub.ErrArgumentInvalid},
		{"wrong type", "dev", `{"status":true}`, hub.ErrArgumentInvalid},
		{"not an object", "dev", `[]`, hub.ErrArgumentInvalid},
		{"null body", "dev", `null`, hub.ErrArgumentInvalid},
		{"malformed", "dev", `{"deviceId":`, hub.ErrIotHubFormatError},
		{"trailing garbage", "dev", `{} x`, hub.ErrIotHubFormatError},
		{"empty body", "dev", ``, hub.ErrIotHubFormatError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(nil)
			_, err := reg.putDevice(tc.id, []byte(tc.body), precondition{})
			wantHubError(t, err, tc.want)
			if _, getErr := reg.getDevice(tc.id); (getErr == nil) != (tc.want == nil) {
				t.Errorf("device stored = %v after result %v", getErr == nil, err)
			}
		})
	}
}

func TestDisableAndDeleteCloseConnections(t *testing.T) {
	reg := newRegistry(nil)
	var log eventLog
	reg.setEvents(log.events())
	mustPutDevice(t, reg, "dev", `{}`)
	mustPutModule(t, reg, "dev", "b", `{}`)
	mustPutModule(t, reg, "dev", "a", `{}`)
	if _, err := reg.putDevice("dev", []byte(`{"status":"disabled"}`), parseIfMatch("*")); err != nil {
		t.Fatal(err)
	}
	if _, gone := log.take(); strings.Join(gone, ",") != "dev,dev/a,dev/b" {
		t.Errorf("disable: IdentityGone events %v", gone)
	}
	if _, err := reg.putDevice("dev", []byte(`{"status":"disabled"}`), parseIfMatch("*")); err != nil {
		t.Fatal(err)
	}
	if _, gone := log.take(); len(gone) != 0 {
		t.Errorf("staying disabled fired %v", gone)
	}
	for _, id := range [][2]string{{"dev", ""}, {"dev", "a"}} {
		if _, _, enabled, err := reg.identityKeys(id[0], id[1]); err != nil || enabled {
			t.Errorf("identityKeys(%v): enabled=%v err=%v", id, enabled, err)
		}
	}
	wantHubError(t, reg.deleteDevice("dev", parseIfMatch(`"stale"`)), hub.ErrPreconditionFailed)
	wantHubError(t, reg.deleteDevice("dev", precondition{}), nil) // absent If-Match counts as *
	if _, gone := log.take(); strings.Join(gone, ",") != "dev,dev/a,dev/b" {
		t.Errorf("delete: IdentityGone events %v", gone)
	}
	wantHubError(t, reg.deleteDevice("dev", precondition{}), hub.ErrDeviceNotFound)
	_, err := reg.getTwin("dev", "a")
	wantHubError(t, err, hub.ErrDeviceNotFound)
	_, _, _, err = reg.identityKeys("dev", "a")
	wantHubError(t, err, hub.ErrDeviceNotFound)
}

func TestSetConnected(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 890123400, time.UTC)
	reg := newRegistry(func() time.Time { return now })
	before := mustPutDevice(t, reg, "dev", `{}`)
	mustPutModule(t, reg, "dev", "m", `{}`)
	reg.setConnected("dev", "m", true)
	reg.setConnected("ghost", "", true) // ignored
	m, _ := reg.getModule("dev", "m")
	if m.ConnectionState != "Connected" || m.ConnectionStateUpdatedTime != "2025-03-04T05:06:07.8901234Z" || m.LastActivityTime != m.ConnectionStateUpdatedTime {
		t.Errorf("module after connect: %+v", m)
	}
	d, _ := reg.getDevice("dev")
	if d.ConnectionState != "Disconnected" || d.ETag != before.ETag {
		t.Errorf("device changed by its module's connection: %+v", d)
	}
	reg.setConnected("dev", "m", false)
	if m, _ = reg.getModule("dev", "m"); m.ConnectionState != "Disconnected" {
		t.Errorf("module after disconnect: %+v", m)
	}
}

func TestListAndStats(t *testing.T) {
	reg := newRegistry(nil)
	for _, id := range []string{"c", "a", "b"} {
		mustPutDevice(t, reg, id, `{}`)
	}
	mustPutDevice(t, reg, "d", `{"status":"disabled"}`)
	if got := reg.listDevices(2); len(got) != 2 || got[0].DeviceID != "a" || got[1].DeviceID != "b" {
		t.Errorf("listDevices(2) = %+v", got)
	}
	if s := reg.stats(); s != (deviceStats{Total: 4, Enabled: 3, Disabled: 1}) {
		t.Errorf("stats = %+v", s)
	}
}
