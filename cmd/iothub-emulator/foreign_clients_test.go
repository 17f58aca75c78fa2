package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestForeignClients runs testdata/foreign_clients.sh: curl, mosquitto_sub
// and mosquitto_pub, with SAS tokens made by openssl, against the binary.
// None of them shares code with Hubspec, so a bug that Hubspec's clients and
// its emulator agree on cannot hide here.
//
// The tools come from Debian (curl, openssl, mosquitto-clients; make setup
// installs them). Without them the test skips, naming what is missing,
// unless HUBSPEC_REQUIRE_FOREIGN_CLIENTS=1 (CI sets it): then it fails.
func TestForeignClients(t *testing.T) {
	var missing []string
	for _, tool := range []string{"bash", "curl", "openssl", "mosquitto_sub", "mosquitto_pub", "stdbuf"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		msg := "foreign clients not installed: " + strings.Join(missing, ", ") +
			" (apt-get install curl openssl mosquitto-clients)"
		if os.Getenv("HUBSPEC_REQUIRE_FOREIGN_CLIENTS") == "1" {
			t.Fatal(msg + "; HUBSPEC_REQUIRE_FOREIGN_CLIENTS=1 requires them")
		}
		t.Skip(msg)
	}

	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "testdata/foreign_clients.sh", bin, freePort(t), freePort(t))
	// Its own process group, so that a timeout kills the emulator and the
	// mosquitto clients along with the script, not the script alone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("foreign_clients.sh:\n%s", out.String())
	if err != nil {
		t.Fatalf("foreign_clients.sh: %v (context: %v)", err, ctx.Err())
	}
}
