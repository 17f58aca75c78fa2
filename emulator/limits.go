package emulator

import "time"

// The emulator's resource limits: what keeps a hostile or broken client
// from holding the process's memory, descriptors or goroutines. README's
// "Limits" section lists them for users; docs/fidelity.md records where the
// hub's own figures come from.
const (
	defaultMaxHTTPSConnections = 1024
	defaultMaxMQTTConnections  = 10000
	defaultMaxAMQPConnections  = 1024

	// HTTPS: a request's headers must arrive within 10 s and the whole
	// request within 20 s; an answer must be written within 60 s (the
	// control plane's awaits and direct method calls lift this for
	// themselves); a keep-alive connection idle for 30 s is closed. The SDKs' requests are small and
	// quick, and their HTTP clients reconnect when an idle connection has
	// gone, so these cost a well-behaved client nothing.
	httpReadHeaderTimeout = 10 * time.Second
	httpReadTimeout       = 20 * time.Second
	httpWriteTimeout      = 60 * time.Second
	httpIdleTimeout       = 30 * time.Second
	httpMaxHeaderBytes    = 64 << 10

	// maxMQTTPacket bounds every MQTT packet, CONNECT included, so a socket
	// that declares a huge length is closed before it has sent anything
	// (or authenticated): 256 KiB is IoT Hub's Maximum Packet Size (its
	// MQTT 5 documentation) and its device-to-cloud message limit.
	maxMQTTPacket = 256 << 10
)
