package adversarial

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Permissions of the built-in shared access policies (docs/fidelity.md,
// "Built-in policies").
const (
	permRegistryRead = 1 << iota
	permRegistryWrite
	permServiceConnect
	permDeviceConnect
)

var policyPerms = map[string]int{
	"iothubowner":       permRegistryRead | permRegistryWrite | permServiceConnect | permDeviceConnect,
	"service":           permServiceConnect,
	"device":            permDeviceConnect,
	"registryRead":      permRegistryRead,
	"registryReadWrite": permRegistryRead | permRegistryWrite,
}

var policyNames = []string{"iothubowner", "service", "device", "registryRead", "registryReadWrite"}

// restOp is one REST operation with the permissions that allow it
// (docs/fidelity.md "REST permissions"; emulator/rest_handlers.go): registry
// reads need RegistryRead or RegistryWrite, registry writes RegistryWrite,
// /twins ServiceConnect, statistics RegistryRead.
type restOp struct {
	name    string
	method  string
	path    func(n int64) string
	body    string // a format with the case number (%d) when it needs one
	allowed int    // any of these permissions allows the operation
	ok      int    // status of a success
	// unchanged, when set, checks with iothubowner that a refused write
	// changed nothing.
	unchanged func(t *testing.T, tg target, n int64)
}

var caseCounter atomic.Int64

func fixed(p string) func(int64) string { return func(int64) string { return p } }

var restOps = []restOp{
	{name: "create device", method: http.MethodPut, path: func(n int64) string { return "/devices/new-" + strconv.FormatInt(n, 10) },
		body: `{}`, allowed: permRegistryWrite, ok: http.StatusOK,
		unchanged: func(t *testing.T, tg target, n int64) {
			expectStatus(t, tg, http.MethodGet, "/devices/new-"+strconv.FormatInt(n, 10), http.StatusNotFound, "DeviceNotFound")
		}},
	{name: "get device", method: http.MethodGet, path: fixed("/devices/d1"), allowed: permRegistryRead | permRegistryWrite, ok: http.StatusOK},
	{name: "list devices", method: http.MethodGet, path: fixed("/devices"), allowed: permRegistryRead | permRegistryWrite, ok: http.StatusOK},
	{name: "delete device", method: http.MethodDelete, path: fixed("/devices/keep"), allowed: permRegistryWrite, ok: http.StatusNoContent,
		unchanged: func(t *testing.T, tg target, _ int64) {
			expectStatus(t, tg, http.MethodGet, "/devices/keep", http.StatusOK, "")
		}},
	{name: "get twin", method: http.MethodGet, path: fixed("/twins/d1"), allowed: permServiceConnect, ok: http.StatusOK},
	{name: "patch twin", method: http.MethodPatch, path: fixed("/twins/d1"), body: `{"properties":{"desired":{"attack%d":1}}}`,
		allowed: permServiceConnect, ok: http.StatusOK,
		unchanged: func(t *testing.T, tg target, n int64) {
			_, _, body := expectStatus(t, tg, http.MethodGet, "/twins/d1", http.StatusOK, "")
			if strings.Contains(string(body), fmt.Sprintf(`"attack%d"`, n)) {
				t.Errorf("a refused twin patch was applied: %s", body)
			}
		}},
	{name: "get module twin", method: http.MethodGet, path: fixed("/twins/d1/modules/m1"), allowed: permServiceConnect, ok: http.StatusOK},
	{name: "statistics", method: http.MethodGet, path: fixed("/statistics/devices"), allowed: permRegistryRead | permRegistryWrite, ok: http.StatusOK},
	{name: "service statistics", method: http.MethodGet, path: fixed("/statistics/service"), allowed: permServiceConnect, ok: http.StatusOK},
	{name: "bulk registry", method: http.MethodPost, path: fixed("/devices"), body: `[{"id":"bulk%d","importMode":"create"}]`,
		allowed: permRegistryWrite, ok: http.StatusOK,
		unchanged: func(t *testing.T, tg target, n int64) {
			expectStatus(t, tg, http.MethodGet, "/devices/bulk"+strconv.FormatInt(n, 10), http.StatusNotFound, "DeviceNotFound")
		}},
}

// expectStatus sends an iothubowner request and checks its status and
// error code.
func expectStatus(t *testing.T, tg target, method, path string, status int, code string) (int, string, []byte) {
	t.Helper()
	got, gotCode, body, err := doREST(ctxFor(t, opDeadline), tg, method, path, policyToken(tg, "iothubowner"), nil, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if got != status || gotCode != code {
		t.Errorf("%s %s as iothubowner: %d %q, want %d %q (%s)", method, path, got, gotCode, status, code, body)
	}
	return got, gotCode, body
}

// restCase is one row of the REST credentials matrix.
type restCase struct {
	name   string
	op     restOp
	auth   func(tg target) string
	status int // 401 unless a positive control
}

// restMatrix is the REST part of the credentials matrix: every built-in
// policy against every operation it lacks the permission for, then forged,
// mis-scoped, expired and malformed tokens.
func restMatrix() []restCase {
	var cases []restCase
	for _, op := range restOps {
		for _, p := range policyNames {
			if policyPerms[p]&op.allowed != 0 {
				continue
			}
			cases = append(cases, restCase{name: op.name + " as " + p, op: op, auth: func(tg target) string { return policyToken(tg, p) }, status: 401})
		}
	}
	getDevice, getTwin := restOps[1], restOps[4]
	owner := func(tg target) string { return policyKey(tg, "iothubowner") }
	hour := func() string { return expiresIn(time.Hour) }
	forged := []struct {
		name string
		op   restOp
		auth func(tg target) string
	}{
		{"signature of a random key", getDevice, func(tg target) string { return sign(tg.Host(), hour(), randomKey(), "iothubowner") }},
		{"service key named iothubowner", getDevice, func(tg target) string { return sign(tg.Host(), hour(), policyKey(tg, "service"), "iothubowner") }},
		{"iothubowner key named registryRead", getTwin, func(tg target) string { return sign(tg.Host(), hour(), owner(tg), "registryRead") }},
		{"unknown policy name", getDevice, func(tg target) string { return sign(tg.Host(), hour(), owner(tg), "admin") }},
		{"policy name in the wrong case", getDevice, func(tg target) string { return sign(tg.Host(), hour(), owner(tg), "IotHubOwner") }},
		{"no skn: identity-style token signed with a policy key", getDevice, func(tg target) string { return sign(tg.Host(), hour(), owner(tg), "") }},
		{"device's own key on REST", getDevice, func(tg target) string {
			return sign(tg.Host()+"/devices/d1", hour(), deviceKeys.get(tg), "")
		}},
		{"expired an hour ago", getDevice, func(tg target) string { return sign(tg.Host(), expiresIn(-time.Hour), owner(tg), "iothubowner") }},
		{"se 0", getDevice, func(tg target) string { return sign(tg.Host(), "0", owner(tg), "iothubowner") }},
		{"se negative", getDevice, func(tg target) string { return sign(tg.Host(), "-5", owner(tg), "iothubowner") }},
		{"se not a number", getDevice, func(tg target) string { return sign(tg.Host(), "soon", owner(tg), "iothubowner") }},
		{"se beyond int64", getDevice, func(tg target) string { return sign(tg.Host(), "99999999999999999999", owner(tg), "iothubowner") }},
		{"se changed after signing", getDevice, func(tg target) string {
			tok := sign(tg.Host(), "4000000000", owner(tg), "iothubowner")
			return strings.Replace(tok, "se=4000000000", "se=4000000001", 1)
		}},
		{"sr of another hub", getDevice, func(tg target) string { return sign("otherhub.azure-devices.net", hour(), owner(tg), "iothubowner") }},
		{"sr of another device", getDevice, func(tg target) string { return sign(tg.Host()+"/devices/d2", hour(), owner(tg), "iothubowner") }},
		{"sr that is a string prefix, not a segment prefix", getDevice, func(tg target) string { return sign(tg.Host()+"/devices/d", hour(), owner(tg), "iothubowner") }},
		{"sr /devices used for /twins", getTwin, func(tg target) string { return sign(tg.Host()+"/devices", hour(), owner(tg), "iothubowner") }},
		{"no Authorization", getDevice, func(target) string { return "" }},
		{"bare SharedAccessSignature", getDevice, func(target) string { return "SharedAccessSignature" }},
		{"lower-case prefix", getDevice, func(tg target) string {
			return "sharedaccesssignature " + strings.TrimPrefix(policyToken(tg, "iothubowner"), "SharedAccessSignature ")
		}},
		{"Bearer scheme", getDevice, func(tg target) string {
			return "Bearer " + strings.TrimPrefix(policyToken(tg, "iothubowner"), "SharedAccessSignature ")
		}},
		{"sig field twice", getDevice, func(tg target) string {
			tok := policyToken(tg, "iothubowner")
			sig := tok[strings.Index(tok, "&sig="):strings.Index(tok, "&se=")]
			return tok + sig
		}},
		{"no sig", getDevice, func(tg target) string {
			return "SharedAccessSignature sr=" + tg.Host() + "&se=" + hour() + "&skn=iothubowner"
		}},
		{"field without =", getDevice, func(tg target) string { return policyToken(tg, "iothubowner") + "&junk" }},
		{"raw key as the token", getDevice, func(tg target) string { return owner(tg) }},
		{"raw key after the prefix", getDevice, func(tg target) string { return "SharedAccessSignature " + owner(tg) }},
	}
	for _, f := range forged {
		cases = append(cases, restCase{name: f.name, op: f.op, auth: f.auth, status: 401})
	}
	return cases
}

// deviceKeys holds d1's key per target, for the case that signs with it.
var deviceKeys = keyTable{m: map[target]string{}}

// setupREST creates the identities the REST matrix touches.
func setupREST(t *testing.T, tg target) {
	d1 := newDevice(t, tg, "d1")
	deviceKeys.set(tg, d1.key)
	newModule(t, tg, "d1", "m1")
	newDevice(t, tg, "d2")
	newDevice(t, tg, "keep")
}

func TestRESTCredentialsMatrix(t *testing.T) {
	cases := restMatrix()
	if len(cases) < 30 {
		t.Fatalf("REST matrix has %d cases", len(cases))
	}
	forEachTarget(t, func(t *testing.T, tg target) {
		setupREST(t, tg)
		// Positive controls first: each operation works with a policy that
		// has its permission, so a 401 below is the credential's doing.
		for _, op := range restOps {
			t.Run("control/"+op.name, func(t *testing.T) {
				policy := ""
				for _, p := range []string{"registryRead", "service", "registryReadWrite"} {
					if policyPerms[p]&op.allowed != 0 {
						policy = p
						break
					}
				}
				n := caseCounter.Add(1)
				path := op.path(n)
				if op.method == http.MethodDelete {
					newDevice(t, tg, "del-"+strconv.FormatInt(n, 10))
					path = "/devices/del-" + strconv.FormatInt(n, 10)
				}
				status, code, body := restCall(t, tg, op, n, path, policyToken(tg, policy))
				if status != op.ok {
					t.Errorf("%s %s as %s: %d %q, want %d (%s)", op.method, path, policy, status, code, op.ok, body)
				}
			})
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				n := caseCounter.Add(1)
				path := c.op.path(n)
				status, code, body := restCall(t, tg, c.op, n, path, c.auth(tg))
				if status != c.status || code != "IotHubUnauthorizedAccess" {
					t.Fatalf("%s %s: %d %q, want %d IotHubUnauthorizedAccess (%s)", c.op.method, path, status, code, c.status, body)
				}
				var legacy struct{ Message string }
				if err := json.Unmarshal(body, &legacy); err != nil || legacy.Message != "ErrorCode:IotHubUnauthorizedAccess;Unauthorized" {
					t.Errorf("401 body %s, want the legacy IotHubUnauthorizedAccess shape", body)
				}
				if c.op.unchanged != nil {
					c.op.unchanged(t, tg, n)
				}
			})
		}
	})
}

