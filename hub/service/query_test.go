package service

import (
	"context"
	"errors"
	"testing"

	"github.com/hubspec/hubspec/hub"
)

// TestQueryFollowsContinuations: the wire is PYHUB's query_iot_hub: POST
// /devices/query with {"query": ...}, x-ms-max-item-count, and from the
// second page on the x-ms-continuation the page before answered.
func TestQueryFollowsContinuations(t *testing.T) {
	f, c := newFakeHub(t,
		answer{200, map[string]string{"x-ms-item-type": "raw", "x-ms-continuation": "page2"}, `[{"deviceId":"a"},{"deviceId":"b"}]`},
		answer{200, map[string]string{"x-ms-item-type": "raw"}, `[{"deviceId":"c"}]`},
	)
	var rows []string
	for row, err := range c.Query(context.Background(), "SELECT deviceId FROM devices", 2) {
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, string(row))
	}
	if len(rows) != 3 || rows[2] != `{"deviceId":"c"}` {
		t.Fatalf("rows %v", rows)
	}
	reqs, bodies := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		checkCommon(t, f.host(), r)
		if r.Method != "POST" || r.URL.Path != "/devices/query" || !jsonEqual(t, bodies[i], `{"query":"SELECT deviceId FROM devices"}`) {
			t.Errorf("request %d: %s %s %s", i, r.Method, r.URL.Path, bodies[i])
		}
		if r.Header.Get("x-ms-max-item-count") != "2" || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("request %d headers %v", i, r.Header)
		}
	}
	if reqs[0].Header.Get("x-ms-continuation") != "" || reqs[1].Header.Get("x-ms-continuation") != "page2" {
		t.Errorf("continuations %q then %q", reqs[0].Header.Get("x-ms-continuation"), reqs[1].Header.Get("x-ms-continuation"))
	}
}

func TestQueryPage(t *testing.T) {
	f, c := newFakeHub(t, answer{200, map[string]string{"x-ms-item-type": "twin", "x-ms-continuation": "t2"}, `[{"deviceId":"a","version":2}]`})
	p, err := c.QueryPage(context.Background(), "SELECT * FROM devices", 0, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if p.ItemType != "twin" || p.ContinuationToken != "t2" || len(p.Items) != 1 {
		t.Fatalf("%+v", p)
	}
	reqs, _ := f.requests()
	if _, set := reqs[0].Header["X-Ms-Max-Item-Count"]; set || reqs[0].Header.Get("x-ms-continuation") != "t1" {
		t.Fatalf("headers %v", reqs[0].Header)
	}
	if _, err := c.QueryPage(context.Background(), "", 0, ""); err == nil {
		t.Fatal("an empty query was sent")
	}
}

// TestQueryYieldsTheRefusalOnce: a hub error ends the rows, wrapped with
// what was asked.
func TestQueryYieldsTheRefusalOnce(t *testing.T) {
	_, c := newFakeHub(t, answer{400, map[string]string{"iothub-errorcode": "ArgumentInvalid"}, modernBody(400004, "SQL query parse failed due to following errors: Line 1:28 x")})
	n := 0
	for row, err := range c.Query(context.Background(), "SELECT * FROM devices WHERE", 0) {
		n++
		if row != nil || !errors.Is(err, hub.ErrArgumentInvalid) || err.Error()[:12] != "query twins:" {
			t.Fatalf("row %s, err %v", row, err)
		}
	}
	if n != 1 {
		t.Fatalf("%d yields, want 1", n)
	}
}
