package loadgen_test

import (
	"testing"
	"time"

	"github.com/hubspec/hubspec/internal/loadgen"
)

func TestSummarizeTakesNearestRankPercentiles(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		d := make([]time.Duration, len(vs))
		for i, v := range vs {
			d[i] = time.Duration(v) * time.Millisecond
		}
		return d
	}
	hundred := make([]int, 100) // 100 ms down to 1 ms: Summarize sorts them
	for i := range hundred {
		hundred[i] = 100 - i
	}
	thousand := make([]int, 1000)
	for i := range thousand {
		thousand[i] = i + 1
	}
	for _, c := range []struct {
		name    string
		samples []time.Duration
		want    loadgen.Latency
	}{
		{"none", nil, loadgen.Latency{}},
		{"one", ms(7), loadgen.Latency{Count: 1, P50: 7, P90: 7, P99: 7, Max: 7}},
		{"two", ms(9, 1), loadgen.Latency{Count: 2, P50: 1, P90: 9, P99: 9, Max: 9}},
		{"a hundred, reversed", ms(hundred...), loadgen.Latency{Count: 100, P50: 50, P90: 90, P99: 99, Max: 100}},
		{"a thousand", ms(thousand...), loadgen.Latency{Count: 1000, P50: 500, P90: 900, P99: 990, Max: 1000}},
		{"sub-millisecond", []time.Duration{1500 * time.Microsecond, 250 * time.Microsecond}, loadgen.Latency{Count: 2, P50: 0.25, P90: 1.5, P99: 1.5, Max: 1.5}},
	} {
		if got := loadgen.Summarize(c.samples); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
