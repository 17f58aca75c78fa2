package emulator

import (
	"fmt"
	"regexp"
)

// IoT Plug and Play's model id: a device or module announces the DTDL model
// it implements in its MQTT user name, as "&model-id=<url-encoded DTMI>"
// after the api-version (the device SDKs: Python's product_info starting
// with "dtmi", C's OPTION_MODEL_ID, C#'s ClientOptions.ModelId), and the
// hub shows it as "modelId" on the identity's twin (Microsoft's "Understand
// IoT Plug and Play digital twins") and as "$metadata.$model" on the
// device's digital twin (pnp_twin.go). docs/fidelity.md, "Plug and Play".

// dtmiPattern is the syntax of a Digital Twin Model Identifier
// (Azure/digital-twin-model-identifier): "dtmi:" then path segments
// separated by ':' (letters, digits and underscores, not starting with a
// digit, not ending with an underscore; a leading run of underscores marks
// a system segment), then ';' and a version of at most nine digits, not
// starting with 0, with DTDL v3's optional ".minor" of at most six.
var dtmiPattern = regexp.MustCompile(`^dtmi:(?:_+[A-Za-z0-9]|[A-Za-z])(?:[A-Za-z0-9_]*[A-Za-z0-9])?(?::(?:_+[A-Za-z0-9]|[A-Za-z])(?:[A-Za-z0-9_]*[A-Za-z0-9])?)*;[1-9][0-9]{0,8}(?:\.[1-9][0-9]{0,5})?$`)

// maxModelIDLength bounds a model id; DTDL v3 limits an Interface's @id to
// 128 characters, and nothing longer can name a model a device implements.
const maxModelIDLength = 128

// checkModelID refuses a model id that is not a DTMI. The hub's answer to a
// malformed one is not documented; the emulator refuses the CONNECT as it
// refuses any other malformed user name (CONNACK 5), so a device that
// announces a model it cannot be meets the fault at once, not later as a
// digital twin without its model (docs/fidelity.md, "Model id").
func checkModelID(id string) error {
	if len(id) > maxModelIDLength || !dtmiPattern.MatchString(id) {
		return fmt.Errorf("model-id %q is not a DTMI (dtmi:<segment>[:<segment>...];<version>, at most %d characters)", id, maxModelIDLength)
	}
	return nil
}

// announceModel records the model id an identity announced at an accepted
// CONNECT, which its twin then shows. A CONNECT without one leaves the last
// announced in place: the model belongs to the device's firmware, not to one
// connection. It is state, so it is committed like any other write; it
// changes no etag or version (the hub's twin version counts writes to tags
// and properties only).
func (r *registry) announceModel(deviceID, moduleID, modelID string) error {
	if modelID == "" {
		return nil
	}
	return r.write(deviceID, func() error {
		_, st, err := r.findIdentity(deviceID, moduleID)
		if err == nil {
			st.modelID = modelID
		}
		return err
	})
}
