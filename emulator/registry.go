package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// registry is the hub's identity registry and the twins of its identities,
// in memory behind one mutex. A single lock keeps every operation atomic (a
// rejected request changes nothing) and lets events fire in version order.
// The REST layer (rest*.go) and the MQTT hooks are its only callers.
//
// The state is plain Go values (deviceEntry, moduleEntry, identityState,
// credentials, twinState): what a persistence layer would snapshot. Nothing
// in it is JSON. An operation changes the state under the lock, takes a copy
// of what it answers with (the snapshot methods below) and renders that
// copy to wire JSON after releasing the lock (registry_json.go,
// twins_json.go).
type registry struct {
	mu      sync.Mutex
	devices map[string]*deviceEntry
	// ids are the keys of devices in order, kept as devices come and go, so
	// listing devices or answering a query never sorts them under the lock
	// (at 20,000 devices a sort per GET /devices held the lock for 7 ms).
	ids []string
	// counts are the registry and service statistics, kept as devices come,
	// go, change status and connect, so reading them costs nothing under
	// the lock however large the registry is.
	counts registryCounts
	// etagSeq is the source of identity etags. It is registry-wide and starts
	// at a random 9-digit value, so a deleted and re-created identity, or an
	// identity of another emulator run, never gets an etag a client still
	// holds (which would turn a stale If-Match into a silent success).
	etagSeq uint64
	// epochSeq is the source of identities' session epochs (identityState).
	epochSeq uint64
	now      func() time.Time
	events   registryEvents
	// store is where writes are committed (store.go); nil keeps the state
	// in memory only.
	store deviceStore
	// configurations are the automatic configurations by id, kept in
	// memory only (configurations_apply.go); configSeq numbers them in
	// creation order.
	configurations map[string]*configEntry
	configSeq      uint64
	// pending are the events of the write in progress: they fire once the
	// write is committed, so a client never hears of a change the hub then
	// fails to keep.
	pending []func()
	// changes counts committed writes and connection state changes for
	// those who wait on them (registry_changes.go).
	changes *changeFeed
	// clocks are the devices' clocks (device_clocks.go), made only for
	// devices in the registry and forgotten when their device is deleted.
	clocks *deviceClocks
}

// deviceStore is where the registry commits a device's state (store.go).
// The registry restores a device from it when a commit fails.
type deviceStore interface {
	saveDevice(id string, d *deviceEntry, etagSeq uint64) error
	loadDevice(id string) (*deviceEntry, error)
}

// registryEvents are the registry's side effects on live MQTT connections.
// Both are called with the registry lock held, so they must not block.
type registryEvents struct {
	// DesiredChanged is called with the registry lock HELD, in version order,
	// every time a twin's desired section changes: patch is the JSON object
	// to push to a connected client: the members as the service sent them
	// (null for deleted keys; for a PUT-replace, the diff with null for
	// removed keys) plus "$version": version. online says whether the
	// identity was connected when the change was made: a change made while
	// it is offline is not queued for its session (docs/fidelity.md,
	// "Desired changes while disconnected"), and deciding it here, under
	// the lock setConnected also takes, keeps a connection opened right
	// after the change from receiving it. It must not block.
	DesiredChanged func(deviceID, moduleID string, patch []byte, version int64, online bool)
	// IdentityGone is called (lock held, must not block) when an identity's
	// connections must close: device or module deleted, device disabled.
	// moduleID "" = the device itself. Deleting/disabling a device calls it
	// for the device and for each of its modules.
	IdentityGone func(deviceID, moduleID string)
	// Notify is called (lock held, must not block), once the write is
	// committed, with each twin-change and lifecycle event the write made
	// (eventhub_notifications.go); nil when those events are off, and then
	// none is made.
	Notify func(n notification)
}

