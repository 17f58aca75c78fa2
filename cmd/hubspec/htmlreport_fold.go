package main

import (
	"fmt"
	"regexp"
)

// A step that polls (a read after a write, repeated until the hub agrees)
// records every attempt: fifteen identical lines hide the one that
// differs. foldPolls shows a run of the same request with the same outcome
// as one line, "15 × GET /twins/house → 200", which opens on the attempts
// themselves; the twins each returned go with them.

// httpDuration is the "(1.2 ms)" that ends an HTTP item's title: the one
// part of the title in which attempts differ.
var httpDuration = regexp.MustCompile(` \([0-9.]+ [µm]?s\)$`)

// minFold is the shortest run of attempts folded into one line.
const minFold = 3

func foldPolls(evs []evidenceView) []evidenceView {
	var out []evidenceView
	for i := 0; i < len(evs); {
		key, n := pollKey(evs[i]), attemptLen(evs, i)
		j, count := i+n, 1
		for key != "" && j < len(evs) && pollKey(evs[j]) == key {
			j += attemptLen(evs, j)
			count++
		}
		if count < minFold {
			out = append(out, evs[i:i+n]...)
			i += n
			continue
		}
		out = append(out, evidenceView{Kind: "polls", Title: fmt.Sprintf("%d × %s", count, key),
			At: evs[i].At, AtFull: evs[i].AtFull, Items: evs[i:j]})
		i = j
	}
	return out
}

// pollKey is what attempts of one poll share: an HTTP item's title without
// its duration; "" for any other item.
func pollKey(ev evidenceView) string {
	if ev.Kind != "http" {
		return ""
	}
	return httpDuration.ReplaceAllString(ev.Title, "")
}

// attemptLen is 2 for an HTTP item followed by the twin it returned, 1
// otherwise.
func attemptLen(evs []evidenceView, i int) int {
	if evs[i].Kind == "http" && i+1 < len(evs) && evs[i+1].Kind == "twin" {
		return 2
	}
	return 1
}
