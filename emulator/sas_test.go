package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// signToken builds a SAS token the way the SDKs do, written here from the
// protocol description so the tests do not trust the code under test.
// encodeSR chooses between the Python/Node form (sr percent-encoded, '/' as
// %2F) and the C SDK form (sr raw).
func signToken(key, resource string, expiry int64, policy string, encodeSR bool) string {
	sr := resource
	if encodeSR {
		sr = url.QueryEscape(resource)
	}
	se := strconv.FormatInt(expiry, 10)
	raw, _ := base64.StdEncoding.DecodeString(key)
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte(sr + "\n" + se))
	sig := url.QueryEscape(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	tok := "SharedAccessSignature sr=" + sr + "&sig=" + sig + "&se=" + se
	if policy != "" {
		tok += "&skn=" + policy
	}
	return tok
}

func TestParseToken(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
		check   func(t *testing.T, tok sasToken)
	}{
		{name: "python order", in: "SharedAccessSignature sr=h%2Fdevices%2Fd&sig=a%2Bb%3D&se=1700000000", check: func(t *testing.T, tok sasToken) {
			if tok.rawResource != "h%2Fdevices%2Fd" || tok.resource != "h/devices/d" || tok.signature != "a+b=" || tok.expiry != 1700000000 || tok.keyName != "" {
				t.Errorf("got %+v", tok)
			}
		}},
		{name: "node order with skn before se", in: "SharedAccessSignature sr=h&sig=x&skn=service&se=5", check: func(t *testing.T, tok sasToken) {
			if tok.keyName != "service" || tok.rawExpiry != "5" {
				t.Errorf("got %+v", tok)
			}
		}},
		{name: "literal plus stays plus", in: "SharedAccessSignature sr=h&sig=a+b/c=&se=5", check: func(t *testing.T, tok sasToken) {
			if tok.signature != "a+b/c=" {
				t.Errorf("sig = %q", tok.signature)
			}
		}},
		{name: "unknown field and trailing amp ignored", in: "SharedAccessSignature sr=h&sig=x&se=5&foo=bar&", check: func(t *testing.T, tok sasToken) {
			if tok.rawResource != "h" {
				t.Errorf("got %+v", tok)
			}
		}},
		{name: "no prefix", in: "sr=h&sig=x&se=5", wantErr: true},
		{name: "wrong prefix case", in: "sharedaccesssignature sr=h&sig=x&se=5", wantErr: true},
		{name: "missing sig", in: "SharedAccessSignature sr=h&se=5", wantErr: true},
		{name: "missing se", in: "SharedAccessSignature sr=h&sig=x", wantErr: true},
		{name: "empty sr", in: "SharedAccessSignature sr=&sig=x&se=5", wantErr: true},
		{name: "duplicate sr", in: "SharedAccessSignature sr=h&sr=h&sig=x&se=5", wantErr: true},
		{name: "duplicate skn", in: "SharedAccessSignature sr=h&sig=x&se=5&skn=a&skn=b", wantErr: true},
		{name: "se not a number", in: "SharedAccessSignature sr=h&sig=x&se=12a", wantErr: true},
		{name: "se negative", in: "SharedAccessSignature sr=h&sig=x&se=-1", wantErr: true},
		{name: "se overflows", in: "SharedAccessSignature sr=h&sig=x&se=99999999999999999999", wantErr: true},
		{name: "se near 2^63-1", in: "SharedAccessSignature sr=h&sig=x&se=9223372036854775807", wantErr: true},
		{name: "se after 9999-12-31", in: "SharedAccessSignature sr=h&sig=x&se=253402300800", wantErr: true},
		{name: "se at 9999-12-31T23:59:59Z", in: "SharedAccessSignature sr=h&sig=x&se=253402300799", check: func(t *testing.T, tok sasToken) {
			if tok.expiry != 253402300799 {
				t.Errorf("expiry = %d", tok.expiry)
			}
		}},
		{name: "field without =", in: "SharedAccessSignature sr=h&sig=x&se=5&junk", wantErr: true},
		{name: "bad escape in sig", in: "SharedAccessSignature sr=h&sig=%zz&se=5", wantErr: true},
		{name: "bad escape in sr", in: "SharedAccessSignature sr=%&sig=x&se=5", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := parseToken(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseToken(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if tc.check != nil {
				tc.check(t, tok)
			}
		})
	}
}

