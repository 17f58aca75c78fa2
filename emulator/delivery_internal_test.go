package emulator

import (
	"context"
	"testing"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
)

// TestDeletedIdentityCountForgotten: a disabled identity keeps its count of
// accepted connections (it may be enabled again); a deleted one's count is
// forgotten, so the emulator holds nothing for identities that are gone.
func TestDeletedIdentityCountForgotten(t *testing.T) {
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: "counted"})
	if err != nil {
		t.Fatal(err)
	}
	cs := hub.ConnectionString{HostName: s.HostName(), DeviceID: "counted", SharedAccessKey: d.Authentication.SymmetricKey.PrimaryKey}
	c, err := device.DialDevice(ctx, cs.String(), device.WithTLSConfig(s.TLSConfig()), device.WithAddress(s.MQTTAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := s.AwaitConnections(ctx, "counted", "", 1); err != nil {
		t.Fatal(err)
	}
	id := identity{deviceID: "counted"}
	d.Status = "disabled"
	if _, err := reg.UpdateDevice(ctx, d, "*"); err != nil {
		t.Fatal(err)
	}
	drainEvents(s)
	if n := s.hook.connectionCount(id); n != 1 {
		t.Fatalf("disabled: %d accepted connections, want 1", n)
	}
	if err := reg.DeleteDevice(ctx, "counted", "*"); err != nil {
		t.Fatal(err)
	}
	drainEvents(s)
	s.hook.mu.Lock()
	_, kept := s.hook.accepted[id]
	s.hook.mu.Unlock()
	if kept {
		t.Fatal("deleted: its count of accepted connections is still kept")
	}
}

// drainEvents returns once the registry events queued so far have run.
func drainEvents(s *Server) {
	done := make(chan struct{})
	s.events.push(func() { close(done) })
	<-done
}
