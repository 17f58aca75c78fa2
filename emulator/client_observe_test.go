package emulator_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
	"github.com/hubspec/hubspec/internal/mqtttest"

	"github.com/hubspec/hubspec/hub"
)

// ownKey is a module key of the test's choosing, so the tests know what
// must never show.
const ownKey = "b3duS2V5T2ZUaGVUZXN0c0tleU9mVGhlVGVzdHM="

var anySig = regexp.MustCompile(`(?i)sig=([^&\s"]*)`)

// assertMasked fails if text holds the key or a signature other than ***.
func assertMasked(t *testing.T, what, text string) {
	t.Helper()
	if strings.Contains(text, ownKey) {
		t.Errorf("%s holds the key: %s", what, text)
	}
	for _, m := range anySig.FindAllStringSubmatch(text, -1) {
		if m[1] != hub.Redacted {
			t.Errorf("%s holds a signature: %s", what, text)
		}
	}
}

// TestRegistryObserverSeesRedactedExchanges: one exchange per call, with
// the SAS in Authorization and the keys in both bodies masked, while the
// caller still gets the keys.
func TestRegistryObserverSeesRedactedExchanges(t *testing.T) {
	s, _, _, _ := moduleOnEmulator(t)
	var got []service.HTTPExchange
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()),
		service.WithObserver(func(x service.HTTPExchange) { got = append(got, x) }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m, err := reg.CreateModule(ctx, &hub.Module{DeviceID: "dev1", ModuleID: "own",
		Authentication: &hub.Authentication{Type: hub.AuthSAS, SymmetricKey: &hub.SymmetricKey{PrimaryKey: ownKey, SecondaryKey: ownKey}}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Authentication.SymmetricKey.PrimaryKey != ownKey {
		t.Errorf("the caller got key %q, want its own", m.Authentication.SymmetricKey.PrimaryKey)
	}
	if _, err := reg.GetModule(ctx, "dev1", "nobody"); err == nil {
		t.Fatal("GetModule of an unknown module succeeded")
	}
	if len(got) != 2 {
		t.Fatalf("%d exchanges, want 2", len(got))
	}
	put, get := got[0], got[1]
	if put.Method != "PUT" || !strings.Contains(put.URL, "/devices/dev1/modules/own?api-version=") || put.Status != 200 ||
		put.Start.IsZero() || put.Duration <= 0 || put.Err != "" {
		t.Errorf("PUT exchange: %+v", put)
	}
	auth := put.RequestHeader.Get("Authorization")
	if !strings.HasPrefix(auth, "SharedAccessSignature sr=") || !strings.Contains(auth, "sig="+hub.Redacted) {
		t.Errorf("Authorization %q: want the SAS with its signature masked", auth)
	}
	for what, body := range map[string]string{"request": put.RequestBody, "response": put.ResponseBody} {
		if !strings.Contains(body, `"primaryKey":"***"`) || !strings.Contains(body, `"secondaryKey":"***"`) {
			t.Errorf("%s body %s: want both keys masked", what, body)
		}
	}
	if get.Status != 404 || !strings.Contains(get.ResponseBody, "404010") || get.ResponseHeader.Get("iothub-errorcode") != "ModuleNotFound" {
		t.Errorf("GET exchange: status %d, headers %v, body %s", get.Status, get.ResponseHeader, get.ResponseBody)
	}
	for _, x := range got {
		assertMasked(t, "exchange", strings.Join([]string{x.URL, x.RequestBody, x.ResponseBody, x.Err,
			strings.Join(x.RequestHeader.Values("Authorization"), ",")}, "\n"))
	}
}

// TestRegistryObserverSeesEachAttempt: a retried request is one exchange
// per attempt, and a request that got no answer is an exchange with its
// error.
func TestRegistryObserverSeesEachAttempt(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("iothub-errorcode", "ThrottlingException")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, `{"deviceId":"d"}`)
	}))
	t.Cleanup(srv.Close)
	var got []service.HTTPExchange
	reg, err := service.NewRegistryClient("HostName="+strings.TrimPrefix(srv.URL, "https://")+";SharedAccessKeyName=iothubowner;SharedAccessKey="+ownKey,
		service.WithHTTPClient(srv.Client()), service.WithRetry(4, time.Millisecond), service.WithObserver(func(x service.HTTPExchange) { got = append(got, x) }))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := reg.GetDevice(t.Context(), "d"); err != nil || d.DeviceID != "d" {
		t.Fatalf("GetDevice = %+v, %v", d, err)
	}
	if len(got) != 2 || got[0].Status != 429 || got[0].ResponseHeader.Get("iothub-errorcode") != "ThrottlingException" ||
		got[1].Status != 200 || got[1].ResponseBody != `{"deviceId":"d"}` || !got[1].Start.After(got[0].Start) {
		t.Fatalf("exchanges %+v, want a 429 then a 200", got)
	}

	got = nil
	srv.Close()
	if _, err := reg.GetDevice(t.Context(), "d"); err == nil {
		t.Fatal("GetDevice on a closed server succeeded")
	}
	if len(got) != 1 || got[0].Status != 0 || got[0].Err == "" || got[0].ResponseHeader != nil || got[0].Method != http.MethodGet {
		t.Fatalf("exchanges %+v, want one without an answer", got)
	}
}

// events collects what a DialObserver reports and lets a test wait for
// one without sleeping.
type events struct {
	mu      sync.Mutex
	list    []device.Event
	changed chan struct{}
}

func newEvents() *events { return &events{changed: make(chan struct{}, 1)} }

func (e *events) observe(ev device.Event) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	e.mu.Unlock()
	select {
	case e.changed <- struct{}{}:
	default:
	}
}

