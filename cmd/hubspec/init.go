package main

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
)

// starter is what `hubspec init` writes: a first feature and a CI workflow
// that installs this runner and runs it, for a QA team whose features live
// in a repository of their own.
//
//go:embed all:starter
var starter embed.FS

// initCmd writes the starter files into a directory (default "."),
// refusing to overwrite any file that is already there: nothing is written
// unless all of them can be.
func initCmd(args []string, stdout, stderr io.Writer) int {
	fset := newFlagSet("init", "write a starter features/ folder and a CI workflow that runs it.", stderr)
	rest, err := parseInterspersed(fset, args)
	if err != nil {
		return parseStatus(err)
	}
	if len(rest) > 1 {
		return usageError(fset, "want at most one directory, got %d", len(rest))
	}
	dir := "."
	if len(rest) == 1 {
		dir = rest[0]
	}
	files, err := starterFiles(installVersion())
	if err != nil {
		fmt.Fprintf(stderr, "hubspec: %v\n", err)
		return exitFailed
	}
	for name := range files {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			fmt.Fprintf(stderr, "hubspec: %s already exists: nothing written\n", filepath.Join(dir, name))
			return exitFailed
		}
	}
	for _, name := range sortedKeys(files) {
		if err := writeReportFile(filepath.Join(dir, name), files[name]); err != nil {
			fmt.Fprintf(stderr, "hubspec: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "hubspec: wrote %s\n", filepath.Join(dir, name))
	}
	fmt.Fprintf(stdout, "Next: hubspec run %s (the emulator runs inside hubspec; see hubspec help for other targets)\n",
		filepath.Join(dir, "features"))
	return exitPassed
}

// starterFiles are the starter's files by path, the CI workflow installing
// the given version of the runner.
func starterFiles(version string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(starter, "starter", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := starter.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("starter", path)
		files[rel] = bytes.ReplaceAll(data, []byte("{{VERSION}}"), []byte(version))
		return nil
	})
	if len(files) == 0 && err == nil {
		err = errors.New("the starter files are missing from this build")
	}
	return files, err
}

// installVersion is the version `go install` should fetch: this binary's
// own when it was installed from a release, else "latest".
func installVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "latest"
}
