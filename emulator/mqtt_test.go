package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/service"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
	builtin "github.com/hubspec/hubspec/hub/events"
)

const wait = 10 * time.Second

func startHub(t testing.TB) (*emulator.Server, *service.RegistryClient) {
	t.Helper()
	return startHubWith(t, emulator.Options{})
}

func startHubWith(t testing.TB, opts emulator.Options) (*emulator.Server, *service.RegistryClient) {
	t.Helper()
	s, err := emulator.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	return s, reg
}

// createModule creates the device when needed, then the module.
func createModule(t testing.TB, reg *service.RegistryClient, deviceID, moduleID string) *hub.Module {
	t.Helper()
	ctx := context.Background()
	if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: deviceID}); err != nil && !errors.Is(err, hub.ErrDeviceAlreadyExists) {
		t.Fatal(err)
	}
	m, err := reg.CreateModule(ctx, &hub.Module{DeviceID: deviceID, ModuleID: moduleID})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// rawClient is a bare paho client: the emulator's MQTT rules are checked
// on the wire, not through Hubspec's own client.
type rawClient struct {
	c              paho.Client
	msgs           chan paho.Message
	lost           chan error
	sessionPresent bool
}

type creds struct {
	clientID, username, password string
	willTopic                    string // "": no will
}

// moduleCreds are the CONNECT fields the SDKs send for a module.
func moduleCreds(t *testing.T, s *emulator.Server, m *hub.Module, key string, expiry time.Time) creds {
	t.Helper()
	if key == "" {
		key = m.Authentication.SymmetricKey.PrimaryKey
	}
	resource := s.HostName() + "/devices/" + m.DeviceID + "/modules/" + m.ModuleID
	tok, err := hub.BuildSASToken(resource, key, "", expiry)
	if err != nil {
		t.Fatal(err)
	}
	return creds{
		clientID: m.DeviceID + "/" + m.ModuleID,
		username: s.HostName() + "/" + m.DeviceID + "/" + m.ModuleID + "/?api-version=2021-04-12&DeviceClientType=test",
		password: tok,
	}
}

func dialRaw(s *emulator.Server, c creds, protocolVersion uint) (*rawClient, error) {
	rc := &rawClient{msgs: make(chan paho.Message, 64), lost: make(chan error, 1)}
	opts := paho.NewClientOptions().
		AddBroker("tls://" + s.MQTTAddr()).
		SetClientID(c.clientID).SetUsername(c.username).SetPassword(c.password).
		SetTLSConfig(s.TLSConfig()).SetProtocolVersion(protocolVersion).
		SetCleanSession(false).SetAutoReconnect(false).SetConnectRetry(false).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { rc.msgs <- m }).
		SetConnectionLostHandler(func(_ paho.Client, err error) { rc.lost <- err })
	if c.willTopic != "" {
		opts.SetWill(c.willTopic, `{"forged":true}`, 1, false)
	}
	rc.c = paho.NewClient(opts)
	tok := rc.c.Connect()
	if !tok.WaitTimeout(wait) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connack %d: %w", tok.(*paho.ConnectToken).ReturnCode(), err)
	}
	rc.sessionPresent = tok.(*paho.ConnectToken).SessionPresent()
	return rc, nil
}

func mustDial(t *testing.T, s *emulator.Server, c creds) *rawClient {
	t.Helper()
	rc, err := dialRaw(s, c, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.c.Disconnect(0) })
	return rc
}

func (rc *rawClient) subscribe(t *testing.T, filters ...string) {
	t.Helper()
	m := map[string]byte{}
	for _, f := range filters {
		m[f] = 1
	}
	tok := rc.c.SubscribeMultiple(m, func(_ paho.Client, msg paho.Message) { rc.msgs <- msg })
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("subscribe %v: %v", filters, tok.Error())
	}
}

