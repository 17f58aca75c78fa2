package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cucumber/godog"
)

// cucumberReport is godog's Cucumber JSON, rendered in memory and written
// to its file through a buffer, each scenario with the time it started
// ("start_timestamp", as cucumber-jvm writes it): the HTML report shows
// the run's wall time from them, which the steps' durations cannot give
// when scenarios run at the same time.
type cucumberReport struct {
	*godog.CukeFmt // godog's builder, and the run's results (Storage)
	rendered       bytes.Buffer
	file           *reportFile
	rows           exampleRows
}

func newCucumberReport(file *reportFile, rows exampleRows) *cucumberReport {
	r := &cucumberReport{file: file, rows: rows}
	r.CukeFmt = godog.NewCukeFmt("hubspec", &r.rendered)
	return r
}

func (r *cucumberReport) Summary() {
	r.CukeFmt.Summary()
	base := godog.NewBaseFmt("hubspec", io.Discard)
	base.SetStorage(r.Storage)
	starts := scenarioStarts(collectResults(base))
	r.file.write(func(w io.Writer) error { return withStartTimestamps(w, r.rendered.Bytes(), starts, r.rows) })
}

// scenarioStarts is when each scenario that ran started, by "URI:LINE"
// of its element in the Cucumber JSON.
func scenarioStarts(res runResults) map[string]time.Time {
	out := map[string]time.Time{}
	for _, f := range res.features {
		for _, s := range f.scenarios {
			if s.ran {
				out[fmt.Sprintf("%s:%d", f.uri, s.line)] = s.start
			}
		}
	}
	return out
}

// Cucumber JSON as godog writes it, its members in godog's order; only
// the scenario gains one.
type (
	cukeFeatureOut struct {
		URI         string            `json:"uri"`
		ID          json.RawMessage   `json:"id"`
		Keyword     json.RawMessage   `json:"keyword"`
		Name        json.RawMessage   `json:"name"`
		Description json.RawMessage   `json:"description"`
		Line        json.RawMessage   `json:"line"`
		Comments    json.RawMessage   `json:"comments,omitempty"`
		Tags        json.RawMessage   `json:"tags,omitempty"`
		Elements    []*cukeElementOut `json:"elements,omitempty"`
	}
	cukeElementOut struct {
		ID             json.RawMessage `json:"id"`
		Keyword        json.RawMessage `json:"keyword"`
		Name           json.RawMessage `json:"name"`
		Description    json.RawMessage `json:"description"`
		Line           int             `json:"line"`
		Type           json.RawMessage `json:"type"`
		StartTimestamp string          `json:"start_timestamp,omitempty"`
		Tags           json.RawMessage `json:"tags,omitempty"`
		Steps          json.RawMessage `json:"steps,omitempty"`
	}
)

// withStartTimestamps writes godog's Cucumber JSON with each scenario's
// start time, and the ids of the Examples rows a run by lines selected
// renumbered as a run of their whole files numbers them (byline.go).
func withStartTimestamps(w io.Writer, rendered []byte, starts map[string]time.Time, rows exampleRows) error {
	var feats []*cukeFeatureOut
	if err := json.Unmarshal(rendered, &feats); err != nil {
		return fmt.Errorf("read godog's Cucumber JSON: %w", err)
	}
	for _, f := range feats {
		for _, e := range f.Elements {
			if t, ok := starts[fmt.Sprintf("%s:%d", f.URI, e.Line)]; ok {
				e.StartTimestamp = t.UTC().Format(time.RFC3339Nano)
			}
			if n, ok := rows[rowKey(featurePath(f.URI), int64(e.Line))]; ok {
				e.ID = renumberRow(e.ID, n)
			}
		}
	}
	if feats == nil {
		feats = []*cukeFeatureOut{} // "[]", as godog writes an empty run
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	return enc.Encode(feats)
}

// renumberRow is a Cucumber id of an Examples row ("feature;scenario;examples;N")
// with the row number n.
func renumberRow(id json.RawMessage, n int) json.RawMessage {
	var s string
	if json.Unmarshal(id, &s) != nil {
		return id
	}
	i := strings.LastIndexByte(s, ';')
	if i < 0 {
		return id
	}
	out, _ := json.Marshal(s[:i+1] + strconv.Itoa(n))
	return out
}
