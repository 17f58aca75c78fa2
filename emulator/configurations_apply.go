package emulator

import (
	"maps"
	"slices"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/iotquery"
)

// Applying configurations. A real hub applies them on a cycle of about five
// minutes; the emulator applies them at once, deterministically: every
// configuration write reconciles every twin, and every registry or twin
// write (tags, reported properties, a new device or module) reconciles the
// twins of its device before it is committed (docs/fidelity.md,
// "Configurations: when they apply"). Reconciling a twin finds the
// configurations whose target condition it matches, marks the winner
// Applied and the others Targeted, and merges the winner's content into
// desired once, when it becomes the winner: the merge is a desired change
// like a service PATCH, pushed to a connected client and raising the
// twin-change event.

// reconcileDevice reconciles the device's twin and its modules' twins.
// Caller holds r.mu, inside a write of deviceID.
func (r *registry) reconcileDevice(deviceID string) {
	d, ok := r.devices[deviceID]
	if !ok || len(r.configurations) == 0 && !hasConfigStatus(d) {
		return
	}
	r.reconcileTwin(d, &d.identityState, "")
	for _, mid := range slices.Sorted(maps.Keys(d.modules)) {
		r.reconcileTwin(d, &d.modules[mid].identityState, mid)
	}
}

// hasConfigStatus says whether any twin of the device still shows a
// configuration (one that has since been deleted).
func hasConfigStatus(d *deviceEntry) bool {
	if len(d.twin.configs) > 0 {
		return true
	}
	for _, m := range d.modules {
		if len(m.twin.configs) > 0 {
			return true
		}
	}
	return false
}

func (r *registry) reconcileTwin(d *deviceEntry, st *identityState, moduleID string) {
	doc := queryDoc{d, st, moduleID}
	var winner *configEntry
	status := map[string]string{}
	for _, c := range r.configurations {
		if !c.targets(doc) {
			continue
		}
		status[c.id] = hub.ConfigurationTargeted
		if winner == nil || c.beats(winner) {
			winner = c
		}
	}
	tw := st.twin
	if winner == nil {
		tw.configs, tw.appliedSeq = status, 0
		return
	}
	if tw.appliedSeq != winner.seq {
		w := serviceWrite{desired: winner.patch, hasDesired: true}
		if err := r.mergeServiceWrite(d.id, moduleID, tw, w); err != nil {
			tw.configs = status // too large to apply: targeted only
			return
		}
		tw.appliedSeq = winner.seq
	}
	status[winner.id] = hub.ConfigurationApplied
	tw.configs = status
}

// targets says whether the configuration targets this twin.
func (c *configEntry) targets(doc queryDoc) bool {
	return c.target != nil && c.modules == (doc.moduleID != "") && c.target.Match(doc)
}

// writeConfigurations runs a change to the configurations, then
// reconciles every twin, committing each device whose twins changed; a
// device the store refuses is put back as it was and its events dropped.
func (r *registry) writeConfigurations(fn func() error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = r.pending[:0]
	if err := fn(); err != nil {
		return err
	}
	var failed error
	for _, id := range r.ids {
		before, mark := r.devices[id].twinVersions(), len(r.pending)
		r.reconcileDevice(id)
		if r.devices[id].twinVersions() == before {
			continue
		}
		if err := r.commit(id); err != nil {
			r.pending, failed = r.pending[:mark], err
		}
	}
	for _, ev := range r.pending {
		ev()
	}
	r.pending = r.pending[:0]
	return failed
}

// twinVersions sums the versions of the device's twins: it changes when
// any of them does.
func (d *deviceEntry) twinVersions() int64 {
	n := d.twin.version
	for _, m := range d.modules {
		n += m.twin.version
	}
	return n
}

