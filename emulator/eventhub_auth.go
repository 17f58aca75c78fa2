package emulator

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/hubspec/hubspec/internal/amqp"
)

// ehClaims is what one AMQP connection to the built-in endpoint has
// proved: set by SASL PLAIN, or by a CBS put-token on $cbs (Event Hubs
// clients connect with SASL ANONYMOUS, then put a token for each entity).
type ehClaims struct {
	mu      sync.Mutex
	granted bool
	expiry  time.Time
	// service is the claim on the hub's own service nodes (cloud-to-device
	// messages and feedback, c2d_auth.go), proved with an IoT Hub token.
	service serviceClaim
}

func (c *ehClaims) grant(expiry time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.granted = true
	if expiry.After(c.expiry) {
		c.expiry = expiry
	}
}

// valid reports whether the connection holds an unexpired claim.
func (c *ehClaims) valid(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.granted && !now.After(c.expiry.Add(sasClockSkew*time.Second))
}

// authorizeEventHub checks a SAS token for the built-in endpoint: a policy
// token (skn) signed with one of the policy's keys, unexpired, whose sr
// (with or without its amqps:// or sb:// scheme, as the Event Hubs clients
// build it from the endpoint) is {host}, or {host}/{entity} or a node
// under it, and whose policy
// holds ServiceConnect: IoT Hub's "Read from the built-in endpoint" needs
// it (docs/fidelity.md, "Built-in endpoint permission").
func (p *policies) authorizeEventHub(token, host, entity string, now time.Time) (time.Time, error) {
	t, err := p.serviceToken(token, sasToken.signedByKeyText, now)
	if err != nil {
		return time.Time{}, err
	}
	res := withoutScheme(t.resource, "amqps://", "sb://")
	// The clients scope a token to the node they reach:
	// {host}/{entity}/$management, {host}/{entity}/ConsumerGroups/...;
	// what matters is the host and the entity.
	parts := strings.SplitN(strings.TrimSuffix(res, "/"), "/", 3)
	scope := resourceScope{host: host, segs: []scopeSegment{{entity, false}}}
	if covered, _ := scope.coveredBy(strings.Join(parts[:min(len(parts), 2)], "/")); !covered {
		return time.Time{}, errUnauthorized("token scope %q does not cover the event hub", t.resource)
	}
	return time.Unix(t.expiry, 0), nil
}

// serviceToken checks a policy token on AMQP, for the built-in endpoint and
// the hub's service nodes alike: a policy (skn) the hub has, a signature
// verified as signed says (IoT Hub's decoded key, or Event Hubs' key
// text), unexpired, from a policy with ServiceConnect. The caller checks
// the token's scope.
func (p *policies) serviceToken(token string, signed func(sasToken, ...string) bool, now time.Time) (sasToken, error) {
	t, err := parseToken(token)
	if err != nil {
		return sasToken{}, errUnauthorized("%v", err)
	}
	if t.keyName == "" {
		return sasToken{}, errUnauthorized("a service needs a policy token (skn)")
	}
	pol, ok := p.lookup(t.keyName)
	switch {
	case !ok:
		return sasToken{}, errUnauthorized("no shared access policy %q", t.keyName)
	case !signed(t, pol.primaryKey, pol.secondaryKey):
		return sasToken{}, errUnauthorized("signature does not verify with policy %q", t.keyName)
	case t.expired(now):
		return sasToken{}, errUnauthorized("token expired at %d", t.expiry)
	case !pol.perms.allows(permServiceConnect):
		return sasToken{}, errUnauthorized("Authorization rule '%s' does not allow access for %s", t.keyName, permServiceConnect)
	}
	return t, nil
}

// withoutScheme is a token's resource without the first of the schemes it
// starts with (case-insensitively), as clients may or may not write one.
func withoutScheme(res string, schemes ...string) string {
	for _, scheme := range schemes {
		if len(res) >= len(scheme) && strings.EqualFold(res[:len(scheme)], scheme) {
			return res[len(scheme):]
		}
	}
	return res
}

