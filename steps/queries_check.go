package steps

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub"
)

// The checks of a query's answer. Each re-runs the query until it holds
// (Eventually): the emulator answers a query from the registry as it is,
// a live hub from an index that lags behind writes ("Query results are
// eventually consistent", the query-twins doc).

func queryAnswersCount(ctx context.Context, count, pages string) error {
	want := 0
	if count != "no" {
		want, _ = strconv.Atoi(count)
	}
	return worldFrom(ctx).settleQuery(ctx, func(a *queryAnswer) error {
		if len(a.rows) != want {
			var rows []string
			for _, r := range a.rows {
				rows = append(rows, brief(r, nil))
			}
			return fmt.Errorf("the query answered %d rows, want %d: %s", len(a.rows), want, listOrNone(rows))
		}
		if pages != "" && strconv.Itoa(a.pages) != pages {
			return fmt.Errorf("the query answered in %d pages, want %s", a.pages, pages)
		}
		return nil
	})
}

func queryAnswersTwinsOf(ctx context.Context, kind, aliases string) error {
	member := map[string]string{"devices": "deviceId", "modules": "moduleId"}[kind]
	var want []expectedRow
	for a := range strings.SplitSeq(aliases, ",") {
		if a = strings.TrimSpace(a); a != "" {
			want = append(want, expectedRow{{column: member, path: []string{member}, value: a}})
		}
	}
	return worldFrom(ctx).settleQuery(ctx, func(a *queryAnswer) error { return sameRows(a.rows, want) })
}

func queryAnswersRows(ctx context.Context, table *godog.Table) error {
	want, err := tableRows(table)
	if err != nil {
		return err
	}
	return worldFrom(ctx).settleQuery(ctx, func(a *queryAnswer) error { return sameRows(a.rows, want) })
}

func queryItemType(ctx context.Context, itemType string) error {
	return worldFrom(ctx).settleQuery(ctx, func(a *queryAnswer) error {
		return errorIf(a.itemType != itemType, "the hub said the rows are of type %q, want %q", a.itemType, itemType)
	})
}

// queryRefusedAt checks the refusal and the place its message names, in
// the hub's "Line 1:29" form (see iotquery.SyntaxError).
func queryRefusedAt(ctx context.Context, status, name, line, column string) error {
	err := worldFrom(ctx).takeRefusal()
	if err := refusedAs(err, status, name); err != nil {
		return err
	}
	e, _ := hub.AsError(err)
	at := "Line " + line + ":" + column + " "
	return errorIf(!strings.Contains(e.Message, at), "the refusal %q does not point at line %s, column %s", e.Message, line, column)
}

// settleQuery runs judge on the last answer, and asks the hub again while
// judge finds fault, until settleWithin.
func (w *world) settleQuery(ctx context.Context, judge func(*queryAnswer) error) error {
	switch {
	case w.query == nil:
		return errors.New(`no query ran: "the service queries ..." comes first`)
	case w.query.answer == nil:
		return errors.New(`the hub refused the query: check the refusal with "the hub refuses ..."`)
	}
	first := true
	return eventually(ctx, settleWithin, func(ctx context.Context) error {
		if !first {
			a, err := w.ask(ctx)
			if err != nil {
				return err
			}
			w.query.answer = a
		}
		first = false
		return judge(w.query.answer)
	})
}

// aliased gives a row's deviceId and moduleId the scenario's aliases for
// the hub names harness.Scenario made ("{run prefix}-{alias}-{scenario
// id}"), so that a table names identities as the scenario does.
func (w *world) aliased(row any) any {
	m, ok := row.(map[string]any)
	if !ok {
		return row
	}
	for _, k := range []string{"deviceId", "moduleId"} {
		if s, ok := m[k].(string); ok {
			if a, ok := strings.CutPrefix(s, w.sc.Run.Prefix+"-"); ok {
				if a, ok := strings.CutSuffix(a, "-"+w.sc.ID); ok {
					m[k] = a
				}
			}
		}
	}
	return m
}

// expectedRow is a table row: each column's path and wanted value; absent
// marks a member the row must lack (the cell "undefined").
type expectedRow []expectedCell

type expectedCell struct {
	column string
	path   []string
	value  any
	absent bool
}

func tableRows(table *godog.Table) ([]expectedRow, error) {
	if len(table.Rows) < 1 {
		return nil, errors.New("the table needs a header row naming the columns")
	}
	var rows []expectedRow
	for _, r := range table.Rows[1:] {
		var row expectedRow
		for i, c := range r.Cells {
			col := table.Rows[0].Cells[i].Value
			row = append(row, expectedCell{column: col, path: strings.Split(col, "."), value: parseValue(c.Value), absent: c.Value == "undefined"})
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// matches says whether a row of the answer has the expected values.
func (e expectedRow) matches(got any) bool {
	for _, c := range e {
		v, ok := lookup(got, c.path)
		if c.absent != !ok || ok && canonical(v) != canonical(c.value) {
			return false
		}
	}
	return true
}

// sameRows compares the answer with the table as multisets: as many rows,
// each answered row matching its own table row.
func sameRows(got []any, want []expectedRow) error {
	used := make([]bool, len(got))
	var missing []string
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && w.matches(g) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, w.String())
		}
	}
	var cols []string
	if len(want) > 0 {
		for _, c := range want[0] {
			cols = append(cols, c.column)
		}
	}
	var extra, all []string
	for i, g := range got {
		all = append(all, brief(g, cols))
		if !used[i] {
			extra = append(extra, brief(g, cols))
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return nil
	}
	return fmt.Errorf("the query's rows are not the table's: missing %s; not in the table %s (all rows: %s)",
		listOrNone(missing), listOrNone(extra), listOrNone(all))
}

// brief shows a row by the table's columns, or a twin by its ids, so that
// a message about whole twins stays readable.
func brief(row any, cols []string) string {
	if len(cols) == 0 {
		if _, ok := lookup(row, []string{"deviceId"}); !ok {
			return canonical(row)
		}
		cols = []string{"deviceId", "moduleId"}
	}
	var parts []string
	for _, c := range cols {
		v, ok := lookup(row, strings.Split(c, "."))
		if ok {
			parts = append(parts, c+"="+canonical(v))
		} else if c != "moduleId" {
			parts = append(parts, c+"=undefined")
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func (e expectedRow) String() string {
	var parts []string
	for _, c := range e {
		v := canonical(c.value)
		if c.absent {
			v = "undefined"
		}
		parts = append(parts, c.column+"="+v)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}
