package amqp_test

import (
	"encoding/binary"
	"testing"

	"github.com/hubspec/hubspec/internal/amqp"
)

// listCount is the element count of a marshalled composite: the list that
// follows its descriptor (0x00, then a smallulong 0x53 code).
func listCount(t *testing.T, b []byte) int {
	t.Helper()
	if len(b) < 4 || b[0] != 0x00 || b[1] != 0x53 {
		t.Fatalf("not a described type with a small descriptor: % x", b)
	}
	switch l := b[3:]; l[0] {
	case 0x45: // list0
		return 0
	case 0xc0: // list8: size, count
		return int(l[2])
	case 0xd0: // list32: size, count
		return int(binary.BigEndian.Uint32(l[5:9]))
	}
	t.Fatalf("descriptor not followed by a list: % x", b)
	return 0
}

// TestCompositesKeepTrailingNulls: every composite is written with all
// its fields, absent ones as null. The specification lets trailing nulls
// be left out, but Python's pyamqp (azure-eventhub 5.11) reads a
// performative's fields by position (its link.py takes attach's field 13)
// and fails on a shorter list.
func TestCompositesKeepTrailingNulls(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want int
	}{
		{&amqp.Open{ContainerID: "c"}, 10},
		{&amqp.Begin{}, 8},
		{&amqp.Attach{Name: "l", Handle: 1}, 14},
		{&amqp.Flow{}, 11},
		{&amqp.Transfer{}, 11},
		{&amqp.Disposition{}, 6},
		{&amqp.Detach{}, 3},
		{&amqp.End{}, 1},
		{&amqp.Close{}, 1},
		{&amqp.Error{Condition: amqp.ErrNotFound}, 3},
		{&amqp.Source{Address: "a"}, 11},
		{&amqp.Target{Address: "a"}, 7},
		{&amqp.SASLOutcome{}, 2},
		{&amqp.SASLMechanisms{Mechanisms: []amqp.Symbol{"ANONYMOUS"}}, 1},
		{&amqp.Header{}, 5},
		{&amqp.Properties{}, 13},
	} {
		b, err := amqp.Marshal(tc.v)
		if err != nil {
			t.Fatalf("%T: %v", tc.v, err)
		}
		if got := listCount(t, b); got != tc.want {
			t.Errorf("%T is written with %d fields, want all %d", tc.v, got, tc.want)
		}
	}
}
