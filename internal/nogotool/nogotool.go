// Package nogotool keeps hubspec from running the Go toolchain at
// start-up. godog links its test-binary builder into every program that
// uses it, and that builder's package initialisation runs
// `go env GOTOOLDIR` (godog v0.15.1 and v0.16.0, internal/builder's
// findToolDir) even though nothing in hubspec builds anything: 0.3 to 3 s
// of every start where a Go is installed, and a Go module in the working
// directory may make it fetch a toolchain.
//
// exec.Command finds "go" through PATH, so this package empties PATH
// before that initialisation and package restore puts it back right after
// it. The order is the language's (the Go spec, "Package
// initialization", since Go 1.21): packages initialise one at a time, each
// time the first in import-path order whose imports are done. This
// package imports only os, so it is ready before os/exec, which godog's
// builder imports and which sorts after it; restore imports godog, so it
// initialises after the builder. Import both, blank, from the main
// package; TestStartsWithoutTheGoToolchain in cmd/hubspec checks it.
package nogotool

import "os"

// path is the PATH the process started with; set says whether it was set.
var path, set = os.LookupEnv("PATH")

func init() {
	os.Setenv("PATH", "")
}

// Restore gives the process its PATH back.
func Restore() {
	if set {
		os.Setenv("PATH", path)
	} else {
		os.Unsetenv("PATH")
	}
}