// identityState is what devices and modules have in common.
type identityState struct {
	generationID string
	// epoch is renewed, from a registry-wide sequence, whenever the
	// identity's connections must end (it is deleted, or disabled), so a
	// connection authenticated before that can tell once it is established
	// (connections.OnSessionEstablished), and a clean-up can tell the
	// connections made after it (connections.forget). It is live state,
	// never stored.
	epoch            uint64
	etag             string // base64 of an ASCII decimal counter, as real hubs answer
	connected        bool
	connStateUpdated string
	lastActivity     string
	c2dCount         int
	modelID          string // the model it last announced at CONNECT (pnp_model.go)
	creds            credentials
	twin             *twinState
}

// credentials is an identity's authentication mechanism.
type credentials struct {
	authType                 string // hub.AuthSAS, hub.AuthSelfSigned, ...
	primaryKey, secondaryKey string // base64, only for hub.AuthSAS
	primaryThumbprint        *string
	secondaryThumbprint      *string
}

type deviceEntry struct {
	identityState
	id            string
	status        string // hub.StatusEnabled or hub.StatusDisabled
	statusReason  *string
	statusUpdated string
	iotEdge       bool
	modules       map[string]*moduleEntry
}

// moduleEntry is a module identity. Modules have no status of their own
// (DOC-IDREG: they cannot be disabled); they follow their device's.
type moduleEntry struct {
	identityState
	id        string
	managedBy *string
}

// maxModulesPerDevice is DOC-MTWIN's limit (the portal tutorial's 20 is older).
const maxModulesPerDevice = 50

func newRegistry(now func() time.Time) *registry {
	if now == nil {
		now = time.Now
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return &registry{
		devices:        map[string]*deviceEntry{},
		configurations: map[string]*configEntry{},
		etagSeq:        100_000_000 + binary.BigEndian.Uint64(b[:])%800_000_000,
		now:            now,
		changes:        newChangeFeed(),
		clocks:         newDeviceClocks(now),
	}
}

// restore takes the state a data dir kept and commits every later write to
// st. A zero etagSeq (a new file) keeps the random start.
func (r *registry) restore(devices map[string]*deviceEntry, etagSeq uint64, st deviceStore) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.devices = devices
	r.ids = slices.Sorted(maps.Keys(devices))
	r.counts = registryCounts{}
	for _, d := range devices {
		r.counts.add(d, 1)
	}
	if etagSeq != 0 {
		r.etagSeq = etagSeq
	}
	r.store = st
}

func (r *registry) setEvents(e registryEvents) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = e
}

// fireDesired and fireGone queue an event of the write in progress (see
// write). Caller holds r.mu.
func (r *registry) fireDesired(deviceID, moduleID string, patch []byte, version int64) {
	if f := r.events.DesiredChanged; f != nil {
		_, st, err := r.findIdentity(deviceID, moduleID)
		online := err == nil && st.connected
		r.pending = append(r.pending, func() { f(deviceID, moduleID, patch, version, online) })
	}
}

// fireGone also renews the identity's session epoch once the write is
// committed, still under the registry lock and before the clean-up is
// queued, so a connection authenticated before the change finds its epoch
// stale however late it is established; a write that fails renews nothing.
func (r *registry) fireGone(deviceID, moduleID string, st *identityState) {
	f := r.events.IdentityGone
	r.pending = append(r.pending, func() {
		st.epoch = r.nextEpoch()
		if f != nil {
			f(deviceID, moduleID)
		}
	})
}

// timestamp is the registry clock in the hub's 7-fractional-digit UTC form.
func (r *registry) timestamp() string {
	return r.now().UTC().Format(hub.MetadataTimeFormat)
}

func (r *registry) nextETag() string {
	r.etagSeq++
	return base64.StdEncoding.EncodeToString([]byte(strconv.FormatUint(r.etagSeq, 10)))
}

func (r *registry) nextEpoch() uint64 {
	r.epochSeq++
	return r.epochSeq
}

// sessionEpoch is the identity's session epoch, and whether it exists.
func (r *registry) sessionEpoch(id identity) (epoch uint64, exists bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, st, err := r.findIdentity(id.deviceID, id.moduleID)
	if err != nil {
		return 0, false
	}
	return st.epoch, true
}

