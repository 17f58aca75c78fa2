package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/steps"
)

// maxShown caps each text the page shows (a body, a payload, a twin): the
// steps already cut what they record at 64 KiB, but a report of Cucumber
// JSON from elsewhere must stay a page a browser opens quickly.
const maxShown = 64 << 10

// inlineImages are the image types shown in the page. SVG is not among
// them: it is a document that can carry script, so it is offered as a file.
var inlineImages = []string{"image/png", "image/jpeg", "image/gif", "image/webp"}

type cukeEmbedding struct {
	Name     string `json:"name"`
	MimeType string `json:"mime_type"`
	Data     string `json:"data"` // base64
}

// evidenceView is one attachment of a step as the page shows it; Kind says
// which of the other members are set.
type evidenceView struct {
	Kind     string // http, mqtt, twin, text, image, file, unreadable, or polls (Items, folded)
	Title    string
	At       string // time of day; AtFull has the whole timestamp
	AtFull   string
	HTTP     *httpView
	MQTT     *mqttView
	Identity string     // twin
	Text     *textBlock // twin document, text, or an unreadable item's raw text
	Image    template.URL
	File     template.URL
	Problem  string         // why the item is unreadable
	Items    []evidenceView // polls: the attempts folded into this line
	body     string         // compact JSON of an HTTP response body or a twin document, to find one twin shown twice
}

type httpView struct {
	Method, URL, StatusText, Duration, Error string
	BodyIsTwin                               string // the title of the twin item that shows the response body
	Status                                   int
	RequestHeaders, ResponseHeaders          []header
	RequestBody, ResponseBody                *textBlock
}

type header struct{ Name, Value string }

type mqttView struct {
	Client, Direction, Arrow, Topic, Detail string
	QoS                                     int
	Payload                                 *textBlock
}

// textBlock is a redacted text, cut at maxShown; Omitted counts the bytes
// left out, which the page says.
type textBlock struct {
	Text    string
	Omitted int
}

// buildEvidence shows an attachment by its media type. It never fails: an
// item that cannot be read becomes a note saying why, so one bad
// attachment cannot cost the reader the rest of the report.
func buildEvidence(em cukeEmbedding) evidenceView {
	ev := evidenceView{Title: hub.Redact(em.Name)}
	data, err := base64.StdEncoding.DecodeString(em.Data)
	if err != nil {
		ev.Kind, ev.Problem = "unreadable", fmt.Sprintf("unreadable evidence: its data is not base64 (%v)", err)
		return ev
	}
	mt, _, err := mime.ParseMediaType(em.MimeType)
	if err != nil {
		mt = "application/octet-stream"
	}
	if ev.Title == "" {
		ev.Title = mt
	}
	switch {
	case mt == steps.EvidenceMediaType:
		return hubEvidence(ev, data)
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		ev.Kind, ev.Text = "text", shownText(string(data), true)
	case strings.HasPrefix(mt, "text/"):
		ev.Kind, ev.Text = "text", shownText(string(data), false)
	case slices.Contains(inlineImages, mt):
		ev.Kind, ev.Image = "image", template.URL("data:"+mt+";base64,"+base64.StdEncoding.EncodeToString(data))
	default:
		if utf8.Valid(data) { // a text of a type the page does not know: still redacted
			data = []byte(hub.Redact(string(data)))
		}
		// Offered as bytes, never as its own type: a data: URI of HTML
		// opened from the report would run in the browser.
		ev.Kind, ev.File = "file", template.URL("data:application/octet-stream;base64,"+base64.StdEncoding.EncodeToString(data))
	}
	return ev
}

