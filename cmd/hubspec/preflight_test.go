package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMistakesAreToldBeforeAnythingRuns: each mistake a QA engineer made
// in a feature file is told before any target starts, as a plain message
// naming the file and line and what to do, and no scenario runs.
func TestMistakesAreToldBeforeAnythingRuns(t *testing.T) {
	for _, tc := range []struct {
		name, feature string
		args          []string // before the file
		want          int
		stderr        string
	}{
		{name: "a step ending in a colon without its doc string",
			feature: "Feature: F\n  Scenario: S\n    Given device \"house\" exists\n    When the service patches the twin of device \"house\":\n",
			want:    exitFailed,
			stderr:  "f.feature:4: this step ends in \":\" and needs a doc string right below it: its lines between two lines of \"\"\"\n"},
		{name: "a value that starts as JSON but is not",
			feature: "Feature: F\n  Scenario: S\n    Given device \"house\" exists\n    When the service sets desired \"mode\" of device \"house\" to {\"a\": 1\n",
			want:    exitFailed,
			stderr:  "f.feature:4: the value {\"a\": 1 is not valid JSON: unexpected end of JSON input at character 7; write a JSON value, e.g. {\"a\": 1}, [1, 2] or \"text\"\n"},
		{name: "a doc string that is not JSON",
			feature: "Feature: F\n  Scenario: S\n    Given device \"house\" exists\n    When the service patches the twin of device \"house\":\n      \"\"\"\n      {\"properties\":\n        {\"desired\": {\"a\": 1,}}}\n      \"\"\"\n",
			want:    exitFailed,
			stderr:  "f.feature:7: the doc string is not valid JSON: invalid character '}' looking for beginning of object key string, at column 29\n"},
		{name: "an unknown placeholder in an outline",
			feature: "Feature: F\n  Scenario Outline: S\n    Given device \"<devce>\" exists\n\n    Examples:\n      | device |\n      | house  |\n",
			want:    exitFailed,
			stderr:  "f.feature:3: <devce> is no column of the Examples (they are <device>): rename it, or add the column\n"},
		{name: "curly quotes",
			feature: "Feature: F\n  Scenario: S\n    Given device “house” exists\n",
			want:    exitFailed,
			stderr:  "f.feature:3: no step reads like this: device “house” exists\nit has curly quotes (“ ” or ‘ ’), as a word processor or chat app types them: write straight quotes (\") instead, and it reads as: device \"house\" exists\n"},
		{name: "a misspelt Scenario keyword",
			feature: "Feature: F\n  Scenerio: S\n    Given device \"house\" exists\n",
			want:    exitFailed,
			stderr:  "hubspec: no scenario to run: f.feature:2: \"Scenerio:\" is no Gherkin keyword, so Gherkin reads the lines after it as the feature's description: did you mean \"Scenario:\"?\n"},
		{name: "a line that starts no scenario",
			feature: "Feature: F\n  Scenario: S\n    Given device \"house\" exists\n",
			args:    []string{":99"},
			want:    exitFailed,
			stderr:  "hubspec: nothing ran: f.feature:99: line 99 starts no scenario; the scenarios start at line 2\n"},
		{name: "a tag no scenario has",
			feature: "Feature: F\n  @smoke\n  Scenario: S\n    Given device \"house\" exists\n",
			args:    []string{"--tags", "@smok"},
			want:    exitFailed,
			stderr:  "hubspec: no scenario to run: --tags \"@smok\": no scenario has @smok; the scenarios' tags are @smoke\n"},
		{name: "a tag expression with words",
			feature: "Feature: F\n  @smoke\n  Scenario: S\n    Given device \"house\" exists\n",
			args:    []string{"--tags", "@smoke and @twins"},
			want:    exitFailed,
			stderr:  "hubspec: no scenario to run: --tags \"@smoke and @twins\": \"@smoke and @twins\" is no tag; a tag starts with @, and tags are joined with && (both), , (either) and ~ (not), e.g. @smoke && ~@slow\n"},
		{name: "a file that is not Gherkin",
			feature: "{\"not\": \"gherkin\"}\n",
			want:    exitUsage,
			stderr:  "f.feature is not a feature file Hubspec can read (a feature file starts with a line \"Feature: <what it is about>\", then scenarios, each a line \"Scenario: <what it shows>\" and its steps); Gherkin's parser says, at (line:column):\n(1:1): expected:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			embeddedEnv(t)
			dir := t.TempDir()
			t.Chdir(dir)
			if err := os.WriteFile(filepath.Join(dir, "f.feature"), []byte(tc.feature), 0o600); err != nil {
				t.Fatal(err)
			}
			path := "f.feature"
			args := []string{"--no-colors"}
			for _, a := range tc.args {
				if strings.HasPrefix(a, ":") {
					path += a
				} else {
					args = append(args, a)
				}
			}
			status, stdout, stderr := hubspec(t, append(args, path)...)
			if status != tc.want || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("status %d (want %d), stderr lacks %q:\n%s", status, tc.want, tc.stderr, stderr)
			}
			if strings.Contains(stderr, "scenarios on the") || stdout != "" {
				t.Errorf("a scenario ran:\n%s%s", stderr, stdout)
			}
		})
	}
}

// TestAnEmptyFolderIsNamed: a folder without feature files is named as
// the cause, not the tags.
func TestAnEmptyFolderIsNamed(t *testing.T) {
	embeddedEnv(t)
	t.Chdir(t.TempDir())
	if err := os.Mkdir("features", 0o755); err != nil {
		t.Fatal(err)
	}
	status, _, stderr := hubspec(t, "features")
	if want := "hubspec: no scenario to run: folder features holds no .feature file\n"; status != exitFailed || stderr != want {
		t.Errorf("status %d, stderr %q, want %q", status, stderr, want)
	}
}
