package steps

import (
	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// Preflight reads the features a run with opts will run, as godog will
// (paths, tags, file.feature:LINE), and checks every step of them against
// the vocabulary: a step no step reads like, a missing doc string or
// table, a value that starts as JSON but is not, a JSON doc string that is
// not, a Scenario Outline placeholder no Examples column fills in, a tag
// outside the closed set or a scenario that could run nowhere (tags.go). It
// returns the scenarios to run, each mistake as "file:line: what to do",
// and godog's own error when the files cannot be read or parsed. A runner
// calls it before it opens a target, so that a mistake costs no hub.
func Preflight(opts godog.Options) (scenarios int, problems []string, err error) {
	feats, err := godog.TestSuite{Options: &opts}.RetrieveFeatures() // on a copy: it fills in defaults
	if err != nil {
		return 0, nil, err
	}
	parsed := make([]vocab.Feature, len(feats))
	for i, f := range feats {
		parsed[i] = vocab.Feature{Doc: f.GherkinDocument, Pickles: f.Pickles}
		scenarios += len(f.Pickles)
	}
	for _, p := range vocabulary.Lint(parsed) {
		problems = append(problems, p.String())
	}
	for _, f := range parsed {
		for _, p := range tagProblems(f) {
			problems = append(problems, p.String())
		}
	}
	return scenarios, problems, nil
}
