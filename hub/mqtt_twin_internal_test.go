package hub

import (
	"io"
	"log/slog"
	"testing"
)

// TestOfferDropsStalePatches: a patch is delivered only when its version
// is newer than every version delivered or read before it.
func TestOfferDropsStalePatches(t *testing.T) {
	c := &MQTTClient{patches: newPatchQueue(), held: 3, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	defer c.patches.close()
	// 100 is a sentinel: anything wrongly delivered would come before it.
	for _, v := range []int64{2, 3, 5, 4, 5, 6, 100} {
		c.offer(DesiredPatch{Version: v})
	}
	var got []int64
	for v := int64(0); v != 100; {
		v = (<-c.patches.out).Version
		got = append(got, v)
	}
	if len(got) != 3 || got[0] != 5 || got[1] != 6 {
		t.Fatalf("delivered %v, want [5 6 100]", got)
	}
}
