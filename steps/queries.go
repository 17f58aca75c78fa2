package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/internal/iotquery"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// queryVocabulary are twin queries (POST /devices/query): the service runs
// one, and checks its answer (queries_check.go). A query sees only the
// scenario's own devices and their modules, so scenarios running side by
// side, or a live hub's other devices, never change its answer.
var queryVocabulary = []vocab.Def{
	step(queries, `^the service queries "(.+)"(?: (\d+) rows? at a time)?$`, runQuery,
		"The service runs a twin query in the IoT Hub query language, over the scenario's own devices and their modules, and reads every page of its answer; a refusal is left for the next step to check.",
		"<query> the query, e.g. SELECT * FROM devices WHERE tags.floor = 3; its strings go between single quotes",
		"<n> the page size the service asks for (x-ms-max-item-count); without it, the hub's default"),
	step(queries, `^the service queries:$`, runQueryDoc,
		"The same, with the query in the text block below the step: for long queries."),
	step(queries, `^the query answers (no|\d+) rows?(?: in (\d+) pages?)?$`, queryAnswersCount,
		"Runs the query again until it answers this many rows (on a live hub, queries lag behind writes), and, when given, in this many pages.",
		"<count> no, or the number of rows", "<pages> the number of pages the rows came in"),
	step(queries, `^the query answers the twins of (devices|modules) "([^"]*)"$`, queryAnswersTwinsOf,
		"Runs the query again until its rows are the twins of exactly these identities, in any order: one row each, named by deviceId (devices) or moduleId (modules).",
		"", `<aliases> the aliases, separated by commas: "house, barn"; "" for none`),
	step(queries, `^the query answers these rows:$`, queryAnswersRows,
		"Runs the query again until its rows are those of the table, in any order: one column per member (dotted for a nested one), a deviceId or moduleId by its alias, undefined for a member the row lacks."),
	step(queries, `^the query's item type is "(twin|raw)"$`, queryItemType,
		"Checks the kind of rows the hub said it answered (x-ms-item-type): twin for whole twins (SELECT *), raw for projections and counts.",
		`<type> twin or raw`),
	step(queries, `^the hub refuses the query with (\d{3}) (\w+) at line (\d+), column (\d+)$`, queryRefusedAt,
		"Checks that the hub refused the last query with this status and IoT Hub error, and that its message points at this place in the query.",
		"", errorDoc, "<line> the line of the fault, from 1", "<column> its column, from 1"),
}

// queryRun is the last query the service ran and its answer.
type queryRun struct {
	written  string // as the scenario wrote it
	sent     string // as it went to the hub: limited to the scenario's devices
	pageSize int
	answer   *queryAnswer // nil when the hub refused it
}

// queryAnswer is a query's whole answer: every page's rows.
type queryAnswer struct {
	itemType string
	rows     []any // generic JSON
	pages    int
}

func runQuery(ctx context.Context, query, n string) error {
	size := 0
	if n != "" {
		size, _ = strconv.Atoi(n)
	}
	w := worldFrom(ctx)
	w.query = &queryRun{written: query, sent: w.scopeQuery(query), pageSize: size}
	a, err := w.ask(ctx)
	if err != nil {
		return w.refused(err)
	}
	w.query.answer = a
	return nil
}

func runQueryDoc(ctx context.Context, doc *godog.DocString) error {
	return runQuery(ctx, doc.Content, "")
}

// scopeQuery limits a query to the scenario's devices: deviceId IN [the
// hub names of every device the scenario named]. The IN condition is the
// one the query-twins doc shows for module twins ("AND deviceId IN
// ['device1', 'device2']"). A query the parser refuses goes as written,
// so that the hub's own refusal is what the scenario checks.
func (w *world) scopeQuery(query string) string {
	q, err := iotquery.Parse(query)
	if err != nil {
		return query
	}
	var ids []string
	for _, i := range w.named {
		if i.kind == "device" {
			ids = append(ids, w.sc.Name(i.alias))
		}
	}
	q.RestrictToDevices(ids)
	return q.String()
}

// ask runs the scoped query and reads every page.
func (w *world) ask(ctx context.Context) (*queryAnswer, error) {
	a := &queryAnswer{rows: []any{}}
	token := ""
	for {
		page, err := w.registry.QueryPage(ctx, w.query.sent, w.query.pageSize, token)
		if err != nil {
			return nil, err
		}
		a.pages++
		a.itemType = page.ItemType
		for _, it := range page.Items {
			var row any
			if err := json.Unmarshal(it, &row); err != nil {
				return nil, fmt.Errorf("query row %s: %w", it, err)
			}
			a.rows = append(a.rows, w.aliased(row))
		}
		if token = page.ContinuationToken; token == "" {
			return a, nil
		}
	}
}
