package emulator

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hubspec/hubspec/hub"
)

// query POSTs a query as PYHUB does: {"query": ...}, api-version
// 2021-04-12, and x-ms-max-item-count / x-ms-continuation when given.
func (h *testHub) query(text string, headers ...string) response {
	h.t.Helper()
	b, _ := json.Marshal(map[string]string{"query": text})
	return h.do("POST", "/devices/query?api-version=2021-04-12", string(b), headers...)
}

// queryAll follows the continuation tokens and returns every item and the
// number of pages.
func (h *testHub) queryAll(text string, pageSize int) ([]any, int) {
	h.t.Helper()
	var items []any
	token := ""
	for pages := 1; ; pages++ {
		r := h.query(text, "x-ms-max-item-count", fmt.Sprint(pageSize), "x-ms-continuation", token)
		h.wantStatus(r, 200, nil)
		page := r.json2(h.t)
		if len(page) > pageSize {
			h.t.Fatalf("page %d holds %d items, more than %d", pages, len(page), pageSize)
		}
		items = append(items, page...)
		if token = r.header.Get("x-ms-continuation"); token == "" {
			return items, pages
		}
	}
}

func (h *testHub) patchTwin(path, body string) {
	h.t.Helper()
	h.wantStatus(h.do("PATCH", path, body), 200, nil)
}

func ids(items []any, field string) string {
	var out []string
	for _, it := range items {
		out = append(out, fmt.Sprint(it.(map[string]any)[field]))
	}
	return strings.Join(out, ",")
}

func TestQueryAnswersTwinsInOrder(t *testing.T) {
	h := newTestHub(t)
	for _, id := range []string{"c", "a", "b"} {
		h.createDevice(id)
	}
	h.createModule("a", "m2")
	h.createModule("a", "m1")
	h.createModule("c", "m1")
	h.patchTwin("/twins/b", `{"tags":{"floor":3},"properties":{"desired":{"mode":"eco"}}}`)
	h.patchTwin("/twins/a/modules/m1", `{"tags":{"floor":3}}`)

	r := h.query("SELECT * FROM devices")
	h.wantStatus(r, 200, nil)
	if got := r.header.Get("x-ms-item-type"); got != "twin" {
		t.Fatalf("x-ms-item-type %q, want twin", got)
	}
	if r.header.Get("x-ms-continuation") != "" {
		t.Fatalf("a continuation on the only page: %q", r.header.Get("x-ms-continuation"))
	}
	all := r.json2(t)
	if got := ids(all, "deviceId"); got != "a,b,c" {
		t.Fatalf("devices %s, want a,b,c", got)
	}
	// Each item is the twin GET twin answers, $metadata and all.
	want := h.do("GET", "/twins/b?api-version=2021-04-12", "").json(t)
	got, _ := json.Marshal(all[1])
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Fatalf("query item\n%s\nGET twin\n%s", got, wantJSON)
	}

	mods, _ := h.queryAll("SELECT * FROM devices.modules", 100)
	if got := ids(mods, "deviceId") + " " + ids(mods, "moduleId"); got != "a,a,c m1,m2,m1" {
		t.Fatalf("modules %s", got)
	}
	floor3, _ := h.queryAll("select * from DEVICES.MODULES where TAGS.floor = 3", 100)
	if got := ids(floor3, "moduleId"); got != "m1" || ids(floor3, "deviceId") != "a" {
		t.Fatalf("module twins on floor 3: %v", floor3)
	}
}

func TestQueryProjectsAndCounts(t *testing.T) {
	h := newTestHub(t)
	for i, id := range []string{"d1", "d2", "d3"} {
		h.createDevice(id)
		h.patchTwin("/twins/"+id, fmt.Sprintf(`{"tags":{"site":"%s","n":%d}}`, []string{"north", "south", "north"}[i], i))
	}
	for _, c := range []struct{ query, itemType, want string }{
		{"SELECT DeviceId, tags.site FROM devices WHERE tags.n >= 1", "raw", `[{"deviceId":"d2","site":"south"},{"deviceId":"d3","site":"north"}]`},
		{"SELECT COUNT() AS n FROM devices", "raw", `[{"n":3}]`},
		{"SELECT tags.site AS site, COUNT() AS n FROM devices GROUP BY tags.site", "raw", `[{"site":"north","n":2},{"site":"south","n":1}]`},
		{"SELECT properties.desired.$version AS v, version FROM devices WHERE deviceId = 'd1'", "raw", `[{"v":1,"version":3}]`},
		{"SELECT * FROM devices WHERE STARTSWITH(deviceId, 'nope')", "twin", `[]`},
	} {
		r := h.query(c.query)
		h.wantStatus(r, 200, nil)
		if string(r.body) != c.want || r.header.Get("x-ms-item-type") != c.itemType {
			t.Errorf("%s\n got %s %s\nwant %s %s", c.query, r.header.Get("x-ms-item-type"), r.body, c.itemType, c.want)
		}
	}
}

// TestQueryReflectsWritesAtOnce: a query answers from the registry as it
// is, with no lag.
func TestQueryReflectsWritesAtOnce(t *testing.T) {
	h := newTestHub(t)
	h.createDevice("d")
	count := func() string { return string(h.query("SELECT COUNT() AS n FROM devices WHERE tags.ready = true").body) }
	if got := count(); got != `[{"n":0}]` {
		t.Fatalf("before: %s", got)
	}
	h.patchTwin("/twins/d", `{"tags":{"ready":true}}`)
	if got := count(); got != `[{"n":1}]` {
		t.Fatalf("after the patch: %s", got)
	}
	h.wantStatus(h.do("DELETE", "/devices/d", ""), 204, nil)
	if got := count(); got != `[{"n":0}]` {
		t.Fatalf("after the delete: %s", got)
	}
}