func (rc *rawClient) publish(t *testing.T, topic string, qos byte, payload string) {
	t.Helper()
	tok := rc.c.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// next returns the next message this connection receives.
func (rc *rawClient) next(t *testing.T) paho.Message {
	t.Helper()
	select {
	case m := <-rc.msgs:
		return m
	case <-time.After(wait):
		t.Fatal("no message within", wait)
		return nil
	}
}

// closedByHub waits for the hub to close the connection.
func (rc *rawClient) closedByHub(t *testing.T) {
	t.Helper()
	select {
	case <-rc.lost:
	case <-time.After(wait):
		t.Fatal("the hub did not close the connection")
	}
}

func TestMQTTConnectRefusals(t *testing.T) {
	s, reg := startHub(t)
	ctx := context.Background()
	m := createModule(t, reg, "dev1", "mod1")
	other := createModule(t, reg, "dev1", "mod2")
	future := time.Now().Add(time.Hour)

	good := moduleCreds(t, s, m, "", future)
	wrongKey := moduleCreds(t, s, m, other.Authentication.SymmetricKey.PrimaryKey, future)
	expired := moduleCreds(t, s, m, "", time.Now().Add(-6*time.Minute))
	withinSkew := moduleCreds(t, s, m, "", time.Now().Add(-time.Minute))
	otherScope := moduleCreds(t, s, other, "", future)
	otherScope.clientID, otherScope.username = good.clientID, good.username
	idMismatch := good
	idMismatch.clientID = "dev1/mod2"
	wrongHost := good
	wrongHost.username = strings.Replace(good.username, s.HostName(), "otherhub.azure-devices.net", 1)
	noAPIVersion := good
	noAPIVersion.username = s.HostName() + "/dev1/mod1/?DeviceClientType=test"
	unknown := good
	unknown.clientID, unknown.username = "dev1/ghost", strings.Replace(good.username, "/mod1/", "/ghost/", 1)

	for _, tc := range []struct {
		name    string
		creds   creds
		version uint
		connack byte // 0 = accepted
	}{
		{"right key", good, 4, 0},
		{"token expired less than the 5 minute skew ago", withinSkew, 4, 0},
		{"wrong key", wrongKey, 4, 5},
		{"expired token", expired, 4, 5},
		{"token scoped to another module", otherScope, 4, 5},
		{"client id does not match user name", idMismatch, 4, 5},
		{"user name names another hub", wrongHost, 4, 5},
		{"user name without api-version", noAPIVersion, 4, 5},
		{"unknown module", unknown, 4, 5},
		{"MQTT 3.1", good, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := dialRaw(s, tc.creds, tc.version)
			if tc.connack == 0 {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				rc.c.Disconnect(0)
				return
			}
			if err == nil {
				rc.c.Disconnect(0)
				t.Fatalf("want CONNACK %d, got accepted", tc.connack)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("connack %d:", tc.connack)) {
				t.Fatalf("want CONNACK %d, got %v", tc.connack, err)
			}
		})
	}

	t.Run("disabled device", func(t *testing.T) {
		d, err := reg.GetDevice(ctx, "dev1")
		if err != nil {
			t.Fatal(err)
		}
		d.Status = hub.StatusDisabled
		if _, err := reg.UpdateDevice(ctx, d, d.ETag); err != nil {
			t.Fatal(err)
		}
		_, err = dialRaw(s, good, 4)
		if err == nil || !strings.HasPrefix(err.Error(), "connack 3:") {
			t.Fatalf("want CONNACK 3 for a disabled device, got %v", err)
		}
	})
}

