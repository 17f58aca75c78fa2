package steps_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/service"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/steps"
)

// TestFeaturesOnAnEventuallyConsistentHub: every feature passes on a hub
// whose reads lag its writes, which only holds if the steps read after a
// write with Eventually.
func TestFeaturesOnAnEventuallyConsistentHub(t *testing.T) {
	t.Parallel() // with the suite's other runs (see godogOptions)
	emb, err := harness.StartEmbedded(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = emb.Server().TLSConfig()
	// Before the emulator closes: an idle connection that never carried a
	// request would hold its shutdown for 5 s (net/http treats it as active).
	t.Cleanup(tr.CloseIdleConnections)
	lag := &laggyTransport{next: tr, lag: 300 * time.Millisecond, written: map[string]time.Time{}, seen: map[string][]byte{}, queried: map[string]*http.Response{}}
	opts := godogOptions
	opts.TestingT = t
	// Its scenarios spend most of their time waiting out the lag, not on
	// the cores: twice the suite's concurrency halves the run, the longest
	// of the package, at the same work.
	opts.Concurrency = 2 * godogOptions.Concurrency
	status := godog.TestSuite{
		Name:                "hubspec-laggy",
		ScenarioInitializer: steps.Initialize(harness.NewRun(laggyHub{emb, &http.Client{Transport: lag}})),
		Options:             &opts,
	}.Run()
	if status != 0 || lag.served() == 0 {
		t.Fatalf("status %d with %d lagging answers", status, lag.served())
	}
}

// laggyHub is the embedded emulator seen through a laggyTransport, and
// not claiming to be an emulator.
type laggyHub struct {
	harness.Target
	client *http.Client
}

func (laggyHub) Name() string { return "laggy" }

func (l laggyHub) RegistryOptions() []service.Option {
	return []service.Option{service.WithHTTPClient(l.client)}
}

// laggyTransport makes a hub eventually consistent: for lag after a write
// under a device (identity, modules, twins), reads under that device answer
// what they last answered before, or 404 if they never did, as a live hub
// may for a moment after a write; and a query naming the device answers
// as the same query last did (the query-twins doc: "Query results are
// eventually consistent").
type laggyTransport struct {
	next    http.RoundTripper
	lag     time.Duration
	mu      sync.Mutex
	written map[string]time.Time // device id → its last write
	seen    map[string][]byte    // path → body of its last fresh 200 GET
	queried map[string]*http.Response
	stale   int
}

func (l *laggyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && r.URL.Path == "/devices/query" {
		return l.query(r)
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) < 2 || parts[0] != "devices" && parts[0] != "twins" {
		return l.next.RoundTrip(r)
	}
	device := parts[1]
	if r.Method != http.MethodGet {
		defer func() { l.mu.Lock(); l.written[device] = time.Now(); l.mu.Unlock() }()
		return l.next.RoundTrip(r)
	}
	l.mu.Lock()
	old, seen := l.seen[r.URL.Path]
	lagging := time.Since(l.written[device]) < l.lag
	if lagging {
		l.stale++
	}
	l.mu.Unlock()
	if lagging {
		resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Request: r, Body: io.NopCloser(bytes.NewReader(old))}
		if !seen {
			resp.StatusCode = http.StatusNotFound
			resp.Header.Set("iothub-errorcode", "DeviceNotFound")
			resp.Body = io.NopCloser(strings.NewReader(`{"Message":"ErrorCode:DeviceNotFound;not visible yet"}`))
		}
		return resp, nil
	}
	resp, err := l.next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	l.mu.Lock()
	l.seen[r.URL.Path] = body
	l.mu.Unlock()
	return resp, err
}

// query answers a query as it last answered while a device the query
// names (the steps limit every query to the scenario's devices by id) was
// written less than lag ago; otherwise it asks the hub and keeps the
// answer.
func (l *laggyTransport) query(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	key := string(body) + "\x00" + r.Header.Get("x-ms-continuation") + "\x00" + r.Header.Get("x-ms-max-item-count")
	l.mu.Lock()
	old, seen := l.queried[key]
	lagging := false
	for id, at := range l.written {
		lagging = lagging || time.Since(at) < l.lag && strings.Contains(string(body), "'"+id+"'")
	}
	if lagging && seen {
		l.stale++
		l.mu.Unlock()
		b, _ := io.ReadAll(old.Body)
		old.Body = io.NopCloser(bytes.NewReader(b))
		return &http.Response{StatusCode: old.StatusCode, Header: old.Header.Clone(), Request: r, Body: io.NopCloser(bytes.NewReader(b))}, nil
	}
	l.mu.Unlock()
	resp, err := l.next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	l.mu.Lock()
	l.queried[key] = &http.Response{StatusCode: resp.StatusCode, Header: resp.Header.Clone(), Body: io.NopCloser(bytes.NewReader(b))}
	l.mu.Unlock()
	return resp, err
}

func (l *laggyTransport) served() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stale
}
