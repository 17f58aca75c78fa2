package emulator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/service"
)

// TestConnectAfterDeleteWaitsForTheCleanUp: a module deleted, created again
// and connected while the deleted module's clean-up still waits on the
// registry's event queue is held at CONNECT until that clean-up has run. It
// then starts clean, as on IoT Hub, where a deleted identity's session does
// not survive into a new identity of the same name: no SessionPresent, no
// desired subscription inherited, and the late clean-up does not close it.
func TestConnectAfterDeleteWaitsForTheCleanUp(t *testing.T) {
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Told when a CONNECT has to wait for the registry's events; set before
	// any connection exists.
	waiting := make(chan struct{}, 1)
	settled := s.hook.registrySettled
	s.hook.registrySettled = func() error {
		if !s.events.idle() {
			select {
			case waiting <- struct{}{}:
			default:
			}
		}
		return settled()
	}
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: "dev1"}); err != nil {
		t.Fatal(err)
	}
	m, err := reg.CreateModule(ctx, &hub.Module{DeviceID: "dev1", ModuleID: "mod1"})
	if err != nil {
		t.Fatal(err)
	}
	old, err := dialModule(s, m)
	if err != nil {
		t.Fatal(err)
	}
	defer old.c.Disconnect(0)
	if tok := old.c.Subscribe("$iothub/twin/PATCH/properties/desired/#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	// Hold the event queue, so the delete's clean-up waits behind it.
	held, release := make(chan struct{}), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce() // before s.Close, which runs what the queue holds
	s.events.push(func() { close(held); <-release })
	<-held
	if err := reg.DeleteModule(ctx, "dev1", "mod1", "*"); err != nil {
		t.Fatal(err)
	}
	if m, err = reg.CreateModule(ctx, &hub.Module{DeviceID: "dev1", ModuleID: "mod1"}); err != nil {
		t.Fatal(err)
	}
	type dialed struct {
		conn *pahoConn
		err  error
	}
	result := make(chan dialed, 1)
	go func() {
		conn, err := dialModule(s, m)
		result <- dialed{conn, err}
	}()
	select {
	case d := <-result:
		if d.err == nil {
			d.conn.c.Disconnect(0)
			t.Fatalf("the re-created module connected (SessionPresent %v) before the deleted one's session was forgotten", d.conn.present)
		}
		t.Fatalf("the re-created module's CONNECT: %v", d.err)
	case <-waiting:
	}
	releaseOnce()
	d := <-result
	if d.err != nil {
		t.Fatal(d.err)
	}
	again := d.conn
	defer again.c.Disconnect(0)
	if again.present {
		t.Fatal("the re-created module inherited the deleted module's session")
	}
	select {
	case <-old.lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the deleted module's connection was not closed")
	}
	// Had the deleted module's desired subscription been inherited, the
	// push would come before the GET's answer; had the late clean-up closed
	// the new connection, no answer would come.
	if tok := again.c.Subscribe("$iothub/twin/res/#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	if _, err := reg.UpdateModuleTwin(ctx, "dev1", "mod1",
		&hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{"unseen": true}}}, "*"); err != nil {
		t.Fatal(err)
	}
	if tok := again.c.Publish("$iothub/twin/GET/?$rid=1", 1, false, ""); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case msg := <-again.msgs:
		if msg.Topic() != "$iothub/twin/res/200/?$rid=1" {
			t.Fatalf("first message %q, want the GET answer", msg.Topic())
		}
	case err := <-again.lost:
		t.Fatalf("the re-created module's connection closed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no answer to the twin GET")
	}
}

// pahoConn is a module's MQTT connection as an SDK makes it: MQTT 3.1.1,
// clean session 0.
type pahoConn struct {
	c       paho.Client
	present bool // the CONNACK's SessionPresent
	msgs    chan paho.Message
	lost    chan error
}

func dialModule(s *Server, m *hub.Module) (*pahoConn, error) {
	resource := s.HostName() + "/devices/" + m.DeviceID + "/modules/" + m.ModuleID
	tok, err := hub.BuildSASToken(resource, m.Authentication.SymmetricKey.PrimaryKey, "", time.Now().Add(time.Hour))
	if err != nil {
		return nil, err
	}
	p := &pahoConn{msgs: make(chan paho.Message, 16), lost: make(chan error, 1)}
	p.c = paho.NewClient(paho.NewClientOptions().
		AddBroker("tls://" + s.MQTTAddr()).
		SetClientID(m.DeviceID + "/" + m.ModuleID).
		SetUsername(s.HostName() + "/" + m.DeviceID + "/" + m.ModuleID + "/?api-version=2021-04-12").
		SetPassword(tok).SetTLSConfig(s.TLSConfig()).SetProtocolVersion(4).
		SetCleanSession(false).SetAutoReconnect(false).SetConnectRetry(false).
		SetDefaultPublishHandler(func(_ paho.Client, msg paho.Message) { p.msgs <- msg }).
		SetConnectionLostHandler(func(_ paho.Client, err error) { p.lost <- err }))
	ct := p.c.Connect()
	if !ct.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if err := ct.Error(); err != nil {
		return nil, fmt.Errorf("connack %d: %w", ct.(*paho.ConnectToken).ReturnCode(), err)
	}
	p.present = ct.(*paho.ConnectToken).SessionPresent()
	return p, nil
}
