package emulator

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
	"time"
)

// permission is a shared access policy right (DOC-SAS).
type permission uint8

const (
	permRegistryRead permission = 1 << iota
	permRegistryWrite
	permServiceConnect
	permDeviceConnect
)

// allows reports whether a policy holding have may do an operation that
// needs need. RegistryWrite implies RegistryRead: the module-twin tutorial
// (DOC-TUT) states that the write permission also covers reading.
func (have permission) allows(need permission) bool {
	if need == permRegistryRead && have&permRegistryWrite != 0 {
		return true
	}
	return have&need == need
}

type policy struct {
	name                     string
	primaryKey, secondaryKey string
	perms                    permission
}

// policies are the hub's shared access policies: the five built-ins a new
// hub has, each with its own random keys. They never change after
// newPolicies, so reading them needs no lock.
type policies struct {
	list []*policy
	// verified are REST Authorization headers whose token parsed and whose
	// signature verified with its policy's keys. Service SDKs send one
	// token for many requests (the C# SDK until 15% of its lifetime is
	// left), and checking one costs two HMACs (both keys are tried, in
	// constant time) and a parse; the keys never change, so a signature
	// that verified once always does. Expiry, scope and permission are
	// still checked on every request.
	verified verifiedTokens
}

// verifiedTokens is a bounded cache of verified tokens: only a token
// signed with a policy key gets in, and at maxVerifiedTokens it starts
// over, so no client can make it grow without bound.
type verifiedTokens struct {
	mu     sync.Mutex
	tokens map[string]sasToken
}

const maxVerifiedTokens = 1024

func (v *verifiedTokens) get(header string) (sasToken, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.tokens[header]
	return t, ok
}

func (v *verifiedTokens) add(header string, t sasToken) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.tokens == nil || len(v.tokens) >= maxVerifiedTokens {
		v.tokens = make(map[string]sasToken)
	}
	v.tokens[header] = t
}

// builtinPolicies are the shared access policies every new hub has, with
// their permissions (IoT Hub "Control access to IoT Hub using shared access
// signatures", iothubowner first).
var builtinPolicies = []struct {
	name  string
	perms permission
}{
	{"iothubowner", permRegistryRead | permRegistryWrite | permServiceConnect | permDeviceConnect},
	{"service", permServiceConnect},
	{"device", permDeviceConnect},
	{"registryRead", permRegistryRead},
	{"registryReadWrite", permRegistryRead | permRegistryWrite},
}

// PolicyNames are the names of the emulator's shared access policies,
// iothubowner first: the keys Options.PolicyKeys may set.
func PolicyNames() []string {
	out := make([]string, len(builtinPolicies))
	for i, b := range builtinPolicies {
		out[i] = b.name
	}
	return out
}

// newPolicies creates the built-in policies. primary maps a policy name to
// its primary key (base64), so scripts can know it in advance; kept are the
// keys a data dir holds from an earlier run. A key neither names is
// generated.
func newPolicies(primary map[string]string, kept map[string]storedKeys) (*policies, error) {
	for name, key := range primary {
		if !slices.Contains(PolicyNames(), name) {
			return nil, fmt.Errorf("policy key for %q: no such policy (have %v)", name, PolicyNames())
		}
		if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) == 0 {
			return nil, fmt.Errorf("policy key for %q: not a non-empty standard base64 string", name)
		}
	}
	p := &policies{}
	for _, b := range builtinPolicies {
		k := kept[b.name]
		pol := &policy{name: b.name, primaryKey: cmp.Or(primary[b.name], k.Primary), secondaryKey: k.Secondary, perms: b.perms}
		if pol.primaryKey == "" {
			pol.primaryKey = newKey()
		}
		if pol.secondaryKey == "" {
			pol.secondaryKey = newKey()
		}
		p.list = append(p.list, pol)
	}
	return p, nil
}

// keys are every policy's keys, as a data dir keeps them.
func (p *policies) keys() map[string]storedKeys {
	out := make(map[string]storedKeys, len(p.list))
	for _, pol := range p.list {
		out[pol.name] = storedKeys{Primary: pol.primaryKey, Secondary: pol.secondaryKey}
	}
	return out
}

// names lists the policy names, iothubowner first.
func (p *policies) names() []string {
	out := make([]string, len(p.list))
	for i, pol := range p.list {
		out[i] = pol.name
	}
	return out
}

// primaryKey returns a policy's primary key.
func (p *policies) primaryKey(name string) (string, bool) {
	pol, ok := p.lookup(name)
	if !ok {
		return "", false
	}
	return pol.primaryKey, true
}

// lookup finds a policy by its exact (case-sensitive) name.
func (p *policies) lookup(name string) (*policy, bool) {
	for _, pol := range p.list {
		if pol.name == name {
			return pol, true
		}
	}
	return nil, false
}

// authorizeService checks the Authorization header of a REST request: a
// policy token (skn of a known policy) whose signature verifies with one of
// the policy's keys, not expired, whose sr covers the resource ({host}, or
// {host}/devices as older docs issue for registry calls), and whose policy
// holds the permission. Every failure is 401 IotHubUnauthorizedAccess; the
// reason is in the error message for the log, never in the response.
func (p *policies) authorizeService(header string, scope resourceScope, need permission, now time.Time) error {
	if header == "" {
		return errUnauthorized("Authorization header missing")
	}
	t, pol, err := p.serviceSignature(header)
	if err != nil {
		return err
	}
	if t.expired(now) {
		return errUnauthorized("token expired at %d", t.expiry)
	}
	if covered, _ := scope.coveredBy(t.resource); !covered {
		return errUnauthorized("token scope %q does not cover the resource", t.resource)
	}
	if !pol.perms.allows(need) {
		return errUnauthorized("Authorization rule '%s' does not allow access for %s", t.keyName, need)
	}
	return nil
}

// serviceSignature parses a REST Authorization header and finds the policy
// whose keys signed it, from the cache when it verified before.
func (p *policies) serviceSignature(header string) (sasToken, *policy, error) {
	if t, ok := p.verified.get(header); ok {
		pol, _ := p.lookup(t.keyName)
		return t, pol, nil
	}
	t, err := parseToken(header)
	if err != nil {
		return sasToken{}, nil, errUnauthorized("%v", err)
	}
	if t.keyName == "" {
		return sasToken{}, nil, errUnauthorized("service requests need a policy token (skn)")
	}
	pol, ok := p.lookup(t.keyName)
	switch {
	case !ok:
		return sasToken{}, nil, errUnauthorized("no shared access policy %q", t.keyName)
	case !t.signedBy(pol.primaryKey, pol.secondaryKey):
		return sasToken{}, nil, errUnauthorized("signature does not verify with policy %q", t.keyName)
	}
	p.verified.add(header, t)
	return t, pol, nil
}

func (need permission) String() string {
	switch need {
	case permRegistryRead:
		return "RegistryRead"
	case permRegistryWrite:
		return "RegistryWrite"
	case permServiceConnect:
		return "ServiceConnect"
	case permDeviceConnect:
		return "DeviceConnect"
	}
	return fmt.Sprintf("permission(%d)", uint8(need))
}
