package steps

import (
	"context"
	"errors"
	"slices"

	"github.com/hubspec/hubspec/hub"
)

// The service's calls to the registry that more than one step makes. Each
// call is made once; the steps decide whether to poll (see Eventually).

// readIdentity reads a device or module from the hub once, and remembers
// it as the identity the service last saw.
func (w *world) readIdentity(ctx context.Context, i ident) (view, error) {
	d, m, err := w.ids(i)
	if err != nil {
		return view{}, err
	}
	s := w.state(i)
	if i.kind == "device" {
		dev, err := w.registry.GetDevice(ctx, d)
		if err != nil {
			return view{}, err
		}
		s.seen(dev, nil)
	} else {
		mod, err := w.registry.GetModule(ctx, d, m)
		if err != nil {
			return view{}, err
		}
		s.seen(nil, mod)
	}
	return s.view()
}

// pollIdentity reads the identity until check accepts what the hub shows
// (see Eventually).
func (w *world) pollIdentity(ctx context.Context, i ident, check func(view) error) error {
	if err := w.neverCreated(i); err != nil {
		return err
	}
	return eventually(ctx, settleWithin, func(ctx context.Context) error {
		v, err := w.readIdentity(ctx, i)
		if err != nil {
			return err
		}
		return check(v)
	})
}

// updateIdentity sends the identity as the service last saw it, changed by
// edit, with the If-Match the etag phrase asks for. A refusal is recorded;
// the answer is the identity the service last saw.
func (w *world) updateIdentity(ctx context.Context, i ident, etagPhrase string, edit func(*hub.Device, *hub.Module)) error {
	s := w.state(i)
	etag, err := chooseEtag(etagPhrase, s.etags, latest(s.etags), i.String())
	if err != nil {
		return err
	}
	if _, err := s.view(); err != nil {
		return err
	}
	err = w.whileSettling(ctx, i, func(ctx context.Context) error {
		if i.kind == "device" {
			c := *s.device
			edit(&c, nil)
			got, err := w.registry.UpdateDevice(ctx, &c, etag)
			if err == nil {
				s.seen(got, nil)
			}
			return err
		}
		c := *s.module
		edit(nil, &c)
		got, err := w.registry.UpdateModule(ctx, &c, etag)
		if err == nil {
			s.seen(nil, got)
		}
		return err
	})
	if err != nil {
		return w.refused(err)
	}
	v, _ := s.view()
	s.etags = sawEtag(s.etags, v.etag)
	return nil
}

// createModuleOn creates a module under the hub id moduleID. On a live hub
// a device created a moment ago may not be visible yet (IoT Hub's docs
// say a new identity may take a few seconds to be retrievable), so a 404
// for a device the scenario knows exists is retried (see whileSettling);
// for any other device it is the answer at once.
func (w *world) createModuleOn(ctx context.Context, deviceAlias, moduleID string, auth *hub.Authentication) (*hub.Module, error) {
	var m *hub.Module
	err := w.whileSettling(ctx, ident{"device", deviceAlias, ""}, func(ctx context.Context) (err error) {
		m, err = w.registry.CreateModule(ctx, &hub.Module{DeviceID: w.sc.Name(deviceAlias), ModuleID: moduleID, Authentication: auth})
		return err
	})
	return m, err
}

// whileSettling calls fn until it succeeds or answers anything but 404,
// for up to settleWithin while the scenario knows the identity exists: a
// live hub shows a new identity to some requests a moment after it
// answered the create. For an identity the scenario never created, or
// deleted, a 404 is the answer at once.
func (w *world) whileSettling(ctx context.Context, i ident, fn func(context.Context) error) error {
	var err error
	_ = eventually(ctx, settleWithin, func(ctx context.Context) error {
		err = fn(ctx)
		if w.exists(i) && (errors.Is(err, hub.ErrDeviceNotFound) || errors.Is(err, hub.ErrModuleNotFound)) {
			return err
		}
		return nil
	})
	return err
}

// readOnce is a read of the identity, or of its twin, made once.
func (w *world) readOnce(i ident, twin bool) func(context.Context) error {
	return func(ctx context.Context) error {
		var err error
		if twin {
			_, err = w.getTwin(ctx, i)
		} else {
			_, err = w.readIdentity(ctx, i)
		}
		return err
	}
}

// withAuth is an edit for updateIdentity that sets the authentication.
func withAuth(auth *hub.Authentication) func(*hub.Device, *hub.Module) {
	return func(d *hub.Device, m *hub.Module) {
		if d != nil {
			d.Authentication = auth
		} else {
			m.Authentication = auth
		}
	}
}

// deleteIdentity deletes a device or module with the If-Match etag (see
// whileSettling).
func (w *world) deleteIdentity(ctx context.Context, i ident, etag string) error {
	d, m, err := w.ids(i)
	if err != nil {
		return err
	}
	return w.whileSettling(ctx, i, func(ctx context.Context) error {
		if i.kind == "device" {
			return w.registry.DeleteDevice(ctx, d, etag)
		}
		return w.registry.DeleteModule(ctx, d, m, etag)
	})
}

// createUnnamed creates a device, or a module on a device the scenario
// knows, under an id no alias names; keys are left to the hub. Cleanup
// deletes such a device; a module goes with its device.
func (w *world) createUnnamed(ctx context.Context, kind, id, deviceAlias string) error {
	if kind == "module" {
		_, err := w.createModuleOn(ctx, deviceAlias, id, nil)
		return err
	}
	if _, err := w.registry.CreateDevice(ctx, &hub.Device{DeviceID: id}); err != nil {
		return err
	}
	w.sc.Defer("delete device "+id, func(ctx context.Context) error { return w.admin.DeleteDevice(ctx, id, "*") })
	return nil
}

// moduleIDs lists the modules of a device once, sorted.
func (w *world) moduleIDs(ctx context.Context, deviceAlias string) ([]string, error) {
	mods, err := w.registry.ListModules(ctx, w.sc.Name(deviceAlias))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, m := range mods {
		ids = append(ids, m.ModuleID)
	}
	slices.Sort(ids)
	return ids, nil
}

// getTwin reads a device or module twin once.
func (w *world) getTwin(ctx context.Context, i ident) (*hub.Twin, error) {
	d, m, err := w.ids(i)
	if err != nil {
		return nil, err
	}
	if i.kind == "device" {
		return w.registry.GetDeviceTwin(ctx, d)
	}
	return w.registry.GetModuleTwin(ctx, d, m)
}

// putTwin patches (deep merge) or replaces a device or module twin.
func (w *world) putTwin(ctx context.Context, i ident, replace bool, t *hub.Twin, etag string) (*hub.Twin, error) {
	d, m, err := w.ids(i)
	if err != nil {
		return nil, err
	}
	switch {
	case i.kind == "device" && replace:
		return w.registry.ReplaceDeviceTwin(ctx, d, t, etag)
	case i.kind == "device":
		return w.registry.UpdateDeviceTwin(ctx, d, t, etag)
	case replace:
		return w.registry.ReplaceModuleTwin(ctx, d, m, t, etag)
	}
	return w.registry.UpdateModuleTwin(ctx, d, m, t, etag)
}
