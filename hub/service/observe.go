package service

import (
	"net/http"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// Observation hooks let a caller see every exchange the clients have with
// a hub, as evidence for a report. They hand over copies, already passed
// through Redact: a report is written by code that knows nothing of
// secrets, so they must never leave this package unmasked. Without an
// observer nothing is copied or redacted, so the hooks cost nothing.

// HTTPExchange is one HTTP attempt of a RegistryClient: each retry of a
// throttled request is an exchange of its own. Headers and bodies are
// redacted copies; the caller of the client gets the bodies unchanged.
type HTTPExchange struct {
	Method         string
	URL            string
	RequestHeader  http.Header
	RequestBody    string
	Status         int // 0 when no answer came
	ResponseHeader http.Header
	ResponseBody   string
	Start          time.Time
	Duration       time.Duration
	// Err is the transport or read error, "" when the answer was read whole.
	Err string
}

// WithObserver calls fn once per HTTP attempt, after it ended, on the
// goroutine that made the call. fn must be quick: it delays the caller.
func WithObserver(fn func(HTTPExchange)) Option {
	return func(c *registryConfig) { c.observe = fn }
}

// observeHTTP reports one attempt to the observer, if there is one. resp
// is nil when the request got no answer; err is the transport or read error.
func (c *RegistryClient) observeHTTP(req *http.Request, payload []byte, resp *http.Response, body []byte, start time.Time, err error) {
	if c.observe == nil {
		return
	}
	x := HTTPExchange{
		Method:        req.Method,
		URL:           hub.Redact(req.URL.String()),
		RequestHeader: redactHeader(req.Header),
		RequestBody:   hub.Redact(string(payload)),
		Start:         start,
		Duration:      time.Since(start),
	}
	if resp != nil {
		x.Status = resp.StatusCode
		x.ResponseHeader = redactHeader(resp.Header)
		x.ResponseBody = hub.Redact(string(body))
	}
	if err != nil {
		x.Err = hub.Redact(err.Error())
	}
	c.observe(x)
}

func redactHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		r := make([]string, len(vs))
		for i, v := range vs {
			r[i] = hub.Redact(v)
		}
		out[k] = r
	}
	return out
}
