package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// twinTableVocabulary check several twins at once, a table row per twin.
var twinTableVocabulary = []vocab.Def{
	step(twins, `^the twins have:$`, twinsHave,
		"Reads the twins until each row holds: the first column names a twin (device \"house\", module \"telemetry\" on device \"gatewayB\"), each other column is a member (desired.x, reported.x or tags.x) and its cell the JSON value the member must have; an empty cell checks nothing."),
}

// twinRow is one row of the table: a twin and the values it must have.
type twinRow struct {
	i     ident
	cells map[string]string // column → value
}

// twinsHave polls every twin of the table until every row holds; the
// error names each row that does not.
func twinsHave(ctx context.Context, table *godog.Table) error {
	w := worldFrom(ctx)
	rows, columns, err := w.twinRows(table)
	if err != nil {
		return err
	}
	return eventually(ctx, settleWithin, func(ctx context.Context) error {
		var errs []error
		for _, r := range rows {
			doc, err := w.serviceTwin(r.i)(ctx)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, col := range columns {
				want, ok := r.cells[col]
				if !ok {
					continue
				}
				at := memberPath(col)
				got, present := lookup(doc, at)
				what := fmt.Sprintf("the twin of %s at %s", r.i, strings.Join(at, "."))
				if !present {
					errs = append(errs, fmt.Errorf("%s: want %s, got nothing", what, want))
				} else if err := sameValue(what, got, want); err != nil {
					errs = append(errs, err)
				}
			}
		}
		return errors.Join(errs...)
	})
}

// twinRows reads the table: a header "twin | member | ...", then a row
// per twin of the scenario.
func (w *world) twinRows(table *godog.Table) ([]twinRow, []string, error) {
	if len(table.Rows) < 2 || len(table.Rows[0].Cells) < 2 || table.Rows[0].Cells[0].Value != "twin" {
		return nil, nil, errors.New(`the table needs a header "| twin | desired.x | ... |" and a row per twin`)
	}
	var columns []string
	for _, c := range table.Rows[0].Cells[1:] {
		if memberPath(c.Value) == nil {
			return nil, nil, fmt.Errorf("column %q: name a member as desired.x, reported.x or tags.x", c.Value)
		}
		columns = append(columns, c.Value)
	}
	var rows []twinRow
	for _, row := range table.Rows[1:] {
		kind, ref, ok := strings.Cut(row.Cells[0].Value, " ")
		if kind != "device" && kind != "module" || !ok {
			return nil, nil, fmt.Errorf(`row %q: name a twin as device "x" or module "m" on device "d"`, row.Cells[0].Value)
		}
		i, err := w.who(kind, ref)
		if err == nil {
			err = w.neverCreated(i)
		}
		if err != nil {
			return nil, nil, err
		}
		r := twinRow{i: i, cells: map[string]string{}}
		for k, c := range row.Cells[1:] {
			if c.Value != "" {
				r.cells[columns[k]] = c.Value
			}
		}
		rows = append(rows, r)
	}
	return rows, columns, nil
}

// memberPath is a column's member in the twin: desired.x and reported.x
// under properties, tags.x under tags; nil for any other.
func memberPath(col string) []string {
	section, path, ok := strings.Cut(col, ".")
	switch {
	case !ok || path == "":
		return nil
	case section == "desired" || section == "reported":
		return sectionPath(section, path)
	case section == "tags":
		return sectionPath("tag", path)
	}
	return nil
}
