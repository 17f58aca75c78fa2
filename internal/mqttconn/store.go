package mqttconn

import (
	"bytes"
	"sync"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// copyingStore is paho's in-memory message store, except that it keeps each
// packet's encoding and hands out a fresh packet on every Get.
//
// Why: paho's MemoryStore hands back the very packet object it was given.
// When a connection drops with a QoS 1 publish in flight, the reconnect's
// resume takes that packet from the store and sets its DUP flag while the
// old connection's writer may still be encoding it: a data race
// (eclipse-paho/paho.mqtt.golang#703) that -race reports in reconnect
// tests. A copy per Get shares nothing with the writer. (paho's FileStore
// avoids the race the same way, through the file system.)
type copyingStore struct {
	mu     sync.Mutex
	opened bool
	msgs   map[string][]byte
}

var _ paho.Store = (*copyingStore)(nil)

func NewStore() *copyingStore { return &copyingStore{msgs: map[string][]byte{}} }

func (s *copyingStore) Open() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened = true
}

// Put keeps message's encoding. A packet that cannot be encoded could not
// be sent either, so it is not kept.
func (s *copyingStore) Put(key string, message packets.ControlPacket) {
	var b bytes.Buffer
	if err := message.Write(&b); err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		s.msgs[key] = b.Bytes()
	}
}

// Get decodes a fresh packet, or returns nil as MemoryStore does for a key
// it does not hold.
func (s *copyingStore) Get(key string) packets.ControlPacket {
	s.mu.Lock()
	b, ok := s.msgs[key]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	p, err := packets.ReadPacket(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	return p
}

func (s *copyingStore) All() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.msgs))
	for k := range s.msgs {
		keys = append(keys, k)
	}
	return keys
}

func (s *copyingStore) Del(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.msgs, key)
}

func (s *copyingStore) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened = false
}

func (s *copyingStore) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = map[string][]byte{}
}