func TestSignedBy(t *testing.T) {
	key1, key2, other := newKey(), newKey(), newKey()
	res := "hub.azure-devices.net/devices/dev-1"
	for _, encode := range []bool{true, false} {
		tok, err := parseToken(signToken(key2, res, 1700000000, "", encode))
		if err != nil {
			t.Fatal(err)
		}
		if !tok.signedBy(key1, key2) {
			t.Errorf("encodeSR=%v: token signed with the secondary key does not verify", encode)
		}
		if tok.signedBy(other, "", "not base64!") {
			t.Errorf("encodeSR=%v: token verifies with an unrelated key", encode)
		}
	}
	// Tampering with se (signed raw) breaks the signature.
	tampered := strings.Replace(signToken(key1, res, 1700000000, "", true), "se=1700000000", "se=1800000000", 1)
	tok, _ := parseToken(tampered)
	if tok.signedBy(key1) {
		t.Error("token with a changed se still verifies")
	}
	// PYHUB leaves '/' in sig unencoded; Node lower-cases nothing; both decode.
	// Only the sig part is rewritten: sr is signed as sent.
	for i := int64(0); i < 50; i++ {
		full := signToken(key1, res, i, "", true)
		head, rest, _ := strings.Cut(full, "&sig=")
		sig, tail, _ := strings.Cut(rest, "&se=")
		raw := head + "&sig=" + strings.NewReplacer("%2F", "/", "%2B", "+").Replace(sig) + "&se=" + tail
		tok2, err := parseToken(raw)
		if err != nil || !tok2.signedBy(key1) {
			t.Fatalf("unencoded '/' or '+' in sig does not verify: %q (%v)", raw, err)
		}
	}
}

func TestTokenExpiry(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		se      int64
		expired bool
	}{
		{now.Unix() + 3600, false},
		{now.Unix(), false},
		{now.Unix() - 300, false}, // within the 5-minute skew
		{now.Unix() - 301, true},
		{0, true},
	}
	for _, tc := range tests {
		if got := (sasToken{expiry: tc.se}).expired(now); got != tc.expired {
			t.Errorf("se=now%+d: expired = %v, want %v", tc.se-now.Unix(), got, tc.expired)
		}
	}
}

func TestScopeCoveredBy(t *testing.T) {
	module := identityScope("Hub.azure-devices.net:8443", "Dev-1", "mod")
	tests := []struct {
		sr        string
		covered   bool
		wantDepth int
	}{
		{"hub.azure-devices.net", true, 0},
		{"HUB.azure-devices.net:8443", true, 0},
		{"hub.azure-devices.net:443/devices", true, 1},
		{"hub.azure-devices.net/devices/Dev-1", true, 2},
		{"hub.azure-devices.net/DEVICES/Dev-1/Modules/mod", true, 4},
		{"hub.azure-devices.net/devices/Dev-1/modules/mod/", true, 4},
		{"hub.azure-devices.net/devices/dev-1", false, 0},  // ids are case-sensitive
		{"hub.azure-devices.net/devices/Dev-10", false, 0}, // segment, not character, prefix
		{"hub.azure-devices.net/devices/Dev", false, 0},    // segment, not character, prefix
		{"hub.azure-devices.net/devices/Dev-1/modules/mod/x", false, 0},
		{"other.azure-devices.net", false, 0},
		{"hub.azure-devices.net.evil", false, 0},
		{"hub.azure-devices.net:x", false, 0},
		{"", false, 0},
	}
	for _, tc := range tests {
		covered, depth := module.coveredBy(tc.sr)
		if covered != tc.covered || covered && depth != tc.wantDepth {
			t.Errorf("coveredBy(%q) = %v, %d; want %v, %d", tc.sr, covered, depth, tc.covered, tc.wantDepth)
		}
	}
}

