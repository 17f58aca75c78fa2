package adversarial

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/device"
)

// twinState is what the suite reads of a twin over REST.
type twinState struct {
	ETag       string `json:"etag"`
	Version    int64  `json:"version"`
	Properties struct {
		Desired map[string]any `json:"desired"`
	} `json:"properties"`
}

func getTwin(ctx context.Context, tg target, path string) (twinState, error) {
	var tw twinState
	status, code, body, err := doREST(ctx, tg, http.MethodGet, path, policyToken(tg, "iothubowner"), nil, nil)
	if err != nil {
		return tw, err
	}
	if status != http.StatusOK {
		return tw, fmt.Errorf("GET %s: %d %s %s", path, status, code, body)
	}
	return tw, json.Unmarshal(body, &tw)
}

// desiredVersion is the desired section's $version.
func (tw twinState) desiredVersion() int64 {
	v, _ := tw.Properties.Desired["$version"].(float64)
	return int64(v)
}

// values is the desired section without $version and $metadata, decoded
// the standard way so it compares with a client's view.
func values(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if !strings.HasPrefix(k, "$") {
			out[k] = v
		}
	}
	b, _ := json.Marshal(out)
	var norm map[string]any
	_ = json.Unmarshal(b, &norm)
	return norm
}

// TestConcurrentWritesOneEtag: 20 PATCHes of one module twin with the same
// etag: exactly one succeeds, the others are 412 PreconditionFailed, and
// the twin's version grows by exactly one.
func TestConcurrentWritesOneEtag(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		newDevice(t, tg, "d1")
		newModule(t, tg, "d1", "m1")
		const path = "/twins/d1/modules/m1"
		ctx := ctxFor(t, opDeadline)
		before, err := getTwin(ctx, tg, path)
		if err != nil {
			t.Fatal(err)
		}
		const writers = 20
		type result struct {
			i      int
			status int
			code   string
			body   []byte
			err    error
		}
		results := make(chan result, writers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				body := fmt.Sprintf(`{"properties":{"desired":{"writer":%d}}}`, i)
				status, code, answer, err := doREST(ctx, tg, http.MethodPatch, path, policyToken(tg, "iothubowner"), []byte(body),
					map[string]string{"If-Match": `"` + before.ETag + `"`})
				results <- result{i, status, code, answer, err}
			}()
		}
		close(start)
		wg.Wait()
		close(results)
		winner, ok, failed := -1, 0, 0
		for r := range results {
			switch {
			case r.err != nil:
				t.Errorf("writer %d: %v", r.i, r.err)
			case r.status == http.StatusOK:
				ok++
				winner = r.i
			case r.status == http.StatusPreconditionFailed && r.code == "PreconditionFailed":
				failed++
			default:
				t.Errorf("writer %d: %d %q %s, want 200 or 412 PreconditionFailed", r.i, r.status, r.code, r.body)
			}
		}
		if ok != 1 || failed != writers-1 {
			t.Fatalf("%d succeeded and %d got 412, want 1 and %d", ok, failed, writers-1)
		}
		after, err := getTwin(ctx, tg, path)
		if err != nil {
			t.Fatal(err)
		}
		if after.Version != before.Version+1 || after.desiredVersion() != before.desiredVersion()+1 {
			t.Errorf("version %d → %d, desired $version %d → %d; want each +1", before.Version, after.Version, before.desiredVersion(), after.desiredVersion())
		}
		if got := after.Properties.Desired["writer"]; got != float64(winner) {
			t.Errorf("desired writer = %v, want the winner's %d", got, winner)
		}
	})
}

// churnCounts are the sizes of the reconnect churn.
// churnCounts are how many patches the churn writes and how often it drops
// the connection. paho backs its reconnects off when they follow each other
// within seconds (to at most the client's 10 s), so a drop costs up to ten
// seconds once the churn is dense: the soak keeps to 40 drops.
func churnCounts() (patches, dropEvery int) {
	if *soak {
		return 2000, 50
	}
	return 24, 8
}

type churnFigures struct {
	patches, drops, deliveries int
	lost                       int
	lastVersion, twinVersion   int64
}