func TestQueryPages(t *testing.T) {
	h := newTestHub(t)
	for i := range 25 {
		h.createDevice(fmt.Sprintf("d%02d", i))
	}
	items, pages := h.queryAll("SELECT deviceId FROM devices", 10)
	if len(items) != 25 || pages != 3 || ids(items, "deviceId")[:11] != "d00,d01,d02" {
		t.Fatalf("%d items in %d pages: %v", len(items), pages, ids(items, "deviceId"))
	}
	// No page size: 100 at most. TOP limits the whole answer, across pages.
	if items, pages := h.queryAll("SELECT TOP 15 * FROM devices", 10); len(items) != 15 || pages != 2 {
		t.Fatalf("TOP 15: %d items in %d pages", len(items), pages)
	}
	if items, pages := h.queryAll("SELECT TOP 10 * FROM devices", 10); len(items) != 10 || pages != 1 {
		t.Fatalf("TOP 10: %d items in %d pages", len(items), pages)
	}
	groups, pages := h.queryAll("SELECT deviceId, COUNT() AS n FROM devices GROUP BY deviceId", 10)
	if len(groups) != 25 || pages != 3 {
		t.Fatalf("groups: %d in %d pages", len(groups), pages)
	}

	// A twin created between pages after the page's last twin is answered;
	// one deleted is not; none is answered twice.
	first := h.query("SELECT deviceId FROM devices", "x-ms-max-item-count", "10")
	token := first.header.Get("x-ms-continuation")
	h.createDevice("d05a")
	h.wantStatus(h.do("DELETE", "/devices/d15", ""), 204, nil)
	h.createDevice("d20a")
	rest := h.query("SELECT deviceId FROM devices", "x-ms-max-item-count", "100", "x-ms-continuation", token)
	if got := ids(rest.json2(t), "deviceId"); got != "d10,d11,d12,d13,d14,d16,d17,d18,d19,d20,d20a,d21,d22,d23,d24" {
		t.Fatalf("second page %s", got)
	}
}

func TestQueryRefusals(t *testing.T) {
	h := newTestHub(t)
	h.createDevice("d")
	for _, c := range []struct {
		body    string
		headers []string
		want    *hub.Error
		says    string
	}{
		{`{"query":"SELECT * FROM devices WHERE"}`, nil, hub.ErrArgumentInvalid, "SQL query parse failed due to following errors: Line 1:28 Unexpected end of query"},
		{`{"query":"SELECT * FROM devices.jobs"}`, nil, hub.ErrArgumentInvalid, "Line 1:23 FROM devices.jobs is not supported"},
		{`{"query":"SELECT * FROM devices WHERE lower(deviceId) = 'd'"}`, nil, hub.ErrArgumentInvalid, "Line 1:29 Unknown function"},
		{`{"query":""}`, nil, hub.ErrArgumentNull, "no query"},
		{`{}`, nil, hub.ErrArgumentNull, "no query"},
		{`{"query":5}`, nil, hub.ErrArgumentInvalid, "wrong JSON type"},
		{`{"query":`, nil, hub.ErrIotHubFormatError, "not valid JSON"},
		{`{"query":"SELECT * FROM devices"}`, []string{"x-ms-max-item-count", "ten"}, hub.ErrArgumentInvalid, "x-ms-max-item-count"},
		{`{"query":"SELECT * FROM devices"}`, []string{"x-ms-max-item-count", "0"}, hub.ErrArgumentInvalid, "x-ms-max-item-count"},
		{`{"query":"SELECT * FROM devices"}`, []string{"x-ms-continuation", "garbage"}, hub.ErrArgumentInvalid, "continuation token"},
	} {
		r := h.do("POST", "/devices/query?api-version=2021-04-12", c.body, c.headers...)
		h.wantStatus(r, 400, c.want)
		if msg := r.hubError().Message; !strings.Contains(msg, c.says) {
			t.Errorf("%s: message %q, want it to say %q", c.body, msg, c.says)
		}
	}
	// A token is good only for the query that gave it.
	h.createDevice("e")
	token := h.query("SELECT * FROM devices", "x-ms-max-item-count", "1").header.Get("x-ms-continuation")
	r := h.query("SELECT deviceId FROM devices", "x-ms-continuation", token)
	h.wantStatus(r, 400, hub.ErrArgumentInvalid)
}

// TestQueryNeedsServiceConnect: queries are ServiceConnect's (DOC-SAS:
// "run queries"); the registry policies cannot run them.
func TestQueryNeedsServiceConnect(t *testing.T) {
	h := newTestHub(t)
	body := `{"query":"SELECT * FROM devices"}`
	for policy, status := range map[string]int{"service": 200, "iothubowner": 200, "registryRead": 401, "registryReadWrite": 401, "device": 401} {
		r := h.do("POST", "/devices/query", body, "Authorization", h.token(policy))
		if r.status != status {
			t.Errorf("%s: %d, want %d", policy, r.status, status)
		}
	}
	// GET /devices/query is still the device whose id is "query".
	h.createDevice("query")
	h.wantStatus(h.do("GET", "/devices/query", ""), 200, nil)
}

// TestQueryRouteSharesItsPathWithADevice: /devices/query is the query for
// POST and the device "query" for the device methods; 405 lists both.
func TestQueryRouteSharesItsPathWithADevice(t *testing.T) {
	h := newTestHub(t)
	r := h.do("PATCH", "/devices/query", "{}")
	h.wantStatus(r, 405, nil)
	if got := r.header.Get("Allow"); got != "DELETE, GET, POST, PUT" {
		t.Fatalf("Allow %q", got)
	}
}