func TestSASHostOnly(t *testing.T) {
	for in, want := range map[string]string{
		"h.net":        "h.net",
		"h.net:8443":   "h.net",
		"h.net:":       "h.net:",
		"h.net:ab":     "h.net:ab",
		"[::1]:443":    "[::1]",
		"[::1]":        "[::1]",
		"[::1]x":       "[::1]x",
		"[::1":         "[::1",
		"fe80::1":      "fe80::1",
		"2001:db8::12": "2001:db8::12",
	} {
		if got := hostOnly(in); got != want {
			t.Errorf("hostOnly(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAuthenticateIdentity(t *testing.T) {
	const host = "hub.azure-devices.net:8883"
	now := time.Unix(1_700_000_000, 0)
	reg := newRegistry(func() time.Time { return now })
	pol, err := newPolicies(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	devKey, modKey, offKey := newKey(), newKey(), newKey()
	mustPutDevice(t, reg, "dev", `{"authentication":{"symmetricKey":{"primaryKey":"`+devKey+`","secondaryKey":""}}}`)
	mustPutModule(t, reg, "dev", "mod", `{"authentication":{"symmetricKey":{"primaryKey":"`+modKey+`","secondaryKey":""}}}`)
	mustPutDevice(t, reg, "off", `{"status":"disabled","authentication":{"symmetricKey":{"primaryKey":"`+offKey+`"}}}`)
	mustPutModule(t, reg, "off", "m", `{"authentication":{"symmetricKey":{"primaryKey":"`+modKey+`"}}}`)
	devicePolicy, _ := pol.primaryKey("device")
	servicePolicy, _ := pol.primaryKey("service")
	ownerPolicy, _ := pol.primaryKey("iothubowner")
	se := now.Unix() + 3600
	sr := "hub.azure-devices.net/devices/dev"

	tests := []struct {
		name, device, module, token string
		want                        error // nil, errIdentityDisabled or hub.ErrUnauthorized
	}{
		{"device key, encoded sr", "dev", "", signToken(devKey, sr, se, "", true), nil},
		{"device key, raw sr (C SDK)", "dev", "", signToken(devKey, sr, se, "", false), nil},
		{"device key, sr with port", "dev", "", signToken(devKey, "hub.azure-devices.net:8883/devices/dev", se, "", true), nil},
		{"module key", "dev", "mod", signToken(modKey, sr+"/modules/mod", se, "", true), nil},
		{"module key, device-level sr", "dev", "mod", signToken(modKey, sr, se, "", true), nil},
		{"device key on the module", "dev", "mod", signToken(devKey, sr+"/modules/mod", se, "", true), hub.ErrUnauthorized},
		{"identity key with host-only sr", "dev", "", signToken(devKey, "hub.azure-devices.net", se, "", true), hub.ErrUnauthorized},
		{"sr of another device", "dev", "", signToken(devKey, "hub.azure-devices.net/devices/other", se, "", true), hub.ErrUnauthorized},
		{"sr of another module", "dev", "mod", signToken(modKey, sr+"/modules/other", se, "", true), hub.ErrUnauthorized},
		{"device policy", "dev", "mod", signToken(devicePolicy, sr+"/modules/mod", se, "device", true), nil},
		{"owner policy, host sr", "dev", "", signToken(ownerPolicy, "hub.azure-devices.net", se, "iothubowner", true), nil},
		{"service policy lacks DeviceConnect", "dev", "", signToken(servicePolicy, sr, se, "service", true), hub.ErrUnauthorized},
		{"unknown policy", "dev", "", signToken(devicePolicy, sr, se, "nope", true), hub.ErrUnauthorized},
		{"policy name with wrong key", "dev", "", signToken(devKey, sr, se, "device", true), hub.ErrUnauthorized},
		{"expired beyond skew", "dev", "", signToken(devKey, sr, now.Unix()-301, "", true), hub.ErrUnauthorized},
		{"expired within skew", "dev", "", signToken(devKey, sr, now.Unix()-299, "", true), nil},
		{"unknown device", "ghost", "", signToken(devKey, "hub.azure-devices.net/devices/ghost", se, "", true), hub.ErrUnauthorized},
		{"unknown module", "dev", "ghost", signToken(modKey, sr+"/modules/ghost", se, "", true), hub.ErrUnauthorized},
		{"garbage", "dev", "", "hello", hub.ErrUnauthorized},
		{"disabled device", "off", "", signToken(offKey, "hub.azure-devices.net/devices/off", se, "", true), errIdentityDisabled},
		{"module of disabled device", "off", "m", signToken(modKey, "hub.azure-devices.net/devices/off/modules/m", se, "", true), errIdentityDisabled},
		{"disabled device, bad token", "off", "", signToken(devKey, "hub.azure-devices.net/devices/off", se, "", true), hub.ErrUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := reg.authenticateIdentity(pol, host, tc.device, tc.module, tc.token, now)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("got %v, want success", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzParseToken(f *testing.F) {
	key := newKey()
	f.Add(signToken(key, "h/devices/d", 1700000000, "", true))
	f.Add(signToken(key, "h", 1700000000, "iothubowner", false))
	f.Add("SharedAccessSignature sr=h&sig=a+b/c=&skn=x&se=5&foo")
	f.Add("SharedAccessSignature sr=%&sig=%zz&se=-1&sr=")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := parseToken(s)
		if err != nil {
			return
		}
		if tok.rawResource == "" || tok.signature == "" || tok.rawExpiry == "" || tok.expiry < 0 {
			t.Fatalf("accepted an incomplete token %q: %+v", s, tok)
		}
		if !strings.Contains(s, "sr="+tok.rawResource) || !strings.Contains(s, "se="+tok.rawExpiry) {
			t.Fatalf("raw fields are not as sent: %q -> %+v", s, tok)
		}
		tok.signedBy(key)
		identityScope("h", "d", "m").coveredBy(tok.resource)
	})
}

// TestParseTokenErrorsNeverQuoteTheToken: a client that mistakes its key
// for a token sends the key itself; the refusal, which the emulator logs,
// must not contain it.
func TestParseTokenErrorsNeverQuoteTheToken(t *testing.T) {
	const key = "c2VjcmV0LWtleS1ieXRlcy0xMjM0NTY3ODkwYWJjZGVm"
	_, err := parseToken("SharedAccessSignature " + key)
	if err == nil {
		t.Fatal("a bare key parsed as a token")
	}
	if strings.Contains(err.Error(), key) {
		t.Fatalf("the error quotes the key: %v", err)
	}
}
