package steps

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cucumber/godog"
	messages "github.com/cucumber/messages/go/v21"
	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// The closed tag set: scenarioGate fails a scenario with any other tag, and
// docs/steps.md lists them (catalogue_doc.go).
const (
	tagSmoke        = "@smoke"
	tagSlow         = "@slow"
	tagWIP          = "@wip"
	tagEmulatorOnly = "@emulator-only"
	tagLiveOnly     = "@live-only"
)

// tagSet is every tag a scenario may carry, with what it is for:
// scenarioGate accepts these and no other, and docs/steps.md documents
// them from this table, so the docs cannot drift from the gate. The
// domain tags are the catalogue's domains, plus @limits; they select a
// subset to run (--tags @twins, -godog.tags=@mqtt) and change nothing else.
var tagSet = []tagDoc{
	{tagSmoke, "a few quick scenarios that show the hub works at all: run them first"},
	{tagSlow, "a scenario that takes long (many identities, many operations): leave it out with `~@slow`"},
	{tagWIP, "work in progress: left out of every run unless asked for (`--tags @wip`)"},
	{tagEmulatorOnly, "needs an emulator's powers (dropping a connection, counting connections, acting with each shared access policy): skipped elsewhere, saying why"},
	{tagLiveOnly, "needs a live IoT Hub: skipped on an emulator, saying why"},
	{"@" + identities, "about device and module identities in the registry"},
	{"@" + twins, "about device and module twins: desired and reported properties, tags, versions, etags"},
	{"@" + mqtt, "about devices and modules over MQTT: connections, reports, desired patches"},
	{"@" + methods, "about direct methods: the service calls a method on a device or module and gets its answer"},
	{"@" + faults, "about a hub that fails: dropped connections, injected errors"},
	{"@" + policies, "about shared access policies: what each lets the service and devices do"},
	{"@" + x509, "about devices and modules that authenticate with X.509 certificates instead of SAS tokens"},
	{"@" + queries, "about twin queries: the IoT Hub query language, its answers and its paging"},
	{"@" + telemetry, "about device-to-cloud telemetry, as the service reads it from the built-in endpoint"},
	{"@" + events, "about the hub's own events on the built-in endpoint: twin changes, identities created and deleted"},
	{"@" + c2d, "about cloud-to-device messages: the service sends them over AMQP, the device receives them over MQTT, the hub reports feedback"},
	{"@" + configurations, "about automatic device and module configurations: target conditions, priorities, the desired properties they set, their metrics"},
	{"@" + pnp, "about IoT Plug and Play: the model a device announces, its digital twin, JSON patches and commands"},
	{"@" + jobs, "about scheduled jobs: twin updates and direct methods over the devices a query condition picks"},
	{"@" + timing, "about what the hub and its clients do once some time has passed: timeouts, fault windows, expiry, token renewal"},
	{"@limits", "about a documented limit of the hub: sizes, lengths, counts, depths"},
}

type tagDoc struct{ name, doc string }

// scenarioGate decides from a scenario's tags (its own and its feature's)
// whether it runs on target: nil to run it, an error wrapping godog.ErrSkip
// with the reason to skip it (godog counts a skip as no failure, even
// under Strict; its summary shows the steps as skipped and the scenario as
// passed), any other error to fail it. An unknown tag
// fails, so that a typo such as @emulatoronly is caught rather than
// silently running a scenario where it cannot pass.
func scenarioGate(s *godog.Scenario, target harness.Target) error {
	var tags []string
	for _, t := range s.Tags {
		if !slices.ContainsFunc(tagSet, func(k tagDoc) bool { return k.name == t.Name }) {
			return fmt.Errorf("unknown tag %s: the tags are %s", t.Name, tagNames())
		}
		tags = append(tags, t.Name)
	}
	emulatorOnly, liveOnly := slices.Contains(tags, tagEmulatorOnly), slices.Contains(tags, tagLiveOnly)
	emulator := harness.IsEmulator(target)
	switch {
	case emulatorOnly && liveOnly:
		return fmt.Errorf("tags %s and %s together: the scenario could run nowhere", tagEmulatorOnly, tagLiveOnly)
	case emulatorOnly && !emulator:
		return fmt.Errorf("%w: it is %s and target %q is not an emulator", godog.ErrSkip, tagEmulatorOnly, target.Name())
	case liveOnly && emulator:
		return fmt.Errorf("%w: it is %s and target %q is an emulator", godog.ErrSkip, tagLiveOnly, target.Name())
	}
	return nil
}

// tagProblems are the tag mistakes of a feature's scenarios, each once at
// the line of the tag (or scenario) at fault: a tag outside the set, named
// with the closest one, and a scenario tagged to run nowhere.
func tagProblems(f vocab.Feature) []vocab.Problem {
	lines := tagLines(f.Doc)
	var problems []vocab.Problem
	seen := map[vocab.Problem]bool{}
	add := func(p vocab.Problem) {
		if !seen[p] {
			seen[p] = true
			problems = append(problems, p)
		}
	}
	for _, p := range f.Pickles {
		var names []string
		for _, t := range p.Tags {
			names = append(names, t.Name)
			if !slices.ContainsFunc(tagSet, func(k tagDoc) bool { return k.name == t.Name }) {
				add(vocab.Problem{File: p.Uri, Line: lines[t.AstNodeId],
					Msg: fmt.Sprintf("unknown tag %s%s: the tags are %s", t.Name, closestTag(t.Name), tagNames())})
			}
		}
		if slices.Contains(names, tagEmulatorOnly) && slices.Contains(names, tagLiveOnly) {
			add(vocab.Problem{File: p.Uri, Line: lines[p.AstNodeIds[0]],
				Msg: fmt.Sprintf("tags %s and %s together: the scenario could run nowhere; keep one", tagEmulatorOnly, tagLiveOnly)})
		}
	}
	return problems
}

// tagLines are the lines of a document's tags and scenarios by AST id.
func tagLines(doc *messages.GherkinDocument) map[string]int64 {
	lines := map[string]int64{}
	tags := func(ts []*messages.Tag) {
		for _, t := range ts {
			lines[t.Id] = t.Location.Line
		}
	}
	scenario := func(s *messages.Scenario) {
		lines[s.Id] = s.Location.Line
		tags(s.Tags)
		for _, e := range s.Examples {
			tags(e.Tags)
		}
	}
	if doc == nil || doc.Feature == nil {
		return lines
	}
	tags(doc.Feature.Tags)
	for _, c := range doc.Feature.Children {
		if c.Scenario != nil {
			scenario(c.Scenario)
		}
		if c.Rule != nil {
			tags(c.Rule.Tags)
			for _, rc := range c.Rule.Children {
				if rc.Scenario != nil {
					scenario(rc.Scenario)
				}
			}
		}
	}
	return lines
}

// closestTag suggests the tag of the set a misspelt one was most likely
// meant to be (at most two letters off), as ": did you mean @smoke?".
func closestTag(name string) string {
	best, bestDist := "", 3
	for _, t := range tagSet {
		if d := editDistance(strings.ToLower(name), t.name); d < bestDist {
			best, bestDist = t.name, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// editDistance is the Levenshtein distance of two strings, by runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}

// tagNames lists the tag set for a message: "@smoke, @slow ... and @limits".
func tagNames() string {
	names := make([]string, len(tagSet))
	for i, t := range tagSet {
		names[i] = t.name
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
