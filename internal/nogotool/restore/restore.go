// Package restore gives the process back the PATH package nogotool hid,
// once godog (and the builder that would have run go) has initialised.
package restore

import (
	_ "github.com/cucumber/godog" // initialised first: the reason for this package

	"github.com/hubspec/hubspec/internal/nogotool"
)

func init() {
	nogotool.Restore()
}
