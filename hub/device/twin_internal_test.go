package device

import (
	"io"
	"log/slog"
	"testing"

	"github.com/hubspec/hubspec/hub"
)

func testClient(held int64) *Client {
	return &Client{patches: newHandoff[DesiredPatch](), held: held, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// drain reads patches until the one with version last arrives.
func drain(c *Client, last int64) []DesiredPatch {
	var got []DesiredPatch
	for {
		p := <-c.patches.out
		got = append(got, p)
		if p.Version == last {
			return got
		}
	}
}

// TestOfferDropsStalePatches: a patch is delivered only when its version
// is newer than every version delivered or read before it.
func TestOfferDropsStalePatches(t *testing.T) {
	c := testClient(3)
	defer c.patches.close()
	// 7 is a sentinel: anything wrongly delivered would come before it.
	for _, v := range []int64{2, 3, 4, 4, 3, 5, 6, 7} {
		c.offer(DesiredPatch{Version: v})
	}
	got := drain(c, 7)
	if len(got) != 4 || got[0].Version != 4 || got[1].Version != 5 || got[2].Version != 6 {
		t.Fatalf("delivered %+v, want versions 4 5 6 7", got)
	}
}

// TestResyncPutsTheFullPatchFirst: a push that overtakes the GET answer of a
// resync waits; the Full patch from the GET goes first, then the push.
func TestResyncPutsTheFullPatchFirst(t *testing.T) {
	c := testClient(3)
	defer c.patches.close()
	c.resyncing = true
	c.offer(DesiredPatch{Version: 6, Properties: map[string]any{"c": 3}})
	c.offer(DesiredPatch{Version: 5, Properties: map[string]any{"b": 2}}) // already in the GET
	c.mu.Lock()
	c.finishResync(&hub.TwinProperties{Desired: map[string]any{"a": 1, "b": 2, "$version": float64(5)}}, nil, false)
	c.mu.Unlock()
	got := drain(c, 6)
	if len(got) != 2 || !got[0].Full || got[0].Version != 5 || got[0].Properties["a"] != 1 || got[1].Version != 6 {
		t.Fatalf("delivered %+v, want Full 5 then 6", got)
	}
}

// TestPendingPatchesCountsUntilHandedOver: a patch offered counts until
// DesiredPatches has handed it over, the one being handed over included
// (the count may lag a hand-over by an instant, never lead it); a stale
// one never counts; a resync counts as one more, with what it holds back.
func TestPendingPatchesCountsUntilHandedOver(t *testing.T) {
	c := testClient(3)
	defer c.patches.close()
	if n := c.PendingPatches(); n != 0 {
		t.Fatalf("PendingPatches of a fresh client = %d, want 0", n)
	}
	c.offer(DesiredPatch{Version: 4})
	c.offer(DesiredPatch{Version: 5})
	c.offer(DesiredPatch{Version: 2}) // stale: dropped, never pending
	if n := c.PendingPatches(); n != 2 {
		t.Fatalf("PendingPatches after two offers = %d, want 2", n)
	}
	<-c.patches.out
	if n := c.PendingPatches(); n < 1 {
		t.Fatalf("PendingPatches with one patch still to hand over = %d, want at least 1", n)
	}

	r := testClient(3)
	defer r.patches.close()
	r.resyncing = true
	r.offer(DesiredPatch{Version: 6})
	if n := r.PendingPatches(); n != 2 {
		t.Fatalf("PendingPatches during a resync holding one patch = %d, want 2", n)
	}
}

// TestFailedResyncHoldsPatchesBackUntilTheTwinIsRead: when the GET of a
// resync fails (the connection dropped again while it was in flight), the
// patches that came meanwhile may follow a gap: delivering them would move
// the client's version past changes it never saw, so that no later read
// would bring them. They wait, and the next read's Full patch goes first.
func TestFailedResyncHoldsPatchesBackUntilTheTwinIsRead(t *testing.T) {
	c := testClient(3)
	defer c.patches.close()
	c.closed = true // no retry goroutine: the next read is the test's
	c.resyncing = true
	c.offer(DesiredPatch{Version: 6, Properties: map[string]any{"c": 3}}) // 4 and 5 were missed
	c.mu.Lock()
	c.finishResync(nil, errConnectionLost, false)
	c.mu.Unlock()
	if n := c.PendingPatches(); n != 2 {
		t.Fatalf("after a failed resync PendingPatches = %d, want the read still owed and the held patch", n)
	}
	c.mu.Lock()
	c.finishResync(&hub.TwinProperties{Desired: map[string]any{"a": 1, "b": 2, "c": 3, "$version": float64(6)}}, nil, false)
	c.mu.Unlock()
	if got := drain(c, 6); len(got) != 1 || !got[0].Full || got[0].Properties["a"] != 1 {
		t.Fatalf("delivered %+v, want one Full patch at version 6 holding a, b and c", got)
	}
}
