package wsconn_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hubspec/hubspec/internal/wsconn"
)

// pair is a server-side Conn and the client WebSocket talking to it.
func pair(t *testing.T) (*wsconn.Conn, *websocket.Conn) {
	t.Helper()
	conns := make(chan *wsconn.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		conns <- wsconn.New(ws)
	}))
	t.Cleanup(srv.Close)
	client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c := <-conns
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, client
}

// TestReadSpansMessages: the stream runs across message boundaries, empty
// messages are skipped, and a text message ends it.
func TestReadSpansMessages(t *testing.T) {
	c, client := pair(t)
	for _, m := range []string{"AM", "", "QP\x00\x01", "\x00\x00rest"} {
		if err := client.WriteMessage(websocket.BinaryMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, 12)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "AMQP\x00\x01\x00\x00rest" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := client.WriteMessage(websocket.TextMessage, []byte("AMQP")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(got); !errors.Is(err, wsconn.ErrTextMessage) {
		t.Fatalf("a text message read as %v", err)
	}
}

// TestWriteIsOneBinaryMessage: each Write arrives as one binary message,
// and Close sends a normal close frame.
func TestWriteIsOneBinaryMessage(t *testing.T) {
	c, client := pair(t)
	for _, m := range []string{"AMQP\x00\x01\x00\x00", "frame"} {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []string{"AMQP\x00\x01\x00\x00", "frame"} {
		typ, got, err := client.ReadMessage()
		if err != nil || typ != websocket.BinaryMessage || string(got) != want {
			t.Fatalf("message type %d %q %v, want binary %q", typ, got, err, want)
		}
	}
	c.Close()
	if _, _, err := client.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after Close: %v, want a normal close", err)
	}
}
