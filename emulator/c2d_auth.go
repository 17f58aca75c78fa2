package emulator

import (
	"strings"
	"sync"
	"time"
)

// serviceClaim is what an AMQP connection has proved on the hub's own
// service nodes: a token of a policy with ServiceConnect, until it expires.
type serviceClaim struct {
	mu     sync.Mutex
	expiry time.Time // zero: never granted
}

func (c *serviceClaim) grant(expiry time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if expiry.After(c.expiry) {
		c.expiry = expiry
	}
}

// validService reports whether the connection holds an unexpired claim on
// the hub's service nodes.
func (c *ehClaims) validService(now time.Time) bool {
	c.service.mu.Lock()
	defer c.service.mu.Unlock()
	return !c.service.expiry.IsZero() && !now.After(c.service.expiry.Add(sasClockSkew*time.Second))
}

// authorizeAMQPService checks an IoT Hub service token on AMQP, as the service
// SDKs put it on $cbs (or send it as the SASL PLAIN password): a policy
// token signed like the REST API's (HMAC keyed with the decoded key), whose
// sr names the hub ({host}, with or without a scheme, or a node under it:
// the Python SDK's iothub_amqp_client.py signs the bare host name), from a
// policy with ServiceConnect.
func (p *policies) authorizeAMQPService(token, host string, now time.Time) (time.Time, error) {
	t, err := p.serviceToken(token, sasToken.signedBy, now)
	if err != nil {
		return time.Time{}, err
	}
	first, _, _ := strings.Cut(withoutScheme(t.resource, "amqps://", "https://", "sb://"), "/")
	if !sameHost(first, host) {
		return time.Time{}, errUnauthorized("token scope %q does not cover the hub", t.resource)
	}
	return time.Unix(t.expiry, 0), nil
}
