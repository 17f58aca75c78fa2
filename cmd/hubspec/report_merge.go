package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Merging the reports of the shards of one run (hubspec run --shard i/n):
// each shard wrote its own Cucumber JSON and JUnit XML; the merge is one of
// each, as if one runner had run every scenario.

// reportInputs are the shards' reports, sorted by kind: Cucumber JSON
// (a JSON array) and JUnit XML (an XML document), told apart by their
// first character, so CI can pass a whole directory's files.
type reportInputs struct {
	cucumber, junit []string // file names
}

func classifyReports(files []string) (reportInputs, error) {
	var in reportInputs
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return in, err
		}
		switch t := bytes.TrimSpace(data); {
		case len(t) > 0 && t[0] == '[':
			in.cucumber = append(in.cucumber, f)
		case len(t) > 0 && t[0] == '<':
			in.junit = append(in.junit, f)
		default:
			return in, fmt.Errorf("%s is neither a Cucumber JSON nor a JUnit XML report", f)
		}
	}
	return in, nil
}

// lineSuffix is the ":LINE" a feature's uri carries when its run was given
// file.feature:LINE paths, as every shard's is.
var lineSuffix = regexp.MustCompile(`:\d+$`)

// mergeCucumber merges Cucumber JSON reports: the scenarios (elements) of
// each feature file from every report, under the file's uri, in line
// order; the features in uri order. Every other member is kept as the
// first report naming the feature wrote it.
func mergeCucumber(files []string) ([]byte, error) {
	byURI := map[string]map[string]json.RawMessage{}
	elements := map[string][]json.RawMessage{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var feats []map[string]json.RawMessage
		if err := json.Unmarshal(data, &feats); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, feat := range feats {
			var uri string
			if err := json.Unmarshal(feat["uri"], &uri); err != nil {
				return nil, fmt.Errorf("%s: a feature without a uri: %w", f, err)
			}
			uri = lineSuffix.ReplaceAllString(uri, "")
			var els []json.RawMessage
			if len(feat["elements"]) > 0 {
				if err := json.Unmarshal(feat["elements"], &els); err != nil {
					return nil, fmt.Errorf("%s: %s: %w", f, uri, err)
				}
			}
			if _, ok := byURI[uri]; !ok {
				byURI[uri] = feat
			}
			elements[uri] = append(elements[uri], els...)
		}
	}
	var out []map[string]json.RawMessage
	for _, uri := range sortedKeys(byURI) {
		feat := byURI[uri]
		els := elements[uri]
		slices.SortStableFunc(els, func(a, b json.RawMessage) int { return elementLine(a) - elementLine(b) })
		feat["uri"], _ = json.Marshal(uri)
		feat["elements"], _ = json.Marshal(els)
		out = append(out, feat)
	}
	return json.MarshalIndent(out, "", "    ")
}

func elementLine(raw json.RawMessage) int {
	var e struct{ Line int }
	_ = json.Unmarshal(raw, &e)
	return e.Line
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// mergeJUnit merges JUnit reports: one <testsuite> per feature, its test
// cases from every report, its counts and time the sums of its parts (the
// time the runners spent on it between them); the whole's counts are the
// sums, its time the longest report's, since the shards run side by side.
func mergeJUnit(files []string) ([]byte, error) {
	merged := junitSuites{Name: "hubspec"}
	index := map[string]int{}
	var longest float64
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var doc junitSuites
		if err := xml.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		longest = max(longest, parseSeconds(doc.Time))
		for _, s := range doc.Suites {
			i, ok := index[s.Name]
			if !ok {
				i, index[s.Name] = len(merged.Suites), len(merged.Suites)
				merged.Suites = append(merged.Suites, junitSuite{Name: s.Name, junitCounts: junitCounts{Time: seconds(0)}})
			}
			m := &merged.Suites[i]
			m.Cases = append(m.Cases, s.Cases...)
			m.Tests += s.Tests
			m.Skipped += s.Skipped
			m.Failures += s.Failures
			m.Errors += s.Errors
			m.Time = strconv.FormatFloat(parseSeconds(m.Time)+parseSeconds(s.Time), 'f', 3, 64)
			merged.add(s.junitCounts)
		}
	}
	merged.Time = strconv.FormatFloat(longest, 'f', 3, 64)
	out, err := xml.MarshalIndent(merged, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

func parseSeconds(s string) float64 {
	v, _ := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return v
}

// mergeReports writes the merged reports asked for: the Cucumber JSON and
// the HTML from the Cucumber inputs, the JUnit XML from the JUnit ones.
// Everything is merged before any file is written, so a bad input leaves
// every output as it was.
func mergeReports(in reportInputs, cucumberOut, junitOut, htmlOut string, render func([]byte) ([]byte, error)) ([]string, error) {
	type output struct {
		path string
		data []byte
	}
	var outs []output
	if cucumberOut != "" || htmlOut != "" {
		if len(in.cucumber) == 0 {
			return nil, errors.New("--cucumber and --html merge Cucumber JSON reports, and none was given")
		}
		cuke, err := mergeCucumber(in.cucumber)
		if err != nil {
			return nil, err
		}
		if cucumberOut != "" {
			outs = append(outs, output{cucumberOut, cuke})
		}
		if htmlOut != "" {
			page, err := render(cuke)
			if err != nil {
				return nil, err
			}
			outs = append(outs, output{htmlOut, page})
		}
	}
	if junitOut != "" {
		if len(in.junit) == 0 {
			return nil, errors.New("--junit merges JUnit XML reports, and none was given")
		}
		data, err := mergeJUnit(in.junit)
		if err != nil {
			return nil, err
		}
		outs = append(outs, output{junitOut, data})
	}
	var written []string
	for _, o := range outs {
		if err := writeReportFile(o.path, o.data); err != nil {
			return written, err
		}
		written = append(written, fmt.Sprintf("%s (%d bytes)", o.path, len(o.data)))
	}
	return written, nil
}
