package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash/fnv"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/iotquery"
)

// Twin queries (POST /devices/query). A query is evaluated under the
// registry lock, so it answers from one consistent state and reflects
// every write answered before it; only the page it answers is copied out,
// and rendered after the lock is released.

// Query item types, the x-ms-item-type header: "twin" for SELECT * (the
// Java service SDK reads twin pages only when the hub says "twin", raw
// query pages only when it says "raw": QueryType in azure-iot-sdk-java),
// "raw" for projections and aggregates.
const (
	itemTypeTwin = "twin"
	itemTypeRaw  = "raw"
)

// queryTwins serves POST /devices/query ("Query - Get Twins" in the IoT
// Hub REST reference): the body is {"query": "..."}, x-ms-max-item-count
// asks for a page size and x-ms-continuation carries the token of the
// page before; the answer is a JSON array with x-ms-item-type and, when
// more pages follow, x-ms-continuation. The Python service SDK
// (azure-iot-hub's IoTHubRegistryManager.query_iot_hub) sends exactly
// this and reads those two headers back.
func (h *restHandler) queryTwins(r *http.Request, _ []string) (restResult, error) {
	body, err := readBody(r)
	if err != nil {
		return restResult{}, err
	}
	var spec struct {
		Query *string `json:"query"`
	}
	if err := decodeObject(body, &spec); err != nil {
		return restResult{}, err
	}
	if spec.Query == nil || *spec.Query == "" {
		return restResult{}, hub.ErrArgumentNull.WithMessage("The query specification has no query.")
	}
	q, err := iotquery.Parse(*spec.Query, iotquery.Options{Fold: foldTwinPath})
	if err != nil {
		var se *iotquery.SyntaxError
		if errors.As(err, &se) {
			return restResult{}, hub.ErrArgumentInvalid.WithMessage("SQL query parse failed due to following errors: %s", se)
		}
		return restResult{}, err
	}
	size, err := pageSize(r.Header.Get("x-ms-max-item-count"))
	if err != nil {
		return restResult{}, err
	}
	state, err := decodeContinuation(r.Header.Get("x-ms-continuation"), q)
	if err != nil {
		return restResult{}, err
	}
	page, err := h.reg.query(q, size, state)
	if err != nil {
		return restResult{}, err
	}
	hdr := http.Header{}
	hdr.Set("x-ms-item-type", page.itemType)
	if page.next != "" {
		hdr.Set("x-ms-continuation", page.next)
	}
	return restResult{status: http.StatusOK, body: page.body, header: hdr}, nil
}

// queryPage is one page of a query's answer.
type queryPage struct {
	itemType string
	body     []byte // a JSON array
	next     string // the continuation token; "" on the last page
}

// pageState is where a page starts, carried in the continuation token:
// after the twin (device, module) for twin-by-twin answers, whose order
// is by device id then module id, so twins created or deleted between
// pages never shift the others; at a row offset for aggregate answers.
// Returned counts the rows already answered, for TOP.
type pageState struct {
	Query    uint64 `json:"q"`
	Device   string `json:"d,omitempty"`
	Module   string `json:"m,omitempty"`
	Offset   int    `json:"o,omitempty"`
	Returned int    `json:"n,omitempty"`
}

// queryID ties a continuation token to the query it continues.
func queryID(q *iotquery.Query) uint64 {
	h := fnv.New64a()
	h.Write([]byte(q.String()))
	return h.Sum64()
}

