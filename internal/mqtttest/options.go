package mqtttest

import (
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/internal/mqttconn"
)

// WithSASToken makes the client present token as its MQTT password instead
// of signing one with the connection string's key, as the SDKs'
// create_from_sastoken do with a token from a token service. The client
// cannot renew a given token: once the hub stops taking it, reconnects fail.
func WithSASToken(token string) device.Option {
	return func(c *mqttconn.Settings) { c.Token = token }
}

// WithClientID sends id as the MQTT client identifier instead of the
// identity's own ({device} or {device}/{module}); the user name and the
// token stay the identity's. A hub refuses the mismatch, and conformance
// checks use this to see that it does; nothing else should.
func WithClientID(id string) device.Option {
	return func(c *mqttconn.Settings) { c.ClientID = id }
}

// WithOnMessage makes a DialRaw client hand fn every message that no
// subscription callback of its own takes: above all those a persistent
// session delivers as soon as it is resumed, before the new client has
// subscribed to anything. device.DialModule and device.DialDevice ignore it.
func WithOnMessage(fn func(paho.Message)) device.Option {
	return func(c *mqttconn.Settings) { c.OnMessage = fn }
}
