package steps

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/internal/certtest"
)

// ident names an identity as a feature does: its kind ("device" or
// "module"), its alias and, for a module, its device's alias. A hub names a
// module by its device and its own id (the same module is installed on
// many devices), so the scenario does too. Devices and modules share most
// steps, because the hub treats them alike; ident lets one step serve both.
type ident struct{ kind, alias, device string }

func (i ident) String() string {
	if i.kind == "module" {
		return fmt.Sprintf("module %q on device %q", i.alias, i.device)
	}
	return fmt.Sprintf("%s %q", i.kind, i.alias)
}

// ref is the identity as a step's alias capture names it (see who): a
// module with its device, so that passing it on never makes it ambiguous.
func (i ident) ref() string {
	if i.kind == "module" {
		return i.alias + onDeviceRef + i.device
	}
	return i.alias
}

// identityState is everything a scenario knows of one of its identities:
// what the hub last answered about it, what the service holds of its twin,
// and its connections. The zero value is an identity the scenario has only
// named; each field says when it is set.
type identityState struct {
	ident
	device  *hub.Device // a device as the hub last returned it
	module  *hub.Module // a module as the hub last returned it
	created bool        // the scenario created it: cleanup deletes it (a device, with its modules)
	gone    bool        // the scenario deleted it since

	firstKeys *hub.SymmetricKey // its keys when first created
	certs     []*certtest.Cert  // its self-signed certificates, primary first, when created with them (x509.go)
	givenKeys *hub.SymmetricKey // the keys the service last chose for it
	etags     []string          // identity etags seen, oldest first

	twin      *hub.Twin // as the service last read or wrote it: its etag is the one held
	readTwin  *hub.Twin // as the service last read it: what "since the service read it" compares with
	twinEtags []string  // twin etags seen, oldest first

	client    *device.Client              // its connection, nil once it disconnects
	clients   []*device.Client            // every connection it opened, closed in cleanup
	bare      []*bareConn                 // its bare MQTT connections, oldest first (mqtt_bare.go)
	taps      map[*device.Client]*connTap // what each of its clients handled (quiet.go)
	lastPatch *device.DesiredPatch        // the last desired patch it received
	acked     *int64                      // the reported $version the hub answered to its last report
	methods   *methodState                // its direct methods, made on first use (methods.go)
	cloud     <-chan device.CloudMessage  // its cloud-to-device messages, once it listens (c2d.go)
}

// state is the identity's state, made on first use.
func (w *world) state(i ident) *identityState {
	s, ok := w.identities[i]
	if !ok {
		s = &identityState{ident: i, taps: map[*device.Client]*connTap{}}
		w.identities[i] = s
		w.named = append(w.named, i)
	}
	return s
}

// identityIn is the scenario's world and the state of the identity a
// step names (see who), or why the step names none.
func identityIn(ctx context.Context, kind, ref string) (*world, *identityState, error) {
	w := worldFrom(ctx)
	i, err := w.who(kind, ref)
	if err != nil {
		return w, nil, err
	}
	return w, w.state(i), nil
}

// ids resolves an identity to the hub's device id and, for a module, its
// module id.
func (w *world) ids(i ident) (deviceID, moduleID string, err error) {
	if i.kind == "device" {
		return w.sc.Name(i.alias), "", nil
	}
	return w.sc.Name(i.device), w.sc.Name(i.alias), nil
}

// exists says whether the scenario created the identity (and, for a
// module, its device) and has not deleted it since.
func (w *world) exists(i ident) bool {
	s := w.state(i)
	if i.kind == "device" {
		return s.device != nil && !s.gone
	}
	return s.module != nil && !s.gone && w.exists(ident{"device", i.device, ""})
}

// seen records an identity as the hub answered it.
func (s *identityState) seen(d *hub.Device, m *hub.Module) {
	if d != nil {
		s.device = d
	} else {
		s.module = m
	}
}

