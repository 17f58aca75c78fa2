package bench

import (
	"strings"
	"testing"
	"time"
)

func TestConfigCheck(t *testing.T) {
	good := Config{Emulator: "e", Mosquitto: "m", Connections: 10, Hold: time.Second, Concurrency: 2, RoundTrips: 10,
		MessageBytes: 128, Devices: 1, ModulesPerDevice: 1, Patches: 1}
	if err := good.Check(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, c := range []struct {
		name  string
		spoil func(*Config)
		want  string
	}{
		{"no emulator", func(c *Config) { c.Emulator = "" }, "emulator"},
		{"no mosquitto", func(c *Config) { c.Mosquitto = "" }, "mosquitto"},
		{"no connections", func(c *Config) { c.Connections = 0 }, "connections 0"},
		{"negative hold", func(c *Config) { c.Hold = -time.Second }, "hold"},
		{"no clients", func(c *Config) { c.Concurrency = 0 }, "concurrency 0"},
		{"fewer trips than clients", func(c *Config) { c.RoundTrips = 1 }, "round trips 1"},
		{"messages too small for a sequence", func(c *Config) { c.MessageBytes = minMessage - 1 }, "message size"},
		{"no patches", func(c *Config) { c.Patches = 0 }, "0 patches"},
		{"no modules", func(c *Config) { c.ModulesPerDevice = 0 }, "0 modules"},
	} {
		cfg := good
		c.spoil(&cfg)
		if err := cfg.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}
