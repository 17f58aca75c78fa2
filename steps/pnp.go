package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// pnpVocabulary is IoT Plug and Play: a device or module announces the
// model it implements when it connects, the service reads and patches the
// device's digital twin and calls its commands. The device's side of a
// command is a direct method ("{component}*{command}" for a component's),
// answered with the methods steps.
var pnpVocabulary = []vocab.Def{
	step(pnp, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) (is connected|connects) announcing model "([^"]*)"$`, connectAnnouncing,
		"The device or module connects with its own key announcing the model (a DTMI) it implements, as the SDKs' model id option does: \"is connected\" until the hub accepts, \"connects\" once, leaving a refusal for the next step to check.",
		"", "", "", "<dtmi> the model id, e.g. dtmi:com:example:Thermostat;1"),
	step(pnp, `^the digital twin of device ("[^"]+") matches:$`, digitalTwinMatches,
		"Reads the device's digital twin until it contains the JSON document below the step (every member it names has that value; null: absent) and its $dtId is the device's id; the service keeps its ETag.").JSONDoc(),
	step(pnp, `^the service patches the digital twin of device ("[^"]+") with (.+?)( with the etag it last read)?$`, patchDigitalTwin,
		"The service applies a JSON Patch (an array of add, replace and remove operations) to the device's digital twin, unconditionally or with the ETag it last read; a refusal is left for the next step to check.",
		"", `<patch> the JSON Patch, e.g. [{"op": "add", "path": "/thermostat1/targetTemperature", "value": 21.4}]`),
	step(pnp, `^the service invokes command "([^"]+)"(?: of component "([^"]+)")? on device ("[^"]+")(?: with payload (.+?))?(?: and response timeout (\d+))?$`, invokeCommand,
		"The service calls a command of the device (of one of its components if given) and waits for the answer; a refusal is left for the next step to check.",
		"<command> the command's name", "<component> the component's name", "", "", "<seconds> how long the hub waits for the answer (the hub's default: 30)"),
	step(pnp, `^the command "([^"]+)"(?: of component "([^"]+)")? on device ("[^"]+") returns status (\d+)(?: and payload (.+))?$`, commandReturns,
		"Checks the device's answer to the service's last call of the command: the status (x-ms-command-statuscode) and, if given, the payload.",
		"<command> the command's name", "<component> the component's name", "", "<status> the status the device answered with"),
}

// pnpState is what a scenario knows of a device's digital twin: the ETag
// the service last read and the answers to its commands.
type pnpState struct {
	etag     string
	commands map[string]*service.CommandResult // by "{component}*{command}" or "{command}"
}

func (s *identityState) pnpOf() *pnpState {
	if s.pnp == nil {
		s.pnp = &pnpState{commands: map[string]*service.CommandResult{}}
	}
	return s.pnp
}

// connectAnnouncing dials with device.WithModelID.
func connectAnnouncing(ctx context.Context, kind, alias, how, model string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	if how == "connects" {
		cs, err := w.connectionString(s.ident, "")
		if err != nil {
			return err
		}
		return w.connectOnce(ctx, s, cs, device.WithModelID(model))
	}
	c, err := w.dialRetrying(ctx, s.ident, device.WithModelID(model))
	if err != nil {
		return err
	}
	s.keep(c)
	return nil
}

// digitalTwinMatches polls the digital twin until it contains the document.
func digitalTwinMatches(ctx context.Context, alias string, doc *godog.DocString) error {
	var want any
	if err := json.Unmarshal([]byte(doc.Content), &want); err != nil {
		return fmt.Errorf("the expected digital twin is not JSON: %w", err)
	}
	w, s, id, err := pnpDevice(ctx, alias)
	if err != nil {
		return err
	}
	read := func(ctx context.Context) (any, error) {
		raw, etag, err := w.registry.GetDigitalTwin(ctx, id)
		if err != nil {
			return nil, err
		}
		s.pnpOf().etag = etag
		var v any
		return v, json.Unmarshal(raw, &v)
	}
	what := "the digital twin of " + s.ident.String()
	return pollDoc(ctx, settleWithin, read, func(dt any) error {
		if err := contains(what, dt, map[string]any{"$dtId": id}); err != nil {
			return err
		}
		return contains(what, dt, want)
	})
}

// patchDigitalTwin sends the patch as it is written.
func patchDigitalTwin(ctx context.Context, alias, patch, withETag string) error {
	var ops []service.DigitalTwinPatchOp
	if err := json.Unmarshal([]byte(patch), &ops); err != nil {
		return fmt.Errorf("the patch is not a JSON Patch: %w", err)
	}
	w, s, id, err := pnpDevice(ctx, alias)
	if err != nil {
		return err
	}
	etag := ""
	if withETag != "" {
		if etag = s.pnpOf().etag; etag == "" {
			return fmt.Errorf("the service has not read the digital twin of %s", s.ident)
		}
	}
	if _, err := w.registry.UpdateDigitalTwin(ctx, id, ops, etag); err != nil {
		return w.refused(err)
	}
	return nil
}

func commandKey(component, command string) string {
	if component == "" {
		return command
	}
	return component + "*" + command
}

// invokeCommand calls the command and keeps the answer for commandReturns.
func invokeCommand(ctx context.Context, command, component, alias, payload, response string) error {
	w, s, id, err := pnpDevice(ctx, alias)
	if err != nil {
		return err
	}
	req := service.CommandRequest{ResponseTimeout: signedSeconds(response)}
	if payload != "" {
		if req.Payload, err = json.Marshal(parseValue(payload)); err != nil {
			return err
		}
	}
	answerIn := req.ResponseTimeout
	if answerIn <= 0 {
		answerIn = 30 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, answerIn+waitFor)
	defer cancel()
	var res *service.CommandResult
	if component == "" {
		res, err = w.registry.InvokeCommand(cctx, id, command, req)
	} else {
		res, err = w.registry.InvokeComponentCommand(cctx, id, component, command, req)
	}
	if err != nil {
		return w.refused(err)
	}
	s.pnpOf().commands[commandKey(component, command)] = res
	return nil
}

// commandReturns checks the answer to the last call of the command.
func commandReturns(ctx context.Context, command, component, alias, status, payload string) error {
	_, s, err := identityIn(ctx, "device", alias)
	if err != nil {
		return err
	}
	res := s.pnpOf().commands[commandKey(component, command)]
	what := fmt.Sprintf("the answer to command %q of %s", commandKey(component, command), s.ident)
	if res == nil {
		return fmt.Errorf("%s: the service has no answer to it", what)
	}
	if strconv.Itoa(res.Status) != status {
		return fmt.Errorf("%s: want status %s, got %d (payload %s)", what, status, res.Status, res.Payload)
	}
	return payloadIs(what, res.Payload, "", payload)
}

// pnpDevice is the device the step names, with its id on the hub.
func pnpDevice(ctx context.Context, alias string) (*world, *identityState, string, error) {
	w, s, err := identityIn(ctx, "device", alias)
	if err != nil {
		return w, nil, "", err
	}
	id, _, err := w.ids(s.ident)
	return w, s, id, err
}
