package steps

import "testing"

// TestChooseEtag: the If-Match each etag phrase sends.
func TestChooseEtag(t *testing.T) {
	seen := []string{"e1", "e2", "e3"}
	for phrase, want := range map[string]string{
		"": "*", " unconditionally": "*", ` with etag "*"`: "*", ` with etag "abc"`: "abc",
		" with its etag": "held", " with the twin's etag": "held", " with a stale etag": "e1",
	} {
		if got, err := chooseEtag(phrase, seen, "held", "x"); err != nil || got != want {
			t.Errorf("chooseEtag(%q) = %q, %v; want %q", phrase, got, err, want)
		}
	}
	if _, err := chooseEtag(" with a stale etag", []string{"e1"}, "e1", "device \"d\""); err == nil {
		t.Error("a stale etag of an entity that never changed")
	}
	if _, err := chooseEtag(" with its etag", nil, "", "device \"d\""); err == nil {
		t.Error("its etag, with none held")
	}
}

// TestNotOlder: an etag seen before the latest is a stale read; the latest,
// or one never seen, is not.
func TestNotOlder(t *testing.T) {
	seen := []string{"e1", "e2", "e3"}
	if err := notOlder("x", seen, "e2"); err == nil || err.Error() != "x: the hub still shows etag e2, older than e3" {
		t.Errorf("an older etag: %v", err)
	}
	for _, etag := range []string{"e3", "e4"} {
		if err := notOlder("x", seen, etag); err != nil {
			t.Errorf("notOlder(%s): %v", etag, err)
		}
	}
	if got := sawEtag(sawEtag(nil, "e1"), "e1"); len(got) != 1 {
		t.Errorf("sawEtag kept the same etag twice: %v", got)
	}
}
