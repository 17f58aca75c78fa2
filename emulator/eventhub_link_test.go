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

// TestClaimsAsPyamqpSendsThem: Python's pyamqp (azure-eventhub 5.11)
// sends its $cbs and $management requests without reply-to, answered on
// the receiver it attached with the node's address as target; its
// put-token of a shared key's SAS token says type "jwt"; and it sends
// Python bytes, that is AMQP binary, where azeventhubs sends strings (the
// audience, the operation READ, the management type, the token); it names
// a partition by its full amqps:// URI and expects link properties back.
// All of
// it is understood: the put-token opens a partition and the READ, which
// the put-token's claim authorizes, answers.
func TestClaimsAsPyamqpSendsThem(t *testing.T) {
	s, _ := startHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := dialEventHub(ctx, t, s, amqp.SASLTypeAnonymous())
	if err != nil {
		t.Fatal(err)
	}
	audience := "sb://" + s.HostName() + "/" + s.EventHubName()
	token := []byte(eventHubToken("iothubowner", ownerKey(t, s), audience, time.Now().Add(time.Hour)))
	request := func(node string, req *amqp.Message) *amqp.Message {
		t.Helper()
		snd, err := sess.NewSender(ctx, node, nil)
		if err != nil {
			t.Fatal(err)
		}
		rcv, err := sess.NewReceiver(ctx, node, &amqp.ReceiverOptions{TargetAddress: node})
		if err != nil {
			t.Fatal(err)
		}
		if err := snd.Send(ctx, req, nil); err != nil {
			t.Fatalf("%s: %v", node, err)
		}
		resp, err := rcv.Receive(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := request("$cbs", &amqp.Message{Value: token, Properties: &amqp.MessageProperties{MessageID: uint64(0)},
		ApplicationProperties: map[string]any{"name": []byte(audience), "operation": "put-token",
			"type": "jwt", "expiration": nil}})
	if code := resp.ApplicationProperties["status-code"]; code != int32(200) {
		t.Fatalf("put-token of type jwt with a binary token: status %v %v", code, resp.ApplicationProperties["status-description"])
	}
	// pyamqp names the partition by its full URI, sends link properties
	// and merges the answer's into them, so the answer must carry some.
	partition := "amqps://" + s.AMQPAddr() + "/" + s.EventHubName() + "/ConsumerGroups/$Default/Partitions/0"
	props := map[string]any{"com.microsoft:timeout": int64(60000)}
	r, err := sess.NewReceiver(ctx, partition, &amqp.ReceiverOptions{Properties: props})
	if err != nil {
		t.Fatalf("receiver on %s after the put-token: %v", partition, err)
	}
	if got := r.Properties(); got["com.microsoft:timeout"] != int64(60000) {
		t.Errorf("the attach answered link properties %v, want the receiver's %v", got, props)
	}
	// pyamqp's security_token is a described value the endpoint cannot
	// read (its descriptor is the token; go-amqp cannot write one): the
	// connection's claim from the put-token authorizes the READ.
	resp = request("$management", &amqp.Message{Properties: &amqp.MessageProperties{MessageID: uint64(0)},
		ApplicationProperties: map[string]any{"name": s.EventHubName(),
			"operation": []byte("READ"), "type": []byte("com.microsoft:eventhub")}})
	if code := resp.ApplicationProperties["status-code"]; code != int32(200) {
		t.Fatalf("READ with binary operation and type: status %v %v", code, resp.ApplicationProperties["status-description"])
	}

	// Without a claim and without a token, the READ is refused.
	other, err := dialEventHub(ctx, t, s, amqp.SASLTypeAnonymous())
	if err != nil {
		t.Fatal(err)
	}
	sess = other
	resp = request("$management", &amqp.Message{Properties: &amqp.MessageProperties{MessageID: uint64(0)},
		ApplicationProperties: map[string]any{"name": s.EventHubName(), "operation": "READ", "type": "com.microsoft:eventhub"}})
	if code := resp.ApplicationProperties["status-code"]; code != int32(401) {
		t.Fatalf("READ without claim or token: status %v, want 401", code)
	}
}
