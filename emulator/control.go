package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// The control plane gives the emulator's test powers (Controls) to clients
// in other processes (ControlClient, used by the harness's container
// target; scripts): HTTPS on the reserved prefix /$hubspec/, where IoT
// Hub's API has nothing. Every control is a POST of a JSON object answered
// with a JSON object, authorized like a registry write (a SAS token of a
// shared access policy with RegistryWrite, e.g. iothubowner, scoped to the
// hub) and verified by the emulator's own SAS code. Errors, 401 included,
// come in the IoT Hub shape; an unknown control path is 404 GenericNotFound.
// The paths and bodies are declared once, in control_api.go:
//
//	POST /$hubspec/registry-faults      {"deviceId","count","errorName"}
//	    Server.FailRegistryCalls; answers what it set.
//	POST /$hubspec/connections/await    {"deviceId","moduleId","atLeast","waitSeconds"}
//	    waits (at most waitSeconds, capped at 30 s) until the identity has had
//	    atLeast accepted MQTT connections; answers {"deviceId","moduleId",
//	    "connections"} with the count, reached or not, so a client repeats
//	    the poll until its own deadline.
//	POST /$hubspec/connections/drop     {"deviceId","moduleId"}
//	    Server.DropConnection; answers {"deviceId","moduleId","dropped"}.
//	POST /$hubspec/desired-pushes/drop  {"count"}
//	    Server.DropDesiredPushes; answers what it set.
//	POST /$hubspec/device-cas           {"pem"}
//	    Server.RegisterDeviceCA; answers {"registered"}, the number of CAs
//	    the hub now has.
//	POST /$hubspec/deliveries/await     {"deviceId","moduleId","marker","waitSeconds"}
//	    Server.AwaitDeliveries, waiting at most waitSeconds (capped at 30 s);
//	    answers {"deviceId","moduleId","settled","marked"}: settled false
//	    when the wait ran out first.
//	POST /$hubspec/registry/changes/await {"after","waitSeconds"}
//	    Server.AwaitRegistryChange, waiting at most waitSeconds (capped at
//	    30 s); answers {"changes"}, past after or not.
//	POST /$hubspec/device-clocks/advance {"deviceId","seconds"}
//	    Server.AdvanceDeviceClock by seconds (fractions allowed); answers
//	    what it moved.
const controlPrefix = ControlPrefix

// maxControlWait bounds one long poll, so a client that went away holds
// nothing for long; Server.Close ends polls at once.
const maxControlWait = 30 * time.Second

var controlOps = map[string]func(s *Server, ctx context.Context, body []byte) (any, error){
	ControlRegistryFaultsPath:    (*Server).controlRegistryFaults,
	ControlAwaitConnectionsPath:  (*Server).controlAwaitConnections,
	ControlDropConnectionPath:    (*Server).controlDropConnection,
	ControlDropDesiredPushesPath: (*Server).controlDropDesiredPushes,
	ControlDeviceCAsPath:         (*Server).controlDeviceCAs,
	ControlAwaitDeliveriesPath:   (*Server).controlAwaitDeliveries,

	ControlAwaitRegistryChangePath: (*Server).controlAwaitRegistryChange,
	ControlAdvanceDeviceClockPath:  (*Server).controlAdvanceDeviceClock,
}

// serveControl routes, authorizes and answers a control request.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	now := s.hook.now()
	op, ok := controlOps[r.URL.Path]
	if !ok {
		writeError(w, errNoRoute.WithMessage("No emulator control matches %s %s.", r.Method, r.URL.Path), now)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, errMethodNotAllowed.WithMessage("The requested resource does not support http method '%s'.", r.Method), now)
		return
	}
	if err := s.policies.authorizeService(r.Header.Get("Authorization"), resourceScope{host: s.hostName}, permRegistryWrite, now); err != nil {
		s.log.Info("control request unauthorized", "path", r.URL.Path, "reason", err)
		writeError(w, err, now)
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, err, now)
		return
	}
	res, err := op(s, r.Context(), body)
	if err == nil {
		body, err = marshalJSON(res)
	}
	if err != nil {
		writeError(w, err, s.hook.now())
		return
	}
	s.log.Info("control request", "path", r.URL.Path, "answer", string(body))
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

// decodeControl reads a control request strictly: a misspelt field is an
// error, not a silently ignored wish.
func decodeControl(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return hub.ErrIotHubFormatError.WithMessage("The control request is not a JSON object of the expected shape: %v", err)
	}
	if dec.More() {
		return hub.ErrIotHubFormatError.WithMessage("The control request has data after its JSON object.")
	}
	return nil
}

func (s *Server) controlRegistryFaults(ctx context.Context, body []byte) (any, error) {
	var req registryFaultsRequest
	if err := decodeControl(body, &req); err != nil {
		return nil, err
	}
	if err := s.FailRegistryCalls(ctx, req.DeviceID, req.Count, req.ErrorName); err != nil {
		return nil, hub.ErrArgumentInvalid.WithMessage("%v", err)
	}
	return req, nil
}

