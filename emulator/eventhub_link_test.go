package emulator_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/go-amqp"
	"github.com/hubspec/hubspec/emulator"
)

// eventHubToken signs a token for the built-in endpoint as the Event Hubs
// clients do: the key's text is the HMAC key.
func eventHubToken(policy, key, audience string, expiry time.Time) string {
	sr := strings.ToLower(url.QueryEscape(audience))
	se := fmt.Sprint(expiry.Unix())
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(sr + "\n" + se))
	sig := url.QueryEscape(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return fmt.Sprintf("SharedAccessSignature sr=%s&sig=%s&se=%s&skn=%s", sr, sig, se, policy)
}

func dialEventHub(ctx context.Context, t *testing.T, s *emulator.Server, sasl amqp.SASLType) (*amqp.Session, error) {
	t.Helper()
	cfg := s.TLSConfig()
	cfg.ServerName = "localhost"
	conn, err := amqp.Dial(ctx, "amqps://"+s.AMQPAddr(), &amqp.ConnOptions{SASLType: sasl, TLSConfig: cfg})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conn.Close() })
	return conn.NewSession(ctx, nil)
}

func ownerKey(t *testing.T, s *emulator.Server) string {
	t.Helper()
	cs := s.ConnectionString()
	return cs[strings.Index(cs, "SharedAccessKey=")+len("SharedAccessKey="):]
}

// TestEventHubLinkNeedsAClaim: after SASL ANONYMOUS and no put-token, a
// receiver on a partition is refused with amqp:unauthorized-access; SASL
// PLAIN with {policy}@sas.root.{hub} and a token opens it; a wrong
// PLAIN password fails SASL.
func TestEventHubLinkNeedsAClaim(t *testing.T) {
	s, _ := startHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	partition := s.EventHubName() + "/ConsumerGroups/$Default/Partitions/0"

	anon, err := dialEventHub(ctx, t, s, amqp.SASLTypeAnonymous())
	if err != nil {
		t.Fatal(err)
	}
	_, err = anon.NewReceiver(ctx, partition, nil)
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Condition != amqp.ErrCondUnauthorizedAccess {
		t.Fatalf("receiver without a claim: %v, want amqp:unauthorized-access", err)
	}

	audience := "amqps://" + s.HostName() + "/" + s.EventHubName()
	token := eventHubToken("iothubowner", ownerKey(t, s), audience, time.Now().Add(time.Hour))
	plain, err := dialEventHub(ctx, t, s, amqp.SASLTypePlain("iothubowner@sas.root."+s.EventHubName(), token))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.NewReceiver(ctx, partition, nil); err != nil {
		t.Fatalf("receiver after SASL PLAIN: %v", err)
	}
	if _, err := plain.NewReceiver(ctx, s.EventHubName()+"/ConsumerGroups/$Default/Partitions/9", nil); err == nil {
		t.Error("a receiver on partition 9 of 4 was attached")
	}

	bad := eventHubToken("iothubowner", "d3Jvbmc=", audience, time.Now().Add(time.Hour))
	if _, err := dialEventHub(ctx, t, s, amqp.SASLTypePlain("iothubowner@sas.root."+s.EventHubName(), bad)); err == nil {
		t.Error("SASL PLAIN with a token signed by another key succeeded")
	}
}
