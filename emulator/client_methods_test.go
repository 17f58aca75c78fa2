package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
)

// Hubspec's own clients on both sides of a direct method: the registry
// client invokes, the MQTT client answers.

// TestMethodClientsRoundTrip: a device and a module, over TLS and over
// WebSockets, each answer their own calls with a status and a payload.
func TestMethodClientsRoundTrip(t *testing.T) {
	s, reg, modCS, tlsOpts := moduleOnEmulator(t)
	ctx := t.Context()
	d, err := reg.GetDevice(ctx, "dev1")
	if err != nil {
		t.Fatal(err)
	}
	devCS := hub.ConnectionString{HostName: s.HostName(), DeviceID: "dev1", SharedAccessKey: d.Authentication.SymmetricKey.PrimaryKey}.String()
	wsOpts := []device.Option{device.WithWebSockets(), device.WithTLSConfig(s.TLSConfig()), device.WithAddress(s.HTTPSAddr())}
	for _, transport := range []struct {
		name string
		opts []device.Option
	}{{"TLS", tlsOpts}, {"WebSockets", wsOpts}} {
		for _, kind := range []string{"device", "module"} {
			t.Run(kind+" over "+transport.name, func(t *testing.T) {
				dctx, cancel := context.WithTimeout(ctx, wait)
				defer cancel()
				var c *device.Client
				var err error
				if kind == "device" {
					c, err = device.DialDevice(dctx, devCS, transport.opts...)
				} else {
					c, err = device.DialModule(dctx, modCS, transport.opts...)
				}
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				got := make(chan device.MethodRequest, 1)
				c.HandleMethod("reboot", func(_ context.Context, req device.MethodRequest) (int, any) {
					got <- req
					return 201, map[string]any{"rebooted": kind}
				})
				req := service.MethodRequest{MethodName: "reboot", Payload: json.RawMessage(`{"delay":5}`), ResponseTimeout: 10 * time.Second}
				var res *service.MethodResult
				if kind == "device" {
					res, err = reg.InvokeDeviceMethod(dctx, "dev1", req)
				} else {
					res, err = reg.InvokeModuleMethod(dctx, "dev1", "mod1", req)
				}
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != 201 || string(res.Payload) != `{"rebooted":"`+kind+`"}` {
					t.Errorf("result %d %s", res.Status, res.Payload)
				}
				if r := <-got; r.Name != "reboot" || string(r.Payload) != `{"delay":5}` || r.RequestID == "" {
					t.Errorf("the handler got %+v", r)
				}
			})
		}
	}
}