func restCall(t *testing.T, tg target, op restOp, n int64, path, auth string) (int, string, []byte) {
	t.Helper()
	var body []byte
	if op.body != "" {
		body = []byte(strings.ReplaceAll(op.body, "%d", strconv.FormatInt(n, 10)))
	}
	status, code, answer, err := doREST(ctxFor(t, opDeadline), tg, op.method, path, auth, body, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", op.method, path, err)
	}
	return status, code, answer
}

// mqttCase is one row of the MQTT credentials matrix.
type mqttCase struct {
	name    string
	connect func(tg target, ids mqttIdents) connectPacket
	want    []int // acceptable outcomes: CONNACK codes or closedBeforeConnack
}

type mqttIdents struct {
	d1, d2, m1, m2, disabled ident
}

func userName(host, clientID string) string {
	return host + "/" + clientID + "/?api-version=2021-04-12"
}

func mqttMatrix() []mqttCase {
	refused := []int{5}
	return []mqttCase{
		{"control: module with its own token", func(tg target, ids mqttIdents) connectPacket { return identityConnect(tg.Host(), ids.m1) }, []int{0}},
		{"control: device through the device policy", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.d1)
			p.password = sign(tg.Host(), expiresIn(time.Hour), policyKey(tg, "device"), "device")
			return p
		}, []int{0}},
		{"wrong key", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.m1)
			p.password = sign(ids.m1.resource(tg.Host()), expiresIn(time.Hour), randomKey(), "")
			return p
		}, refused},
		{"device token used for a module", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.m1)
			p.password = sign(ids.d1.resource(tg.Host()), expiresIn(time.Hour), ids.d1.key, "")
			return p
		}, refused},
		{"module token for another module", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.m1)
			p.password = ids.m2.token(tg.Host())
			return p
		}, refused},
		{"module key signing the other module's scope", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.m1)
			p.password = sign(ids.m1.resource(tg.Host()), expiresIn(time.Hour), ids.m2.key, "")
			return p
		}, refused},
		{"expired token", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.m1)
			p.password = sign(ids.m1.resource(tg.Host()), expiresIn(-time.Hour), ids.m1.key, "")
			return p
		}, refused},
		{"user name naming another device", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.d1)
			p.clientID, p.user = ids.d2.clientID(), userName(tg.Host(), ids.d2.clientID())
			return p
		}, refused},
		{"client id of another device than the user name", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.d1)
			p.clientID = ids.d2.clientID()
			return p
		}, refused},
		{"empty password with the password flag", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.m1)
			p.password = ""
			return p
		}, refused},
		{"no password", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.m1)
			p.password, p.hasPass = "", false
			return p
		}, refused},
		{"no user name", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.m1)
			p.user, p.hasUser = "", false
			return p
		}, refused},
		{"bad protocol name", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.m1)
			p.protoName = "MQTX"
			return p
		}, []int{1, closedBeforeConnack}},
		{"MQTT 3.1", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.m1)
			p.protoName, p.level = "MQIsdp", 3
			return p
		}, []int{1}},
		{"service policy token (no DeviceConnect)", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.d1)
			p.password = policyToken(tg, "service")
			return p
		}, refused},
		{"registryReadWrite policy token (no DeviceConnect)", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.d1)
			p.password = policyToken(tg, "registryReadWrite")
			return p
		}, refused},
		{"device policy token scoped to another device", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.d1)
			p.password = sign(ids.d2.resource(tg.Host()), expiresIn(time.Hour), policyKey(tg, "device"), "device")
			return p
		}, refused},
		{"user name of another hub", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.d1)
			p.user = userName("otherhub.azure-devices.net", ids.d1.clientID())
			return p
		}, refused},
		{"token scoped to another hub", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.d1)
			p.password = sign("otherhub.azure-devices.net/devices/d1", expiresIn(time.Hour), ids.d1.key, "")
			return p
		}, refused},
		{"no api-version", func(tg target, ids mqttIdents) connectPacket {
			p := identityConnect(tg.Host(), ids.d1)
			p.user = tg.Host() + "/" + ids.d1.clientID() + "/"
			return p
		}, refused},
		{"unknown device", func(tg target, ids mqttIdents) connectPacket {
			ghost := ident{device: "ghost", key: randomKey()}
			return identityConnect(tg.Host(), ghost)
		}, refused},
		{"disabled device", func(tg target, ids mqttIdents) connectPacket { return identityConnect(tg.Host(), ids.disabled) }, []int{3}},
	}
}

