// Package features holds Hubspec's Gherkin feature files and embeds them, so
// the hubspec runner carries the suite inside its binary: a QA engineer or a
// conformance check against a live hub runs the very scenarios CI runs, from
// any directory, without a checkout.
//
// The files stay plain .feature files in this directory; `go test ./steps`
// reads them from disk, and this package only adds the embedded copy.
package features

import "embed"

// FS holds every *.feature file of this directory at its root, e.g.
// "module_twin_tutorial.feature". It is read-only; it is a variable only
// because go:embed requires one.
//
//go:embed *.feature
var FS embed.FS
