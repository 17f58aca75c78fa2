package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cucumber/godog"
	messages "github.com/cucumber/messages/go/v21"
)

// Running scenarios by their lines (file.feature:LINE). godog v0.15.1
// runs such a path only when LINE is a scenario's own line (its
// internal/parser/parser.go, parsePath), never an Examples row's, though
// every report names an outline's example by its row's line, the line a
// QA engineer copies to rerun a failure. So hubspec selects by line
// itself: godog gets each such file's own path, read from a copy of the
// file in which every line no selected scenario needs is blank (the other
// scenarios, and the other rows of an outline only some of whose rows
// were asked for). Every line keeps its number and the feature its path,
// so all the reports name each scenario where it is in the file.

// selectLines returns opts with its file.feature:LINE paths replaced by
// their files, served from copies holding only the selected scenarios,
// and the numbers Cucumber ids give the selected rows of partly selected
// outlines (exampleRows). A file that another path runs whole (the file
// without a line, or a folder holding it) is not copied: its lines add
// nothing. A line that selects nothing leaves the copy without it;
// lineCauses tells the user.
func selectLines(opts godog.Options) (godog.Options, exampleRows, error) {
	var whole, files []string // files: those with lines, in the order given
	picked := map[string][]int64{}
	for _, p := range opts.Paths {
		file, line := splitLine(p)
		switch file = cleanPath(file); {
		case line < 0:
			whole = append(whole, file)
		case picked[file] == nil:
			files = append(files, file)
			fallthrough
		default:
			picked[file] = append(picked[file], int64(line))
		}
	}
	if len(files) == 0 {
		return opts, nil, nil
	}
	copies := &copyFS{base: opts.FS, files: map[string][]byte{}}
	rows := exampleRows{}
	for _, file := range files {
		if runsWhole(file, whole) {
			continue
		}
		o := opts
		o.Paths, o.Tags = []string{file}, ""
		feats, err := godog.TestSuite{Options: &o}.RetrieveFeatures()
		if err != nil {
			return opts, nil, err
		}
		if len(feats) == 0 { // no scenario at all: lineCauses says so
			continue
		}
		text, numbers := blankUnselected(feats[0].Content, feats[0].Feature, picked[file])
		copies.files[file] = text
		for line, n := range numbers {
			rows[rowKey(file, line)] = n
		}
	}
	var paths []string
	for _, p := range opts.Paths {
		file, line := splitLine(p)
		file = cleanPath(file)
		switch _, copied := copies.files[file]; {
		case line < 0 || !copied && !runsWhole(file, whole):
			paths = append(paths, p)
		case copied && !slices.Contains(paths, file):
			paths = append(paths, file)
		}
	}
	opts.Paths, opts.FS = paths, copies
	return opts, rows, nil
}

// cleanPath is a feature path as godog and featureFiles read it.
func cleanPath(path string) string {
	return filepath.ToSlash(filepath.Clean(path))
}

// runsWhole says whether a path without a line among whole runs the file.
func runsWhole(file string, whole []string) bool {
	for _, w := range whole {
		if file == w || strings.HasPrefix(file, w+"/") || w == "." && !filepath.IsAbs(file) {
			return true
		}
	}
	return false
}

// blankUnselected is a feature file's text with every line blank (its
// line end kept) that the scenarios starting at the picked lines do not
// need: each other scenario (from its tags to the line before the next
// scenario, background or rule) and, in an outline some of whose Examples
// rows are picked but not the outline itself, the other rows. The feature,
// its backgrounds and rules stay. It also returns the number godog's
// Cucumber JSON gives each picked row in its Examples table when the
// whole file runs (the second row is 3, after the header), which the copy,
// whose tables lack the blanked rows, would not.
func blankUnselected(content []byte, feature *messages.Feature, picked []int64) ([]byte, map[int64]int) {
	lines := strings.SplitAfter(string(content), "\n")
	blank := func(from, to int64) {
		for l := max(from, 1); l <= to && l <= int64(len(lines)); l++ {
			lines[l-1] = lines[l-1][len(strings.TrimRight(lines[l-1], "\r\n")):]
		}
	}
	numbers := map[int64]int{}
	parts := featureParts(feature)
	for i, part := range parts {
		sc := part.scenario
		if sc == nil || slices.Contains(picked, sc.Location.Line) {
			continue
		}
		end := int64(len(lines))
		if i+1 < len(parts) {
			end = parts[i+1].start - 1
		}
		rowPicked := false
		for _, ex := range sc.Examples {
			for _, row := range ex.TableBody {
				rowPicked = rowPicked || slices.Contains(picked, row.Location.Line)
			}
		}
		if !rowPicked {
			blank(part.start, end)
			continue
		}
		for _, ex := range sc.Examples {
			for n, row := range ex.TableBody {
				if slices.Contains(picked, row.Location.Line) {
					numbers[row.Location.Line] = n + 2
				} else {
					blank(row.Location.Line, row.Location.Line)
				}
			}
		}
	}
	return []byte(strings.Join(lines, "")), numbers
}

// featurePart is a background, scenario or rule of a feature, with the
// line it starts at (its first tag's, if it has tags).
type featurePart struct {
	start    int64
	scenario *messages.Scenario // nil for a background or a rule
}

// featureParts are a feature's parts in file order, a rule's after it.
func featureParts(f *messages.Feature) []featurePart {
	var parts []featurePart
	if f == nil {
		return nil
	}
	for _, ch := range f.Children {
		switch {
		case ch.Background != nil:
			parts = append(parts, featurePart{start: ch.Background.Location.Line})
		case ch.Scenario != nil:
			parts = append(parts, featurePart{tagged(ch.Scenario.Location, ch.Scenario.Tags), ch.Scenario})
		case ch.Rule != nil:
			parts = append(parts, featurePart{start: tagged(ch.Rule.Location, ch.Rule.Tags)})
			parts = append(parts, featureParts(&messages.Feature{Children: ruleChildren(ch.Rule)})...)
		}
	}
	return parts
}

// tagged is the line a keyword's block starts at: its first tag's, or its own.
func tagged(at *messages.Location, tags []*messages.Tag) int64 {
	start := at.Line
	for _, t := range tags {
		start = min(start, t.Location.Line)
	}
	return start
}

// exampleRows are the numbers Cucumber ids give Examples rows (see
// blankUnselected), by rowKey.
type exampleRows map[string]int

func rowKey(file string, line int64) string {
	return file + ":" + strconv.FormatInt(line, 10)
}

// copyFS serves the selected files' copies under their own paths, and
// every other path from base: godog's FS, or the operating system's files
// when it is nil (as godog reads them then).
type copyFS struct {
	base  fs.FS
	files map[string][]byte
}

func (c *copyFS) Open(name string) (fs.File, error) {
	if text, ok := c.files[name]; ok {
		return &copyFile{Reader: bytes.NewReader(text), name: name}, nil
	}
	if c.base == nil {
		return os.Open(name)
	}
	return c.base.Open(name)
}

// copyFile is an open copy; it is its own fs.FileInfo (the Reader gives
// its Size).
type copyFile struct {
	*bytes.Reader
	name string
}

func (f *copyFile) Stat() (fs.FileInfo, error) { return f, nil }
func (f *copyFile) Close() error               { return nil }
func (f *copyFile) Name() string               { return filepath.Base(f.name) }
func (f *copyFile) Mode() fs.FileMode          { return 0o444 }
func (f *copyFile) ModTime() time.Time         { return time.Time{} }
func (f *copyFile) IsDir() bool                { return false }
func (f *copyFile) Sys() any                   { return nil }