func setupMQTT(t *testing.T, tg target) mqttIdents {
	ids := mqttIdents{
		d1: newDevice(t, tg, "d1"), d2: newDevice(t, tg, "d2"),
		m1: newModule(t, tg, "d1", "m1"), m2: newModule(t, tg, "d1", "m2"),
	}
	status, code, body, err := doREST(ctxFor(t, opDeadline), tg, http.MethodPut, "/devices/off", policyToken(tg, "iothubowner"),
		[]byte(`{"deviceId":"off","status":"disabled"}`), nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("create disabled device: %d %q %v %s", status, code, err, body)
	}
	var dev struct {
		Authentication struct{ SymmetricKey struct{ PrimaryKey string } }
	}
	if err := json.Unmarshal(body, &dev); err != nil {
		t.Fatal(err)
	}
	ids.disabled = ident{device: "off", key: dev.Authentication.SymmetricKey.PrimaryKey}
	return ids
}

func TestMQTTCredentialsMatrix(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		ids := setupMQTT(t, tg)
		for _, c := range mqttMatrix() {
			t.Run(c.name, func(t *testing.T) {
				got := dialRaw(t, tg).connect(c.connect(tg, ids))
				if !slices.Contains(c.want, got) {
					t.Errorf("outcome %s, want %s", outcome(got), outcomes(c.want))
				}
			})
		}
	})
}