func encodeContinuation(s pageState) string {
	b, _ := json.Marshal(s)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeContinuation reads a token this emulator gave for the same query;
// anything else is 400 ArgumentInvalid.
func decodeContinuation(token string, q *iotquery.Query) (pageState, error) {
	var s pageState
	if token == "" {
		return pageState{Query: queryID(q)}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil || s.Query != queryID(q) || s.Offset < 0 || s.Returned < 0 {
		return pageState{}, hub.ErrArgumentInvalid.WithMessage("The continuation token is not one this hub gave for this query.")
	}
	return s, nil
}

// candidate is a twin in query order.
type candidate struct {
	view queryDoc
	key  [2]string // device id, module id
}

// candidates lists the collection's twins by device id, then module id.
// Caller holds r.mu.
func (r *registry) candidates(from iotquery.Collection) []candidate {
	out := make([]candidate, 0, len(r.ids))
	for _, id := range r.ids {
		d := r.devices[id]
		if from == iotquery.Devices {
			out = append(out, candidate{queryDoc{d, &d.identityState, ""}, [2]string{id, ""}})
			continue
		}
		for _, mid := range slices.Sorted(maps.Keys(d.modules)) {
			out = append(out, candidate{queryDoc{d, &d.modules[mid].identityState, mid}, [2]string{id, mid}})
		}
	}
	return out
}

// query answers one page of at most size rows.
func (r *registry) query(q *iotquery.Query, size int, s pageState) (queryPage, error) {
	if q.Top >= 0 {
		size = min(size, max(0, q.Top-s.Returned))
	}
	if q.Aggregated() {
		return r.queryGroups(q, size, s)
	}
	var (
		snaps []twinSnapshot
		rows  []iotquery.Row
		last  [2]string
		more  bool
	)
	_ = r.locked(func() error {
		if size == 0 {
			return nil
		}
		for _, c := range r.candidates(q.From) {
			if s.Device != "" && compareKeys(c.key, [2]string{s.Device, s.Module}) <= 0 || !q.Match(c.view) {
				continue
			}
			if len(snaps)+len(rows) == size {
				more = true
				break
			}
			if q.Star {
				snaps = append(snaps, snapshotTwin(c.view.d, c.view.st, c.view.moduleID))
			} else {
				rows = append(rows, q.Project(c.view))
			}
			last = c.key
		}
		return nil
	})
	page := queryPage{itemType: itemTypeRaw}
	items := make([][]byte, 0, len(snaps)+len(rows))
	if q.Star {
		page.itemType = itemTypeTwin
		for _, snap := range snaps {
			doc, err := renderTwin(snap)
			if err != nil {
				return queryPage{}, err
			}
			items = append(items, doc.body)
		}
	}
	for _, row := range rows {
		b, err := marshalJSON(row)
		if err != nil {
			return queryPage{}, err
		}
		items = append(items, b)
	}
	page.body = jsonArray(items)
	if q.Top >= 0 && s.Returned+len(items) >= q.Top {
		more = false // TOP reached
	}
	if more {
		page.next = encodeContinuation(pageState{Query: s.Query, Device: last[0], Module: last[1], Returned: s.Returned + len(items)})
	}
	return page, nil
}

// queryGroups answers an aggregate query: every group is computed under
// the lock (the rows are copies), then paged by offset.
func (r *registry) queryGroups(q *iotquery.Query, size int, s pageState) (queryPage, error) {
	var rows []iotquery.Row
	_ = r.locked(func() error {
		g := q.NewGroups()
		for _, c := range r.candidates(q.From) {
			if q.Match(c.view) {
				g.Add(c.view)
			}
		}
		rows = g.Rows()
		return nil
	})
	from := min(s.Offset, len(rows))
	to := min(from+size, len(rows))
	items := make([][]byte, 0, to-from)
	for _, row := range rows[from:to] {
		b, err := marshalJSON(row)
		if err != nil {
			return queryPage{}, err
		}
		items = append(items, b)
	}
	page := queryPage{itemType: itemTypeRaw, body: jsonArray(items)}
	if to < len(rows) && (q.Top < 0 || s.Returned+len(items) < q.Top) {
		page.next = encodeContinuation(pageState{Query: s.Query, Offset: to, Returned: s.Returned + len(items)})
	}
	return page, nil
}

func compareKeys(a, b [2]string) int {
	if c := strings.Compare(a[0], b[0]); c != 0 {
		return c
	}
	return strings.Compare(a[1], b[1])
}

func jsonArray(items [][]byte) []byte {
	return append(append([]byte{'['}, bytes.Join(items, []byte{','})...), ']')
}

// pageSize reads x-ms-max-item-count: absent means 100, the largest page
// the hub serves ("page size (up to 100)", the 2018 query language doc);
// larger values are served 100 at a time (the REST reference: "The
// service may use a different value if the value specified is not
// acceptable"); anything but a positive integer is 400 ArgumentInvalid.
func pageSize(h string) (int, error) {
	if h == "" {
		return maxPageSize, nil
	}
	n, err := strconv.Atoi(h)
	if err != nil || n < 1 {
		return 0, hub.ErrArgumentInvalid.WithMessage("x-ms-max-item-count '%s' is not a positive integer.", h)
	}
	return min(n, maxPageSize), nil
}

const maxPageSize = 100
