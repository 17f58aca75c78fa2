package bench

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func TestMessageIsJSONOfTheSizeAskedWithItsSequence(t *testing.T) {
	for _, c := range []struct{ seq, size int }{{0, 128}, {123456789, minMessage}, {42, minMessage}, {7, 1000}} {
		m := message(c.seq, c.size)
		if len(m) != c.size {
			t.Errorf("message(%d, %d) is %d bytes: %q", c.seq, c.size, len(m), m)
		}
		var doc map[string]string
		if err := json.Unmarshal(m, &doc); err != nil || len(doc) != 1 {
			t.Errorf("message(%d, %d) = %q: not a JSON object of one member (%v)", c.seq, c.size, m, err)
		}
		if seq, err := messageSeq(m); err != nil || seq != c.seq {
			t.Errorf("messageSeq(%q) = %d, %v; want %d", m, seq, err, c.seq)
		}
	}
	if _, err := messageSeq([]byte(`{"other":"1"}`)); err == nil {
		t.Error("messageSeq took a message that is not the bench's")
	}
}

func TestTwinAnswer(t *testing.T) {
	for _, c := range []struct {
		topic   string
		seq     int
		wantErr string
	}{
		{"$iothub/twin/res/204/?$rid=17&$version=4", 17, ""},
		{"$iothub/twin/res/204/?$version=4&$rid=3", 3, ""},
		{"$iothub/twin/res/429/?$rid=17", 0, "status 429"},
		{"$iothub/twin/res/204/?$rid=x", 0, "$rid"},
		{"$iothub/twin/res/204/?$rid=1;", 0, "twin response"},
	} {
		a := twinAnswer(c.topic)
		switch {
		case c.wantErr == "" && (a.err != nil || a.seq != c.seq):
			t.Errorf("%s: %+v, want seq %d", c.topic, a, c.seq)
		case c.wantErr != "" && (a.err == nil || !strings.Contains(a.err.Error(), c.wantErr)):
			t.Errorf("%s: %+v, want an error with %q", c.topic, a, c.wantErr)
		}
	}
}

// echo is a tripper whose broker answers every message after delay, and
// at once repeats its answer to the message before, as a duplicate
// delivery would: a round trip that took the duplicate for its answer would
// be timed shorter than delay.
func echo(delay time.Duration) tripper {
	arrived := newArrivals()
	return tripper{
		publish: func(seq int, _ []byte) paho.Token {
			if seq > 0 {
				offer(arrived, arrival{seq: seq - 1})
			}
			time.AfterFunc(delay, func() { offer(arrived, arrival{seq: seq}) })
			return &paho.DummyToken{}
		},
		arrived: arrived,
		close:   func() {},
	}
}

func TestMeasureTripsTimesEveryClientsTripsButTheWarmup(t *testing.T) {
	const delay = 2 * time.Millisecond
	lat, err := measureTrips(context.Background(), []tripper{echo(delay), echo(delay), echo(delay)}, 4, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if lat.Count != 30 || lat.P50 < float64(delay.Milliseconds()) || lat.P50 > lat.P99 || lat.P99 > lat.Max {
		t.Errorf("%+v: want 30 samples, %s <= p50 <= p99 <= max", lat, delay)
	}
}

func TestMeasureTripsFailsOnAWrongAnswer(t *testing.T) {
	refused := errors.New("twin response: status 429")
	bad := tripper{
		publish: func(seq int, _ []byte) paho.Token {
			return &paho.DummyToken{}
		},
		arrived: newArrivals(),
		close:   func() {},
	}
	bad.arrived <- arrival{err: refused}
	if _, err := measureTrips(context.Background(), []tripper{echo(0), bad}, 0, 5, 64); !errors.Is(err, refused) {
		t.Errorf("error %v, want %v", err, refused)
	}
}

func TestMeasureTripsGivesUpOnABrokerThatNeverAnswers(t *testing.T) {
	silent := tripper{publish: func(int, []byte) paho.Token { return &paho.DummyToken{} }, arrived: newArrivals(), close: func() {}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := measureTrips(ctx, []tripper{silent}, 0, 1, 64); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want the deadline", err)
	}
}
