package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// The HTML report is a pure function of godog's Cucumber JSON (and the time
// it is generated): `hubspec run --html` renders the JSON its own run
// wrote, `hubspec report` renders one written earlier (by `go test`, by
// another machine). One renderer, one input format, so both paths show the
// same thing and the report can be remade from an archived JSON.
//
// The page is one file that opens offline: inline CSS, a few lines of
// inline script, no fonts, images or links to fetch. html/template escapes
// every text, and every text also goes through hub.Redact: the evidence is
// redacted when it is recorded, but a report must not become a credential
// because some other writer of Cucumber JSON forgot.

//go:embed htmlreport.tmpl.html
var reportHTML string

var reportTemplate = template.Must(template.New("report").Parse(reportHTML))

// Cucumber JSON as godog's cucumber formatter writes it: only what the
// report shows. Durations are nanoseconds, absent for steps that did not run.
type (
	cukeFeature struct {
		URI         string        `json:"uri"`
		Keyword     string        `json:"keyword"`
		Name        string        `json:"name"`
		Description string        `json:"description"`
		Tags        []cukeTag     `json:"tags"`
		Elements    []cukeElement `json:"elements"`
	}
	cukeElement struct {
		Keyword        string     `json:"keyword"`
		Name           string     `json:"name"`
		Line           int        `json:"line"`
		StartTimestamp string     `json:"start_timestamp"` // hubspec's and cucumber-jvm's; not godog's
		Tags           []cukeTag  `json:"tags"`
		Steps          []cukeStep `json:"steps"`
	}
	cukeTag struct {
		Name string `json:"name"`
	}
	cukeStep struct {
		Keyword   string `json:"keyword"`
		Name      string `json:"name"`
		DocString *struct {
			Value string `json:"value"`
		} `json:"doc_string"`
		Rows []struct {
			Cells []string `json:"cells"`
		} `json:"rows"`
		Match struct {
			Location string `json:"location"`
		} `json:"match"`
		Result struct {
			Status   string `json:"status"`
			Error    string `json:"error_message"`
			Duration *int64 `json:"duration"`
		} `json:"result"`
		Embeddings []cukeEmbedding `json:"embeddings"`
	}
)

// What the template shows: texts already redacted and formatted, so the
// template only lays them out.
type (
	reportView struct {
		Status, Generated, Duration string
		WallTime                    bool // Duration is the run's wall time, not the sum of its steps'

		Features         int
		Scenarios, Steps tally
		Feature          []featureView
	}
	featureView struct {
		Name, URI, Description string
		Tags                   []string
		Problems               bool // a scenario in it needs a look: kept by the "failed only" filter
		Scenarios              []scenarioView
	}
	scenarioView struct {
		Keyword, Name, Status, Duration, Location string
		Tags                                      []string
		Problem                                   bool // failed, undefined, pending or ambiguous: open, and kept by the filter
		Steps                                     []stepView
	}
	stepView struct {
		Keyword, Text, Status, Duration, Error string
		Location                               string // the step definition, for whoever debugs it
		DocString                              *textBlock
		Rows                                   [][]string
		Evidence                               []evidenceView
	}
)

// statusOrder ranks step statuses from worst to best: a scenario has the
// status of its worst step (a failure is followed by skipped steps).
var statusOrder = []string{"failed", "ambiguous", "undefined", "pending", "skipped", "passed"}

// tally counts scenarios or steps by status.
type tally struct {
	Total  int
	counts map[string]int
}

type statusCount struct {
	Status string
	N      int
}

func (t *tally) add(status string) {
	if t.counts == nil {
		t.counts = map[string]int{}
	}
	t.Total++
	t.counts[status]++
}

// ByStatus lists passed, failed and skipped always (a reader looks for
// them), the other statuses only when some have them.
func (t tally) ByStatus() []statusCount {
	var out []statusCount
	for _, s := range []string{"passed", "failed", "skipped", "ambiguous", "undefined", "pending", "unknown"} {
		if n := t.counts[s]; n > 0 || s == "passed" || s == "failed" || s == "skipped" {
			out = append(out, statusCount{s, n})
		}
	}
	return out
}

// writeHTMLReport renders Cucumber JSON as the HTML report. Only JSON that
// is not Cucumber JSON fails it: anything inside a step that cannot be read
// is shown as such.
func writeHTMLReport(w io.Writer, cucumberJSON []byte, generated time.Time) error {
	var feats []cukeFeature
	if err := json.Unmarshal(cucumberJSON, &feats); err != nil {
		return fmt.Errorf("read Cucumber JSON: %w", err)
	}
	return reportTemplate.Execute(w, buildReport(feats, generated))
}

