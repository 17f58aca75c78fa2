package device

import (
	"maps"
	"testing"
)

// TestDecodeCloudMessage reads a property bag as a real hub writes it
// (amenzhinsky/iothub#68 quotes one) and the edge cases the Python SDK's
// parser defines: '+' kept, a key without '=' skipped.
func TestDecodeCloudMessage(t *testing.T) {
	got := decodeCloudMessage("devices/d1/messages/devicebound/%24.mid=m%2F1&%24.to=%2Fdevices%2Fd1%2Fmessages%2FdeviceBound" +
		"&%24.ct=text%2Fplain%3B%20charset%3DUTF-8&%24.ce=utf-8&iothub-ack=full&a%20b=c+d&flag&e=")
	want := map[string]string{"a b": "c+d", "e": ""}
	if got.MessageID != "m/1" || got.To != "/devices/d1/messages/deviceBound" || got.ContentType != "text/plain; charset=UTF-8" ||
		got.ContentEncoding != "utf-8" || got.Ack != "full" || !maps.Equal(got.Properties, want) {
		t.Errorf("decoded %+v", got)
	}
	if m := decodeCloudMessage("devices/d1/messages/devicebound/"); len(m.Properties) != 0 || m.MessageID != "" {
		t.Errorf("empty bag decoded as %+v", m)
	}
}

// FuzzDecodeCloudMessage: any topic decodes without panicking.
func FuzzDecodeCloudMessage(f *testing.F) {
	f.Add("devices/d/messages/devicebound/%24.mid=1&k=v")
	f.Add("devices/d/messages/devicebound/%zz=%&&=")
	f.Fuzz(func(t *testing.T, topic string) { _ = decodeCloudMessage(topic) })
}
