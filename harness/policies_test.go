package harness_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
	"github.com/hubspec/hubspec/internal/mqtttest"
)

// rights is what each built-in policy may do (docs/fidelity.md, "SAS and
// authorization"): read the registry, use twins over REST (ServiceConnect),
// connect a device with a token the policy signed (DeviceConnect).
var rights = map[string]struct{ registryRead, serviceConnect, deviceConnect bool }{
	"iothubowner":       {true, true, true},
	"service":           {false, true, false},
	"device":            {false, false, true},
	"registryRead":      {true, false, false},
	"registryReadWrite": {true, false, false},
}

// checkPolicies checks a target's policy connection strings against the
// hub itself: each names its policy and the hub the service connection
// string names, and its key is the hub's, shown by what the hub lets it
// do: the calls its rights allow succeed (a wrong key would be 401), the
// others are refused with 401.
func checkPolicies(t *testing.T, tg harness.Target) {
	p, ok := tg.(harness.PolicyConnectionStrings)
	if !ok {
		t.Fatalf("the %s target gives no policy connection strings: %T", tg.Name(), tg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	owner, err := hub.ParseConnectionString(tg.ServiceConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := service.NewRegistryClient(owner.String(), tg.RegistryOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	d, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: "policies"})
	if err != nil {
		t.Fatal(err)
	}
	dev := hub.ConnectionString{HostName: owner.HostName, DeviceID: d.DeviceID, SharedAccessKey: d.Authentication.SymmetricKey.PrimaryKey}

	if len(emulator.PolicyNames()) != len(rights) {
		t.Fatalf("the emulator has policies %v; this test knows %d", emulator.PolicyNames(), len(rights))
	}
	for _, name := range emulator.PolicyNames() {
		t.Run(name, func(t *testing.T) {
			s, err := p.PolicyConnectionString(name)
			if err != nil {
				t.Fatal(err)
			}
			cs, err := hub.ParseConnectionString(s)
			if err != nil {
				t.Fatal(err)
			}
			if cs.SharedAccessKeyName != name || cs.HostName != owner.HostName || !cs.IsService() {
				t.Fatalf("%s's connection string names policy %q at %q, want at %q", name, cs.SharedAccessKeyName, cs.HostName, owner.HostName)
			}
			if name == "iothubowner" && s != owner.String() {
				t.Error("iothubowner's connection string is not the service connection string")
			}
			may := rights[name]
			as, err := service.NewRegistryClient(s, append(tg.RegistryOptions(), service.WithRetry(1, 0))...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = as.GetDevice(ctx, d.DeviceID)
			allowed(t, "read the registry", may.registryRead, err)
			_, err = as.GetDeviceTwin(ctx, d.DeviceID)
			allowed(t, "read a twin", may.serviceConnect, err)

			token, err := hub.BuildSASToken(dev.ResourceURI(), cs.SharedAccessKey, name, time.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			c, err := device.DialDevice(ctx, dev.String(), append(tg.DialOptions(), mqtttest.WithSASToken(token))...)
			if err == nil {
				c.Close()
			}
			var refused *device.ConnectRefusedError
			switch {
			case may.deviceConnect && err != nil:
				t.Errorf("a device's connection with a token of %s: %v", name, err)
			case !may.deviceConnect && (!errors.As(err, &refused) || refused.Code != 5):
				t.Errorf("a device's connection with a token of %s: %v, want CONNACK 5", name, orNone(err))
			}
		})
	}
	if _, err := p.PolicyConnectionString("nope"); err == nil {
		t.Error("a policy the hub does not have has a connection string")
	}
}

// allowed checks a call's answer: nil when the policy may make it, 401
// IotHubUnauthorizedAccess when it may not.
func allowed(t *testing.T, what string, may bool, err error) {
	t.Helper()
	switch {
	case may && err != nil:
		t.Errorf("%s: %v", what, err)
	case !may && !errors.Is(err, hub.ErrUnauthorized):
		t.Errorf("%s: %v, want 401 IotHubUnauthorizedAccess", what, orNone(err))
	}
}

func orNone(err error) any {
	if err == nil {
		return "accepted"
	}
	return err
}
