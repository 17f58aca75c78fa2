package emulator

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hubspec/hubspec/hub"
)

func TestRESTTwin(t *testing.T) {
	h := newTestHub(t)
	h.createDevice("dev")
	h.createModule("dev", "mod")
	tw := h.do("GET", "/twins/dev/modules/mod", "")
	h.wantStatus(tw, 200, nil)
	if tw.header.Get("ETag") != `"AAAAAAAAAAE="` {
		t.Errorf("twin ETag header %q", tw.header.Get("ETag"))
	}
	// PYHUB update_module_twin: quoted etag, desired-only body.
	r := h.do("PATCH", "/twins/dev/modules/mod?api-version=2021-04-12", `{"properties":{"desired":{"telemetryInterval":122}}}`, "If-Match", `"AAAAAAAAAAE="`)
	h.wantStatus(r, 200, nil)
	got := r.json(t)
	desired := got["properties"].(map[string]any)["desired"].(map[string]any)
	if got["etag"] != "AAAAAAAAAAI=" || got["version"] != json.Number("3") || desired["telemetryInterval"] != json.Number("122") || desired["$version"] != json.Number("2") {
		t.Errorf("PATCH answer: %s", r.body)
	}
	if d, _ := h.log.take(); len(d) != 1 || d[0] != `dev/mod v=2 {"telemetryInterval":122,"$version":2}` {
		t.Errorf("DesiredChanged %q", d)
	}
	h.wantStatus(h.do("PATCH", "/twins/dev/modules/mod", `{"properties":{"desired":{"x":1}}}`, "If-Match", `"AAAAAAAAAAE="`), 412, hub.ErrPreconditionFailed)
	h.wantStatus(h.do("PATCH", "/twins/dev/modules/mod", `{"properties":{"desired":{"x":1}}}`, "If-Match", `AAAAAAAAAAE=`), 200, nil)
	h.wantStatus(h.do("PATCH", "/twins/dev/modules/mod", `{"properties":{"desired":`, "If-Match", "*"), 400, hub.ErrIotHubFormatError)

	// Device-side reported patch: version moves, etag does not.
	if _, err := h.reg.patchReported("dev", "mod", []byte(`{"battery":80}`)); err != nil {
		t.Fatal(err)
	}
	after := h.do("GET", "/twins/dev/modules/mod", "").json(t)
	if after["etag"] != "AAAAAAAAAAM=" || after["version"] != json.Number("5") {
		t.Errorf("after reported patch: etag %v version %v", after["etag"], after["version"])
	}
	r = h.do("PUT", "/twins/dev", `{"tags":{"site":"b43"},"properties":{"desired":{"mode":"eco"}}}`, "If-Match", "*")
	h.wantStatus(r, 200, nil)
	dt := r.json(t)
	if dt["tags"].(map[string]any)["site"] != "b43" || dt["capabilities"] == nil || dt["moduleId"] != nil {
		t.Errorf("device twin PUT answer: %s", r.body)
	}
}

func TestRESTDeleteCascade(t *testing.T) {
	h := newTestHub(t)
	h.createDevice("dev")
	h.createModule("dev", "m1")
	h.createModule("dev", "m2")
	h.wantStatus(h.do("DELETE", "/devices/dev", "", "If-Match", "*"), 204, nil)
	h.wantStatus(h.do("GET", "/twins/dev", ""), 404, hub.ErrDeviceNotFound)
	h.wantStatus(h.do("GET", "/twins/dev/modules/m1", ""), 404, hub.ErrDeviceNotFound)
	h.wantStatus(h.do("GET", "/devices/dev/modules/m2", ""), 404, hub.ErrDeviceNotFound)
	if _, gone := h.log.take(); strings.Join(gone, ",") != "dev,dev/m1,dev/m2" {
		t.Errorf("IdentityGone %v", gone)
	}
	// A re-created device starts fresh: new keys, fresh twin, no modules.
	h.createDevice("dev")
	h.wantStatus(h.do("GET", "/devices/dev/modules/m1", ""), 404, hub.ErrModuleNotFound)
	if tw := h.do("GET", "/twins/dev", "").json(t); tw["etag"] != "AAAAAAAAAAE=" || tw["version"] != json.Number("2") {
		t.Errorf("re-created twin: %v", tw)
	}
}