// TestMethodClientAnswers: what the client answers for each kind of
// response, for a method nobody handles (501) and through the default
// handler.
func TestMethodClientAnswers(t *testing.T) {
	_, reg, cs, opts := moduleOnEmulator(t)
	c := dialModule(t, cs, opts)
	c.HandleMethod("raw", func(context.Context, device.MethodRequest) (int, any) { return 200, json.RawMessage(`[1, 2.50]`) })
	c.HandleMethod("none", func(context.Context, device.MethodRequest) (int, any) { return 204, nil })
	c.HandleMethod("broken", func(context.Context, device.MethodRequest) (int, any) { return 200, json.RawMessage(`{`) })
	c.HandleMethod("removed", func(context.Context, device.MethodRequest) (int, any) { return 200, "here" })
	c.HandleMethod("removed", nil)
	for name, want := range map[string]string{
		"raw":     `200 [1,2.50]`,
		"none":    `204 null`,
		"broken":  `500 null`,
		"removed": `501 null`,
		"unknown": `501 null`,
	} {
		res, err := reg.InvokeModuleMethod(t.Context(), "dev1", "mod1", service.MethodRequest{MethodName: name, ResponseTimeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := fmt.Sprintf("%d %s", res.Status, res.Payload); got != want {
			t.Errorf("%s answered %s, want %s", name, got, want)
		}
	}
	c.HandleMethod("", func(_ context.Context, req device.MethodRequest) (int, any) { return 200, "default for " + req.Name })
	res, err := reg.InvokeModuleMethod(t.Context(), "dev1", "mod1", service.MethodRequest{MethodName: "other"})
	if err != nil || string(res.Payload) != `"default for other"` {
		t.Fatalf("default handler: %+v, %v", res, err)
	}
}

// TestMethodClientManyInFlight: handlers run at once; each call gets its
// own answer whatever order they finish in.
func TestMethodClientManyInFlight(t *testing.T) {
	_, reg, cs, opts := moduleOnEmulator(t)
	c := dialModule(t, cs, opts)
	const n = 4
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	c.HandleMethod("work", func(_ context.Context, req device.MethodRequest) (int, any) {
		mu.Lock()
		if arrived++; arrived == n {
			close(all) // every call is in its handler at once
		}
		mu.Unlock()
		<-all
		var i int
		_ = json.Unmarshal(req.Payload, &i)
		return 200 + i, i
	})
	results := make(chan error, n)
	for i := range n {
		go func() {
			res, err := reg.InvokeModuleMethod(t.Context(), "dev1", "mod1", service.MethodRequest{MethodName: "work", Payload: json.RawMessage(fmt.Sprint(i))})
			if err == nil && (res.Status != 200+i || string(res.Payload) != fmt.Sprint(i)) {
				err = fmt.Errorf("call %d answered %d %s", i, res.Status, res.Payload)
			}
			results <- err
		}()
	}
	for range n {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
}

// TestMethodClientDiscardsCallsOnDisconnect: a call in flight when the
// connection drops is discarded: its handler's context ends and its answer
// is never sent. After the reconnect the client answers again.
func TestMethodClientDiscardsCallsOnDisconnect(t *testing.T) {
	s, reg, cs, opts := moduleOnEmulator(t)
	ev := newEvents()
	c := dialModule(t, cs, append(opts, device.WithObserver(ev.observe)))
	entered, ended := make(chan struct{}), make(chan error, 1)
	c.HandleMethod("stuck", func(ctx context.Context, _ device.MethodRequest) (int, any) {
		close(entered)
		<-ctx.Done()
		ended <- ctx.Err()
		return 200, "too late"
	})
	c.HandleMethod("ok", func(context.Context, device.MethodRequest) (int, any) { return 200, nil })
	cctx, cancelCall := context.WithCancel(t.Context())
	call := make(chan error, 1)
	go func() {
		_, err := reg.InvokeModuleMethod(cctx, "dev1", "mod1", service.MethodRequest{MethodName: "stuck", ResponseTimeout: 300 * time.Second})
		call <- err
	}()
	<-entered
	if dropped, err := s.DropConnection(t.Context(), "dev1", "mod1"); !dropped || err != nil {
		t.Fatalf("DropConnection = %v, %v", dropped, err)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("handler context ended with %v", err)
		}
	case <-time.After(wait):
		t.Fatal("the handler's context did not end when the connection dropped")
	}
	if err := s.AwaitConnections(t.Context(), "dev1", "mod1", 2); err != nil {
		t.Fatal(err)
	}
	res, err := reg.InvokeModuleMethod(t.Context(), "dev1", "mod1", service.MethodRequest{MethodName: "ok", ConnectTimeout: 10 * time.Second})
	if err != nil || res.Status != 200 {
		t.Fatalf("after the reconnect: %+v, %v", res, err)
	}
	for _, e := range ev.all() {
		if e.Kind == device.EventSent && strings.HasPrefix(e.Topic, "$iothub/methods/res/") && strings.Contains(e.Payload, "too late") {
			t.Fatalf("the discarded call was answered: %+v", e)
		}
	}
	cancelCall()
	if err := <-call; err == nil {
		t.Fatal("the discarded call got an answer")
	}
}
