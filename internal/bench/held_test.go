package bench

import (
	"os"
	"testing"
)

func TestParseStatm(t *testing.T) {
	page := int64(os.Getpagesize())
	if got, err := parseStatm("61234 2500 1200 300 0 9000 0\n"); err != nil || got != 2500*page {
		t.Errorf("parseStatm: %d, %v; want %d", got, err, 2500*page)
	}
	for _, bad := range []string{"", "61234", "61234 lots 1"} {
		if _, err := parseStatm(bad); err == nil {
			t.Errorf("parseStatm(%q) took it", bad)
		}
	}
}

func TestResidentBytesOfThisProcess(t *testing.T) {
	rss, err := residentBytes(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if rss <= 0 {
		t.Errorf("resident set %d", rss)
	}
}
