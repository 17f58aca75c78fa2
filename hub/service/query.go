package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strconv"
)

// QueryResult is one page of a twin query's answer ("Query - Get Twins"
// in the IoT Hub REST reference), as the Python service SDK's QueryResult
// holds it: the item type, the items, and the token of the next page.
type QueryResult struct {
	// ItemType is the x-ms-item-type header: "twin" when the items are
	// twins (SELECT *), "raw" for projections and aggregates.
	ItemType string
	// Items are the page's rows as the hub sent them: for "twin" pages,
	// each decodes into a hub.Twin.
	Items []json.RawMessage
	// ContinuationToken is x-ms-continuation: the token that asks for the
	// next page, "" on the last one.
	ContinuationToken string
}

// QueryPage asks for one page of a query's answer: pageSize items at most
// (x-ms-max-item-count; 0 leaves the hub's default, and the hub may serve
// fewer than asked), after the page whose ContinuationToken is
// continuationToken ("" for the first page).
func (c *RegistryClient) QueryPage(ctx context.Context, query string, pageSize int, continuationToken string) (*QueryResult, error) {
	if query == "" {
		return nil, errors.New("query twins: empty query")
	}
	if pageSize < 0 {
		return nil, fmt.Errorf("query twins: page size %d", pageSize)
	}
	h := http.Header{}
	if pageSize > 0 {
		h.Set("x-ms-max-item-count", strconv.Itoa(pageSize))
	}
	if continuationToken != "" {
		h.Set("x-ms-continuation", continuationToken)
	}
	var got http.Header
	var items []json.RawMessage
	err := c.do(ctx, restCall{method: http.MethodPost, path: "/devices/query", body: map[string]string{"query": query},
		headers: h, gotHeader: &got, ok: []int{200}, out: &items})
	if err != nil {
		return nil, fmt.Errorf("query twins: %w", err)
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	return &QueryResult{ItemType: got.Get("x-ms-item-type"), Items: items, ContinuationToken: got.Get("x-ms-continuation")}, nil
}

// Query runs a query and yields every row of its answer, asking for the
// pages one after the other (pageSize items each, 0 for the hub's
// default) as the loop consumes them. An error is yielded once, with a
// nil row, and ends the rows:
//
//	for row, err := range reg.Query(ctx, "SELECT deviceId FROM devices", 100) {
//		if err != nil { return err }
//		...
//	}
func (c *RegistryClient) Query(ctx context.Context, query string, pageSize int) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		token := ""
		for {
			page, err := c.QueryPage(ctx, query, pageSize, token)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, it := range page.Items {
				if !yield(it, nil) {
					return
				}
			}
			if token = page.ContinuationToken; token == "" {
				return
			}
		}
	}
}
