package steps

import (
	"fmt"
	"slices"
	"strings"
)

// The etag phrases a write step may end with. The identity steps say "its
// etag", the twin steps "the twin's etag"; both mean the etag the service
// holds from its last read or write.
const (
	identityEtagChoice = `( with its etag| with a stale etag| with etag "[^"]*"| unconditionally)?`
	twinEtagChoice     = `( with the twin's etag| with a stale etag| with etag "[^"]*"| unconditionally)?`
)

// chooseEtag turns an etag phrase into the If-Match value to send. No
// phrase, or "unconditionally", sends "*", as the SDKs do by default. A
// stale etag is the oldest one seen, which only exists once the entity has
// changed since; asking for one earlier is a mistake in the scenario.
// held is the etag the service holds (usually the latest it saw).
func chooseEtag(phrase string, seen []string, held, what string) (string, error) {
	phrase = strings.TrimSpace(phrase)
	switch {
	case phrase == "" || phrase == "unconditionally":
		return "*", nil
	case phrase == "with its etag" || phrase == "with the twin's etag":
		if held == "" {
			return "", fmt.Errorf("%s: the service holds no etag of it", what)
		}
		return held, nil
	case phrase == "with a stale etag":
		if len(seen) == 0 || seen[0] == seen[len(seen)-1] {
			return "", fmt.Errorf("%s has not changed since the service first saw it, so it has no stale etag yet", what)
		}
		return seen[0], nil
	}
	literal, _ := strings.CutPrefix(phrase, "with etag ")
	return strings.Trim(literal, `"`), nil
}

// latest is the last etag of a history, or "".
func latest(seen []string) string {
	if len(seen) == 0 {
		return ""
	}
	return seen[len(seen)-1]
}

// sawEtag appends an etag to a history unless it is already the latest.
func sawEtag(seen []string, etag string) []string {
	if etag == "" || len(seen) > 0 && seen[len(seen)-1] == etag {
		return seen
	}
	return append(seen, etag)
}

// notOlder fails when etag is one of those seen before the latest: the
// hub still shows the entity as it was before the service's last write.
func notOlder(what string, seen []string, etag string) error {
	if len(seen) > 1 && slices.Contains(seen[:len(seen)-1], etag) {
		return fmt.Errorf("%s: the hub still shows etag %s, older than %s", what, etag, seen[len(seen)-1])
	}
	return nil
}
