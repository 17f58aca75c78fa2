package mqttconn

import (
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// TestCopyingStoreSharesNoPacket: what Get returns is equal to what was
// put, yet a different object each time, so a resume that sets DUP on it
// cannot race with a writer still encoding the original.
func TestCopyingStoreSharesNoPacket(t *testing.T) {
	s := NewStore()
	s.Open()
	pub := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	pub.TopicName, pub.Qos, pub.MessageID, pub.Payload = "$iothub/twin/GET/?$rid=1", 1, 7, []byte(" ")
	s.Put("o.7", pub)

	got, ok := s.Get("o.7").(*packets.PublishPacket)
	if !ok || got == pub {
		t.Fatalf("Get returned %p (%T), want a copy of %p", got, got, pub)
	}
	if got.TopicName != pub.TopicName || got.MessageID != 7 || got.Qos != 1 || string(got.Payload) != " " {
		t.Fatalf("copy differs: %+v", got)
	}
	got.Dup = true
	if again := s.Get("o.7").(*packets.PublishPacket); again.Dup {
		t.Fatal("a change to one copy reached the store")
	}
	if keys := s.All(); len(keys) != 1 || keys[0] != "o.7" {
		t.Fatalf("All = %v", keys)
	}
	s.Del("o.7")
	if s.Get("o.7") != nil {
		t.Fatal("Get after Del returned a packet")
	}
	s.Put("o.8", pub)
	s.Reset()
	if len(s.All()) != 0 {
		t.Fatal("Reset kept packets")
	}
	s.Close()
	s.Put("o.9", pub)
	if s.Get("o.9") != nil {
		t.Fatal("a closed store kept a packet")
	}
}
