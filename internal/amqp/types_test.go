package amqp

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

// TestEncodings pins the bytes of one value of each type, as part 1,
// section 1.6 defines them, and that each decodes back.
func TestEncodings(t *testing.T) {
	ts := time.UnixMilli(1700000000123).UTC()
	cases := []struct {
		v    any
		want []byte
	}{
		{nil, []byte{0x40}},
		{true, []byte{0x41}},
		{false, []byte{0x42}},
		{uint8(7), []byte{0x50, 7}},
		{uint16(0x102), []byte{0x60, 1, 2}},
		{uint32(0), []byte{0x43}},
		{uint32(200), []byte{0x52, 200}},
		{uint32(0x1020304), []byte{0x70, 1, 2, 3, 4}},
		{uint64(0), []byte{0x44}},
		{uint64(9), []byte{0x53, 9}},
		{uint64(1 << 40), []byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0}},
		{int8(-2), []byte{0x51, 0xfe}},
		{int16(-2), []byte{0x61, 0xff, 0xfe}},
		{int32(-2), []byte{0x54, 0xfe}},
		{int32(1000), []byte{0x71, 0, 0, 3, 0xe8}},
		{int64(-2), []byte{0x55, 0xfe}},
		{int64(1000), []byte{0x81, 0, 0, 0, 0, 0, 0, 3, 0xe8}},
		{float32(1), []byte{0x72, 0x3f, 0x80, 0, 0}},
		{float64(1), []byte{0x82, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}},
		{Decimal32{1, 2, 3, 4}, []byte{0x74, 1, 2, 3, 4}},
		{Char('é'), []byte{0x73, 0, 0, 0, 0xe9}},
		{ts, append([]byte{0x83}, appendU64(nil, 1700000000123)...)},
		{UUID{15: 1}, append([]byte{0x98}, append(make([]byte, 15), 1)...)},
		{[]byte("ab"), []byte{0xa0, 2, 'a', 'b'}},
		{"ab", []byte{0xa1, 2, 'a', 'b'}},
		{Symbol("ab"), []byte{0xa3, 2, 'a', 'b'}},
		{[]any{}, []byte{0x45}},
		{[]any{true, uint8(1)}, []byte{0xc0, 4, 2, 0x41, 0x50, 1}},
		{map[any]any{Symbol("k"): "v"}, []byte{0xc1, 7, 2, 0xa3, 1, 'k', 0xa1, 1, 'v'}},
		{SymbolArray("a", "b"), []byte{0xe0, 12, 2, 0xb3, 0, 0, 0, 1, 'a', 0, 0, 0, 1, 'b'}},
		{Described{Descriptor: uint64(0x75), Value: []byte{1}}, []byte{0x00, 0x53, 0x75, 0xa0, 1, 1}},
		{&Accepted{}, []byte{0x00, 0x53, 0x24, 0x45}},
	}
	for _, c := range cases {
		got, err := Marshal(c.v)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("Marshal(%#v) = % x, %v; want % x", c.v, got, err, c.want)
			continue
		}
		back, err := Unmarshal(got)
		if err != nil || !reflect.DeepEqual(back, c.v) {
			t.Errorf("Unmarshal(% x) = %#v, %v; want %#v", got, back, err, c.v)
		}
	}
}

// TestWideForms decodes the 32-bit forms the encoder never chooses for
// small values, as peers may send them.
func TestWideForms(t *testing.T) {
	cases := []struct {
		in   []byte
		want any
	}{
		{[]byte{0xb1, 0, 0, 0, 1, 'x'}, "x"},
		{[]byte{0xb0, 0, 0, 0, 0}, []byte{}},
		{[]byte{0xd0, 0, 0, 0, 5, 0, 0, 0, 1, 0x40}, []any{nil}},
		{[]byte{0xd1, 0, 0, 0, 6, 0, 0, 0, 2, 0x43, 0x40}, map[any]any{uint32(0): nil}},
		{[]byte{0x56, 1}, true},
		{[]byte{0x00, 0xa3, 18, 'a', 'm', 'q', 'p', ':', 'a', 'c', 'c', 'e', 'p', 't', 'e', 'd', ':', 'l', 'i', 's', 't', 0x45}, &Accepted{}},
		{[]byte{0xe0, 2, 2, 0x41}, Array{Code: 0x41, Elems: []any{true, true}}},
	}
	for _, c := range cases {
		got, err := Unmarshal(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Unmarshal(% x) = %#v, %v; want %#v", c.in, got, err, c.want)
		}
	}
}

