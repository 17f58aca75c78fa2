package emulator_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/hubspec/hubspec/emulator"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/service"
)

// A twin query through the service client: devices filed by a tag,
// counted per site, the rows read one page of two at a time.
func ExampleStart_query() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := emulator.Start(ctx, emulator.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	reg, err := service.NewRegistryClient(s.ConnectionString(), service.WithTLSConfig(s.TLSConfig()))
	if err != nil {
		log.Fatal(err)
	}
	for i, site := range []string{"north", "south", "north"} {
		id := fmt.Sprintf("sensor-%d", i)
		if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: id}); err != nil {
			log.Fatal(err)
		}
		if _, err := reg.UpdateDeviceTwin(ctx, id, &hub.Twin{Tags: map[string]any{"site": site}}, "*"); err != nil {
			log.Fatal(err)
		}
	}
	for row, err := range reg.Query(ctx, "SELECT tags.site AS site, COUNT() AS n FROM devices GROUP BY tags.site", 2) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(row))
	}
	// Output:
	// {"site":"north","n":2}
	// {"site":"south","n":1}
}
