package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCommandLineMistakesExit2BeforeAnythingRuns(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--runs", "0", "--emulator", "e"}, "--runs 0"},
		{[]string{"--mosquitto", "m"}, "no emulator binary"},
		{[]string{"--emulator", "e", "--connections", "0"}, "connections 0"},
		{[]string{"--emulator", "e", "extra"}, `unexpected arguments ["extra"]`},
		{[]string{"--emulator", "/no/such/iothub-emulator", "--mosquitto", "/no/such/mosquitto"}, "make bench builds the emulator"},
		{[]string{"--no-such-flag"}, "flag provided but not defined"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(c.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), c.want) || stdout.Len() > 0 {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want 2 and %q", c.args, code, stderr.String(), stdout.String(), c.want)
		}
	}
}

func TestHelpExits0(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "Usage: hubspec-bench") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
