package harness

import (
	"strings"
	"testing"
)

// What the emulator binary writes on start (cmd/iothub-emulator, policyLines)
// amid its log lines on stderr, which a container's logs mix in.
const (
	ownerKey   = "b3duZXIga2V5"
	printedOut = `time=2025-01-01T00:00:00Z level=INFO msg="generated a CA" out=/ca.pem
IOTHUB_CONNECTION_STRING=HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=` + ownerKey + `
IOTHUB_POLICY_SERVICE_CONNECTION_STRING=HostName=localhost;SharedAccessKeyName=service;SharedAccessKey=c2VydmljZQ==
IOTHUB_POLICY_DEVICE_CONNECTION_STRING=HostName=localhost;SharedAccessKeyName=device;SharedAccessKey=ZGV2aWNl
IOTHUB_POLICY_REGISTRY_READ_CONNECTION_STRING=HostName=localhost;SharedAccessKeyName=registryRead;SharedAccessKey=cmVhZA==
IOTHUB_POLICY_REGISTRY_READ_WRITE_CONNECTION_STRING=HostName=localhost;SharedAccessKeyName=registryReadWrite;SharedAccessKey=d3JpdGU=
time=2025-01-01T00:00:00Z level=INFO msg=serving host=localhost https=[::]:443
`
)

func TestParsePrintedFindsEveryPolicy(t *testing.T) {
	p, err := parsePrinted(strings.NewReader(printedOut))
	if err != nil {
		t.Fatal(err)
	}
	if p.owner.SharedAccessKeyName != "iothubowner" || p.owner.SharedAccessKey != ownerKey {
		t.Errorf("owner = %+v", p.owner)
	}
	want := map[string]string{"iothubowner": ownerKey, "service": "c2VydmljZQ==", "device": "ZGV2aWNl",
		"registryRead": "cmVhZA==", "registryReadWrite": "d3JpdGU="}
	if len(p.byPolicy) != len(want) {
		t.Errorf("policies %v, want %d", p.byPolicy, len(want))
	}
	for name, key := range want {
		if cs := p.byPolicy[name]; cs.SharedAccessKeyName != name || cs.SharedAccessKey != key || cs.HostName != "localhost" {
			t.Errorf("policy %s: %+v", name, cs)
		}
	}
}

// TestParsePrintedTakesTheLatestStart: a restarted container's logs hold
// every start's lines; the latest are the ones its emulator serves.
func TestParsePrintedTakesTheLatestStart(t *testing.T) {
	again := strings.NewReplacer(ownerKey, "bmV3IG93bmVy", "ZGV2aWNl", "bmV3IGRldmljZQ==").Replace(printedOut)
	p, err := parsePrinted(strings.NewReader(printedOut + again))
	if err != nil {
		t.Fatal(err)
	}
	if p.owner.SharedAccessKey != "bmV3IG93bmVy" || p.byPolicy["iothubowner"].SharedAccessKey != "bmV3IG93bmVy" ||
		p.byPolicy["device"].SharedAccessKey != "bmV3IGRldmljZQ==" {
		t.Errorf("owner %+v, policies %+v: want the second start's keys", p.owner, p.byPolicy)
	}
}

// TestParsePrintedErrors: no owner line (only an older image's, or a
// usage text's mention of the variable), or a line that is no policy's
// connection string, is an error that names the variable and never shows
// the line's key.
func TestParsePrintedErrors(t *testing.T) {
	for name, tc := range map[string]struct{ out, want string }{
		"nothing printed": {"level=ERROR msg=failed\n", "printed no IOTHUB_CONNECTION_STRING= line"},
		"usage only": {"Every flag can also be set as IOTHUB_EMULATOR_<NAME>; IOTHUB_CONNECTION_STRING is printed\n",
			"printed no IOTHUB_CONNECTION_STRING= line"},
		"other policies only": {strings.SplitN(printedOut, "\n", 3)[2], "printed no IOTHUB_CONNECTION_STRING= line"},
		"a device's connection string": {"IOTHUB_POLICY_DEVICE_CONNECTION_STRING=HostName=h;DeviceId=d;SharedAccessKey=" + ownerKey + "\n",
			"emulator's IOTHUB_POLICY_DEVICE_CONNECTION_STRING: not a shared access policy's"},
		"no policy name": {"IOTHUB_CONNECTION_STRING=HostName=h;SharedAccessKey=" + ownerKey + "\n",
			"emulator's IOTHUB_CONNECTION_STRING:"},
		"not a connection string": {"IOTHUB_POLICY_SERVICE_CONNECTION_STRING=" + ownerKey + "\n",
			"emulator's IOTHUB_POLICY_SERVICE_CONNECTION_STRING:"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parsePrinted(strings.NewReader(tc.out))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), ownerKey) {
				t.Fatalf("error %q shows the key", err)
			}
		})
	}
}
