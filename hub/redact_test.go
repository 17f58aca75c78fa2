package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func TestRedactMasksEverySecretAndNothingElse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SharedAccessSignature sr=h.azure-devices.net%2Fdevices%2Fd&sig=abc%2Bdef%3D&se=1700000000",
			"SharedAccessSignature sr=h.azure-devices.net%2Fdevices%2Fd&sig=***&se=1700000000"},
		{"HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=c2VjcmV0c2VjcmV0==",
			"HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=***"},
		{"HostName=h;SharedAccessKeyName=iothubowner;SharedAccessKey=a+b/c=;GatewayHostName=g",
			"HostName=h;SharedAccessKeyName=iothubowner;SharedAccessKey=***;GatewayHostName=g"},
		{`{"symmetricKey":{"primaryKey":"AAAA","secondaryKey": "BBBB"},"etag":"x"}`,
			`{"symmetricKey":{"primaryKey":"***","secondaryKey": "***"},"etag":"x"}`},
		{`{"PrimaryKey":"AAAA"}`, `{"PrimaryKey":"***"}`},
		{"SharedAccessSignature sr=x&SIG=zz&skn=owner", "SharedAccessSignature sr=x&SIG=***&skn=owner"},
		{`password "SharedAccessSignature sr=x&sig=q"`, `password "SharedAccessSignature sr=x&sig=***"`},
		{"nothing secret: sign=ok design=fine", "nothing secret: sign=ok design=fine"},
		{`{"primaryThumbprint":"ABCD"}`, `{"primaryThumbprint":"ABCD"}`},
		// Inside a JSON string an escaped quote ends a secret, and the
		// text stays valid JSON: evidence embeds redacted bodies as JSON.
		{`{"m":"token \"SharedAccessSignature sr=a&sig=s3cr3t\" refused"}`,
			`{"m":"token \"SharedAccessSignature sr=a&sig=***\" refused"}`},
		{`{"cs":"HostName=h;SharedAccessKey=k3y\"","x":1}`, `{"cs":"HostName=h;SharedAccessKey=***\"","x":1}`},
		{`{"primaryKey":"ab\"cd","etag":"x"}`, `{"primaryKey":"***","etag":"x"}`},
		{`"sig=ab\\cd"`, `"sig=***"`},
		// (?i) folds the long s and the Kelvin sign into s and k: texts
		// with them still get the patterns run on them.
		{"sr=x&\u017fig=zz", "sr=x&\u017fig=***"},
		{"HostName=h;SHAREDACCE\u017fSKEY=k3y", "HostName=h;SHAREDACCE\u017fSKEY=***"},
		{"{\"primary\u212aey\":\"AAAA\"}", "{\"primary\u212aey\":\"***\"}"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// FuzzRedactKeepsJSONValid: masking a secret in a JSON document never
// breaks the document, whatever the string around the secret holds.
func FuzzRedactKeepsJSONValid(f *testing.F) {
	f.Add(`SharedAccessSignature sr=a&sig=b"c`, "primaryKey")
	f.Add(`x\`, "secondaryKey")
	f.Fuzz(func(t *testing.T, value, key string) {
		doc, err := json.Marshal(map[string]string{key: value, "sig": "sig=" + value, "cs": "SharedAccessKey=" + value})
		if err != nil {
			return
		}
		if got := Redact(string(doc)); !json.Valid([]byte(got)) {
			t.Fatalf("Redact(%s) = %s: not JSON", doc, got)
		}
	})
}

func FuzzRedactLeavesNoSignature(f *testing.F) {
	f.Add("SharedAccessSignature sr=a&sig=secret&se=1")
	f.Fuzz(func(t *testing.T, sig string) {
		if sig == "" || strings.ContainsAny(sig, "&; \t\n\r\v\f\"',\u0085\u00a0") {
			return
		}
		// Nothing of the signature may remain; an escape at its end (a
		// backslash) may take some of what follows with it.
		got := Redact("SharedAccessSignature sr=a&sig=" + sig + "&se=1")
		rest, ok := strings.CutPrefix(got, "SharedAccessSignature sr=a&sig="+Redacted)
		if !ok || !strings.HasSuffix("&se=1", rest) {
			t.Fatalf("signature %q: Redact left %q", sig, got)
		}
	})
}

// connectPacket stands for a broker's packet type: a struct whose password
// is a []byte, which a text handler would print as numbers.
type connectPacket struct {
	ClientID string
	Password []byte
}

// TestRedactHandlerLogsNoSecret: every way a secret can reach a log line
// comes out masked, and what is no secret comes out as it was.
func TestRedactHandlerLogsNoSecret(t *testing.T) {
	const logKey = "bG9nS2V5T2ZUaGVUZXN0c0xvZ0tleU9mVGhlVGVzdHM="
	const token = "SharedAccessSignature sr=h%2Fdevices%2Fd&sig=c2lnbmF0dXJl&se=1"
	cs, err := ParseConnectionString("HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=" + logKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"text", "json"} {
		var out bytes.Buffer
		var h slog.Handler = slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})
		if format == "json" {
			h = slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})
		}
		log := slog.New(RedactHandler(h)).With("preset", token)
		log.Info("refused "+token,
			"reason", errors.New("username "+token+": want {host}/{device}"),
			"packet", connectPacket{ClientID: "d", Password: []byte(token)},
			"password", []byte(token),
			"subprotocols", []string{"mqtt", token},
			"cs", cs,
			slog.Group("conn", "token", token, "remote", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8883}),
			"took", 3*time.Millisecond, "attempt", 2, "client", "d/m")
		log.WithGroup("g").Debug("later", "key", "SharedAccessKey="+logKey)
		got := out.String()
		if strings.Contains(got, "c2lnbmF0dXJl") || strings.Contains(got, logKey) || strings.Contains(got, "83 104 97") {
			t.Errorf("%s log holds a secret:\n%s", format, got)
		}
		for _, want := range []string{"sig=***", "SharedAccessKey=***", "connectPacket (not logged: it may hold a secret)",
			"127.0.0.1:8883", "took", "d/m", "want {host}/{device}"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s log lacks %q:\n%s", format, want, got)
			}
		}
	}
}

// TestRedactHandlerKeepsTheLevel: records below the wrapped handler's
// level are not even built.
func TestRedactHandlerKeepsTheLevel(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(RedactHandler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})))
	log.Info("quiet")
	if out.Len() != 0 || log.Enabled(t.Context(), slog.LevelInfo) {
		t.Errorf("an Info record went through a Warn handler: %q", out.String())
	}
}
