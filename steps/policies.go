package steps

import (
	"context"
	"errors"
	"time"

	"github.com/hubspec/hubspec/steps/internal/vocab"

	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/internal/mqtttest"
)

// policyVocabulary act with one of the hub's shared access policies, to
// show what each may and may not do: the service's calls, and a device's
// connection with a token the policy signed. Only a target that gives
// every policy's connection string can (harness.PolicyConnectionStrings,
// the emulator targets); elsewhere the scenario is skipped, saying why.
var policyVocabulary = []vocab.Def{
	step(policies, `^the service uses the "([^"]+)" policy$`, usePolicy,
		"From now on the service calls the hub with this shared access policy's connection string; cleanup still uses the target's own. Only an emulator gives every policy: elsewhere the scenario is skipped.",
		"<policy> a shared access policy: iothubowner, service, device, registryRead or registryReadWrite"),
	step(policies, `^(device|module) ("[^"]+"(?: on device "[^"]+")?) connects with a token of the "([^"]+)" policy$`, connectWithPolicy,
		"The device or module tries once to connect with a SAS token for itself signed with this shared access policy's key, as a token service holding the key would hand out; a refusal is left for the next step to check.",
		"", "", "<policy> a shared access policy: iothubowner, service, device, registryRead or registryReadWrite"),
}

// usePolicy makes the service call the hub with a policy's connection
// string for the rest of the scenario.
func usePolicy(ctx context.Context, policy string) error {
	w := worldFrom(ctx)
	cs, err := w.policyConnectionString(ctx, policy)
	if err != nil {
		return err
	}
	reg, err := w.registryClient(cs)
	if err != nil {
		return err
	}
	w.registry = reg
	return nil
}

// connectWithPolicy dials once with the identity's own connection string
// but a token signed with the policy's key (skn set).
func connectWithPolicy(ctx context.Context, kind, alias, policy string) error {
	w, s, err := identityIn(ctx, kind, alias)
	if err != nil {
		return err
	}
	pcs, err := w.policyConnectionString(ctx, policy)
	if err != nil {
		return err
	}
	cs, err := w.connectionString(s.ident, "")
	if err != nil {
		return err
	}
	token, err := policyToken(cs, pcs, time.Now())
	if err != nil {
		return err
	}
	return w.connectOnce(ctx, s, cs, mqtttest.WithSASToken(token))
}

// policyConnectionString asks the target for a policy's connection string
// (harness.PolicyConnectionStrings); a target without the power skips the
// scenario.
func (w *world) policyConnectionString(ctx context.Context, policy string) (string, error) {
	p, ok := w.target.(harness.PolicyConnectionStrings)
	if !ok {
		return "", skipWithout(ctx, w.target, "give every shared access policy's connection string")
	}
	return p.PolicyConnectionString(policy)
}

// policyToken is a SAS token for the identity of connection string
// identity, signed with the key of the policy of connection string policy
// and naming it (skn), valid for an hour from now.
func policyToken(identity, policy string, now time.Time) (string, error) {
	id, err := hub.ParseConnectionString(identity)
	if err != nil {
		return "", err
	}
	pol, err := hub.ParseConnectionString(policy)
	if err != nil {
		return "", err
	}
	if !pol.IsService() || id.IsService() {
		return "", errors.New("policy token: want an identity's connection string and a policy's")
	}
	return hub.BuildSASToken(id.ResourceURI(), pol.SharedAccessKey, pol.SharedAccessKeyName, now.Add(time.Hour))
}
