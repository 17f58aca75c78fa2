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
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// TestConnectAfterDeleteWaitsForTheCleanUp: a module deleted, created again
// and connected while the deleted module's clean-up still waits on the
// registry's event queue is held at CONNECT until that clean-up has run. It
// then starts clean, as on IoT Hub, where a deleted identity's session does
// not survive into a new identity of the same name: no SessionPresent, no
// desired subscription inherited, and the late clean-up does not close it.
func TestConnectAfterDeleteWaitsForTheCleanUp(t *testing.T) {
	s, reg, m := startWithModule(t)
	ctx := context.Background()
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
	result := dialInBackground(s, m)
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

// startWithModule starts an emulator, stopped when the test ends, and
// creates module mod1 of device dev1 in it.
func startWithModule(t *testing.T) (*Server, *service.RegistryClient, *hub.Module) {
	t.Helper()
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
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
	return s, reg, m
}

// dialed is what dialModule returned.
type dialed struct {
	conn *pahoConn
	err  error
}

// dialInBackground dials the module without waiting, and tells what came of it.
func dialInBackground(s *Server, m *hub.Module) <-chan dialed {
	result := make(chan dialed, 1)
	go func() {
		conn, err := dialModule(s, m)
		result <- dialed{conn, err}
	}()
	return result
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

// holdAtEstablish is a mochi hook that holds the connections of one client
// id at OnSessionEstablish, once their CONNECT is authenticated and has
// waited for the registry's events, and before mochi puts them in its
// client list.
type holdAtEstablish struct {
	mqtt.HookBase
	clientID string
	held     chan struct{} // told when a connection is held
	release  chan struct{} // closed to let the held connections on
}

func (h *holdAtEstablish) ID() string { return "test-hold-at-establish" }

func (h *holdAtEstablish) Provides(b byte) bool { return b == mqtt.OnSessionEstablish }

func (h *holdAtEstablish) OnSessionEstablish(cl *mqtt.Client, _ packets.Packet) {
	if cl.ID == h.clientID {
		h.held <- struct{}{}
		<-h.release
	}
}

// TestConnectRacingDeleteIsClosed: a CONNECT authenticated before its
// module is deleted (or its device disabled), and held until the clean-up
// of that change has run, does not outlive the change: it is closed as soon
// as it is established, it leaves no session in the broker, and the module
// created again (or enabled again) starts clean.
func TestConnectRacingDeleteIsClosed(t *testing.T) {
	for _, tc := range []struct {
		name string
		// gone deletes the module or disables its device; back creates it
		// again or enables the device, and returns the module to dial.
		gone func(context.Context, *service.RegistryClient) error
		back func(context.Context, *service.RegistryClient) (*hub.Module, error)
	}{
		{
			name: "delete",
			gone: func(ctx context.Context, reg *service.RegistryClient) error {
				return reg.DeleteModule(ctx, "dev1", "mod1", "*")
			},
			back: func(ctx context.Context, reg *service.RegistryClient) (*hub.Module, error) {
				return reg.CreateModule(ctx, &hub.Module{DeviceID: "dev1", ModuleID: "mod1"})
			},
		},
		{
			name: "disable",
			gone: func(ctx context.Context, reg *service.RegistryClient) error {
				return setDeviceStatus(ctx, reg, "dev1", hub.StatusDisabled)
			},
			back: func(ctx context.Context, reg *service.RegistryClient) (*hub.Module, error) {
				if err := setDeviceStatus(ctx, reg, "dev1", hub.StatusEnabled); err != nil {
					return nil, err
				}
				return reg.GetModule(ctx, "dev1", "mod1")
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, reg, m := startWithModule(t)
			ctx := context.Background()
			id := identity{deviceID: "dev1", moduleID: "mod1"}
			// A first connection leaves a session with a subscription
			// behind, for the held one to inherit.
			first, err := dialModule(s, m)
			if err != nil {
				t.Fatal(err)
			}
			if tok := first.c.Subscribe("$iothub/twin/PATCH/properties/desired/#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("subscribe: %v", tok.Error())
			}
			first.c.Disconnect(0)

			hold := &holdAtEstablish{clientID: id.clientID(), held: make(chan struct{}, 1), release: make(chan struct{})}
			if err := s.broker.AddHook(hold, nil); err != nil {
				t.Fatal(err)
			}
			releaseOnce := sync.OnceFunc(func() { close(hold.release) })
			defer releaseOnce()
			result := dialInBackground(s, m)
			<-hold.held
			if err := tc.gone(ctx, reg); err != nil {
				t.Fatal(err)
			}
			if err := s.hook.registrySettled(); err != nil { // the change's clean-up has run
				t.Fatal(err)
			}
			releaseOnce()
			d := <-result
			if d.err == nil {
				defer d.conn.c.Disconnect(0)
				select {
				case <-d.conn.lost:
				case <-time.After(10 * time.Second):
					t.Fatal("the connection authenticated before the change outlived it")
				}
			}
			if cl, ok := s.broker.Clients.Get(id.clientID()); ok {
				t.Fatalf("a session of the module is still in the broker (closed %v, %d subscriptions)", cl.Closed(), cl.State.Subscriptions.Len())
			}

			if m, err = tc.back(ctx, reg); err != nil {
				t.Fatal(err)
			}
			again, err := dialModule(s, m)
			if err != nil {
				t.Fatal(err)
			}
			defer again.c.Disconnect(0)
			if again.present {
				t.Fatal("the module inherited a session from before the change")
			}
			// The change's clean-up, were it late, leaves the connection
			// made after the change alone.
			s.hook.forget(id)
			if cl, ok := s.broker.Clients.Get(id.clientID()); !ok || cl.Closed() {
				t.Fatalf("a late clean-up ended the connection made after the change (in the broker %v)", ok)
			}
		})
	}
}

// setDeviceStatus enables or disables a device.
func setDeviceStatus(ctx context.Context, reg *service.RegistryClient, deviceID, status string) error {
	d, err := reg.GetDevice(ctx, deviceID)
	if err != nil {
		return err
	}
	d.Status = status
	_, err = reg.UpdateDevice(ctx, d, "*")
	return err
}
