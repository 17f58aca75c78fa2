package main

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cucumber/godog"
	messages "github.com/cucumber/messages/go/v21"
)

// When a run would run no scenario, the runner says why, from the files
// themselves: a folder without feature files, a feature without a
// scenario (often a misspelt "Scenario:"), a file.feature:LINE whose line
// starts no scenario (lineCauses), or a tag expression nothing matches (a tag no
// scenario has, a term that is no tag). "No scenario to run (tags ...)"
// alone sent people hunting in the wrong place.

// parseProblem rewords godog's error for a file Gherkin cannot parse: it
// says what a feature file is, and keeps the parser's lines.
func parseProblem(err error) error {
	file, errs, ok := strings.Cut(err.Error(), " - Parser errors:\n")
	if !ok {
		return err
	}
	return fmt.Errorf("%s is not a feature file Hubspec can read (a feature file starts with a line \"Feature: <what it is about>\", then scenarios, each a line \"Scenario: <what it shows>\" and its steps); Gherkin's parser says, at (line:column):\n%s", file, errs)
}

// noScenarioCause explains why the features at opts' paths, filtered as
// opts says, hold no scenario.
func noScenarioCause(opts godog.Options) string {
	var causes []string
	for _, p := range opts.Paths {
		if c := pathCause(opts, p); c != "" {
			causes = append(causes, c)
		}
	}
	if len(causes) == 0 {
		causes = append(causes, tagsCause(opts))
	}
	return strings.Join(causes, "\n")
}

// pathCause says what in one path leaves nothing to run, or "".
func pathCause(opts godog.Options, path string) string {
	file, _ := splitLine(path)
	files, err := featureFiles(opts.FS, file)
	if err != nil {
		return err.Error()
	}
	if len(files) == 0 {
		return fmt.Sprintf("folder %s holds no .feature file", file)
	}
	var causes []string
	for _, f := range files {
		if feature, ok := parsedFeature(opts, f); ok && feature == nil {
			causes = append(causes, noScenarioIn(opts.FS, f))
		}
	}
	return strings.Join(causes, "\n")
}

// lineCauses says which file.feature:LINE paths of opts select nothing
// (a line inside a scenario, a blank one, the Examples header), with the
// lines that start a scenario; "" when each starts one. A run stops on
// such a path even beside others: the scenario asked for would not run.
func lineCauses(opts godog.Options) string {
	var causes []string
	for _, p := range opts.Paths {
		file, line := splitLine(p)
		if line < 0 {
			continue
		}
		feature, ok := parsedFeature(opts, file)
		if !ok {
			continue // selectLines has said why godog cannot read it
		}
		scenarios, rows := scenarioLines(feature)
		switch {
		case len(scenarios) == 0:
			causes = append(causes, noScenarioIn(opts.FS, file))
		case !slices.Contains(scenarios, int64(line)) && !slices.Contains(rows, int64(line)):
			cause := fmt.Sprintf("%s:%d: line %d starts no scenario; the scenarios start at %s", file, line, line, joinLines(scenarios))
			if len(rows) > 0 {
				cause += ", and the Examples rows, each a scenario of its own, at " + joinLines(rows)
			}
			causes = append(causes, cause)
		}
	}
	return strings.Join(causes, "\n")
}

// parsedFeature is the feature of one file, nil when it has no scenario;
// ok is false when godog cannot read it.
func parsedFeature(opts godog.Options, file string) (feature *messages.Feature, ok bool) {
	opts.Paths, opts.Tags = []string{file}, ""
	feats, err := godog.TestSuite{Options: &opts}.RetrieveFeatures()
	if err != nil {
		return nil, false
	}
	if len(feats) == 0 { // godog leaves out a feature without scenarios
		return nil, true
	}
	return feats[0].Feature, true
}

// splitLine splits file.feature:LINE as godog does (LINE is digits);
// line is -1 without one.
func splitLine(path string) (string, int) {
	if i := strings.LastIndexByte(path, ':'); i > 0 && i+1 < len(path) && strings.Trim(path[i+1:], "0123456789") == "" {
		if n, err := strconv.Atoi(path[i+1:]); err == nil {
			return path[:i], n
		}
	}
	return path, -1
}

// featureFiles are the .feature files at path: itself, or those under it.
func featureFiles(fsys fs.FS, path string) ([]string, error) {
	if fsys == nil {
		fsys = os.DirFS(".")
		if filepath.IsAbs(path) {
			fsys, path = os.DirFS("/"), strings.TrimPrefix(path, "/")
		}
	}
	path = filepath.ToSlash(filepath.Clean(path))
	info, err := fs.Stat(fsys, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = fs.WalkDir(fsys, path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".feature") {
			files = append(files, p)
		}
		return err
	})
	return files, err
}