func (r *registry) newIdentityState(creds credentials) identityState {
	return identityState{
		generationID:     newGenerationID(),
		epoch:            r.nextEpoch(),
		etag:             r.nextETag(),
		connStateUpdated: hub.NeverTime,
		lastActivity:     hub.NeverTime,
		creds:            creds,
		twin:             newTwin(r.timestamp()),
	}
}

// addDevice puts a device in the registry (replacing one of the same id)
// and removeDevice takes it out, keeping ids in order. Caller holds r.mu.
func (r *registry) addDevice(d *deviceEntry) {
	if old, ok := r.devices[d.id]; ok {
		r.counts.add(old, -1)
	}
	r.counts.add(d, 1)
	r.devices[d.id] = d
	if i, found := slices.BinarySearch(r.ids, d.id); !found {
		r.ids = slices.Insert(r.ids, i, d.id)
	}
}

func (r *registry) removeDevice(id string) {
	if old, ok := r.devices[id]; ok {
		r.counts.add(old, -1)
	}
	delete(r.devices, id)
	if i, found := slices.BinarySearch(r.ids, id); found {
		r.ids = slices.Delete(r.ids, i, i+1)
	}
}

// locked runs fn, which only reads, under the registry lock.
func (r *registry) locked(fn func() error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fn()
}

// write runs one change to one device's state (the device, its modules
// and their twins) under the registry lock. fn either changes the state or
// returns an error having changed nothing. The change is then committed to
// the store before anything is answered, and only then do its events fire,
// in order, still under the lock (so pushes keep version order). A change
// the store refuses is undone and answered 500 ServerError: nothing
// acknowledged is ever lost, and nothing lost is ever acknowledged.
func (r *registry) write(deviceID string, fn func() error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = r.pending[:0]
	err := fn()
	if err == nil {
		r.reconcileDevice(deviceID)
		err = r.commit(deviceID)
	}
	if err == nil {
		for _, ev := range r.pending {
			ev()
		}
		r.changes.bump()
	}
	r.pending = r.pending[:0]
	return err
}

// commit stores the device's state as it now is (nil: deleted). When the
// store fails, the device is put back as the store last kept it, with its
// live connection state. Caller holds r.mu.
func (r *registry) commit(deviceID string) error {
	if r.store == nil {
		return nil
	}
	now := r.devices[deviceID]
	err := r.store.saveDevice(deviceID, now, r.etagSeq)
	if err == nil {
		return nil
	}
	before, lerr := r.store.loadDevice(deviceID)
	if lerr != nil {
		return hub.ErrServerError.WithMessage("The change could not be stored (%v), nor the state before it read back (%v).", err, lerr)
	}
	if before == nil {
		r.removeDevice(deviceID)
	} else {
		keepConnectionState(now, before)
		r.addDevice(before)
	}
	return hub.ErrServerError.WithMessage("The change could not be stored: %v", err)
}

// keepConnectionState copies the live connection state and session epochs
// of a device and its modules onto their restored state, which the store
// keeps without them.
func keepConnectionState(from, to *deviceEntry) {
	if from == nil {
		return
	}
	to.connected, to.connStateUpdated, to.lastActivity, to.epoch = from.connected, from.connStateUpdated, from.lastActivity, from.epoch
	for id, m := range to.modules {
		if fm, ok := from.modules[id]; ok {
			m.connected, m.connStateUpdated, m.lastActivity, m.epoch = fm.connected, fm.connStateUpdated, fm.lastActivity, fm.epoch
		}
	}
}

// snapshot copies the device's own state, sharing nothing with the
// registry; its modules and twin are left out.
func (d *deviceEntry) snapshot() deviceEntry {
	c := *d
	c.identityState = d.identityState.snapshot(false)
	c.statusReason = copyString(d.statusReason)
	c.modules = nil
	return c
}

// snapshot copies the module's state, sharing nothing with the registry;
// its twin is left out.
func (m *moduleEntry) snapshot() moduleEntry {
	c := *m
	c.identityState = m.identityState.snapshot(false)
	c.managedBy = copyString(m.managedBy)
	return c
}

