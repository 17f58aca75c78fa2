package harness_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub"
)

// powers is what a scenario asks of an emulator target: the optional
// capabilities steps discover, each one of emulator.Controls.
type powers interface {
	harness.Target
	harness.ConnectionAwaiter
	harness.ConnectionDropper
	harness.RegistryFaulter
	harness.DeviceClockMover
}

// checkPowers drives the powers a step can discover through a target, as
// steps do: registry faults are per device and shaped like a real 429, the
// await sees a connection and its reconnect after a drop, and an await
// that cannot be met ends with ctx. (emulator's TestControlsConformance
// checks every power of both emulator.Controls implementations; this
// checks that each target is wired to its emulator.)
func checkPowers(t *testing.T, tg harness.Target) {
	p, ok := tg.(powers)
	if !ok {
		t.Fatalf("the %s target lacks an emulator power: %T", tg.Name(), tg)
	}
	if _, ok := tg.(emulator.Controls); !ok {
		t.Fatalf("the %s target is not emulator.Controls: %T", tg.Name(), tg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := tg.ServiceConnectionString()
	svc, err := hub.ParseConnectionString(cs)
	if err != nil {
		t.Fatal(err)
	}
	once, err := service.NewRegistryClient(cs, append(tg.RegistryOptions(), service.WithRetry(1, 0))...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = once.CreateModule(ctx, &hub.Module{DeviceID: "dev1", ModuleID: "mod1"})
	if !errors.Is(err, hub.ErrDeviceNotFound) {
		t.Fatalf("module before its device: %v", err)
	}
	if _, err := once.CreateDevice(ctx, &hub.Device{DeviceID: "dev1"}); err != nil {
		t.Fatal(err)
	}
	m, err := once.CreateModule(ctx, &hub.Module{DeviceID: "dev1", ModuleID: "mod1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.FailRegistryCalls(ctx, "dev1", 1, "ThrottlingException"); err != nil {
		t.Fatal(err)
	}
	if _, err := once.GetModuleTwin(ctx, "dev1", "mod1"); !errors.Is(err, hub.ErrThrottled) {
		t.Fatalf("throttled call: %v, want 429 ThrottlingException", err)
	}
	if _, err := once.GetModuleTwin(ctx, "dev1", "mod1"); err != nil {
		t.Fatalf("call after the fault: %v", err)
	}
	if err := p.FailRegistryCalls(ctx, "dev1", 1, "NoSuchError"); err == nil {
		t.Fatal("an unknown error name was accepted")
	}

	mcs := hub.ConnectionString{HostName: svc.HostName, DeviceID: "dev1", ModuleID: "mod1", SharedAccessKey: m.Authentication.SymmetricKey.PrimaryKey}
	c, err := device.DialModule(ctx, mcs.String(), tg.DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := p.AwaitConnections(ctx, "dev1", "mod1", 1); err != nil {
		t.Fatal(err)
	}
	if dropped, err := p.DropConnection(ctx, "dev1", "mod1"); !dropped || err != nil {
		t.Fatalf("DropConnection = %v, %v", dropped, err)
	}
	if err := p.AwaitConnections(ctx, "dev1", "mod1", 2); err != nil {
		t.Fatalf("the client's reconnect: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelShort()
	if err := p.AwaitConnections(short, "dev1", "mod1", 3); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an await that cannot be met: %v", err)
	}
	if dropped, err := p.DropConnection(ctx, "nobody", ""); dropped || err != nil {
		t.Fatalf("DropConnection of no connection = %v, %v", dropped, err)
	}
	checkDeviceClock(ctx, t, p, once, c)
}

// checkDeviceClock: a direct method call its module does not answer is
// answered 504 as soon as the device's clock moves past its response
// timeout, long before the wall clock would; an unknown device's clock is
// 404 DeviceNotFound.
func checkDeviceClock(ctx context.Context, t *testing.T, p powers, svc *service.RegistryClient, c *device.Client) {
	called, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	c.HandleMethod("hang", func(ctx context.Context, _ device.MethodRequest) (int, any) {
		called <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return 200, nil
	})
	start := time.Now()
	answered := make(chan error, 1)
	go func() {
		_, err := svc.InvokeModuleMethod(ctx, "dev1", "mod1", service.MethodRequest{MethodName: "hang", ResponseTimeout: time.Minute})
		answered <- err
	}()
	select {
	case <-called:
	case <-ctx.Done():
		t.Fatal("the method call never reached the module")
	}
	if err := p.AdvanceDeviceClock(ctx, "dev1", time.Minute); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-answered:
		if !errors.Is(err, hub.ErrGatewayTimeout) || time.Since(start) >= time.Minute {
			t.Fatalf("the call after the move: %v after %s, want 504 GatewayTimeout at once", err, time.Since(start))
		}
	case <-ctx.Done():
		t.Fatal("the call was not answered after the move")
	}
	if err := p.AdvanceDeviceClock(ctx, "nobody", time.Minute); !errors.Is(err, hub.ErrDeviceNotFound) {
		t.Fatalf("the clock of an unknown device: %v, want 404 DeviceNotFound", err)
	}
}

func TestEmbeddedPowers(t *testing.T) {
	emb, err := harness.StartEmbedded(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	checkPowers(t, emb)
	checkPolicies(t, emb)
}

// TestContainerTargetPowers: the image serves the control plane, and the
// container target reaches it over the published port and the container's
// CA; it gives every policy's connection string from what the image printed.
func TestContainerTargetPowers(t *testing.T) {
	tg := openContainer(t)
	checkPowers(t, tg)
	checkPolicies(t, tg)
}
