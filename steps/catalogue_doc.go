package steps

import (
	"fmt"
	"io"
	"strings"
)

// The catalogue as people read it: `hubspec steps` (plain text) and
// docs/steps.md (Markdown), both written from the step tables, the tag
// table and the features' examples, so neither can drift from the steps
// that run. TestStepCatalogueIsCurrent fails when docs/steps.md is not
// what WriteStepMarkdown writes.

// RegenerateDocs is the command that rewrites docs/steps.md, from the
// repository's root; `go generate ./steps` runs it too.
const RegenerateDocs = "go run ./cmd/hubspec steps --markdown > docs/steps.md"

//go:generate sh -c "cd .. && go run ./cmd/hubspec steps --markdown > docs/steps.md"

// WriteStepList writes every catalogued step, by domain, with what it
// does, its parameters and an example from the features.
func WriteStepList(w io.Writer) error {
	return vocabulary.WriteList(w, `Steps by domain, written as a feature writes them: "<alias>" is a name in quotes,
<value> a JSON value, [ ] what may be left out, a|b one of the choices. Any
argument may use a variable the scenario remembered: ${name}. The conventions
and the tags: hubspec steps --markdown (docs/steps.md).
`)
}

// WriteStepMarkdown writes docs/steps.md: the conventions, the tags, then
// every catalogued step by domain.
func WriteStepMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Steps\n\n<!-- Written by `%s`; edit the step tables in steps/ instead. -->\n\n", RegenerateDocs)
	b.WriteString(conventions)
	b.WriteString("\n## Tags\n\nA scenario carries its own tags and its feature's. These are all there are: any other tag fails " +
		"its scenario, so a typo cannot quietly change what runs. Choose what runs with `hubspec --tags` or " +
		"`go test ./steps -godog.tags=...`: `@twins`, `@mqtt && ~@slow`, `@identities,@twins`.\n\n| tag | |\n|---|---|\n")
	for _, t := range tagSet {
		fmt.Fprintf(&b, "| `%s` | %s |\n", t.name, t.doc)
	}
	return vocabulary.WriteMarkdown(w, b.String())
}

// conventions open docs/steps.md: how any step is written.
const conventions = "## Writing steps\n\n" +
	"Each step below is shown as a feature writes it; `hubspec steps` prints the same list.\n\n" +
	"- **Aliases.** `\"<alias>\"` is a name in quotes: `device \"house\"`, `module \"thermostat\"`. " +
	"Each scenario gets its own identities on the hub, named `<run prefix>-<alias>-<scenario id>` and " +
	"deleted after it, so scenarios run at once and never see each other's.\n" +
	"- **Choices.** `a|b` means write one of them: `device|module \"<alias>\"` is `device \"house\"` or " +
	"`module \"thermostat\"`. Devices and modules share most steps, as the hub treats them alike; a " +
	"`Scenario Outline` with `| kind | name |` examples runs one scenario for each.\n" +
	"- **Optional parts.** What is in `[ ]` may be left out: " +
	"`the service creates device \"house\"[ with hub-assigned keys|keys of its own]`.\n" +
	"- **Values.** `<value>` is JSON: `122`, `\"slow\"`, `true`, `{\"a\": 1}`, `[1, 2]`; a bare word is a " +
	"string. Values compare as JSON: `122` equals `122.0`, member order does not matter.\n" +
	"- **Doc strings.** A step that ends with `:` takes the JSON document in a doc string (`\"\"\"`) below it.\n" +
	"- **Data tables.** `the modules of device \"<alias>\" are:` takes a one-column table of aliases.\n" +
	"- **Variables.** `the service remembers ... as \"name\"` keeps a value for the rest of the scenario; " +
	"`${name}` then stands for it in any argument: a quoted string (`with etag \"${etag}\"`), a value " +
	"(`greater than ${version}`), a doc string, a table cell. A string stands for its text without quotes, " +
	"so in a JSON document write `\"${mode}\"`; `$${` is a literal `${`. An unknown name fails the step, " +
	"naming the variables defined; a key's value is never shown in a message. A twin's etag is " +
	"`the service remembers \"etag\" of the twin of module \"x\" as \"etag\"`; `the service remembers the etag of " +
	"module \"x\"` is the identity's etag, which a twin write refuses with 412.\n" +
	"- **Etags.** A write may end with an etag phrase: none, or `unconditionally`, sends `If-Match: *`; " +
	"`with its etag` (an identity) or `with the twin's etag` sends the etag the service holds from its last read " +
	"or write; `with a stale etag` the oldest one it saw, once the entity has changed since; " +
	"`with etag \"<text>\"` any etag, e.g. `\"*\"` or `\"${etag}\"`.\n" +
	"- **Refusals.** A refusal from the hub is kept until a `the hub refuses with ...` step checks it " +
	"(`the hub refuses with 409 DeviceAlreadyExists`, or with the 6-digit code: `the hub refuses with 404 " +
	"404001`); write that step right after the action, since other steps do not look at it. A refusal no " +
	"step checks fails the scenario at its end, and a second refusal before the first is checked fails " +
	"its step.\n" +
	"- **Waits and reads.** Checks read the hub afresh and poll until they hold or 10 s pass; waits for " +
	"a patch or a connection have the same deadline. There are no sleeps.\n" +
	"- **Typos.** A step that matches no step below fails, naming the closest ones; a step that matches " +
	"two fails, naming both.\n"