// snapshot copies an identity's state, with a deep copy of its twin when
// withTwin is set and no twin otherwise.
func (st *identityState) snapshot(withTwin bool) identityState {
	c := *st
	c.creds = st.creds.clone()
	c.twin = nil
	if withTwin {
		c.twin = st.twin.clone()
	}
	return c
}

func (c credentials) clone() credentials {
	c.primaryThumbprint = copyString(c.primaryThumbprint)
	c.secondaryThumbprint = copyString(c.secondaryThumbprint)
	return c
}

// findDevice returns a device or 404 DeviceNotFound. Caller holds r.mu.
func (r *registry) findDevice(deviceID string) (*deviceEntry, error) {
	d, ok := r.devices[deviceID]
	if !ok {
		return nil, errDeviceNotFound(deviceID)
	}
	return d, nil
}

// findIdentity returns the device and the state of the device itself
// (moduleID "") or of one of its modules. Caller holds r.mu.
// identityExists reports whether the device, or the module, is in the
// registry, enabled or not.
func (r *registry) identityExists(id identity) bool {
	return r.locked(func() error {
		_, _, err := r.findIdentity(id.deviceID, id.moduleID)
		return err
	}) == nil
}

func (r *registry) findIdentity(deviceID, moduleID string) (*deviceEntry, *identityState, error) {
	d, err := r.findDevice(deviceID)
	if err != nil {
		return nil, nil, err
	}
	if moduleID == "" {
		return d, &d.identityState, nil
	}
	m, ok := d.modules[moduleID]
	if !ok {
		return nil, nil, errModuleNotFound(deviceID, moduleID)
	}
	return d, &m.identityState, nil
}

// errDeviceNotFound's message is the bare id, as a 2021 real-hub answer
// shows ("ErrorCode:DeviceNotFound;<id>", Azure/azure-iot-sdk-java#1108).
func errDeviceNotFound(deviceID string) error {
	return hub.ErrDeviceNotFound.WithMessage("%s", deviceID)
}

func errModuleNotFound(deviceID, moduleID string) error {
	return hub.ErrModuleNotFound.WithMessage("Module %s not found on device %s.", moduleID, deviceID)
}

// identityKeys returns the primary and secondary keys (base64) of a device
// (moduleID "") or module; enabled=false for a disabled device (and for
// modules of a disabled device); *hub.Error 404 when absent. Identities that
// do not use SAS have empty keys, so no identity-key token verifies for them.
func (r *registry) identityKeys(deviceID, moduleID string) (primary, secondary string, enabled bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, st, err := r.findIdentity(deviceID, moduleID)
	if err != nil {
		return "", "", false, err
	}
	return st.creds.primaryKey, st.creds.secondaryKey, d.status == hub.StatusEnabled, nil
}

// setConnected records connectionState Connected/Disconnected (with
// connectionStateUpdatedTime and lastActivityTime) on the identity, which its
// twin shows too. It changes no etag or version: connection state is not an
// identity update. Unknown identities are ignored (the identity may have been
// deleted while the connection was closing).
func (r *registry) setConnected(deviceID, moduleID string, connected bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, st, err := r.findIdentity(deviceID, moduleID)
	if err != nil {
		return
	}
	ts := r.timestamp()
	switch {
	case moduleID != "" || st.connected == connected:
	case connected:
		r.counts.connected++
	default:
		r.counts.connected--
	}
	st.connected = connected
	st.connStateUpdated = ts
	st.lastActivity = ts
	r.changes.bump()
}

// newKey is a generated identity or policy key: 32 random bytes, which is
// what real hubs generate (44-character base64; the fidelity table's
// "Create with empty or absent keys" row).
func newKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// newGenerationID is an 18-digit decimal string, the shape of observed
// generation ids (e.g. 636952022448893208).
func newGenerationID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatUint(100_000_000_000_000_000+binary.BigEndian.Uint64(b[:])%900_000_000_000_000_000, 10)
}

func copyString(p *string) *string {
	if p == nil {
		return nil
	}
	s := *p
	return &s
}