// scenarioLines are the lines that run a feature's scenarios alone: the
// scenarios' own (an outline's runs all its examples), and each Examples
// row's (selectLines runs the row alone).
func scenarioLines(f *messages.Feature) (scenarios, rows []int64) {
	for _, part := range featureParts(f) {
		if part.scenario == nil {
			continue
		}
		scenarios = append(scenarios, part.scenario.Location.Line)
		for _, ex := range part.scenario.Examples {
			for _, row := range ex.TableBody {
				rows = append(rows, row.Location.Line)
			}
		}
	}
	return scenarios, rows
}

func joinLines(lines []int64) string {
	s := make([]string, len(lines))
	for i, l := range lines {
		s[i] = strconv.FormatInt(l, 10)
	}
	if len(s) == 1 {
		return "line " + s[0]
	}
	return "lines " + strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// keywordLike is a line that starts as a Gherkin keyword does: a word or
// two and a colon.
var keywordLike = regexp.MustCompile(`^\s*([A-Za-z]+(?: [A-Za-z]+)?):`)

// noScenarioIn explains a feature without a scenario: a line that looks
// like a misspelt keyword (Gherkin reads it as description), or none.
func noScenarioIn(fsys fs.FS, file string) string {
	var raw []byte
	if fsys != nil {
		raw, _ = fs.ReadFile(fsys, file)
	} else {
		raw, _ = os.ReadFile(file)
	}
	for n, line := range strings.Split(string(raw), "\n") {
		m := keywordLike.FindStringSubmatch(line)
		if m == nil || slices.Contains([]string{"Feature", "Scenario", "Scenario Outline", "Example", "Background", "Rule"}, m[1]) {
			continue
		}
		for _, kw := range []string{"Scenario Outline", "Scenario", "Example", "Background", "Examples"} {
			if closeTo(strings.ToLower(m[1]), strings.ToLower(kw)) {
				return fmt.Sprintf("%s:%d: %q is no Gherkin keyword, so Gherkin reads the lines after it as the feature's description: did you mean %q?", file, n+1, m[1]+":", kw+":")
			}
		}
	}
	return fmt.Sprintf("%s has no scenario: a scenario starts with a line \"Scenario: <what it shows>\", its steps below it", file)
}

// closeTo says whether a is b with a typo or two.
func closeTo(a, b string) bool {
	if a == b || len(a) < 4 {
		return false
	}
	d := make([]int, len(b)+1)
	for j := range d {
		d[j] = j
	}
	for i := 1; i <= len(a); i++ {
		prev := d[0]
		d[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			prev, d[j] = d[j], min(d[j]+1, d[j-1]+1, prev+cost)
		}
	}
	return d[len(b)] <= 2
}

// tagsCause explains a tag expression that matches no scenario: a term
// that is no tag, or tags no scenario has.
func tagsCause(opts godog.Options) string {
	expr := opts.Tags
	o := opts
	o.Tags = ""
	feats, _ := godog.TestSuite{Options: &o}.RetrieveFeatures()
	have := map[string]bool{}
	for _, f := range feats {
		for _, p := range f.Pickles {
			for _, t := range p.Tags {
				have[t.Name] = true
			}
		}
	}
	var notTags, missing []string
	for _, and := range strings.Split(expr, "&&") {
		for _, term := range strings.Split(and, ",") {
			term = strings.TrimPrefix(strings.TrimSpace(term), "~")
			switch {
			case !strings.HasPrefix(term, "@") || strings.ContainsAny(term, " \t"):
				notTags = append(notTags, fmt.Sprintf("%q", term))
			case !have[term]:
				missing = append(missing, term)
			}
		}
	}
	tags := slices.Sorted(maps.Keys(have))
	switch {
	case len(notTags) > 0:
		return fmt.Sprintf("--tags %q: %s is no tag; a tag starts with @, and tags are joined with && (both), , (either) and ~ (not), e.g. @smoke && ~@slow", expr, strings.Join(notTags, " and "))
	case len(missing) > 0 && len(tags) > 0:
		return fmt.Sprintf("--tags %q: no scenario has %s; the scenarios' tags are %s", expr, strings.Join(missing, " or "), strings.Join(tags, ", "))
	case len(missing) > 0:
		return fmt.Sprintf("--tags %q: no scenario has %s; these scenarios have no tags", expr, strings.Join(missing, " or "))
	}
	return fmt.Sprintf("--tags %q matches none of the scenarios", expr)
}

// ruleChildren are a Rule's children as a feature's, to walk them alike.
func ruleChildren(r *messages.Rule) []*messages.FeatureChild {
	children := make([]*messages.FeatureChild, len(r.Children))
	for i, ch := range r.Children {
		children[i] = &messages.FeatureChild{Background: ch.Background, Scenario: ch.Scenario}
	}
	return children
}
