package main

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"

	"github.com/cucumber/godog"
)

// shard is --shard i/n: this run takes the i-th of n parts of the
// scenarios, so a CI matrix of n runners runs a suite once between them.
type shard struct{ index, count int }

// parseShard reads "i/n" with 1 <= i <= n; "" is the whole suite (1/1).
func parseShard(s string) (shard, error) {
	if s == "" {
		return shard{1, 1}, nil
	}
	i, n, ok := strings.Cut(s, "/")
	index, err1 := strconv.Atoi(strings.TrimSpace(i))
	count, err2 := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err1 != nil || err2 != nil || count < 1 || index < 1 || index > count {
		return shard{}, fmt.Errorf("--shard %q: want i/n with 1 <= i <= n, e.g. 2/4", s)
	}
	return shard{index, count}, nil
}

func (s shard) whole() bool { return s.count == 1 }

// paths are the file:LINE paths of this shard's scenarios among those a
// run with opts would run (its paths and tags applied), and how many
// scenarios (outline examples counted one by one) they hold. A Scenario
// Outline is one unit: its examples run together. The units are dealt out
// largest first, each to the shard that holds the fewest scenarios so far
// (ties by a hash of the unit's file and line, then by shard number): the
// same runs and tags give the same split on every machine, and the shards
// differ by at most the largest outline.
func (s shard) paths(opts godog.Options) ([]string, int, error) {
	units, err := shardUnits(opts)
	if err != nil {
		return nil, 0, err
	}
	load := make([]int, s.count)
	var paths []string
	mine := 0
	for _, u := range units {
		least := 0
		for i := range load {
			if load[i] < load[least] {
				least = i
			}
		}
		load[least] += u.scenarios
		if least == s.index-1 {
			paths = append(paths, u.path)
			mine += u.scenarios
		}
	}
	sort.Strings(paths)
	return paths, mine, nil
}

// shardUnit is a scenario (an outline with all its examples) as a run
// path, with the scenarios it holds.
type shardUnit struct {
	path      string
	scenarios int
	hash      uint32
}

// shardUnits are the scenarios a run with opts would run, in the order
// they are dealt: largest first, then by the hash of their path.
func shardUnits(opts godog.Options) ([]shardUnit, error) {
	feats, err := godog.TestSuite{Options: &opts}.RetrieveFeatures() // on a copy: it fills in defaults
	if err != nil {
		return nil, err
	}
	index := map[string]int{}
	var units []shardUnit
	for _, f := range feats {
		file, _, _ := strings.Cut(f.Uri, ":") // a path given as file.feature:LINE
		for _, p := range f.Pickles {
			path := fmt.Sprintf("%s:%d", file, f.FindScenario(p.AstNodeIds[0]).Location.Line)
			i, ok := index[path]
			if !ok {
				h := fnv.New32a()
				h.Write([]byte(path))
				i, index[path] = len(units), len(units)
				units = append(units, shardUnit{path: path, hash: h.Sum32()})
			}
			units[i].scenarios++
		}
	}
	sort.Slice(units, func(a, b int) bool {
		if units[a].scenarios != units[b].scenarios {
			return units[a].scenarios > units[b].scenarios
		}
		if units[a].hash != units[b].hash {
			return units[a].hash < units[b].hash
		}
		return units[a].path < units[b].path
	})
	return units, nil
}
