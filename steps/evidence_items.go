package steps

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
)

// mqtt returns the observer of one client's connection; client is the
// identity as the feature names it (`module "filter"`), not its hub id.
func (l *evidenceLog) mqtt(client string) func(device.Event) {
	return func(e device.Event) {
		m := &MQTTEvidence{Client: client, Direction: string(e.Kind), Topic: e.Topic, QoS: int(e.QoS),
			Payload: capText(e.Payload), Detail: e.Detail}
		var title string
		switch e.Kind {
		case device.EventSent:
			title = fmt.Sprintf("%s ⇢ %s", client, l.aliases(e.Topic))
		case device.EventReceived:
			title = fmt.Sprintf("%s ⇠ %s", client, l.aliases(e.Topic))
		case device.EventConnect:
			title = fmt.Sprintf("%s connects → %s", client, e.Detail)
			m.Detail = fmt.Sprintf("client id %s, username %s, password %s: %s", e.ClientID, e.Username, e.Password, e.Detail)
		case device.EventSubscribe:
			title = fmt.Sprintf("%s subscribes to %s", client, l.aliases(e.Topic))
		case device.EventUnsubscribe:
			title = fmt.Sprintf("%s unsubscribes from %s", client, l.aliases(e.Topic))
			m.Direction, m.Detail = string(device.EventSubscribe), "unsubscribe"
		case device.EventDisconnect:
			title = fmt.Sprintf("%s disconnects", client)
		case device.EventConnectionLost:
			title = fmt.Sprintf("%s loses its connection: %s", client, e.Detail)
			m.Direction, m.Detail = string(device.EventDisconnect), "connection lost: "+e.Detail
		default:
			title = fmt.Sprintf("%s %s", client, e.Kind)
		}
		if e.Kind == device.EventDisconnect && e.Detail != "" {
			title += " " + e.Detail
		}
		l.add(Evidence{when: e.At, Kind: "mqtt", Title: title, At: stamp(e.At), MQTT: m})
	}
}

// twinSnapshot is the twin item of an exchange that read or wrote a twin:
// a GET, PATCH or PUT of /twins/{device}[/modules/{module}] answered 200
// with a JSON object, which is the twin as the hub holds it after the call.
func (l *evidenceLog) twinSnapshot(x service.HTTPExchange) (Evidence, bool) {
	if x.Status != http.StatusOK || x.Method != http.MethodGet && x.Method != http.MethodPatch && x.Method != http.MethodPut {
		return Evidence{}, false
	}
	i, ok := l.twinOf(x.URL)
	doc := strings.TrimSpace(x.ResponseBody)
	if !ok || len(doc) > maxEvidenceText || !strings.HasPrefix(doc, "{") || !json.Valid([]byte(doc)) {
		return Evidence{}, false
	}
	end := x.Start.Add(x.Duration)
	return Evidence{
		when:  end,
		Kind:  "twin",
		Title: fmt.Sprintf("twin of %s as %s returned it", i, x.Method),
		At:    stamp(end),
		Twin:  &TwinEvidence{Identity: i.String(), Document: json.RawMessage(doc)},
	}, true
}

// twinOf reads the identity out of a twin URL. Ids are unescaped segment by
// segment: one may hold an escaped "/".
func (l *evidenceLog) twinOf(rawURL string) (ident, bool) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ident{}, false
	}
	segs := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	for k, s := range segs {
		if segs[k], err = url.PathUnescape(s); err != nil {
			return ident{}, false
		}
	}
	switch {
	case len(segs) == 2 && segs[0] == "twins":
		return ident{"device", l.alias(segs[1]), ""}, true
	case len(segs) == 4 && segs[0] == "twins" && segs[2] == "modules":
		return ident{"module", l.alias(segs[3]), l.alias(segs[1])}, true
	}
	return ident{}, false
}

// aliases is a path or topic with the scenario's hub ids read back into
// its aliases, segment by segment: an item's title speaks the feature's
// language (the hub ids stay in its detail).
func (l *evidenceLog) aliases(path string) string {
	segs := strings.Split(path, "/")
	for k, s := range segs {
		if id, err := url.PathUnescape(s); err == nil && l.alias(id) != id {
			segs[k] = l.alias(id)
		}
	}
	return strings.Join(segs, "/")
}

// alias undoes harness.Scenario.Name ("{run prefix}-{alias}-{scenario id}");
// an id the scenario did not make is shown as it is.
func (l *evidenceLog) alias(id string) string {
	rest, ok := strings.CutPrefix(id, l.sc.Run.Prefix+"-")
	if !ok {
		return id
	}
	if a, ok := strings.CutSuffix(rest, "-"+l.sc.ID); ok {
		return a
	}
	return id
}