// await returns the first event that matches, waiting up to 10s for it.
func (e *events) await(t *testing.T, what string, match func(device.Event) bool) device.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		e.mu.Lock()
		list := append([]device.Event(nil), e.list...)
		e.mu.Unlock()
		for _, ev := range list {
			if match(ev) {
				return ev
			}
		}
		select {
		case <-e.changed:
		case <-deadline:
			t.Fatalf("no %s among %+v", what, list)
		}
	}
}

func (e *events) all() []device.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]device.Event(nil), e.list...)
}

func kind(k device.EventKind, topicPrefix string) func(device.Event) bool {
	return func(ev device.Event) bool { return ev.Kind == k && strings.HasPrefix(ev.Topic, topicPrefix) }
}

// TestDialObserverSeesTheTwinProtocol: connect (password masked), the
// subscription, both directions of the twin protocol, a lost connection
// and its reconnect, and the close.
func TestDialObserverSeesTheTwinProtocol(t *testing.T) {
	s, reg, cs, opts := moduleOnEmulator(t)
	ev := newEvents()
	c := dialModule(t, cs, append(opts, device.WithObserver(ev.observe)))

	conn := ev.await(t, "connect", kind(device.EventConnect, ""))
	if conn.ClientID != "dev1/mod1" || !strings.HasPrefix(conn.Username, s.HostName()+"/dev1/mod1/?api-version=") ||
		!strings.HasPrefix(conn.Password, "SharedAccessSignature sr=") || !strings.Contains(conn.Password, "sig="+hub.Redacted) ||
		conn.Detail != "CONNACK 0 (Connection Accepted)" {
		t.Errorf("connect event %+v", conn)
	}
	sub := ev.await(t, "subscribe", kind(device.EventSubscribe, ""))
	if !strings.Contains(sub.Topic, "$iothub/twin/res/#") || !strings.HasPrefix(sub.Detail, "SUBACK: ") {
		t.Errorf("subscribe event %+v", sub)
	}
	if _, err := c.UpdateReported(context.Background(), map[string]any{"token": "SharedAccessSignature sr=x&sig=leak&se=1"}); err != nil {
		t.Fatal(err)
	}
	sent := ev.await(t, "reported patch", kind(device.EventSent, "$iothub/twin/PATCH/properties/reported/?$rid="))
	// Go's JSON writes "&" as \u0026, which the mask swallows with the signature.
	if sent.QoS != 1 || sent.Payload != `{"token":"SharedAccessSignature sr=x\u0026sig=***"}` {
		t.Errorf("sent event %+v", sent)
	}
	ev.await(t, "answer 204", kind(device.EventReceived, "$iothub/twin/res/204/"))
	setDesired(t, reg, "interval", 122)
	patch := ev.await(t, "desired patch", kind(device.EventReceived, "$iothub/twin/PATCH/properties/desired/"))
	if !strings.Contains(patch.Payload, `"interval":122`) {
		t.Errorf("desired patch event %+v", patch)
	}

	if dropped, err := s.DropConnection(context.Background(), "dev1", "mod1"); !dropped || err != nil {
		t.Fatalf("DropConnection = %v, %v; want a connection dropped", dropped, err)
	}
	ev.await(t, "connection lost", kind(device.EventConnectionLost, ""))
	ev.await(t, "reconnect", func(e device.Event) bool {
		return e.Kind == device.EventConnect && e.At.After(conn.At) && e.Detail == conn.Detail
	})
	c.Close()
	ev.await(t, "disconnect", kind(device.EventDisconnect, ""))
	for _, e := range ev.all() {
		assertMasked(t, string(e.Kind)+" event", strings.Join([]string{e.Topic, e.Payload, e.Username, e.Password, e.Detail}, "\n"))
	}
}

// TestDialObserverSeesBareConnections: a DialRaw client reports its
// refusal, and what is published, subscribed and received through it.
func TestDialObserverSeesBareConnections(t *testing.T) {
	_, reg, cs, opts := moduleOnEmulator(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	refused := newEvents()
	parsed, _ := hub.ParseConnectionString(cs)
	parsed.SharedAccessKey = ownKey
	if _, err := mqtttest.DialRaw(ctx, parsed.String(), nil, append(opts, device.WithObserver(refused.observe))...); err == nil {
		t.Fatal("a wrong key connected")
	}
	if e := refused.await(t, "refusal", kind(device.EventConnect, "")); e.Detail != "CONNACK 5 (Connection Refused: Not Authorised)" {
		t.Errorf("refusal event %+v", e)
	}

	ev := newEvents()
	pc, err := mqtttest.DialRaw(ctx, cs, nil, append(opts, device.WithObserver(ev.observe))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Disconnect(0) })
	if tok := pc.Subscribe("$iothub/twin/PATCH/properties/desired/#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	ev.await(t, "subscribe", kind(device.EventSubscribe, "$iothub/twin/PATCH/properties/desired/#"))
	if tok := pc.Publish("$iothub/twin/PATCH/properties/reported/?$rid=7", 1, false, `{"a":1}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	if e := ev.await(t, "publish", kind(device.EventSent, "$iothub/twin/PATCH/properties/reported/?$rid=7")); e.Payload != `{"a":1}` || e.QoS != 1 {
		t.Errorf("publish event %+v", e)
	}
	setDesired(t, reg, "interval", 5)
	if e := ev.await(t, "desired patch", kind(device.EventReceived, "$iothub/twin/PATCH/properties/desired/")); !strings.Contains(e.Payload, `"interval":5`) {
		t.Errorf("desired patch event %+v", e)
	}
	for _, e := range append(refused.all(), ev.all()...) {
		assertMasked(t, string(e.Kind)+" event", e.Password+"\n"+e.Detail)
	}
}
