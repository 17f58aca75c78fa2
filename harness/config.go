package harness

import (
	"context"
	"fmt"
	"log/slog"
	"os"
)

// Config is what the environment says about the target, read in one place.
type Config struct {
	// Target is IOTHUB_TARGET: "embedded" (default), "container" or "live".
	Target string
	// ConnectionString is IOTHUB_CONNECTION_STRING, for the live target.
	ConnectionString string
	// CAFile is IOTHUB_CA_FILE, a PEM the live target's TLS must trust.
	CAFile string
	// Image is IOTHUB_EMULATOR_IMAGE, for the container target.
	Image string
	// MQTTAddress is IOTHUB_MQTT_ADDRESS, for the live target: where MQTT
	// clients dial when it is not the hub's HostName on port 8883 (a
	// protocol gateway, or an emulator on another port).
	MQTTAddress string
	// AMQPAddress is IOTHUB_AMQP_ADDRESS, for the live target: where AMQP
	// clients (the built-in endpoint's reader, cloud-to-device senders) dial
	// when it is not the hub's HostName on port 5671.
	AMQPAddress string
	// EventHubConnectionString is IOTHUB_EVENTHUB_CONNECTION_STRING, for
	// the live target: the built-in endpoint's Event Hubs-compatible
	// connection string (the portal's "Built-in endpoints" page), which
	// scenarios reading telemetry and events need.
	EventHubConnectionString string
}

// ConfigFromEnv reads the IOTHUB_* variables.
func ConfigFromEnv() Config {
	c := Config{
		Target:           os.Getenv("IOTHUB_TARGET"),
		ConnectionString: os.Getenv("IOTHUB_CONNECTION_STRING"),
		CAFile:           os.Getenv("IOTHUB_CA_FILE"),
		Image:            os.Getenv("IOTHUB_EMULATOR_IMAGE"),
		MQTTAddress:      os.Getenv("IOTHUB_MQTT_ADDRESS"),
		AMQPAddress:      os.Getenv("IOTHUB_AMQP_ADDRESS"),

		EventHubConnectionString: os.Getenv("IOTHUB_EVENTHUB_CONNECTION_STRING"),
	}
	if c.Target == "" {
		c.Target = "embedded"
	}
	return c
}

// Open starts or connects to the configured target.
func Open(ctx context.Context, c Config, log *slog.Logger) (Target, error) {
	switch c.Target {
	case "embedded":
		return StartEmbedded(ctx, log)
	case "container":
		return OpenContainer(ctx, c, log)
	case "live":
		return OpenLive(ctx, c)
	default:
		return nil, fmt.Errorf("IOTHUB_TARGET=%q: want embedded, container or live", c.Target)
	}
}