func (s *Server) controlAwaitConnections(ctx context.Context, body []byte) (any, error) {
	var req awaitConnectionsRequest
	if err := decodeControl(body, &req); err != nil {
		return nil, err
	}
	switch {
	case req.DeviceID == "":
		return nil, hub.ErrArgumentInvalid.WithMessage("deviceId is required.")
	case req.AtLeast < 0:
		return nil, hub.ErrArgumentInvalid.WithMessage("atLeast must not be negative.")
	case req.WaitSeconds < 0:
		return nil, hub.ErrArgumentInvalid.WithMessage("waitSeconds must not be negative.")
	}
	ctx, cancel := s.longPoll(ctx, req.WaitSeconds)
	defer cancel()
	id := identity{deviceID: req.DeviceID, moduleID: req.ModuleID}
	s.log.Debug("control: waiting for connections", "client", id, "atLeast", req.AtLeast, "waitSeconds", req.WaitSeconds)
	_ = s.hook.awaitConnections(ctx, id, req.AtLeast) // not reaching atLeast is an answer, not an error
	return connectionsAnswer{DeviceID: req.DeviceID, ModuleID: req.ModuleID, Connections: s.hook.connectionCount(id)}, nil
}

func (s *Server) controlDropConnection(ctx context.Context, body []byte) (any, error) {
	var req dropConnectionRequest
	if err := decodeControl(body, &req); err != nil {
		return nil, err
	}
	if req.DeviceID == "" {
		return nil, hub.ErrArgumentInvalid.WithMessage("deviceId is required.")
	}
	dropped, err := s.DropConnection(ctx, req.DeviceID, req.ModuleID)
	if err != nil {
		return nil, hub.ErrArgumentInvalid.WithMessage("%v", err)
	}
	return dropConnectionAnswer{req.DeviceID, req.ModuleID, dropped}, nil
}

func (s *Server) controlDropDesiredPushes(ctx context.Context, body []byte) (any, error) {
	var req dropDesiredPushesRequest
	if err := decodeControl(body, &req); err != nil {
		return nil, err
	}
	if err := s.DropDesiredPushes(ctx, req.Count); err != nil {
		return nil, hub.ErrArgumentInvalid.WithMessage("%v", err)
	}
	return req, nil
}

func (s *Server) controlDeviceCAs(_ context.Context, body []byte) (any, error) {
	var req deviceCARequest
	if err := decodeControl(body, &req); err != nil {
		return nil, err
	}
	n, err := s.cas.add([]byte(req.PEM))
	if err != nil {
		return nil, err
	}
	return deviceCAAnswer{Registered: n}, nil
}

// longPoll bounds a control's wait by waitSeconds (at most maxControlWait)
// and by Server.Close, which ends it at once (net/http would wait for it).
func (s *Server) longPoll(ctx context.Context, waitSeconds float64) (context.Context, context.CancelFunc) {
	wait := maxControlWait
	if waitSeconds < wait.Seconds() {
		wait = time.Duration(waitSeconds * float64(time.Second))
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	go func() {
		select {
		case <-s.faults.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func (s *Server) controlAwaitDeliveries(ctx context.Context, body []byte) (any, error) {
	var req awaitDeliveriesRequest
	if err := decodeControl(body, &req); err != nil {
		return nil, err
	}
	switch {
	case req.DeviceID == "":
		return nil, hub.ErrArgumentInvalid.WithMessage("deviceId is required.")
	case req.WaitSeconds < 0:
		return nil, hub.ErrArgumentInvalid.WithMessage("waitSeconds must not be negative.")
	case req.Marker != "" && !markerToken.MatchString(req.Marker):
		return nil, hub.ErrArgumentInvalid.WithMessage("marker must be 1 to 64 of A-Z a-z 0-9 _ . -")
	}
	pctx, cancel := s.longPoll(ctx, req.WaitSeconds)
	defer cancel()
	marked, err := s.AwaitDeliveries(pctx, req.DeviceID, req.ModuleID, req.Marker)
	if err != nil && pctx.Err() == nil {
		return nil, hub.ErrServerError.WithMessage("%v", err)
	}
	return deliveriesAnswer{DeviceID: req.DeviceID, ModuleID: req.ModuleID, Settled: err == nil, Marked: marked}, nil
}

func (s *Server) controlAwaitRegistryChange(ctx context.Context, body []byte) (any, error) {
	var req awaitChangeRequest
	if err := decodeControl(body, &req); err != nil {
		return nil, err
	}
	if req.WaitSeconds < 0 {
		return nil, hub.ErrArgumentInvalid.WithMessage("waitSeconds must not be negative.")
	}
	pctx, cancel := s.longPoll(ctx, req.WaitSeconds)
	defer cancel()
	n, _ := s.AwaitRegistryChange(pctx, req.After) // not past after is an answer, not an error
	return changesAnswer{Changes: n}, nil
}

// maxClockMoveSeconds bounds one move of a device's clock: a year is more
// than any timeout or expiry the hub knows, and the bound keeps the
// seconds a time.Duration can hold.
const maxClockMoveSeconds = 366 * 24 * 60 * 60

func (s *Server) controlAdvanceDeviceClock(ctx context.Context, body []byte) (any, error) {
	var req advanceDeviceClockRequest
	if err := decodeControl(body, &req); err != nil {
		return nil, err
	}
	switch {
	case req.DeviceID == "":
		return nil, hub.ErrArgumentInvalid.WithMessage("deviceId is required.")
	case req.Seconds > maxClockMoveSeconds:
		return nil, hub.ErrArgumentInvalid.WithMessage("seconds must be at most %d (a year).", maxClockMoveSeconds)
	}
	if err := s.AdvanceDeviceClock(ctx, req.DeviceID, time.Duration(req.Seconds*float64(time.Second))); err != nil {
		return nil, err
	}
	return req, nil
}