// view is what the steps read of an identity as the hub last answered it.
type view struct {
	etag, generationID, status string
	keys                       hub.SymmetricKey
}

// view is the identity as the hub last answered it, or an error if the
// scenario has never had an answer about it.
func (s *identityState) view() (view, error) {
	switch {
	case s.kind == "device" && s.device != nil:
		d := s.device
		return view{d.ETag, d.GenerationID, d.Status, keysOf(d.Authentication)}, nil
	case s.kind == "module" && s.module != nil:
		m := s.module
		return view{m.ETag, m.GenerationID, "", keysOf(m.Authentication)}, nil
	}
	return view{}, fmt.Errorf("%s: the scenario has not created it", s.ident)
}

// connection is the identity's client, or an error if it is not connected.
func (s *identityState) connection() (*device.Client, error) {
	if s.client == nil {
		return nil, fmt.Errorf("%s is not connected", s.ident)
	}
	return s.client, nil
}

// keep makes c the identity's connection; cleanup closes it.
func (s *identityState) keep(c *device.Client) {
	s.client = c
	s.clients = append(s.clients, c)
}

// closeConnections closes every connection the identity opened, latest
// first.
func (s *identityState) closeConnections() error {
	var errs []error
	for _, b := range slices.Backward(s.bare) {
		b.pc.Disconnect(0)
	}
	for _, c := range slices.Backward(s.clients) {
		errs = append(errs, c.Close())
	}
	s.client, s.clients, s.bare = nil, nil, nil
	return errors.Join(errs...)
}

// cleanup undoes what the scenario did to its identities, after every
// other cleanup (such as registry faults): first every connection is
// closed, then every device it created is deleted, with its modules and
// their twins, latest first, whatever policy the service last used. A
// device already gone is no failure.
func (w *world) cleanup(ctx context.Context) error {
	var errs []error
	for _, i := range slices.Backward(w.named) {
		if err := w.identities[i].closeConnections(); err != nil {
			errs = append(errs, fmt.Errorf("disconnect %s: %w", i, err))
		}
	}
	for _, i := range slices.Backward(w.named) {
		if s := w.identities[i]; i.kind == "device" && s.created {
			id := w.sc.Name(i.alias)
			if err := w.admin.DeleteDevice(ctx, id, "*"); err != nil && !errors.Is(err, hub.ErrDeviceNotFound) {
				errs = append(errs, fmt.Errorf("delete device %s: %w", id, err))
			}
		}
	}
	return errors.Join(errs...)
}

// chooseKeys is the authentication a create sends: nil (the hub assigns
// keys) unless the scenario asks for keys of the service's own.
func (s *identityState) chooseKeys(phrase string) *hub.Authentication {
	if phrase != "keys of its own" {
		return nil
	}
	k := newKeys()
	s.givenKeys = &k
	return sasAuth(k)
}

// newKeys are two new random keys.
func newKeys() hub.SymmetricKey {
	return hub.SymmetricKey{PrimaryKey: randomKey(), SecondaryKey: randomKey()}
}

func sasAuth(k hub.SymmetricKey) *hub.Authentication {
	return &hub.Authentication{Type: hub.AuthSAS, SymmetricKey: &k}
}

// wasCreated remembers what a successful create answered.
func (s *identityState) wasCreated(d *hub.Device, m *hub.Module) {
	s.seen(d, m)
	s.created, s.gone = true, false
	v, _ := s.view()
	s.etags = sawEtag(s.etags, v.etag)
	if s.firstKeys == nil {
		s.firstKeys = &v.keys
	}
}

// randomKey is a SAS key as the hub would generate it: 32 random bytes.
func randomKey() string {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	return base64.StdEncoding.EncodeToString(raw)
}

func keysOf(a *hub.Authentication) hub.SymmetricKey {
	if a == nil || a.SymmetricKey == nil {
		return hub.SymmetricKey{}
	}
	return *a.SymmetricKey
}