func buildReport(feats []cukeFeature, generated time.Time) reportView {
	v := reportView{Status: "passed", Generated: generated.Format(time.RFC1123), Features: len(feats)}
	var total time.Duration
	var wall wallClock
	for _, f := range feats {
		fv := featureView{Name: hub.Redact(f.Keyword + ": " + f.Name), URI: hub.Redact(featurePath(f.URI)),
			Description: hub.Redact(f.Description), Tags: tagNames(f.Tags)}
		for _, e := range f.Elements {
			sv, d := buildScenario(f.URI, e, &v.Steps)
			total += d
			wall.add(e.StartTimestamp, d)
			v.Scenarios.add(sv.Status)
			fv.Problems = fv.Problems || sv.Problem
			fv.Scenarios = append(fv.Scenarios, sv)
		}
		if fv.Problems {
			v.Status = "failed"
		}
		v.Feature = append(v.Feature, fv)
	}
	v.Duration = formatDuration(total)
	if d, ok := wall.span(); ok {
		v.Duration, v.WallTime = formatDuration(d), true
	}
	return v
}

// wallClock is the span of a run's scenarios: from the first one's start
// to the last one's end (its start plus its steps' time), when every
// scenario that ran says when it started. Scenarios that run at the same
// time make the sum of their steps' times larger than the run.
type wallClock struct {
	first, last time.Time
	unknown     bool // a scenario that ran has no start time
}

func (w *wallClock) add(startTimestamp string, steps time.Duration) {
	start, err := time.Parse(time.RFC3339Nano, startTimestamp)
	if err != nil {
		w.unknown = w.unknown || steps > 0
		return
	}
	if w.first.IsZero() || start.Before(w.first) {
		w.first = start
	}
	if end := start.Add(steps); end.After(w.last) {
		w.last = end
	}
}

func (w *wallClock) span() (time.Duration, bool) {
	return w.last.Sub(w.first), !w.unknown && !w.first.IsZero()
}

// buildScenario returns the scenario's view and its duration, the sum of
// its steps' (Cucumber JSON keeps no other), counting its steps in steps.
func buildScenario(uri string, e cukeElement, steps *tally) (scenarioView, time.Duration) {
	sv := scenarioView{Keyword: hub.Redact(e.Keyword), Name: hub.Redact(e.Name), Status: "passed",
		Location: hub.Redact(fmt.Sprintf("%s:%d", featurePath(uri), e.Line)), Tags: tagNames(e.Tags)}
	var d time.Duration
	for _, s := range e.Steps {
		st := stepView{Keyword: hub.Redact(s.Keyword), Text: hub.Redact(s.Name), Status: knownStatus(s.Result.Status),
			Location: hub.Redact(s.Match.Location), Error: hub.Redact(s.Result.Error)}
		if s.Result.Duration != nil {
			sd := time.Duration(*s.Result.Duration)
			d += sd
			st.Duration = formatDuration(sd)
		}
		if s.DocString != nil {
			st.DocString = shownText(s.DocString.Value, false) // as the author laid it out
		}
		for _, r := range s.Rows {
			cells := make([]string, len(r.Cells))
			for i, c := range r.Cells {
				cells[i] = hub.Redact(c)
			}
			st.Rows = append(st.Rows, cells)
		}
		for _, em := range s.Embeddings {
			st.Evidence = append(st.Evidence, buildEvidence(em))
		}
		showTwinsOnce(st.Evidence)
		st.Evidence = foldPolls(st.Evidence)
		if rank(st.Status) < rank(sv.Status) {
			sv.Status = st.Status
		}
		steps.add(st.Status)
		sv.Steps = append(sv.Steps, st)
	}
	sv.Problem = sv.Status != "passed" && sv.Status != "skipped"
	sv.Duration = formatDuration(d)
	return sv, d
}

// knownStatus keeps a status the page has a style for; a writer of
// Cucumber JSON with another vocabulary gets "unknown", which counts as a
// problem rather than a pass.
func knownStatus(s string) string {
	if rank(s) < len(statusOrder) {
		return s
	}
	return "unknown"
}

func rank(status string) int {
	for i, s := range statusOrder {
		if s == status {
			return i
		}
	}
	if status == "unknown" {
		return 0 // as bad as a failure
	}
	return len(statusOrder)
}

func tagNames(tags []cukeTag) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = hub.Redact(t.Name)
	}
	return out
}

// formatDuration rounds to what a reader compares: 3 significant digits
// at most, in the unit that fits.
func formatDuration(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
}
