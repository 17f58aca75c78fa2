package emulator

import (
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// maxBodyBytes bounds request bodies; the largest legitimate one (a twin
// with 8 KB of tags and 32 KB of desired properties, plus what C# echoes)
// is far below it.
const maxBodyBytes = 1 << 20

// restHandler serves the registry and twin REST API. Routing is done here
// rather than by http.ServeMux so that unknown routes and wrong methods get
// the hub's error shape, and ids are decoded segment by segment from the
// escaped path (a %2F inside an id never splits it).
type restHandler struct {
	reg      *registry
	pol      *policies
	hostName string
	hubName  string
	now      func() time.Time
	log      *slog.Logger
	routes   []route
	faults   *faults  // registry calls a test asked to fail; nil for none
	methods  *methods // direct method calls
	c2d      *c2dQueues
	jobs     *jobs // scheduled jobs
}

// route is a path pattern ("*" matches one non-empty segment, an id) and
// the operation for each method it accepts.
type route struct {
	pattern []string
	ops     map[string]operation
}

type operation struct {
	perm  permission
	serve func(r *http.Request, ids []string) (restResult, error)
	// waits marks an operation that may wait for minutes before it answers
	// (a direct method call waits for its device): its write deadline is
	// lifted to the longest wait plus the usual write timeout, so the
	// server's write timeout does not cut off its answer. (The read timeout
	// ends once the body is read: net/http clears the read deadline then.)
	waits bool
}

// restResult is a handler's answer: status, JSON body (nil for none) and
// the etag for the ETag header ("" for none).
type restResult struct {
	status int
	body   []byte
	etag   string
	header http.Header // more headers (a query's x-ms-item-type and x-ms-continuation)
}

func newRESTHandler(reg *registry, pol *policies, hostName string, now func() time.Time, log *slog.Logger, flt *faults, meth *methods, c2d *c2dQueues, js *jobs) http.Handler {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if meth == nil {
		meth = newMethods(reg, nil, log)
	}
	if c2d == nil {
		c2d = newC2DQueues(reg.clocks, newFeedbackQueue(now))
	}
	if js == nil {
		js = newJobs(reg, meth, now, log)
	}
	h := &restHandler{reg: reg, pol: pol, hostName: hostName, hubName: hubNameOf(hostName), now: now, log: log, faults: flt, methods: meth, c2d: c2d, jobs: js}
	h.routes = h.buildRoutes()
	return h.recoverPanics(http.HandlerFunc(h.serve))
}

// hubNameOf is the hub name inside a host name: its first DNS label.
func hubNameOf(hostName string) string {
	name, _, _ := strings.Cut(hostOnly(hostName), ".")
	return name
}

func (h *restHandler) serve(w http.ResponseWriter, r *http.Request) {
	segs, err := splitEscapedPath(r.URL.EscapedPath())
	if err != nil {
		writeError(w, hub.ErrArgumentInvalid.WithMessage("The request path is not valid: %v", err), h.now())
		return
	}
	rt, ids := h.match(segs, r.Method)
	if rt == nil {
		// One WARN line, so whoever's app met this 404 can learn that the
		// emulator, not their code, lacks the route (docs/fidelity.md lists
		// what is not emulated).
		h.log.Warn("rest request to a route that is not emulated", "method", r.Method, "path", r.URL.Path)
		writeError(w, errNoRoute.WithMessage("No resource matches %s %s (not emulated).", r.Method, r.URL.Path), h.now())
		return
	}
	op, ok := rt.ops[r.Method]
	if !ok {
		w.Header().Set("Allow", strings.Join(h.allowed(segs), ", "))
		writeError(w, errMethodNotAllowed.WithMessage("The requested resource does not support http method '%s'.", r.Method), h.now())
		return
	}
	if err := h.pol.authorizeService(r.Header.Get("Authorization"), h.scopeOf(rt, segs), op.perm, h.now()); err != nil {
		h.log.Info("rest request unauthorized", "method", r.Method, "path", r.URL.Path, "reason", err)
		writeError(w, err, h.now())
		return
	}
	// ids[0] is the device on every route that names one (devices/{d},
	// its modules, twins/{d} and its modules' twins).
	if len(ids) > 0 && h.faults != nil {
		if err := h.faults.registryFault(ids[0]); err != nil {
			h.log.Info("rest request failed by the registry fault control", "method", r.Method, "path", r.URL.Path, "error", err)
			writeError(w, err, h.now())
			return
		}
	}
	if op.waits {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(maxMethodWait + httpWriteTimeout))
	}
	res, err := op.serve(r, ids)
	if err != nil {
		if _, ok := hub.AsError(err); !ok {
			h.log.Error("rest request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		}
		writeError(w, err, h.now())
		return
	}
	if res.etag != "" {
		w.Header().Set("ETag", `"`+res.etag+`"`)
	}
	for k, v := range res.header {
		w.Header()[k] = v
	}
	if res.body != nil {
		if w.Header().Get("Content-Type") == "" { // a handler may name its own
			w.Header().Set("Content-Type", jsonContentType)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(res.body)))
	}
	w.WriteHeader(res.status)
	_, _ = w.Write(res.body)
}

// splitEscapedPath splits the escaped path at '/' and only then decodes each
// segment, so ids may hold any percent-encoded character.
func splitEscapedPath(p string) ([]string, error) {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		d, err := url.PathUnescape(s)
		if err != nil {
			return nil, err
		}
		parts[i] = d
	}
	return parts, nil
}

