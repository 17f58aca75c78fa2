package mqttconn

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// EmitMessage reports a PUBLISH the hub sent.
func (cfg Settings) EmitMessage(clientID string, m paho.Message) {
	if cfg.Observe != nil {
		cfg.Emit(EventReceived, clientID, m.Topic(), m.Qos(), m.Payload(), "")
	}
}

// ConnectOutcome says how a CONNECT ended: the CONNACK code and its
// meaning, or the error when the hub sent no CONNACK (paho's 254 is a
// network failure, not the hub's answer). tok is nil for a connection
// paho reports made.
func ConnectOutcome(tok paho.Token, err error) string {
	if ct, ok := tok.(*paho.ConnectToken); ok && ct.ReturnCode() >= 1 && ct.ReturnCode() <= 5 {
		return fmt.Sprintf("CONNACK %d (%s)", ct.ReturnCode(), packets.ConnackReturnCodes[ct.ReturnCode()])
	}
	if err != nil {
		return "no CONNACK: " + err.Error()
	}
	return "CONNACK 0 (" + packets.ConnackReturnCodes[0] + ")"
}

// SubackDetail is the QoS the hub granted each filter, or the error.
func SubackDetail(tok paho.Token, err error) string {
	if err != nil {
		return "no SUBACK: " + err.Error()
	}
	st, ok := tok.(*paho.SubscribeToken)
	if !ok {
		return "SUBACK"
	}
	granted := st.Result()
	parts := make([]string, 0, len(granted))
	for _, f := range slices.Sorted(maps.Keys(granted)) {
		parts = append(parts, fmt.Sprintf("%s QoS %d", f, granted[f]))
	}
	return "SUBACK: " + strings.Join(parts, ", ")
}

// FilterList names a subscription's filters in a stable order.
func FilterList(filters map[string]byte) string {
	return strings.Join(slices.Sorted(maps.Keys(filters)), ", ")
}
