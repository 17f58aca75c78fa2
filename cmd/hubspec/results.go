package main

import (
	"fmt"
	"sort"
	"time"

	"github.com/cucumber/godog"
	messages "github.com/cucumber/messages/go/v21"
)

// runResults is what a run did, read out of godog's results store once the
// run is over, for the reports hubspec writes itself.
type runResults struct {
	started  time.Time
	features []featureResult
}

type featureResult struct {
	uri, name string
	scenarios []scenarioResult
}

type scenarioResult struct {
	name       string
	line       int64 // the line that runs it alone: its example row's for an outline
	tags       []string
	ran        bool // false when the run stopped before it
	start, end time.Time
	steps      []stepResult
}

type stepResult struct {
	text, status string
	err          error
}

// collectResults reads the results store a godog formatter holds; it is
// given as a BaseFmt that shares it (base.SetStorage(f.Storage)), the one
// way to name it outside godog.
func collectResults(base *godog.BaseFmt) runResults {
	st := base.Storage
	res := runResults{started: st.MustGetTestRunStarted().StartedAt}
	starts := map[string]time.Time{}
	for _, pr := range st.MustGetPickleResults() {
		starts[pr.PickleID] = pr.StartedAt
	}
	for _, f := range st.MustGetFeatures() {
		fr := featureResult{uri: f.Uri, name: f.Feature.Name}
		idx := indexGherkin(f.GherkinDocument)
		for _, p := range st.MustGetPickles(f.Uri) {
			_, line := idx.scenarioHead(p)
			sr := scenarioResult{name: p.Name, line: line, tags: pickleTags(p)}
			sr.start, sr.ran = starts[p.Id]
			sr.end = sr.start
			for _, r := range st.MustGetPickleStepResultsByPickleID(p.Id) {
				sr.steps = append(sr.steps, stepResult{text: st.MustGetPickleStep(r.PickleStepID).Text, status: r.Status.String(), err: r.Err})
				if r.FinishedAt.After(sr.end) {
					sr.end = r.FinishedAt
				}
			}
			fr.scenarios = append(fr.scenarios, sr)
		}
		sort.SliceStable(fr.scenarios, func(i, j int) bool { return fr.scenarios[i].line < fr.scenarios[j].line })
		res.features = append(res.features, fr)
	}
	sort.SliceStable(res.features, func(i, j int) bool { return res.features[i].uri < res.features[j].uri })
	return res
}

func pickleTags(p *messages.Pickle) []string {
	out := make([]string, len(p.Tags))
	for i, t := range p.Tags {
		out[i] = t.Name
	}
	return out
}

// status is the scenario's: its worst step's, skipped when every step was
// skipped (its tags keep it off this target), undefined without steps.
func (s scenarioResult) status() string {
	if !s.ran {
		return "skipped"
	}
	statuses := make([]string, len(s.steps))
	for i, r := range s.steps {
		statuses[i] = r.status
	}
	return scenarioStatus(statuses)
}

// scenarioStatus is the status of a scenario whose steps have these: the
// worst of them; skipped when every step was skipped (its tags keep it off
// this target: counting it passed would hide that it never ran); undefined
// without steps.
func scenarioStatus(steps []string) string {
	if len(steps) == 0 {
		return "undefined"
	}
	worst, allSkipped := "passed", true
	for _, s := range steps {
		allSkipped = allSkipped && s == "skipped"
		if s != "skipped" && rank(s) < rank(worst) {
			worst = s
		}
	}
	if allSkipped {
		return "skipped"
	}
	return worst
}

// skipReason says why a skipped scenario did not run.
func (s scenarioResult) skipReason() string {
	for _, t := range s.tags {
		if t == "@emulator-only" || t == "@live-only" {
			return fmt.Sprintf("skipped on this target: it is %s", t)
		}
	}
	if !s.ran {
		return "skipped: the run stopped before it"
	}
	return "skipped: every step was skipped"
}
