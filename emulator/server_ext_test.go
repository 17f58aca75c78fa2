package emulator_test

import (
	"sync"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
)

// TestCloseWhileClientsComeAndGo: Close returns while MQTT clients connect
// and disconnect around it. (mochi-mqtt's own Close could deadlock when a
// client ended at the wrong moment; the adversarial suite found it.)
func TestCloseWhileClientsComeAndGo(t *testing.T) {
	for round := range 8 {
		s, reg := startHubWith(t, emulator.Options{})
		m := createModule(t, reg, "dev1", "mod1")
		c := moduleCreds(t, s, m, "", time.Now().Add(time.Hour))
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if rc, err := dialRaw(s, c, 4); err == nil {
						rc.c.Disconnect(0)
					}
				}
			})
		}
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		select {
		case <-closed:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: Close did not return while clients came and went", round)
		}
		close(stop)
		wg.Wait()
	}
}
