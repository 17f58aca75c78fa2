package harness

import (
	"context"
	"crypto/tls"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	amqp "github.com/Azure/go-amqp"
)

// CheckAMQPEndpoint proves a target's AMQP settings reach its hub the way
// a service app would: go-amqp opens a connection at Address with TLS, and
// the Azure SDK's Event Hubs client, given only the built-in endpoint's
// connection string and TLS, reads the event hub's properties. Exported
// for the container target's external test.
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
	c, err := azeventhubs.NewConsumerClientFromConnectionString(ep.EventHubConnectionString, "", azeventhubs.DefaultConsumerGroup,
		&azeventhubs.ConsumerClientOptions{TLSConfig: eventHubTLS(t, ep)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	props, err := c.GetEventHubProperties(ctx, nil)
	if err != nil {
		t.Fatalf("built-in endpoint of the %s target: %v", tg.Name(), err)
	}
	if len(props.PartitionIDs) == 0 || props.Name == "" {
		t.Fatalf("built-in endpoint properties %+v", props)
	}
}

// eventHubTLS is ep.TLS with the server name the built-in endpoint's host:
// azeventhubs hands go-amqp the endpoint's host:port as the TLS name when
// none is set, which only fails where the endpoint has a port (emulators).
func eventHubTLS(t *testing.T, ep AMQPEndpoint) *tls.Config {
	if ep.TLS != nil && ep.TLS.ServerName != "" {
		return ep.TLS
	}
	u, err := url.Parse(strings.TrimPrefix(strings.Split(ep.EventHubConnectionString, ";")[0], "Endpoint="))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ep.TLS != nil {
		cfg = ep.TLS.Clone()
	}
	cfg.ServerName = u.Hostname()
	return cfg
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