// TestReconnectChurn: a module client receives desired patches while its
// connection is dropped again and again; once the writes are done, the
// last version it was handed is the twin's desired $version and it holds
// every value written last: no lost update.
func TestReconnectChurn(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		patches, dropEvery := churnCounts()
		fig := churnScenario(t, tg, patches, dropEvery, nil)
		t.Logf("%d patches, %d drops, %d deliveries, last version %d of %d, lost updates %d",
			fig.patches, fig.drops, fig.deliveries, fig.lastVersion, fig.twinVersion, fig.lost)
	})
}

// churnScenario writes the patches, dropping the connection every dropEvery
// of them; warm, if not nil, is called once a tenth of them are written
// (the soak samples the process's memory there, once it has warmed up).
func churnScenario(t *testing.T, tg target, patches, dropEvery int, warm func()) churnFigures {
	newDevice(t, tg, "d1")
	m := newModule(t, tg, "d1", "churn")
	// Up to paho's longest reconnect back-off per drop, and a minute more.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute+time.Duration(patches/dropEvery)*12*time.Second)
	defer cancel()
	client, err := device.DialModule(ctx, m.connectionString(tg), device.WithTLSConfig(tg.TLS()), device.WithAddress(tg.MQTTAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	// The consumer applies every delivery to its own copy.
	var mu sync.Mutex
	local := map[string]any{}
	var last int64
	deliveries := 0
	progressed := make(chan struct{}, 1)
	go func() {
		for p := range client.DesiredPatches() {
			mu.Lock()
			if p.Full {
				local = map[string]any{}
			}
			for k, v := range p.Properties {
				if v == nil {
					delete(local, k)
				} else {
					local[k] = v
				}
			}
			last, deliveries = p.Version, deliveries+1
			mu.Unlock()
			select {
			case progressed <- struct{}{}:
			default:
			}
		}
	}()

	fig := churnFigures{patches: patches}
	const path = "/twins/d1/modules/churn"
	for i := 1; i <= patches; i++ {
		body := fmt.Sprintf(`{"properties":{"desired":{"seq":%d,"k%d":%d}}}`, i, i%7, i)
		status, code, answer, err := doREST(ctx, tg, http.MethodPatch, path, policyToken(tg, "iothubowner"), []byte(body), nil)
		if err != nil || status != http.StatusOK {
			t.Fatalf("patch %d: %d %q %v %s", i, status, code, err, answer)
		}
		if warm != nil && i == patches/10 {
			warm()
		}
		if i%dropEvery == 0 {
			if fig.drops > 0 {
				if err := tg.AwaitConnections(ctx, "d1", "churn", fig.drops+1); err != nil {
					t.Fatalf("reconnect %d: %v", fig.drops, err)
				}
			}
			dropped, err := tg.DropConnection(ctx, "d1", "churn")
			if err != nil {
				t.Fatal(err)
			}
			if !dropped {
				t.Fatalf("patch %d: no live connection to drop", i)
			}
			fig.drops++ // the next patches go out while the client reconnects
		}
	}
	tw, err := getTwin(ctx, tg, path)
	if err != nil {
		t.Fatal(err)
	}
	fig.twinVersion = tw.desiredVersion()
	want := values(tw.Properties.Desired)

	wait := time.NewTimer(time.Minute)
	defer wait.Stop()
	for {
		mu.Lock()
		done := last >= fig.twinVersion
		fig.lastVersion, fig.deliveries = last, deliveries
		mu.Unlock()
		if done {
			break
		}
		select {
		case <-progressed:
		case <-wait.C:
			t.Fatalf("the client's last version is %d a minute after the writes, the twin's desired $version %d", fig.lastVersion, fig.twinVersion)
		}
	}
	mu.Lock()
	got := values(local)
	mu.Unlock()
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			fig.lost++
			t.Errorf("lost update: the client holds %s=%v, the twin %v", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			fig.lost++
			t.Errorf("the client holds %s=%v, which the twin does not have", k, got[k])
		}
	}
	if fig.lastVersion != fig.twinVersion {
		t.Errorf("the client's last version %d, the twin's desired $version %d", fig.lastVersion, fig.twinVersion)
	}
	if fig.drops == 0 {
		t.Errorf("no connection was dropped: the churn did not happen")
	}
	return fig
}
