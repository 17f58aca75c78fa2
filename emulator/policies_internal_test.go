package emulator

import (
	"fmt"
	"testing"
	"time"
)

// TestServiceTokenVerdictsHoldOnEveryUse: a REST token whose signature
// verified once is still refused when it has expired since, when it does
// not cover another resource, or when its policy lacks the permission of
// another operation; a token that did not verify is refused every time.
func TestServiceTokenVerdictsHoldOnEveryUse(t *testing.T) {
	p, err := newPolicies(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1767225600, 0)
	owner, _ := p.primaryKey("iothubowner")
	reader, _ := p.primaryKey("registryRead")
	hub := resourceScope{host: "hub.azure-devices.net"}
	other := resourceScope{host: "other.azure-devices.net"}
	ownerToken := signToken(owner, "hub.azure-devices.net", now.Add(time.Hour).Unix(), "iothubowner", true)
	readerToken := signToken(reader, "hub.azure-devices.net", now.Add(time.Hour).Unix(), "registryRead", true)
	forged := signToken(reader, "hub.azure-devices.net", now.Add(time.Hour).Unix(), "iothubowner", true)
	for i, c := range []struct {
		name   string
		header string
		scope  resourceScope
		need   permission
		at     time.Time
		ok     bool
	}{
		{"owner writes", ownerToken, hub, permRegistryWrite, now, true},
		{"owner writes again", ownerToken, hub, permRegistryWrite, now, true},
		{"owner on another hub", ownerToken, other, permRegistryWrite, now, false},
		{"owner after expiry and skew", ownerToken, hub, permRegistryWrite, now.Add(time.Hour + 6*time.Minute), false},
		{"reader reads", readerToken, hub, permRegistryRead, now, true},
		{"reader writes", readerToken, hub, permRegistryWrite, now, false},
		{"forged", forged, hub, permRegistryRead, now, false},
		{"forged again", forged, hub, permRegistryRead, now, false},
	} {
		err := p.authorizeService(c.header, c.scope, c.need, c.at)
		if (err == nil) != c.ok {
			t.Errorf("%d %s: %v, want ok %v", i, c.name, err, c.ok)
		}
	}
}

// TestVerifiedTokensAreBounded: however many tokens verify, the cache
// holds at most maxVerifiedTokens.
func TestVerifiedTokensAreBounded(t *testing.T) {
	p, err := newPolicies(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := p.primaryKey("iothubowner")
	now := time.Unix(1767225600, 0)
	for i := range maxVerifiedTokens + 10 {
		token := signToken(owner, fmt.Sprintf("hub.azure-devices.net/devices/d%d", i), now.Add(time.Hour).Unix(), "iothubowner", true)
		if err := p.authorizeService(token, resourceScope{host: "hub.azure-devices.net"}, permRegistryRead, now); err == nil {
			t.Fatalf("token for device d%d covers the whole hub", i)
		}
		if n := len(p.verified.tokens); n > maxVerifiedTokens {
			t.Fatalf("%d verified tokens held", n)
		}
	}
}
