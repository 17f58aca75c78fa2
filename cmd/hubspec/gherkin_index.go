package main

import (
	"strings"

	messages "github.com/cucumber/messages/go/v21"
)

// gherkinIndex finds the parts of a feature file a scenario's pickle
// points at (godog's events carry pickles, which name their source by
// AST node id): keywords and line numbers for the terminal output.
type gherkinIndex struct {
	feature   *messages.Feature
	scenarios map[string]*messages.Scenario
	steps     map[string]*messages.Step
	rows      map[string]*messages.TableRow // example rows of outlines
}

func indexGherkin(doc *messages.GherkinDocument) *gherkinIndex {
	idx := &gherkinIndex{scenarios: map[string]*messages.Scenario{}, steps: map[string]*messages.Step{}, rows: map[string]*messages.TableRow{}}
	if doc == nil || doc.Feature == nil {
		return idx
	}
	idx.feature = doc.Feature
	var add func(children []*messages.FeatureChild)
	add = func(children []*messages.FeatureChild) {
		for _, c := range children {
			switch {
			case c.Background != nil:
				idx.addSteps(c.Background.Steps)
			case c.Scenario != nil:
				idx.scenarios[c.Scenario.Id] = c.Scenario
				idx.addSteps(c.Scenario.Steps)
				for _, ex := range c.Scenario.Examples {
					for _, r := range ex.TableBody {
						idx.rows[r.Id] = r
					}
				}
			case c.Rule != nil:
				for _, rc := range c.Rule.Children {
					add([]*messages.FeatureChild{{Background: rc.Background, Scenario: rc.Scenario}})
				}
			}
		}
	}
	add(doc.Feature.Children)
	return idx
}

func (idx *gherkinIndex) addSteps(steps []*messages.Step) {
	for _, s := range steps {
		idx.steps[s.Id] = s
	}
}

// featureTitle is "Feature: name".
func (idx *gherkinIndex) featureTitle() string {
	if idx == nil || idx.feature == nil {
		return "Feature:"
	}
	return strings.TrimSpace(idx.feature.Keyword) + ": " + idx.feature.Name
}

// scenarioHead is the scenario's keyword and the line that runs it alone:
// the example row's for an outline, the scenario's otherwise.
func (idx *gherkinIndex) scenarioHead(p *messages.Pickle) (string, int64) {
	if idx == nil || len(p.AstNodeIds) == 0 || idx.scenarios[p.AstNodeIds[0]] == nil {
		return "Scenario", 0
	}
	sc := idx.scenarios[p.AstNodeIds[0]]
	line := sc.Location.Line
	if len(p.AstNodeIds) > 1 {
		if r := idx.rows[p.AstNodeIds[1]]; r != nil {
			line = r.Location.Line
		}
	}
	return strings.TrimSpace(sc.Keyword), line
}

// stepKeyword is the step's keyword as written, with its space ("Given ").
func (idx *gherkinIndex) stepKeyword(s *messages.PickleStep) string {
	if st := idx.step(s); st != nil {
		return strings.TrimSpace(st.Keyword) + " "
	}
	return "* "
}

// stepLine is the line of the step in its feature file.
func (idx *gherkinIndex) stepLine(s *messages.PickleStep) int64 {
	if st := idx.step(s); st != nil {
		return st.Location.Line
	}
	return 0
}

func (idx *gherkinIndex) step(s *messages.PickleStep) *messages.Step {
	if idx == nil || len(s.AstNodeIds) == 0 {
		return nil
	}
	return idx.steps[s.AstNodeIds[0]]
}