// TestMQTTWillsStayWithinTheIdentity: the hub takes a will only on the
// identity's own telemetry topic; a will on any other topic is refused at
// CONNECT, and no will ever reaches another identity's connection. An
// accepted will goes to the built-in endpoint, as telemetry from its own
// identity marked iothub-MessageType: Will, when the connection ends
// without a DISCONNECT.
func TestMQTTWillsStayWithinTheIdentity(t *testing.T) {
	s, reg := startHub(t)
	attacker := createModule(t, reg, "dev1", "attacker")
	victimModule := createModule(t, reg, "dev1", "victim")
	builtIn := openReader(t, s, "dev1")
	future := time.Now().Add(time.Hour)
	victim := mustDial(t, s, moduleCreds(t, s, victimModule, "", future))
	victim.subscribe(t, "$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/#", "devices/dev1/modules/victim/inputs/#")

	for _, tc := range []struct {
		name, topic string
		accepted    bool
	}{
		{"a desired patch", "$iothub/twin/PATCH/properties/desired/?$version=999999", false},
		{"a twin answer", "$iothub/twin/res/200/?$rid=1", false},
		{"another module's input", "devices/dev1/modules/victim/inputs/x", false},
		{"another module's telemetry", "devices/dev1/modules/victim/messages/events/", false},
		{"a device's telemetry", "devices/dev1/messages/events/", false},
		{"a topic of no one", "anything/else", false},
		{"its own telemetry", "devices/dev1/modules/attacker/messages/events/", true},
		{"its own telemetry with properties", "devices/dev1/modules/attacker/messages/events/k=v", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := moduleCreds(t, s, attacker, "", future)
			c.willTopic = tc.topic
			rc, err := dialRaw(s, c, 4)
			if !tc.accepted {
				if err == nil {
					rc.c.Disconnect(0)
					t.Fatalf("a will on %q accepted", tc.topic)
				}
				if !strings.HasPrefix(err.Error(), "connack 5:") {
					t.Fatalf("a will on %q: want CONNACK 5, got %v", tc.topic, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("a will on its own telemetry topic refused: %v", err)
			}
			// An ungraceful end: the hub closes the connection, so mochi
			// would send the will.
			if dropped, err := s.DropConnection(context.Background(), "dev1", "attacker"); !dropped || err != nil {
				t.Fatalf("the attacker was not connected (%v)", err)
			}
			rc.closedByHub(t)
			awaitWill(t, builtIn, tc.topic)
		})
	}
	t.Run("a clean disconnect sends no will", func(t *testing.T) {
		c := moduleCreds(t, s, attacker, "", future)
		c.willTopic = "devices/dev1/modules/attacker/messages/events/clean=1"
		rc, err := dialRaw(s, c, 4)
		if err != nil {
			t.Fatal(err)
		}
		rc.c.Disconnect(250) // sends DISCONNECT
		// The hub has ended the first connection before the next one of
		// the same identity takes over: a takeover of a connection whose
		// DISCONNECT the hub has not read yet rightly sends its will.
		awaitDisconnected(t, s, reg, "dev1", "attacker")
		// The next connection's telemetry comes after any will of the
		// first in dev1's partition.
		next := mustDial(t, s, moduleCreds(t, s, attacker, "", future))
		next.publish(t, "devices/dev1/modules/attacker/messages/events/", 1, "marker")
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if _, err := builtIn.Await(ctx, func(e builtin.Event) bool { return string(e.Body) == "marker" }); err != nil {
			t.Fatal(err)
		}
		for _, e := range builtIn.Received() {
			if e.Properties["clean"] != nil {
				t.Fatalf("a will after a clean disconnect: %+v", e)
			}
		}
	})
	// Every will above is gone; nothing the broker sent on its own account
	// may have reached the victim. Its own twin GET answer proves the
	// connection delivers, and is the only message it gets.
	victim.publish(t, "$iothub/twin/GET/?$rid=probe", 1, "")
	if m := victim.next(t); m.Topic() != "$iothub/twin/res/200/?$rid=probe" {
		t.Fatalf("the victim received %q %s", m.Topic(), m.Payload())
	}
}

// awaitDisconnected waits until the registry says the module is
// disconnected, re-reading it after each registry change.
func awaitDisconnected(t *testing.T, s *emulator.Server, reg *service.RegistryClient, deviceID, moduleID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var seen uint64
	for {
		now, err := s.AwaitRegistryChange(ctx, seen)
		if err != nil {
			t.Fatalf("module %s/%s still connected: %v", deviceID, moduleID, err)
		}
		m, err := reg.GetModule(ctx, deviceID, moduleID)
		if err != nil {
			t.Fatal(err)
		}
		if m.ConnectionState == "Disconnected" {
			return
		}
		seen = now
	}
}

// awaitWill waits for the will an attacker connection left on topic,
// and checks that it is telemetry from the attacker, marked as a will,
// with the topic's properties.
func awaitWill(t *testing.T, r *builtin.Reader, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ev, err := r.Await(ctx, func(e builtin.Event) bool { return e.Properties["iothub-MessageType"] == "Will" })
	if err != nil {
		t.Fatalf("no will on the built-in endpoint: %v", err)
	}
	if ev.Kind != builtin.KindTelemetry || ev.DeviceID != "dev1" || ev.ModuleID != "attacker" || string(ev.Body) != `{"forged":true}` {
		t.Errorf("the will: %+v", ev)
	}
	if strings.HasSuffix(topic, "k=v") != (ev.Properties["k"] == "v") {
		t.Errorf("the will's properties %v, from the topic %q", ev.Properties, topic)
	}
}

func TestMQTTTwinGetAndReportedPatch(t *testing.T) {
	s, reg := startHub(t)
	m := createModule(t, reg, "dev1", "mod1")
	rc := mustDial(t, s, moduleCreds(t, s, m, "", time.Now().Add(time.Hour)))
	rc.subscribe(t, "$iothub/twin/res/#")

	rc.publish(t, "$iothub/twin/GET/?$rid=1", 1, " ")
	got := rc.next(t)
	if got.Topic() != "$iothub/twin/res/200/?$rid=1" {
		t.Fatalf("GET answered on %q", got.Topic())
	}
	assertJSON(t, got.Payload(), `{"desired":{"$version":1},"reported":{"$version":1}}`)

	rc.publish(t, "$iothub/twin/PATCH/properties/reported/?$rid=2", 1, `{"telemetryInterval":122}`)
	got = rc.next(t)
	if got.Topic() != "$iothub/twin/res/204/?$rid=2&$version=2" || len(got.Payload()) != 0 {
		t.Fatalf("reported PATCH answered %q %q", got.Topic(), got.Payload())
	}
	twin, err := reg.GetModuleTwin(context.Background(), "dev1", "mod1")
	if err != nil {
		t.Fatal(err)
	}
	if v := twin.Properties.Reported["telemetryInterval"]; v != float64(122) {
		t.Fatalf("service sees reported telemetryInterval %v", v)
	}

	for i, body := range []string{`{"telemetryInterval":`, `[1,2]`, `{"$version":4}`} {
		rid := fmt.Sprint(10 + i)
		rc.publish(t, "$iothub/twin/PATCH/properties/reported/?$rid="+rid, 1, body)
		got = rc.next(t)
		if got.Topic() != "$iothub/twin/res/400/?$rid="+rid {
			t.Fatalf("reported %s answered on %q, want res/400", body, got.Topic())
		}
		var e struct {
			ErrorCode int    `json:"errorCode"`
			Message   string `json:"message"`
		}
		if err := json.Unmarshal(got.Payload(), &e); err != nil || e.ErrorCode/1000 != 400 || e.Message == "" {
			t.Fatalf("reported %s: error body %s", body, got.Payload())
		}
	}
	after, err := reg.GetModuleTwin(context.Background(), "dev1", "mod1")
	if err != nil {
		t.Fatal(err)
	}
	if after.ReportedVersion() != 2 {
		t.Fatalf("refused patches changed the reported $version to %d", after.ReportedVersion())
	}
}

func TestMQTTDesiredPatchPush(t *testing.T) {
	s, reg := startHub(t)
	m := createModule(t, reg, "dev1", "mod1")
	rc := mustDial(t, s, moduleCreds(t, s, m, "", time.Now().Add(time.Hour)))
	rc.subscribe(t, "$iothub/twin/PATCH/properties/desired/#")

	twin, err := reg.UpdateModuleTwin(context.Background(), "dev1", "mod1",
		&hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{"telemetryInterval": 122}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	got := rc.next(t)
	want := fmt.Sprintf("$iothub/twin/PATCH/properties/desired/?$version=%d", twin.DesiredVersion())
	if got.Topic() != want {
		t.Fatalf("patch on %q, want %q", got.Topic(), want)
	}
	assertJSON(t, got.Payload(), fmt.Sprintf(`{"telemetryInterval":122,"$version":%d}`, twin.DesiredVersion()))
}

// TestMQTTRepliesGoToOneConnection: two modules subscribe to the same topic
// names; each one's twin responses and desired patches reach it alone.
func TestMQTTRepliesGoToOneConnection(t *testing.T) {
	s, reg := startHub(t)
	ctx := context.Background()
	future := time.Now().Add(time.Hour)
	a := mustDial(t, s, moduleCreds(t, s, createModule(t, reg, "dev1", "a"), "", future))
	b := mustDial(t, s, moduleCreds(t, s, createModule(t, reg, "dev1", "b"), "", future))
	for _, rc := range []*rawClient{a, b} {
		rc.subscribe(t, "$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/#")
	}

	// Same $rid from both, as C SDK clients counting from 1 would send.
	a.publish(t, "$iothub/twin/PATCH/properties/reported/?$rid=1", 1, `{"who":"a"}`)
	if got := a.next(t); got.Topic() != "$iothub/twin/res/204/?$rid=1&$version=2" {
		t.Fatalf("a's response: %q", got.Topic())
	}
	if _, err := reg.UpdateModuleTwin(ctx, "dev1", "a", &hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{"for": "a"}}}, "*"); err != nil {
		t.Fatal(err)
	}
	assertJSON(t, a.next(t).Payload(), `{"for":"a","$version":2}`)

	// Had anything of a's leaked to b, it would be queued on b's connection
	// ahead of b's own answer.
	b.publish(t, "$iothub/twin/GET/?$rid=1", 1, "")
	got := b.next(t)
	if got.Topic() != "$iothub/twin/res/200/?$rid=1" {
		t.Fatalf("b's first message: %q %s", got.Topic(), got.Payload())
	}
	assertJSON(t, got.Payload(), `{"desired":{"$version":1},"reported":{"$version":1}}`)
	if _, err := reg.UpdateModuleTwin(ctx, "dev1", "b", &hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{"for": "b"}}}, "*"); err != nil {
		t.Fatal(err)
	}
	assertJSON(t, b.next(t).Payload(), `{"for":"b","$version":2}`)
}