// TestHostileValues refuses what a hostile peer sends, with an error and
// without a panic or an allocation its input does not pay for.
func TestHostileValues(t *testing.T) {
	var nested any = []any{}
	for range maxDepth + 1 {
		nested = []any{nested}
	}
	deep, err := Marshal(nested)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		in   []byte
		want error
	}{
		"empty":                {nil, errShort},
		"unknown code":         {[]byte{0x01}, errBadCode},
		"string past its end":  {[]byte{0xb1, 0xff, 0xff, 0xff, 0xff, 'x'}, errShort},
		"list count 4G":        {[]byte{0xd0, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff}, errCount},
		"array count 4G":       {[]byte{0xf0, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0x40}, errCount},
		"map odd":              {[]byte{0xc1, 2, 1, 0x40}, errOddMap},
		"map binary key":       {[]byte{0xc1, 4, 2, 0xa0, 0, 0x40}, errMapKey},
		"map duplicate key":    {[]byte{0xc1, 5, 4, 0x40, 0x40, 0x40, 0x40}, errDupKey},
		"described descriptor": {[]byte{0x00, 0x00, 0x53, 1, 0x40, 0x40}, errDescriptor},
		"nested too deep":      {deep, errTooDeep},
		"boolean 2":            {[]byte{0x56, 2}, errBadCode},
		"list with leftovers":  {[]byte{0xc0, 3, 1, 0x40, 0x40}, errShort},
		"open without id":      {[]byte{0x00, 0x53, 0x10, 0x45}, errMissingField},
		"attach role string":   {[]byte{0x00, 0x53, 0x12, 0xc0, 7, 3, 0xa1, 1, 'n', 0x43, 0xa1, 0}, errFieldType},
		"composite not list":   {[]byte{0x00, 0x53, 0x24, 0x40}, errNotList},
	}
	for name, c := range cases {
		if _, err := Unmarshal(c.in); !errors.Is(err, c.want) {
			t.Errorf("%s: Unmarshal(% x) error %v, want %v", name, c.in, err, c.want)
		}
	}
}

// TestPerformativeRoundTrip encodes each performative and decodes it back.
func TestPerformativeRoundTrip(t *testing.T) {
	one, mfs := uint32(1), uint32(math.MaxUint32)
	values := []composite{
		&Open{ContainerID: "c", MaxFrameSize: &mfs, OfferedCapabilities: []Symbol{"x"}, Properties: map[Symbol]any{"p": int64(1)}},
		&Begin{NextOutgoingID: 1, IncomingWindow: 5000, OutgoingWindow: 5000},
		&Attach{Name: "l", Handle: 3, Role: RoleReceiver, Source: &Source{Address: "a",
			Filter: map[Symbol]any{"f": Described{Descriptor: Symbol("apache.org:selector-filter:string"), Value: "x > 1"}}},
			Target: &Target{Address: "t"}, Properties: map[Symbol]any{"com.microsoft:epoch": int64(2)}},
		&Flow{IncomingWindow: 1, NextOutgoingID: 2, OutgoingWindow: 3, Handle: &one, LinkCredit: &one, Drain: true},
		&Transfer{Handle: 1, DeliveryID: &one, DeliveryTag: []byte{1}, More: true, State: &Rejected{Error: &Error{Condition: ErrDecode}}},
		&Disposition{Role: RoleReceiver, First: 1, Last: &one, Settled: true, State: &Modified{DeliveryFailed: true}},
		&Detach{Handle: 1, Closed: true, Error: &Error{Condition: ErrDetachForced, Description: "d"}},
		&End{}, &Close{Error: &Error{Condition: ErrConnectionForced}},
		&SASLInit{Mechanism: MechanismPlain, InitialResponse: []byte("\x00u\x00p")}, &SASLOutcome{Code: SASLAuth},
	}
	for _, v := range values {
		b, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", v, err)
		}
		back, err := Unmarshal(b)
		if err != nil || !reflect.DeepEqual(back, v) {
			t.Errorf("round trip of %T: %#v, %v", v, back, err)
		}
	}
}

// TestReservedDescriptorsDecode: a descriptor other than a ulong or a
// symbol is reserved but "not syntactically invalid" (part 1, 1.5), and
// Python's pyamqp sends one: it encodes the (token, expiry) tuple of a
// $management request's security_token as a described value whose
// descriptor is the token, in binary. It decodes as a Described.
func TestReservedDescriptorsDecode(t *testing.T) {
	in := []byte{0x00, 0xa0, 3, 't', 'o', 'k', 0x71, 0x6b, 0x16, 0x27, 0x0f}
	got, err := Unmarshal(in)
	want := Described{Descriptor: []byte("tok"), Value: int32(0x6b16270f)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Unmarshal(% x) = %#v, %v; want %#v", in, got, err, want)
	}
}