// putConfiguration creates (no If-Match) or updates (If-Match * or a
// quoted etag) a configuration. An unquoted If-Match counts as none, as
// for every hub write (preconditions.go), so azure-iot-hub's
// update_configuration, which sends the etag unquoted, is answered 409
// like the real hub answers it (Azure/azure-iot-hub-python#2).
func (r *registry) putConfiguration(id string, body []byte, cond precondition) (configJSON, error) {
	c, content, err := parseConfiguration(id, body)
	if err != nil {
		return configJSON{}, err
	}
	var out configJSON
	err = r.writeConfigurations(func() error {
		old, exists := r.configurations[id]
		switch {
		case cond.kind == condNone && exists:
			return hub.ErrConfigurationAlreadyExists.WithMessage("The configuration '%s' already exists.", id)
		case cond.kind != condNone && !exists:
			return errConfigurationNotFound(id)
		case exists && cond.stale(old.etag):
			return hub.ErrPreconditionFailed.WithMessage("Precondition failed: the configuration's etag is %s, not %s.", old.etag, cond.etag)
		case exists && !old.sameContent(content):
			return hub.ErrArgumentInvalid.WithMessage("The content of the configuration '%s' cannot be updated.", id)
		case !exists && content == nil:
			return hub.ErrInvalidConfigurationContent.WithMessage("The content provided for configuration is invalid: deviceContent or moduleContent is required.")
		case !exists && len(r.configurations) >= maxConfigurations:
			return hub.ErrQuotaExceeded.WithMessage("The hub has %d configurations, the most it allows.", maxConfigurations)
		}
		r.storeConfiguration(c, old)
		out = configJSONOf(c)
		return nil
	})
	return out, err
}

// storeConfiguration keeps c, created new or replacing old (whose content,
// creation and seq an update keeps). Caller holds r.mu.
func (r *registry) storeConfiguration(c, old *configEntry) {
	c.updated, c.etag = r.timestamp(), r.nextETag()
	if old == nil {
		r.configSeq++
		c.seq, c.created = r.configSeq, c.updated
	} else {
		c.seq, c.created, c.modules, c.content, c.patch = old.seq, old.created, old.modules, old.content, old.patch
		c.target, _ = parseTargetCondition(c.targetCondition, c.modules) // valid: parseConfiguration checked it
	}
	r.configurations[c.id] = c
}

func errConfigurationNotFound(id string) error {
	return hub.ErrConfigurationNotFound.WithMessage("The configuration '%s' does not exist.", id)
}

func (r *registry) deleteConfiguration(id string, cond precondition) error {
	return r.writeConfigurations(func() error {
		c, ok := r.configurations[id]
		switch {
		case !ok:
			return errConfigurationNotFound(id)
		case cond.stale(c.etag):
			return hub.ErrPreconditionFailed.WithMessage("Precondition failed: the configuration's etag is %s, not %s.", c.etag, cond.etag)
		}
		delete(r.configurations, id)
		return nil
	})
}

// getConfiguration answers a configuration with its metrics computed now.
func (r *registry) getConfiguration(id string) (configJSON, error) {
	var out configJSON
	err := r.locked(func() error {
		c, ok := r.configurations[id]
		if !ok {
			return errConfigurationNotFound(id)
		}
		out = r.configWithMetrics(c)
		return nil
	})
	return out, err
}

// listConfigurations answers up to top configurations (all when top <= 0)
// by id.
func (r *registry) listConfigurations(top int) []configJSON {
	out := []configJSON{}
	_ = r.locked(func() error {
		for _, id := range slices.Sorted(maps.Keys(r.configurations)) {
			if top > 0 && len(out) == top {
				break
			}
			out = append(out, r.configWithMetrics(r.configurations[id]))
		}
		return nil
	})
	return out
}

// configWithMetrics renders c with its system metrics (twins targeted,
// twins it is applied to) and custom metrics (the rows each query
// answers). Caller holds r.mu.
func (r *registry) configWithMetrics(c *configEntry) configJSON {
	j := configJSONOf(c)
	from := iotquery.Devices
	if c.modules {
		from = iotquery.Modules
	}
	var targeted, applied int64
	for _, cand := range r.candidates(from) {
		if c.targets(cand.view) {
			targeted++
		}
		if cand.view.st.twin.configs[c.id] == hub.ConfigurationApplied {
			applied++
		}
	}
	j.SystemMetrics.Results = map[string]int64{"targetedCount": targeted, "appliedCount": applied}
	for name, src := range c.metrics {
		if q, err := parseMetricQuery(src); err == nil {
			j.Metrics.Results[name] = r.countRows(q)
		}
	}
	return j
}

// countRows is the number of rows a query answers. Caller holds r.mu.
func (r *registry) countRows(q *iotquery.Query) int64 {
	var n int64
	if q.Aggregated() {
		g := q.NewGroups()
		for _, c := range r.candidates(q.From) {
			if q.Match(c.view) {
				g.Add(c.view)
			}
		}
		n = int64(len(g.Rows()))
	} else {
		for _, c := range r.candidates(q.From) {
			if q.Match(c.view) {
				n++
			}
		}
	}
	if q.Top >= 0 {
		n = min(n, int64(q.Top))
	}
	return n
}