func outcome(code int) string {
	if code == closedBeforeConnack {
		return "closed before CONNACK"
	}
	return "CONNACK " + strconv.Itoa(code)
}

func outcomes(codes []int) string {
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = outcome(c)
	}
	return strings.Join(s, " or ")
}

// TestFarFutureExpiry: a token whose se is near 2^63-1 must get the same
// answer over REST and MQTT: refused by both (401, CONNACK 5) or accepted by
// both, and an accepted MQTT connection stays open instead of being closed
// at once by an expiry computed with an overflow.
func TestFarFutureExpiry(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		d := newDevice(t, tg, "far")
		for _, se := range []int64{math.MaxInt64, math.MaxInt64 - 300, math.MaxInt64 / 1000, 99999999999} {
			t.Run(strconv.FormatInt(se, 10), func(t *testing.T) {
				tok := sign(tg.Host(), strconv.FormatInt(se, 10), policyKey(tg, "iothubowner"), "iothubowner")
				status, code, body, err := doREST(ctxFor(t, opDeadline), tg, http.MethodGet, "/devices/far", tok, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				c := dialRaw(t, tg)
				p := identityConnect(tg.Host(), d)
				p.password = tok
				got := c.connect(p)
				mqtt := outcome(got)
				if got == 0 {
					// Accepted: it must stay open (a short bounded wait) and answer a ping.
					if closed, _ := c.closedWithin(time.Second); closed {
						mqtt = "CONNACK 0 then closed"
					} else if err := c.write([]byte{pktPingreq << 4, 0}); err != nil {
						mqtt = "CONNACK 0 then closed"
					} else if typ, _, _, err := c.readPacket(opDeadline); err != nil || typ != pktPingresp {
						mqtt = "CONNACK 0 then no PINGRESP"
					}
				}
				rest := fmt.Sprintf("REST %d %s", status, code)
				switch {
				case status == http.StatusOK && mqtt == "CONNACK 0":
				case status == http.StatusUnauthorized && code == "IotHubUnauthorizedAccess" && mqtt == "CONNACK 5":
				default:
					t.Errorf("se=%d: %s but MQTT %s; want REST 200 with an MQTT connection that stays open, or REST 401 with CONNACK 5 (%s)", se, rest, mqtt, body)
				}
			})
		}
	})
}

// keyTable is a per-target value.
type keyTable struct {
	mu sync.Mutex
	m  map[target]string
}

func (k *keyTable) set(tg target, v string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[tg] = v
}

func (k *keyTable) get(tg target) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.m[tg]
}