// hubEvidence shows one of the steps' evidence items: an HTTP exchange, an
// MQTT event or a twin snapshot.
func hubEvidence(ev evidenceView, data []byte) evidenceView {
	var doc steps.Evidence
	if err := json.Unmarshal(data, &doc); err != nil {
		ev.Kind, ev.Problem, ev.Text = "unreadable", fmt.Sprintf("unreadable evidence: not the evidence JSON (%v)", err), shownText(string(data), false)
		return ev
	}
	if doc.Title != "" {
		ev.Title = hub.Redact(doc.Title)
	}
	ev.AtFull = hub.Redact(doc.At)
	ev.At = ev.AtFull
	if t, err := time.Parse(time.RFC3339Nano, doc.At); err == nil {
		ev.At = t.Format("15:04:05.000")
	}
	switch {
	case doc.Kind == "http" && doc.HTTP != nil:
		h := doc.HTTP
		ev.Kind, ev.HTTP = "http", &httpView{Method: hub.Redact(h.Method), URL: hub.Redact(h.URL),
			Status: h.Status, StatusText: http.StatusText(h.Status), Error: hub.Redact(h.Error),
			Duration:       formatDuration(time.Duration(h.DurationMs * float64(time.Millisecond))),
			RequestHeaders: headers(h.RequestHeaders), RequestBody: shownText(h.RequestBody, true),
			ResponseHeaders: headers(h.ResponseHeaders), ResponseBody: shownText(h.ResponseBody, true)}
		ev.body = compactJSON(h.ResponseBody)
	case doc.Kind == "mqtt" && doc.MQTT != nil:
		m := doc.MQTT
		ev.Kind, ev.MQTT = "mqtt", &mqttView{Client: hub.Redact(m.Client), Direction: hub.Redact(m.Direction),
			Arrow: arrows[m.Direction], Topic: hub.Redact(m.Topic), QoS: m.QoS, Detail: hub.Redact(m.Detail),
			Payload: shownText(m.Payload, true)}
		if ev.MQTT.Arrow == "" {
			ev.MQTT.Arrow = "·"
		}
	case doc.Kind == "twin" && doc.Twin != nil:
		ev.Kind, ev.Identity, ev.Text = "twin", hub.Redact(doc.Twin.Identity), shownText(string(doc.Twin.Document), true)
		ev.body = compactJSON(string(doc.Twin.Document))
	default:
		ev.Kind, ev.Problem, ev.Text = "unreadable", fmt.Sprintf("unreadable evidence: kind %q without its %q member", doc.Kind, doc.Kind), shownText(string(data), false)
	}
	return ev
}

// showTwinsOnce leaves out the response body of an HTTP exchange when a
// twin item after it in the step holds the same document: the steps record
// each twin the hub returns as an item of its own, and twins are the
// largest bodies a run has.
func showTwinsOnce(evs []evidenceView) {
	for i, twin := range evs {
		if twin.Kind != "twin" || twin.body == "" {
			continue
		}
		for j := i - 1; j >= 0; j-- {
			if x := evs[j]; x.HTTP != nil && x.HTTP.ResponseBody != nil && x.body == twin.body {
				x.HTTP.ResponseBody, x.HTTP.BodyIsTwin = nil, twin.Title
				break
			}
		}
	}
}

// compactJSON is s without insignificant blanks, or "" when s is not JSON.
func compactJSON(s string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return ""
	}
	return b.String()
}

// arrows show an MQTT event's direction from the client's side: what it
// sent goes right, to the hub.
var arrows = map[string]string{"sent": "⇢", "received": "⇠", "connect": "⇄", "subscribe": "⊕", "disconnect": "✕"}

// headers lists a header map by name. Values are strings in the steps'
// evidence; a list (http.Header marshalled as it is) is joined as HTTP would.
func headers(m map[string]string) []header {
	out := make([]header, 0, len(m))
	for name, v := range m {
		out = append(out, header{hub.Redact(name), hub.Redact(v)})
	}
	slices.SortFunc(out, func(a, b header) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// shownText redacts s and cuts it at maxShown; when pretty and s is JSON
// it is indented (a text that was cut is no longer JSON, and stays as it
// is). Nil for an empty text, so the page leaves out an empty block.
func shownText(s string, pretty bool) *textBlock {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	s = hub.Redact(strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) > maxShown {
		cut := maxShown
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return &textBlock{Text: s[:cut], Omitted: len(s) - cut}
	}
	var b bytes.Buffer
	if pretty && json.Indent(&b, []byte(strings.TrimSpace(s)), "", "  ") == nil {
		s = b.String()
	}
	return &textBlock{Text: s}
}
