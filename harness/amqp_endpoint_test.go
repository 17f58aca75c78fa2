package harness

import (
	"context"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
	"github.com/hubspec/hubspec/hub/events"
)

// CheckAMQPEndpoint proves a target's AMQP settings reach its hub the way
// a service app would: go-amqp opens a connection at Address with TLS, and
// the built-in endpoint's reader (hub/events, on the Azure SDK's Event Hubs
// client), given only the connection string and TLS, opens every
// partition. Exported for the container target's external test.
func CheckAMQPEndpoint(t *testing.T, tg Target) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ep := tg.AMQP()
	if ep.Address != "" {
		conn, err := amqp.Dial(ctx, "amqps://"+ep.Address, &amqp.ConnOptions{TLSConfig: ep.TLS, SASLType: amqp.SASLTypeAnonymous()})
		if err != nil {
			t.Fatalf("AMQP at %s: %v", ep.Address, err)
		}
		if err := conn.Close(); err != nil {
			t.Fatalf("AMQP close: %v", err)
		}
	}
	if ep.EventHubConnectionString == "" {
		t.Fatalf("%s target gives no built-in endpoint connection string", tg.Name())
	}
	r, err := events.Open(ctx, ep.EventHubConnectionString, events.WithTLSConfig(ep.TLS))
	if err != nil {
		t.Fatalf("built-in endpoint of the %s target: %v", tg.Name(), err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestEmbeddedAMQPEndpoint(t *testing.T) {
	CheckAMQPEndpoint(t, startEmbedded(t))
}

func TestLiveAMQPEndpoint(t *testing.T) {
	_, c := liveStandIn(t)
	tg, err := Open(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	CheckAMQPEndpoint(t, tg)
}
