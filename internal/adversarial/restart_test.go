package adversarial

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"
)

// restartCycles is how many kill -9 restarts the loop makes.
func restartCycles() int {
	if *soak {
		return 30
	}
	return 3
}

// startPersistent starts the binary with -data-dir.
func startPersistent(t *testing.T) *binaryTarget {
	t.Helper()
	b, err := newBinary(t, binaryOptions{extra: []string{"-data-dir", t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// acked is what the hub acknowledged: devices created and desired
// properties written, with the desired $version each write answered.
type acked struct {
	mu       sync.Mutex
	devices  []string
	keys     map[string]float64
	version  int64
	attempts int
	// progress is told (without blocking) whenever a write is acknowledged.
	progress chan struct{}
}

// told tells progress that a write was acknowledged.
func (a *acked) told() {
	select {
	case a.progress <- struct{}{}:
	default:
	}
}

// awaitBoth waits until a device create and a twin write have both been
// acknowledged at least once, or ctx ends.
func (a *acked) awaitBoth(ctx context.Context) {
	for {
		a.mu.Lock()
		both := len(a.devices) > 0 && len(a.keys) > 0
		a.mu.Unlock()
		if both {
			return
		}
		select {
		case <-a.progress:
		case <-ctx.Done():
			return
		}
	}
}

type restartFigures struct {
	cycles, devices, keys, attempts int
	lost                            int
}

// TestKillRestartLoop: with -data-dir, a writer runs while the binary is
// killed with SIGKILL at random moments and restarted on the same ports and
// data directory; every acknowledged write is there after each restart,
// with its value and a desired $version no lower than the one acknowledged.
func TestKillRestartLoop(t *testing.T) {
	t.Parallel()
	t.Run("binary", func(t *testing.T) {
		fig := restartScenario(t, restartCycles())
		t.Logf("%d kill -9 restarts, %d write attempts, %d devices and %d properties acknowledged, %d lost",
			fig.cycles, fig.attempts, fig.devices, fig.keys, fig.lost)
	})
}

func restartScenario(t *testing.T, cycles int) restartFigures {
	b := startPersistent(t)
	newDevice(t, b, "keeper")
	a := &acked{keys: map[string]float64{}, progress: make(chan struct{}, 1)}
	n := 0
	fig := restartFigures{cycles: cycles}
	for cycle := range cycles {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ctx.Err() == nil {
				n++
				write(ctx, b, a, n)
			}
		}()
		// A random moment, so kills land anywhere in a write.
		kill := time.NewTimer(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		<-kill.C
		if cycle == 0 {
			// On a loaded machine the first writes can take longer than the
			// moment drawn: the loop must have something acknowledged to
			// check, so the first kill also waits for that.
			actx, acancel := context.WithTimeout(ctx, time.Minute)
			a.awaitBoth(actx)
			acancel()
		}
		b.kill()
		cancel()
		<-done
		if err := b.restart(); err != nil {
			t.Fatalf("restart %d: %v", cycle+1, err)
		}
		fig.lost += checkAcked(t, b, a)
	}
	fig.devices, fig.keys, fig.attempts = len(a.devices), len(a.keys), a.attempts
	if len(a.devices) == 0 || len(a.keys) == 0 {
		t.Errorf("nothing was acknowledged in %d cycles: the loop tested nothing", cycles)
	}
	return fig
}

// write creates one device and writes one desired property, recording
// what the hub acknowledges.
func write(ctx context.Context, b *binaryTarget, a *acked, n int) {
	a.mu.Lock()
	a.attempts++
	a.mu.Unlock()
	id := fmt.Sprintf("p-%d", n)
	status, _, _, err := doREST(ctx, b, http.MethodPut, "/devices/"+id, policyToken(b, "iothubowner"), []byte(`{}`), nil)
	if err == nil && status == http.StatusOK {
		a.mu.Lock()
		a.devices = append(a.devices, id)
		a.mu.Unlock()
		a.told()
	}
	key := fmt.Sprintf("w%d", n)
	status, _, body, err := doREST(ctx, b, http.MethodPatch, "/twins/keeper", policyToken(b, "iothubowner"),
		[]byte(fmt.Sprintf(`{"properties":{"desired":{"%s":%d}}}`, key, n)), nil)
	if err != nil || status != http.StatusOK {
		return
	}
	var tw twinState
	if jsonErr := json.Unmarshal(body, &tw); jsonErr != nil {
		return
	}
	a.mu.Lock()
	a.keys[key] = float64(n)
	a.version = max(a.version, tw.desiredVersion())
	a.mu.Unlock()
	a.told()
}

// checkAcked reads back every acknowledged write and returns how many are
// missing.
func checkAcked(t *testing.T, b *binaryTarget, a *acked) int {
	t.Helper()
	ctx := ctxFor(t, time.Minute)
	a.mu.Lock()
	defer a.mu.Unlock()
	lost := 0
	for _, id := range a.devices {
		status, code, _, err := doREST(ctx, b, http.MethodGet, "/devices/"+id, policyToken(b, "iothubowner"), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusOK {
			lost++
			t.Errorf("acknowledged device %s: %d %s after a restart", id, status, code)
		}
	}
	tw, err := getTwin(ctx, b, "/twins/keeper")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range a.keys {
		if got := tw.Properties.Desired[k]; got != v {
			lost++
			t.Errorf("acknowledged desired %s=%v: the twin holds %v after a restart", k, v, got)
		}
	}
	if tw.desiredVersion() < a.version {
		t.Errorf("desired $version %d after a restart, %d was acknowledged", tw.desiredVersion(), a.version)
	}
	return lost
}
