package hub_test

import (
	"fmt"
	"log"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// A module's connection string, as the portal shows it: parsed, its SAS
// resource, and written back in a canonical order.
func ExampleParseConnectionString() {
	cs, err := hub.ParseConnectionString(
		"HostName=myhub.azure-devices.net;DeviceId=myFirstDevice;ModuleId=myFirstModule;SharedAccessKey=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cs.DeviceID, cs.ModuleID, cs.IsService())
	fmt.Println(cs.ResourceURI())
	fmt.Println(hub.Redact(cs.String()))
	// Output:
	// myFirstDevice myFirstModule false
	// myhub.azure-devices.net/devices/myFirstDevice/modules/myFirstModule
	// HostName=myhub.azure-devices.net;DeviceId=myFirstDevice;ModuleId=myFirstModule;SharedAccessKey=***
}

// A service connection string signs SAS tokens for its policy.
func ExampleConnectionString_SASToken() {
	cs, err := hub.ParseConnectionString(
		"HostName=myhub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=")
	if err != nil {
		log.Fatal(err)
	}
	token, err := cs.SASToken(time.Hour, time.Unix(1767225600, 0))
	if err != nil {
		log.Fatal(err)
	}
	parsed, err := hub.ParseSASToken(token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(parsed.Resource, parsed.Policy, parsed.Expiry.UTC().Format(time.RFC3339))
	// Output: myhub.azure-devices.net iothubowner 2026-01-01T01:00:00Z
}
