package emulator

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hubspec/hubspec/hub"
)

// bulkAnswer decodes a bulk registry answer.
func bulkAnswer(t *testing.T, r response) bulkResult {
	t.Helper()
	var res bulkResult
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatalf("bulk answer %s: %v", r.body, err)
	}
	return res
}

// TestBulkRegistryAppliesEachDevice: every import mode does what the
// service API's ImportMode says; a device whose operation fails is named in
// errors with the hub error's name, and the others are applied.
func TestBulkRegistryAppliesEachDevice(t *testing.T) {
	h := newTestHub(t)
	r := h.do("POST", "/devices", `[
		{"id":"b1","importMode":"create","tags":{"site":"x"},"properties":{"desired":{"interval":5}}},
		{"id":"b2","importMode":"createOrUpdate","status":"disabled","statusReason":"spare"},
		{"id":"b3","importMode":"create","authentication":{"type":"sas","symmetricKey":{"primaryKey":"","secondaryKey":""}}}]`)
	h.wantStatus(r, 200, nil)
	if res := bulkAnswer(t, r); !res.IsSuccessful || len(res.Errors) != 0 {
		t.Fatalf("create three: %s", r.body)
	}
	twin := h.do("GET", "/twins/b1", "").json(t)
	if fmt.Sprint(twin["tags"]) != "map[site:x]" || !strings.Contains(fmt.Sprint(twin["properties"]), "interval:5") {
		t.Fatalf("b1's twin %v", twin)
	}
	if d := h.do("GET", "/devices/b2", "").json(t); d["status"] != "disabled" || d["statusReason"] != "spare" {
		t.Fatalf("b2 %v", d)
	}
	b3 := h.do("GET", "/devices/b3", "").json(t)
	if !strings.Contains(fmt.Sprint(b3["authentication"]), "primaryKey:") || strings.Contains(fmt.Sprint(b3["authentication"]), "primaryKey: ") {
		t.Fatalf("b3 has no generated keys: %v", b3["authentication"])
	}

	etag := b3["etag"].(string)
	r = h.do("POST", "/devices", `[
		{"id":"b1","importMode":"create"},
		{"id":"missing","importMode":"update"},
		{"id":"b2","importMode":"updateIfMatchETag","eTag":"c3RhbGU=","status":"enabled"},
		{"id":"b3","importMode":"deleteIfMatchETag","eTag":"`+etag+`"},
		{"id":"b4","importMode":"createOrUpdate"},
		{"id":"b1","importMode":"updateTwin","tags":{"site":"y"}}]`)
	h.wantStatus(r, 400, hub.ErrDeviceDefinedMultipleTimes)
	if h.do("GET", "/devices/b4", "").status != 404 {
		t.Fatal("a refused request created b4")
	}

	r = h.do("POST", "/devices", `[
		{"id":"b1","importMode":"create"},
		{"id":"missing","importMode":"update"},
		{"id":"b2","importMode":"updateIfMatchETag","eTag":"c3RhbGU=","status":"enabled"},
		{"id":"b3","importMode":"deleteIfMatchETag","eTag":"`+etag+`"},
		{"id":"b4","importMode":"createOrUpdate"}]`)
	h.wantStatus(r, 200, nil)
	res := bulkAnswer(t, r)
	got := map[string]string{}
	for _, e := range res.Errors {
		got[e.DeviceID] = e.ErrorCode
		if e.ErrorStatus == "" {
			t.Errorf("error for %s has no status text", e.DeviceID)
		}
	}
	want := map[string]string{"b1": "DeviceAlreadyExists", "missing": "DeviceNotFound", "b2": "PreconditionFailed"}
	if res.IsSuccessful || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("errors %v (successful %v), want %v", got, res.IsSuccessful, want)
	}
	if h.do("GET", "/devices/b3", "").status != 404 || h.do("GET", "/devices/b4", "").status != 200 {
		t.Fatal("the operations that could apply were not applied")
	}
	if d := h.do("GET", "/devices/b2", "").json(t); d["status"] != "disabled" {
		t.Fatalf("a stale update changed b2: %v", d)
	}
}

