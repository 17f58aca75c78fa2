// Package paralleltest lets a package's parallel tests run all at once.
//
// go test runs at most -test.parallel of a package's parallel tests at a
// time, GOMAXPROCS by default: two on a two-core machine. Tests that spend
// most of their time waiting on a hub (the feature suite's runs on
// different targets) then run two by two, and the package takes as long as
// its pairs one after the other instead of about as long as its longest.
package paralleltest

import (
	"flag"
	"strconv"
)

// Allow raises -test.parallel to n, unless the command line gave
// -test.parallel (or -parallel to go test). Call it from TestMain, before
// m.Run.
func Allow(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		if err := flag.Set("test.parallel", strconv.Itoa(n)); err != nil {
			panic("paralleltest: " + err.Error()) // not a test binary
		}
	}
}
