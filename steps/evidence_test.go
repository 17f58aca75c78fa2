package steps_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hubspec/hubspec/hub/service"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/steps"
)

// cukeStep is what these tests read of a step in godog's Cucumber JSON.
type cukeStep struct {
	Name   string `json:"name"`
	Result struct {
		Status string `json:"status"`
	} `json:"result"`
	Embeddings []struct {
		Name     string `json:"name"`
		MimeType string `json:"mime_type"`
		Data     string `json:"data"`
	} `json:"embeddings"`
}

// evidence is one decoded embedding of a step: the contract's
// steps.Evidence, and what the attachment said around it.
type evidence struct {
	name, mimeType string
	raw            []byte
	steps.Evidence
}

// runCucumber runs one feature against an embedded emulator with the
// Cucumber formatter and returns godog's status, the steps by name (in
// order, one scenario after another) and every key the hub gave a device
// or module during the run: a test hook reads them from the emulator with
// a service client after each step, before cleanup deletes them.
func runCucumber(t *testing.T, feature string) (int, []cukeStep, []string) {
	t.Helper()
	emb, err := harness.StartEmbedded(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	reg, err := service.NewRegistryClient(emb.ServiceConnectionString(), emb.RegistryOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "evidence.feature")
	if err := os.WriteFile(path, []byte(feature), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{} // godog runs one scenario at a time here
	noteKeys := func(ctx context.Context, _ *godog.Step, _ godog.StepResultStatus, _ error) (context.Context, error) {
		devices, err := reg.ListDevices(ctx, 0)
		if err != nil {
			return ctx, err
		}
		for _, d := range devices {
			addKeys(keys, d.Authentication)
			modules, err := reg.ListModules(ctx, d.DeviceID)
			if err != nil {
				return ctx, err
			}
			for _, m := range modules {
				addKeys(keys, m.Authentication)
			}
		}
		return ctx, nil
	}
	var out bytes.Buffer
	status := godog.TestSuite{
		ScenarioInitializer: func(sc *godog.ScenarioContext) {
			steps.Initialize(harness.NewRun(emb))(sc)
			sc.StepContext().After(noteKeys)
		},
		Options: &godog.Options{Format: "cucumber", Paths: []string{path}, Strict: true, Output: &out},
	}.Run()
	var report []struct {
		Elements []struct {
			Steps []cukeStep `json:"steps"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("cucumber report: %v\n%s", err, out.String())
	}
	var all []cukeStep
	for _, f := range report {
		for _, e := range f.Elements {
			all = append(all, e.Steps...)
		}
	}
	secrets := slices.Collect(maps.Keys(keys))
	if len(secrets) == 0 {
		t.Fatal("the run created no identity with keys: nothing to look for")
	}
	return status, all, secrets
}

func addKeys(keys map[string]bool, a *hub.Authentication) {
	if a != nil && a.SymmetricKey != nil {
		keys[a.SymmetricKey.PrimaryKey] = true
		keys[a.SymmetricKey.SecondaryKey] = true
	}
}

// evidenceOf decodes a step's embeddings.
func evidenceOf(t *testing.T, s cukeStep) []evidence {
	t.Helper()
	var out []evidence
	for _, e := range s.Embeddings {
		raw, err := base64.StdEncoding.DecodeString(e.Data)
		if err != nil {
			t.Fatalf("step %q: embedding %q: %v", s.Name, e.Name, err)
		}
		ev := evidence{name: e.Name, mimeType: e.MimeType, raw: raw}
		if e.MimeType == "application/vnd.hubspec.evidence+json" {
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatalf("step %q: embedding %q is not JSON: %v\n%s", s.Name, e.Name, err, raw)
			}
		}
		out = append(out, ev)
	}
	return out
}

// stepNamed is the first step whose text starts with prefix.
func stepNamed(t *testing.T, all []cukeStep, prefix string) cukeStep {
	t.Helper()
	for _, s := range all {
		if strings.HasPrefix(s.Name, prefix) {
			return s
		}
	}
	t.Fatalf("no step starts with %q", prefix)
	return cukeStep{}
}

// sigValue finds every SAS signature, as text or inside JSON strings.
var sigValue = regexp.MustCompile(`(?i)sig=([^&\s"',\\]*)`)

// assertNothingSecret fails for any embedding that holds one of the keys or
// a signature other than the redacted one.
func assertNothingSecret(t *testing.T, all []cukeStep, keys []string) {
	t.Helper()
	for _, s := range all {
		for _, ev := range evidenceOf(t, s) {
			text := ev.name + "\n" + string(ev.raw)
			for _, k := range keys {
				if k != "" && strings.Contains(text, k) {
					t.Errorf("step %q: embedding %q holds the key %s", s.Name, ev.name, k)
				}
			}
			for _, m := range sigValue.FindAllStringSubmatch(text, -1) {
				if m[1] != hub.Redacted {
					t.Errorf("step %q: embedding %q holds a signature: %s", s.Name, ev.name, m[0])
				}
			}
		}
	}
}

// TestEvidenceOfRESTSteps: a REST step carries an http embedding with the
// status and a redacted Authorization header; creating an identity shows
// its body with the keys masked; a failing step carries its evidence too.
func TestEvidenceOfRESTSteps(t *testing.T) {
	status, all, keys := runCucumber(t, `Feature: Evidence of REST steps
  Scenario: A device with keys of its own, created three times
    When the service creates device "sensor" with keys of its own
    And the service creates device "sensor" with keys of its own
    And the service creates device "sensor" with keys of its own
`)
	if status == 0 {
		t.Fatal("the second create passed: the scenario was meant to fail on it")
	}
	first := evidenceOf(t, stepNamed(t, all, "the service creates device"))
	if len(first) != 1 || first[0].Kind != "http" || first[0].HTTP == nil {
		t.Fatalf("first create: want one http item, got %+v", first)
	}
	x := first[0].HTTP
	if x.Method != "PUT" || x.Status != 200 || !strings.Contains(x.URL, "/devices/") {
		t.Errorf("first create: %s %s → %d", x.Method, x.URL, x.Status)
	}
	if auth := x.RequestHeaders["Authorization"]; !strings.HasPrefix(auth, "SharedAccessSignature ") || !strings.Contains(auth, "sig="+hub.Redacted) {
		t.Errorf("Authorization %q: want a SAS token with its signature masked", auth)
	}
	for what, body := range map[string]string{"request": x.RequestBody, "response": x.ResponseBody} {
		if !strings.Contains(body, `"primaryKey":"`+hub.Redacted+`"`) || !strings.Contains(body, `"secondaryKey":"`+hub.Redacted+`"`) {
			t.Errorf("%s body: want both keys masked, got %s", what, body)
		}
	}
	// The title names the device by its alias; the URL holds its hub id.
	want := "PUT /devices/sensor → 200 ("
	if first[0].name != first[0].Title || !strings.HasPrefix(first[0].Title, want) || !strings.HasSuffix(first[0].Title, " ms)") {
		t.Errorf("title %q, file name %q: want %q… ms)", first[0].Title, first[0].name, want)
	}
	// The second create's 409 is checked by no next step: that step fails.
	failed := all[1]
	got := evidenceOf(t, failed)
	if failed.Result.Status != "failed" || len(got) == 0 || got[0].HTTP == nil || got[0].HTTP.Status != 409 {
		t.Errorf("failed step (%s): want its 409 as evidence, got %+v", failed.Result.Status, got)
	}
	assertNothingSecret(t, all, keys)
}

// TestEvidenceOfMQTTSteps: a module that connects and receives a patch
// shows its CONNECT with the password masked and the desired patch as it
// arrived; the service's twin write shows the twin it returned.
func TestEvidenceOfMQTTSteps(t *testing.T) {
	status, all, keys := runCucumber(t, `Feature: Evidence of MQTT steps
  Scenario: The module receives its configuration
    Given module "filter" exists on device "sensor"
    And module "filter" is connected
    When the service sets desired "interval" of module "filter" to 122
    Then module "filter" receives a desired patch with "interval" equal to 122
`)
	if status != 0 {
		t.Fatalf("status %d", status)
	}
	var connects, patches, twins []evidence
	for _, s := range all {
		for _, ev := range evidenceOf(t, s) {
			switch {
			case ev.MQTT != nil && ev.MQTT.Direction == "connect":
				connects = append(connects, ev)
			case ev.MQTT != nil && ev.MQTT.Direction == "received" && strings.HasPrefix(ev.MQTT.Topic, "$iothub/twin/PATCH/properties/desired/"):
				patches = append(patches, ev)
			case ev.Kind == "twin":
				twins = append(twins, ev)
			}
		}
	}
	if len(connects) == 0 {
		t.Fatal("no connect evidence")
	}
	c := connects[0]
	if c.Kind != "mqtt" || c.MQTT.Client != `module "filter" on device "sensor"` || !strings.Contains(c.MQTT.Detail, "SharedAccessSignature ") ||
		!strings.Contains(c.MQTT.Detail, "sig="+hub.Redacted) || !strings.Contains(c.MQTT.Detail, "CONNACK 0") {
		t.Errorf("connect: want the module's masked password and CONNACK 0, got %+v", c.MQTT)
	}
	if len(patches) != 1 || !strings.Contains(patches[0].MQTT.Payload, `"interval":122`) || patches[0].MQTT.Client != `module "filter" on device "sensor"` {
		t.Errorf("want the desired patch with interval 122 once, got %+v", patches)
	}
	found := false
	for _, tw := range twins {
		var doc map[string]any
		_ = json.Unmarshal(tw.Twin.Document, &doc)
		desired, _ := lookupPath(doc, "properties", "desired", "interval")
		found = found || tw.Twin.Identity == `module "filter" on device "sensor"` && desired == 122.0
	}
	if !found {
		t.Errorf("no twin snapshot of module \"filter\" with desired interval 122 among %d", len(twins))
	}
	assertNothingSecret(t, all, keys)
}

func lookupPath(v any, path ...string) (any, bool) {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}
