package emulator

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hubspec/hubspec/hub"
)

func TestModules(t *testing.T) {
	reg := newRegistry(nil)
	var log eventLog
	reg.setEvents(log.events())
	_, err := reg.putModule("hub", "ghost", "m", []byte(`{}`), precondition{})
	wantHubError(t, err, hub.ErrDeviceNotFound)
	mustPutDevice(t, reg, "dev", `{}`)
	m := mustPutModule(t, reg, "dev", "m1", `{"moduleId":"m1","managedBy":"","deviceId":"dev","authentication":{"symmetricKey":{"primaryKey":"","secondaryKey":""},"type":"sas"}}`)
	if m.ManagedBy == nil || *m.ManagedBy != "" || len(*m.Authentication.SymmetricKey.PrimaryKey) != 44 {
		t.Errorf("unexpected module: %+v", m)
	}
	_, err = reg.putModule("myhub", "dev", "m1", []byte(`{}`), precondition{})
	wantHubError(t, err, hub.ErrModuleAlreadyExistsOnDevice)
	if e, _ := hub.AsError(err); e.Message != "Device dev in IotHub myhub already contains Module m1." {
		t.Errorf("409301 message = %q", e.Message)
	}
	for body, want := range map[string]*hub.Error{`{"moduleId":"m9"}`: hub.ErrArgumentInvalid, `{"deviceId":"other"}`: hub.ErrArgumentInvalid} {
		_, err = reg.putModule("hub", "dev", "m2", []byte(body), precondition{})
		wantHubError(t, err, want)
	}
	_, err = reg.putModule("hub", "dev", "$edgeHub", []byte(`{}`), precondition{})
	wantHubError(t, err, hub.ErrArgumentInvalid)
	_, err = reg.getModule("dev", "nope")
	wantHubError(t, err, hub.ErrModuleNotFound)
	_, err = reg.putModule("hub", "dev", "nope", []byte(`{}`), parseIfMatch("*"))
	wantHubError(t, err, hub.ErrModuleNotFound)
	_, err = reg.putModule("hub", "dev", "m1", []byte(`{}`), parseIfMatch(`"stale"`))
	wantHubError(t, err, hub.ErrPreconditionFailed)
	u, err := reg.putModule("hub", "dev", "m1", []byte(`{"managedBy":"me"}`), parseIfMatch(`"`+m.ETag+`"`))
	wantHubError(t, err, nil)
	if u.ETag == m.ETag || *u.ManagedBy != "me" || *u.Authentication.SymmetricKey.PrimaryKey != *m.Authentication.SymmetricKey.PrimaryKey {
		t.Errorf("module update: %+v", u)
	}
	for i := 2; i <= maxModulesPerDevice; i++ {
		mustPutModule(t, reg, "dev", fmt.Sprintf("m%d", i), `{}`)
	}
	_, err = reg.putModule("hub", "dev", "one-too-many", []byte(`{}`), precondition{})
	wantHubError(t, err, hub.ErrTooManyModulesOnDevice)
	list, _ := reg.listModules("dev")
	if len(list) != maxModulesPerDevice {
		t.Errorf("listModules: %d modules", len(list))
	}
	wantHubError(t, reg.deleteModule("dev", "m1", parseIfMatch(`"stale"`)), hub.ErrPreconditionFailed)
	wantHubError(t, reg.deleteModule("dev", "m1", precondition{}), nil)
	wantHubError(t, reg.deleteModule("dev", "m1", precondition{}), hub.ErrModuleNotFound)
	if _, gone := log.take(); strings.Join(gone, ",") != "dev/m1" {
		t.Errorf("IdentityGone events: %v", gone)
	}
}
