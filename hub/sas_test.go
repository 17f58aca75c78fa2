package hub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

type sasVector struct {
	Name, Generator, ResourceURI, Key, Policy, Token string
	Expiry                                           int64
}

func loadSASVectors(t *testing.T) []sasVector {
	t.Helper()
	b, err := os.ReadFile("../fixtures/sas_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Vectors []sasVector }
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return file.Vectors
}

// verifySAS is the hub's rule written independently of sas.go: HMAC over sr
// exactly as sent, "\n", se; compared with the percent-decoded sig.
func verifySAS(t *testing.T, tok SASToken, base64Key string) bool {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(base64Key)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(tok.Resource + "\n" + strconv.FormatInt(tok.Expiry.Unix(), 10)))
	want := m.Sum(nil)
	got, err := base64.StdEncoding.DecodeString(tok.Signature)
	return err == nil && hmac.Equal(got, want)
}

func TestBuildSASTokenVectors(t *testing.T) {
	for _, v := range loadSASVectors(t) {
		t.Run(v.Generator+"/"+v.Name, func(t *testing.T) {
			parsed, err := ParseSASToken(v.Token)
			if err != nil {
				t.Fatalf("ParseSASToken(%q): %v", v.Token, err)
			}
			if !verifySAS(t, parsed, v.Key) {
				t.Errorf("signature of %q does not verify over sr as sent", v.Token)
			}
			if parsed.Expiry.Unix() != v.Expiry || parsed.Policy != v.Policy {
				t.Errorf("parsed %+v, want expiry %d policy %q", parsed, v.Expiry, v.Policy)
			}
			if v.Generator != "pydev" {
				return
			}
			got, err := BuildSASToken(v.ResourceURI, v.Key, v.Policy, time.Unix(v.Expiry, 0))
			if err != nil {
				t.Fatal(err)
			}
			if got != v.Token {
				t.Errorf("BuildSASToken\n got %s\nwant %s", got, v.Token)
			}
		})
	}
}

func TestParseSASTokenShapes(t *testing.T) {
	const key = testKey
	se := "1767225600"
	sign := func(sr string) string {
		k, _ := base64.StdEncoding.DecodeString(key)
		m := hmac.New(sha256.New, k)
		m.Write([]byte(sr + "\n" + se))
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	nodeSR := "h.net%2fdevices%2fd" // Node's encodeURIComponent: lower-case hex is fine
	cSR := "h.net/devices/d/modules/m"
	tests := []struct {
		name, token, resource, policy string
	}{
		{"node order sr sig skn se", "SharedAccessSignature sr=h.net&sig=" + EscapeAll(sign("h.net")) + "&skn=iothubowner&se=" + se, "h.net", "iothubowner"},
		{"node lower-case hex", "SharedAccessSignature sr=" + nodeSR + "&sig=" + lowerHex(EscapeAll(sign(nodeSR))) + "&se=" + se, nodeSR, ""},
		{"C SDK unencoded sr", "SharedAccessSignature sr=" + cSR + "&sig=" + EscapeAll(sign(cSR)) + "&se=" + se, cSR, ""},
		{"se first, spaces", " SharedAccessSignature se=" + se + " & skn=a%20b & sr=h.net & sig=" + sign("h.net"), "h.net", "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := ParseSASToken(tt.token)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Resource != tt.resource || tok.Policy != tt.policy || tok.Expiry.Unix() != 1767225600 {
				t.Errorf("got %+v", tok)
			}
			if !verifySAS(t, tok, key) {
				t.Errorf("signature does not verify")
			}
		})
	}
}

// lowerHex turns %2B, %2F and %3D escapes into lower case, as some encoders write them.
func lowerHex(s string) string {
	return strings.NewReplacer("%2B", "%2b", "%2F", "%2f", "%3D", "%3d").Replace(s)
}

func TestParseSASTokenErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"no prefix", "sr=a&sig=AA==&se=1", "prefix"},
		{"missing sig", "SharedAccessSignature sr=a&se=1", "missing sig"},
		{"missing se", "SharedAccessSignature sr=a&sig=AA%3D%3D", "missing se"},
		{"unknown field", "SharedAccessSignature sr=a&sig=AA%3D%3D&se=1&x=y", "unknown field"},
		{"duplicate", "SharedAccessSignature sr=a&sr=b&sig=AA%3D%3D&se=1", "duplicate sr"},
		{"no =", "SharedAccessSignature sr=a&sig&se=1", "not key=value"},
		{"empty value", "SharedAccessSignature sr=&sig=AA%3D%3D&se=1", "empty sr"},
		{"bad escape", "SharedAccessSignature sr=a&sig=AA%3&se=1", "percent-encoded"},
		{"sig not base64", "SharedAccessSignature sr=a&sig=***&se=1", "not base64"},
		{"se negative", "SharedAccessSignature sr=a&sig=AA%3D%3D&se=-1", "se is not"},
		{"se not a number", "SharedAccessSignature sr=a&sig=AA%3D%3D&se=soon", "se is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSASToken(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestBuildSASTokenErrors(t *testing.T) {
	exp := time.Unix(1, 0)
	if _, err := BuildSASToken("", testKey, "", exp); err == nil {
		t.Error("empty resource accepted")
	}
	if _, err := BuildSASToken("h", "", "", exp); err == nil {
		t.Error("empty key accepted")
	}
	_, err := BuildSASToken("h", "sec*ret", "", exp)
	if err == nil || strings.Contains(err.Error(), "sec*ret") {
		t.Errorf("bad key: %v", err)
	}
}

func TestConnectionStringSASToken(t *testing.T) {
	now := time.Unix(1767222000, 0)
	tests := []struct{ cs, resource, policy string }{
		{"HostName=h.net;SharedAccessKeyName=iothubowner;SharedAccessKey=" + testKey, "h.net", "iothubowner"},
		{"HostName=h.net:8443;DeviceId=d;SharedAccessKey=" + testKey, "h.net%3A8443%2Fdevices%2Fd", ""},
		{"HostName=h.net;DeviceId=d;ModuleId=m;SharedAccessKey=" + testKey, "h.net%2Fdevices%2Fd%2Fmodules%2Fm", ""},
	}
	for _, tt := range tests {
		c, err := ParseConnectionString(tt.cs)
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.SASToken(time.Hour, now)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := ParseSASToken(s)
		if err != nil {
			t.Fatal(err)
		}
		if tok.Resource != tt.resource || tok.Policy != tt.policy || !tok.Expiry.Equal(now.Add(time.Hour)) {
			t.Errorf("%s: got %+v", tt.cs, tok)
		}
		if !verifySAS(t, tok, testKey) {
			t.Errorf("%s: signature does not verify", tt.cs)
		}
	}
	given := "SharedAccessSignature sr=h&sig=AA%3D%3D&se=1"
	c := ConnectionString{HostName: "h", DeviceID: "d", SharedAccessSignature: given}
	if s, err := c.SASToken(time.Hour, now); err != nil || s != given {
		t.Errorf("SAS string: %q, %v", s, err)
	}
	if _, err := (ConnectionString{HostName: "h", DeviceID: "d", X509: true}).SASToken(time.Hour, now); err == nil {
		t.Error("x509 string gave a token")
	}
	if _, err := (ConnectionString{HostName: "h", DeviceID: "d", SharedAccessKey: testKey}).SASToken(0, now); err == nil {
		t.Error("zero ttl accepted")
	}
}

func TestQuoteAllMatchesPython(t *testing.T) {
	// Expected values from urllib.parse.quote(s, safe="").
	for in, want := range map[string]string{
		"a/b:c":       "a%2Fb%3Ac",
		"A-z_0.9~":    "A-z_0.9~",
		"+= !'()*$,;": "%2B%3D%20%21%27%28%29%2A%24%2C%3B",
		"é":           "%C3%A9",
	} {
		if got := EscapeAll(in); got != want {
			t.Errorf("EscapeAll(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseSASToken(f *testing.F) {
	for _, v := range []string{
		"SharedAccessSignature sr=h&sig=AA%3D%3D&se=1&skn=p",
		"SharedAccessSignature skn=p&se=1&sig=AA==&sr=h%2Fdevices%2Fd",
		"SharedAccessSignature sr=&sig=%&se=99999999999999999999",
		"SharedAccessSignature ",
	} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseSASToken(s)
		if err != nil {
			return
		}
		if tok.Resource == "" || tok.Signature == "" || tok.Expiry.Unix() < 0 {
			t.Fatalf("accepted incomplete token %q: %+v", s, tok)
		}
		if _, err := base64.StdEncoding.DecodeString(tok.Signature); err != nil {
			t.Fatalf("accepted non-base64 sig in %q", s)
		}
	})
}
