package main

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/cucumber/godog"
)

// junitReport writes JUnit XML from the run's results: a feature is a
// <testsuite>, a scenario a <testcase>. Unlike godog's, a suite's time is
// the wall time from its first scenario's start to its last one's end
// (never less than any of its cases'), and a scenario its tags kept off
// this target is <skipped/>, so CI dashboards count it skipped, not
// passed.
type junitReport struct {
	*godog.BaseFmt // the run's results (Storage)
	file           *reportFile
}

func newJUnitReport(file *reportFile) *junitReport {
	return &junitReport{BaseFmt: godog.NewBaseFmt("hubspec", io.Discard), file: file}
}

func (r *junitReport) Summary() {
	doc := buildJUnit(collectResults(r.BaseFmt), time.Now())
	r.file.write(func(w io.Writer) error {
		if _, err := io.WriteString(w, xml.Header); err != nil {
			return err
		}
		enc := xml.NewEncoder(w)
		enc.Indent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return err
		}
		_, err := io.WriteString(w, "\n")
		return err
	})
}

type (
	junitSuites struct {
		XMLName xml.Name `xml:"testsuites"`
		Name    string   `xml:"name,attr"`
		junitCounts
		Suites []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name string `xml:"name,attr"`
		junitCounts
		Cases []junitCase `xml:"testcase"`
	}
	junitCounts struct {
		Tests    int    `xml:"tests,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Time     string `xml:"time,attr"`
	}
	junitCase struct {
		Name      string          `xml:"name,attr"`
		Classname string          `xml:"classname,attr"`
		Status    string          `xml:"status,attr"`
		Time      string          `xml:"time,attr"`
		Skipped   *junitMessage   `xml:"skipped,omitempty"`
		Failure   *junitMessage   `xml:"failure,omitempty"`
		Errors    []junitErrorOut `xml:"error,omitempty"`
	}
	junitMessage struct {
		Message string `xml:"message,attr"`
	}
	junitErrorOut struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
	}
)

// buildJUnit lays the results out as JUnit XML; end is when the run ended.
func buildJUnit(res runResults, end time.Time) junitSuites {
	doc := junitSuites{Name: "hubspec"}
	doc.Time = seconds(end.Sub(res.started))
	for _, f := range res.features {
		suite := junitSuite{Name: f.name}
		var first, last time.Time
		names := map[string]int{}
		for _, s := range f.scenarios {
			names[s.name]++
		}
		seen := map[string]int{}
		for _, s := range f.scenarios {
			c := junitCase{Name: s.name, Classname: f.name, Status: s.status()}
			if names[s.name] > 1 { // outline examples share a name
				seen[s.name]++
				c.Name += fmt.Sprintf(" #%d", seen[s.name])
			}
			if s.ran {
				c.Time = seconds(s.end.Sub(s.start))
				if first.IsZero() || s.start.Before(first) {
					first = s.start
				}
				if s.end.After(last) {
					last = s.end
				}
			}
			suite.count(&c, s)
			suite.Cases = append(suite.Cases, c)
		}
		suite.Time = seconds(last.Sub(first))
		doc.add(suite.junitCounts)
		doc.Suites = append(doc.Suites, suite)
	}
	return doc
}

// count fills a case's outcome in and counts it in the suite.
func (suite *junitSuite) count(c *junitCase, s scenarioResult) {
	suite.Tests++
	switch c.Status {
	case "skipped":
		suite.Skipped++
		c.Skipped = &junitMessage{Message: s.skipReason()}
	case "failed":
		suite.Failures++
		for _, r := range s.steps {
			if r.status == "failed" {
				c.Failure = &junitMessage{Message: fmt.Sprintf("Step %s: %v", r.text, r.err)}
			}
		}
	case "undefined", "pending", "ambiguous":
		suite.Errors++
		for _, r := range s.steps {
			if r.status == c.Status {
				c.Errors = append(c.Errors, junitErrorOut{Type: r.status, Message: "Step " + r.text})
			}
		}
	}
}

func (doc *junitSuites) add(c junitCounts) {
	doc.Tests += c.Tests
	doc.Skipped += c.Skipped
	doc.Failures += c.Failures
	doc.Errors += c.Errors
}

// seconds is a JUnit time attribute: seconds, as a decimal.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(max(d, 0).Seconds(), 'f', 3, 64)
}