// signedByKeyText is signedBy as Event Hubs (Service Bus) verifies: the
// HMAC key is the key's text as UTF-8, not its base64 decoding as on IoT
// Hub (azeventhubs internal/sas/sas.go signString: hmac.New(sha256.New,
// []byte(s.Key)); docs/fidelity.md, "Built-in endpoint SAS key").
func (t sasToken) signedByKeyText(keys ...string) bool {
	ok := false
	for _, k := range keys {
		if k == "" {
			continue
		}
		mac := hmac.New(sha256.New, []byte(k))
		mac.Write([]byte(t.rawResource + "\n" + t.rawExpiry))
		want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if subtle.ConstantTimeCompare([]byte(want), []byte(t.signature)) == 1 {
			ok = true
		}
	}
	return ok
}

// saslAuthenticate decides the SASL exchange: ANONYMOUS opens a connection
// without claims (put-token adds them); PLAIN carries
// {policy}@sas.root.{hub} and a SAS token as the password.
func (e *eventHubEndpoint) saslAuthenticate(_ context.Context, req *amqp.SASLRequest) (any, error) {
	claims := &ehClaims{}
	switch req.Mechanism {
	case amqp.MechanismAnonymous, amqp.MechanismMSSBCBS:
		return claims, nil
	case amqp.MechanismPlain:
		policy, _, ok := strings.Cut(req.Username, "@sas.root.")
		if !ok {
			return nil, errors.New("PLAIN user name is not {policy}@sas.root.{hub}")
		}
		if t, _ := parseToken(req.Password); t.keyName != policy {
			return nil, errors.New("PLAIN user name names another policy than the token")
		}
		if expiry, err := e.policies.authorizeAMQPService(req.Password, e.host, e.now()); err == nil {
			claims.service.grant(expiry)
			return claims, nil
		}
		expiry, err := e.policies.authorizeEventHub(req.Password, e.host, e.hub.name, e.now())
		if err != nil {
			return nil, err
		}
		claims.grant(expiry)
		return claims, nil
	}
	return nil, errors.New("mechanism not supported")
}

// cbsTokenTypes are the put-token types the endpoint takes; the token
// itself must be a SAS token in each case. azeventhubs says
// servicebus.windows.net:sastoken, IoT Hub's clients azure-devices.net:
// sastoken, and Python's pyamqp (azure-eventhub 5.11) says jwt for the SAS
// token of a shared key: its JWTTokenAuth is built without a token_type
// (_transport/_pyamqp_transport.py create_token_auth), whose default is
// "jwt" (docs/fidelity.md, "Authentication").
var cbsTokenTypes = map[string]bool{"servicebus.windows.net:sastoken": true, "azure-devices.net:sastoken": true, "jwt": true}

// putToken answers a CBS request on $cbs: application properties
// operation=put-token, type one of cbsTokenTypes, name=the audience; the
// body is the token (a string, or binary as pyamqp may send it).
// The answer carries status-code 200, or 401 with a status-description.
func (e *eventHubEndpoint) putToken(_ context.Context, c *amqp.Conn, req *amqp.Message) (*amqp.Message, error) {
	answer := func(code int32, desc string) *amqp.Message {
		return &amqp.Message{ApplicationProperties: map[string]any{"status-code": code, "status-description": desc}}
	}
	claims, _ := c.Identity().(*ehClaims)
	op, typ := propText(req.ApplicationProperties, "operation"), propText(req.ApplicationProperties, "type")
	if op != "put-token" || claims == nil {
		return answer(400, "operation must be put-token"), nil
	}
	if !cbsTokenTypes[typ] {
		return answer(400, "type must be servicebus.windows.net:sastoken"), nil
	}
	token := asText(req.Value)
	if token == "" && len(req.Data) == 1 {
		token = string(req.Data[0])
	}
	if expiry, err := e.policies.authorizeAMQPService(token, e.host, e.now()); err == nil {
		claims.service.grant(expiry)
		return answer(200, "OK"), nil
	}
	expiry, err := e.policies.authorizeEventHub(token, e.host, e.hub.name, e.now())
	if err != nil {
		e.log.Info("amqp put-token refused", "error", err)
		return answer(401, "Unauthorized: the token does not grant ServiceConnect on this event hub"), nil
	}
	claims.grant(expiry)
	return answer(200, "OK"), nil
}

// propText reads a text application property of a $cbs or $management
// request as the clients send it: an AMQP string (azeventhubs, go-amqp) or
// binary (Python's pyamqp sends Python bytes as binary: the token type,
// operation READ, the management type, often the token itself).
func propText(props map[string]any, key string) string { return asText(props[key]) }

func asText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case amqp.Symbol:
		return string(v)
	}
	return ""
}