func TestMQTTClosesConnectionOnBreach(t *testing.T) {
	s, reg := startHub(t)
	m := createModule(t, reg, "dev1", "mod1")
	createModule(t, reg, "dev1", "mod2")
	c := moduleCreds(t, s, m, "", time.Now().Add(time.Hour))

	for _, tc := range []struct {
		name string
		act  func(rc *rawClient)
	}{
		{"QoS 2 publish", func(rc *rawClient) { rc.c.Publish("devices/dev1/modules/mod1/messages/events/", 2, false, "x") }},
		{"publish to another module's topic", func(rc *rawClient) { rc.c.Publish("devices/dev1/modules/mod2/messages/events/", 1, false, "x") }},
		{"publish to an unknown topic", func(rc *rawClient) { rc.c.Publish("anything/else", 0, false, "x") }},
		{"twin request without $rid", func(rc *rawClient) { rc.c.Publish("$iothub/twin/GET/", 1, false, "") }},
		{"publish to a wildcard topic", func(rc *rawClient) { rc.c.Publish("devices/dev1/modules/mod1/messages/events/#", 1, false, "x") }},
		{"publish to $SYS", func(rc *rawClient) { rc.c.Publish("$SYS/broker", 1, false, "x") }},
		{"subscribe to another module's inputs", func(rc *rawClient) { rc.c.Subscribe("devices/dev1/modules/mod2/#", 1, nil) }},
		{"subscribe to everything", func(rc *rawClient) { rc.c.Subscribe("#", 1, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := dialRaw(s, c, 4)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.c.Disconnect(0)
			tc.act(rc)
			rc.closedByHub(t)
		})
	}
}

// TestMQTTClosesConnectionWhenTokenExpires: a token accepted within the
// 5-minute skew is cut off once the skew runs out.
func TestMQTTClosesConnectionWhenTokenExpires(t *testing.T) {
	s, reg := startHub(t)
	m := createModule(t, reg, "dev1", "mod1")
	almost := time.Now().Add(-5*time.Minute + time.Second)
	rc := mustDial(t, s, moduleCreds(t, s, m, "", almost))
	rc.closedByHub(t)
}

// TestMQTTPersistentSessionKeepsSubscriptions: with clean session 0, as
// every SDK connects, a reconnect that does not subscribe again still gets
// desired patches, and CONNACK says the session was present (MQTT 3.1.1
// §3.2.2.2; the fidelity table's "Persistent sessions" row; the Python SDK
// connects with clean_session=False and relies on this after its token
// renewals).
func TestMQTTPersistentSessionKeepsSubscriptions(t *testing.T) {
	s, reg := startHub(t)
	c := moduleCreds(t, s, createModule(t, reg, "dev1", "mod1"), "", time.Now().Add(time.Hour))
	first := mustDial(t, s, c)
	first.subscribe(t, "$iothub/twin/PATCH/properties/desired/#")
	first.c.Disconnect(250)

	again := mustDial(t, s, c)
	if !again.sessionPresent {
		t.Fatal("CONNACK without SessionPresent for a persistent session")
	}
	if _, err := reg.UpdateModuleTwin(context.Background(), "dev1", "mod1",
		&hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{"telemetryInterval": 5}}}, "*"); err != nil {
		t.Fatal(err)
	}
	assertJSON(t, again.next(t).Payload(), `{"telemetryInterval":5,"$version":2}`)
}