// TestBulkRegistryTwinModes: updateTwin replaces the sections it carries;
// updateTwinIfMatchETag checks the twin's etag, not the identity's.
func TestBulkRegistryTwinModes(t *testing.T) {
	h := newTestHub(t)
	h.wantStatus(h.do("POST", "/devices", `[{"id":"t1","importMode":"create","tags":{"a":1,"b":2}}]`), 200, nil)
	r := h.do("POST", "/devices", `[{"id":"t1","importMode":"updateTwin","tags":{"a":3}}]`)
	h.wantStatus(r, 200, nil)
	twin := h.do("GET", "/twins/t1", "").json(t)
	if fmt.Sprint(twin["tags"]) != "map[a:3]" {
		t.Fatalf("tags after updateTwin %v", twin["tags"])
	}
	r = h.do("POST", "/devices", `[{"id":"t1","importMode":"updateTwinIfMatchETag","twinETag":"stale","tags":{"a":4}}]`)
	if res := bulkAnswer(t, r); res.IsSuccessful || len(res.Errors) != 1 || res.Errors[0].ErrorCode != "PreconditionFailed" {
		t.Fatalf("stale twin etag: %s", r.body)
	}
	r = h.do("POST", "/devices", `[{"id":"t1","importMode":"updateTwinIfMatchETag","twinETag":"`+twin["etag"].(string)+`","tags":{"a":4}}]`)
	if res := bulkAnswer(t, r); !res.IsSuccessful {
		t.Fatalf("current twin etag: %s", r.body)
	}
}

// TestBulkRegistryRefusesMalformedRequestsWhole: each malformed request is
// refused with the hub's error and creates nothing, even where its other
// devices are fine.
func TestBulkRegistryRefusesMalformedRequestsWhole(t *testing.T) {
	h := newTestHub(t)
	var many []string
	for i := range 101 {
		many = append(many, fmt.Sprintf(`{"id":"m%d","importMode":"create"}`, i))
	}
	for _, tc := range []struct {
		name, body string
		status     int
		want       *hub.Error
	}{
		{"not an array", `{"id":"ok","importMode":"create"}`, 400, hub.ErrArgumentInvalid},
		{"not JSON", `[{"id":"ok","importMode":"create"},`, 400, hub.ErrIotHubFormatError},
		{"empty", `[]`, 400, hub.ErrArgumentInvalid},
		{"101 devices", "[" + strings.Join(many, ",") + "]", 413, hub.ErrTooManyDevices},
		{"named twice", `[{"id":"ok","importMode":"create"},{"id":"ok","importMode":"delete"}]`, 400, hub.ErrDeviceDefinedMultipleTimes},
		{"unknown mode", `[{"id":"ok","importMode":"create"},{"id":"x","importMode":"upsert"}]`, 400, hub.ErrArgumentInvalid},
		{"invalid id", `[{"id":"ok","importMode":"create"},{"id":"a b","importMode":"create"}]`, 400, hub.ErrArgumentInvalid},
		{"invalid status", `[{"id":"ok","importMode":"create"},{"id":"x","importMode":"create","status":"on"}]`, 400, hub.ErrArgumentInvalid},
		{"etag mode without etag", `[{"id":"ok","importMode":"create"},{"id":"x","importMode":"deleteIfMatchETag"}]`, 400, hub.ErrArgumentInvalid},
		{"invalid tag name", `[{"id":"ok","importMode":"create"},{"id":"x","importMode":"create","tags":{"a.b":1}}]`, 400, hub.ErrArgumentInvalid},
		{"module entry", `[{"id":"ok","importMode":"create"},{"id":"x","moduleId":"m","importMode":"create"}]`, 400, hub.ErrArgumentInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.wantStatus(h.do("POST", "/devices", tc.body), tc.status, tc.want)
			if n := h.reg.stats().Total; n != 0 {
				t.Fatalf("a refused request left %d devices", n)
			}
		})
	}
}

// TestBulkRegistryNeedsRegistryWrite: a policy that may only read the
// registry is refused the bulk call.
func TestBulkRegistryNeedsRegistryWrite(t *testing.T) {
	h := newTestHub(t)
	r := h.do("POST", "/devices", `[{"id":"ok","importMode":"create"}]`, "Authorization", h.token("registryRead"))
	h.wantStatus(r, 401, hub.ErrUnauthorized)
}