// match finds the route for path segments; literals compare
// case-insensitively, as ASP.NET routes do. The first route that matches
// and accepts the method wins, else the first that matches (for its 405):
// so POST /devices/query is the query while GET /devices/query is still
// the device whose id is "query".
func (h *restHandler) match(segs []string, method string) (*route, []string) {
	var first *route
	var firstIDs []string
	for i := range h.routes {
		ids, ok := matchPattern(h.routes[i].pattern, segs)
		if !ok {
			continue
		}
		if _, has := h.routes[i].ops[method]; has {
			return &h.routes[i], ids
		}
		if first == nil {
			first, firstIDs = &h.routes[i], ids
		}
	}
	return first, firstIDs
}

// allowed lists the methods of every route the path matches (POST for
// /devices/query, GET, PUT and DELETE for the device whose id is "query").
func (h *restHandler) allowed(segs []string) []string {
	set := map[string]bool{}
	for _, rt := range h.routes {
		if _, ok := matchPattern(rt.pattern, segs); ok {
			for m := range rt.ops {
				set[m] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func matchPattern(pattern, segs []string) ([]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var ids []string
	for j, p := range pattern {
		switch {
		case p == "*" && segs[j] != "":
			ids = append(ids, segs[j])
		case p != "*" && strings.EqualFold(p, segs[j]):
		default:
			return nil, false
		}
	}
	return ids, true
}

// scopeOf is the SAS resource of a request: the host and its path.
func (h *restHandler) scopeOf(rt *route, segs []string) resourceScope {
	s := resourceScope{host: h.hostName}
	for i, p := range rt.pattern {
		s.segs = append(s.segs, scopeSegment{text: segs[i], isID: p == "*"})
	}
	return s
}

// readBody reads at most maxBodyBytes; more is 413 and nothing changes.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, hub.ErrIotHubFormatError.WithMessage("The request body could not be read: %v", err)
	}
	if len(b) > maxBodyBytes {
		return nil, errBodyTooLarge.WithMessage("The request body is larger than %d bytes.", maxBodyBytes)
	}
	return b, nil
}

// recoverPanics turns a panic into a logged 500 ServerError. It is a
// defence only: no client input may reach a panic, and tests never do.
func (h *restHandler) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			h.log.Error("panic serving rest request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			writeError(w, hub.ErrServerError.WithMessage("The server encountered an internal error."), h.now())
		}()
		next.ServeHTTP(w, r)
	})
}