func TestMQTTSecondConnectionClosesTheFirst(t *testing.T) {
	s, reg := startHub(t)
	c := moduleCreds(t, s, createModule(t, reg, "dev1", "mod1"), "", time.Now().Add(time.Hour))
	first := mustDial(t, s, c)
	second := mustDial(t, s, c)
	first.closedByHub(t)
	second.subscribe(t, "$iothub/twin/res/#")
	second.publish(t, "$iothub/twin/GET/?$rid=7", 1, "")
	if got := second.next(t); got.Topic() != "$iothub/twin/res/200/?$rid=7" {
		t.Fatalf("second connection: %q", got.Topic())
	}
}

// TestMQTTDeletedModuleIsDisconnected: deleting an identity closes its
// connection and its session is forgotten.
func TestMQTTDeletedModuleIsDisconnected(t *testing.T) {
	s, reg := startHub(t)
	m := createModule(t, reg, "dev1", "mod1")
	rc := mustDial(t, s, moduleCreds(t, s, m, "", time.Now().Add(time.Hour)))
	if err := reg.DeleteModule(context.Background(), "dev1", "mod1", "*"); err != nil {
		t.Fatal(err)
	}
	rc.closedByHub(t)
	if _, err := dialRaw(s, moduleCreds(t, s, m, "", time.Now().Add(time.Hour)), 4); err == nil {
		t.Fatal("a deleted module connected")
	}
	// A new module of the same name starts with no session: no
	// SessionPresent, no subscription inherited from the deleted one.
	again := mustDial(t, s, moduleCreds(t, s, createModule(t, reg, "dev1", "mod1"), "", time.Now().Add(time.Hour)))
	if again.sessionPresent {
		t.Fatal("the re-created module inherited the deleted module's session")
	}
	again.subscribe(t, "$iothub/twin/res/#")
	if _, err := reg.UpdateModuleTwin(context.Background(), "dev1", "mod1",
		&hub.Twin{Properties: &hub.TwinProperties{Desired: map[string]any{"unseen": true}}}, "*"); err != nil {
		t.Fatal(err)
	}
	// Had the old desired subscription survived, the push would come first.
	again.publish(t, "$iothub/twin/GET/?$rid=1", 1, "")
	if got := again.next(t); got.Topic() != "$iothub/twin/res/200/?$rid=1" {
		t.Fatalf("first message %q, want the GET answer", got.Topic())
	}
}

func assertJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gj, _ := json.Marshal(g)
	wj, _ := json.Marshal(w)
	if string(gj) != string(wj) {
		t.Fatalf("body %s, want %s", gj, wj)
	}
}
