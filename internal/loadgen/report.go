package loadgen

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Report is what a load run measured. Latencies are in milliseconds and
// rates per second, so the JSON reads without a unit table.
type Report struct {
	Target           string  `json:"target"`
	Prefix           string  `json:"prefix"`
	Devices          int     `json:"devices"`
	ModulesPerDevice int     `json:"modulesPerDevice"`
	Identities       int     `json:"identities"` // the clients that connect: devices, or their modules
	Seconds          float64 `json:"seconds"`    // the whole run, cleanup included

	// Registry is the creates (devices and modules) and how fast the
	// registry took them.
	Registry Rate `json:"registry"`
	// Connect is the MQTT connects: their rate over the ramp, and each
	// one's latency from dial to connected, subscribed and twin read.
	Connect Connects `json:"connect"`
	// DesiredPatch is from the service's PATCH of the twin to the client
	// receiving the patch of that $version.
	DesiredPatch Latency `json:"desiredPatch"`
	// ReportedPatch is from the client's reported patch to the hub's answer.
	ReportedPatch Latency `json:"reportedPatch"`
	// Throttled counts the registry's 429 answers, each retried attempt
	// once: the client backs off and retries, so they cost time, not errors.
	Throttled int64    `json:"throttled"`
	Errors    Errors   `json:"errors"`
	Cleanup   Rate     `json:"cleanup"`                // devices deleted (their modules go with them)
	Samples   []string `json:"errorSamples,omitempty"` // the first few errors, as said
}

// Rate is Count operations over Seconds.
type Rate struct {
	Count     int     `json:"count"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"perSecond"`
}

// Connects is the connect phase: its rate and each connect's latency.
type Connects struct {
	Rate
	Latency Latency `json:"latencyMs"`
}

// Latency summarises samples in milliseconds (nearest-rank percentiles).
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Errors counts the operations that failed, by phase. A failed identity
// drops out of the later phases.
type Errors struct {
	Create   int `json:"create"`
	Connect  int `json:"connect"`
	Desired  int `json:"desired"`
	Reported int `json:"reported"`
	Cleanup  int `json:"cleanup"`
}

// Total is every error of the run.
func (e Errors) Total() int { return e.Create + e.Connect + e.Desired + e.Reported + e.Cleanup }

// maxSamples is how many errors a report quotes: enough to see the kinds,
// few enough that a hub refusing everything does not flood the JSON.
const maxSamples = 5

// rateOf is n operations over d.
func rateOf(n int, d time.Duration) Rate {
	r := Rate{Count: n, Seconds: d.Seconds()}
	if d > 0 {
		r.PerSecond = float64(n) / d.Seconds()
	}
	return r
}

// Summarize is the Latency of samples measured outside a load run, so that
// the project's benchmark (internal/bench) reads its percentiles the way a
// load run does; it sorts samples.
func Summarize(samples []time.Duration) Latency { return latencyOf(samples) }

// latencyOf summarises samples; it sorts them.
func latencyOf(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	slices.Sort(samples)
	at := func(p int) float64 { // nearest rank: the smallest sample with p% at or below it
		i := (p*len(samples)+99)/100 - 1
		return ms(samples[max(i, 0)])
	}
	return Latency{Count: len(samples), P50: at(50), P90: at(90), P99: at(99), Max: ms(samples[len(samples)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// samples collects durations and errors from many goroutines.
type samples struct {
	mu     sync.Mutex
	d      []time.Duration
	errors int
	quoted *quotes
}

// add records one operation's time or error. An operation cut short by
// the run's end (ctx) is neither: it did not fail, and its time says nothing.
func (s *samples) add(ctx context.Context, d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		s.errors++
		s.quoted.add(err)
		return
	}
	s.d = append(s.d, d)
}

// quotes keeps the first maxSamples errors of a run.
type quotes struct {
	mu   sync.Mutex
	list []string
}

func (q *quotes) add(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.list) < maxSamples {
		q.list = append(q.list, err.Error())
	}
}
