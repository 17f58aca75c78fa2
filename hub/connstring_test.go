package hub

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

const testKey = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=" // 32 bytes 1..32

func TestParseConnectionStringValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want ConnectionString
	}{
		{"service", "HostName=h.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=" + testKey,
			ConnectionString{HostName: "h.azure-devices.net", SharedAccessKeyName: "iothubowner", SharedAccessKey: testKey}},
		{"device", "HostName=h.net;DeviceId=d1;SharedAccessKey=" + testKey,
			ConnectionString{HostName: "h.net", DeviceID: "d1", SharedAccessKey: testKey}},
		{"module", "HostName=h.net;DeviceId=d1;ModuleId=m1;SharedAccessKey=" + testKey,
			ConnectionString{HostName: "h.net", DeviceID: "d1", ModuleID: "m1", SharedAccessKey: testKey}},
		{"any order, spaces, trailing semicolon", " SharedAccessKey=" + testKey + " ; DeviceId = d ;HostName=h.net;",
			ConnectionString{HostName: "h.net", DeviceID: "d", SharedAccessKey: testKey}},
		{"x509 with gateway", "HostName=h.net;DeviceId=d;x509=true;GatewayHostName=edge.local",
			ConnectionString{HostName: "h.net", DeviceID: "d", X509: true, GatewayHostName: "edge.local"}},
		{"sas token value keeps = and &", "HostName=h.net;DeviceId=d;SharedAccessSignature=SharedAccessSignature sr=h.net&sig=a%3D&se=1",
			ConnectionString{HostName: "h.net", DeviceID: "d", SharedAccessSignature: "SharedAccessSignature sr=h.net&sig=a%3D&se=1"}},
		{"host with port", "HostName=localhost:8443;SharedAccessKeyName=service;SharedAccessKey=" + testKey,
			ConnectionString{HostName: "localhost:8443", SharedAccessKeyName: "service", SharedAccessKey: testKey}},
		{"ipv6 host with port", "HostName=[::1]:8443;DeviceId=d;ModuleId=m;x509=true",
			ConnectionString{HostName: "[::1]:8443", DeviceID: "d", ModuleID: "m", X509: true}},
		{"ids with punctuation", "HostName=h.net;DeviceId=dev-1.a_b:c;ModuleId=$x+y;SharedAccessKey=" + testKey,
			ConnectionString{HostName: "h.net", DeviceID: "dev-1.a_b:c", ModuleID: "$x+y", SharedAccessKey: testKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConnectionString(tt.in)
			if err != nil {
				t.Fatalf("ParseConnectionString: %v", err)
			}
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
			again, err := ParseConnectionString(got.String())
			if err != nil || again != got {
				t.Fatalf("round trip of %q: %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseConnectionStringInvalid(t *testing.T) {
	const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=" // must never appear in errors
	tests := []struct {
		name, in, want string
	}{
		{"empty", "  ", "connection string: empty"},
		{"missing host", "DeviceId=d;SharedAccessKey=" + secret, "missing HostName"},
		{"unknown key", "HostName=h;Foo=bar;DeviceId=d;SharedAccessKey=" + secret, `unknown key "Foo"`},
		{"case matters", "Hostname=h;DeviceId=d;SharedAccessKey=" + secret, `did you mean HostName?`},
		{"duplicate", "HostName=h;DeviceId=d;DeviceId=e;SharedAccessKey=" + secret, `duplicate key "DeviceId"`},
		{"part without =", "HostName=h;DeviceId;SharedAccessKey=" + secret, "part 2 is not key=value"},
		{"empty middle part", "HostName=h;;DeviceId=d;SharedAccessKey=" + secret, "part 2 is not key=value"},
		{"empty value", "HostName=h;DeviceId=;SharedAccessKey=" + secret, "empty value for DeviceId"},
		{"key pasted without name", "HostName=h;DeviceId=d;" + secret, "unknown key in part 3"},
		{"bad base64", "HostName=h;DeviceId=d;SharedAccessKey=not*base64" + secret[:10], "SharedAccessKey is not valid base64"},
		{"x509 false", "HostName=h;DeviceId=d;x509=false", `x509 must be "true"`},
		{"module without device", "HostName=h;ModuleId=m;SharedAccessKeyName=p;SharedAccessKey=" + secret, "ModuleId without DeviceId"},
		{"mixed policy and device", "HostName=h;DeviceId=d;SharedAccessKeyName=p;SharedAccessKey=" + secret, "mixed"},
		{"key and x509", "HostName=h;DeviceId=d;x509=true;SharedAccessKey=" + secret, "mixed authentication"},
		{"key and sas", "HostName=h;DeviceId=d;SharedAccessSignature=x;SharedAccessKey=" + secret, "mixed authentication"},
		{"device without auth", "HostName=h;DeviceId=d", "missing SharedAccessKey, SharedAccessSignature or x509=true"},
		{"service without key", "HostName=h;SharedAccessKeyName=p", "missing SharedAccessKey"},
		{"key alone", "HostName=h;SharedAccessKey=" + secret, "missing DeviceId or SharedAccessKeyName"},
		{"service with sas", "HostName=h;SharedAccessKeyName=p;SharedAccessKey=" + secret + ";SharedAccessSignature=x", "mixed authentication"},
		{"port not numeric", "HostName=h:https;DeviceId=d;x509=true", "port must be a number"},
		{"port zero", "HostName=h:0;DeviceId=d;x509=true", "port must be a number"},
		{"port too big", "HostName=h:65536;DeviceId=d;x509=true", "port must be a number"},
		{"port with sign", "HostName=h:+80;DeviceId=d;x509=true", "port must be a number"},
		{"empty port", "HostName=h:;DeviceId=d;x509=true", "port must be a number"},
		{"empty host", "HostName=:80;DeviceId=d;x509=true", "empty host"},
		{"host with path", "HostName=h/x;DeviceId=d;x509=true", "not allowed in a host name"},
		{"host with control char", "HostName=h\x01x;DeviceId=d;x509=true", "not allowed in a host name"},
		{"bad gateway", "HostName=h;DeviceId=d;x509=true;GatewayHostName=g:99999", "GatewayHostName: port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConnectionString(tt.in)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "connection string: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want it to contain %q", msg, tt.want)
			}
			if strings.Contains(msg, secret[:20]) || strings.Contains(msg, "base64"+secret[:10]) {
				t.Errorf("error leaks the key: %q", msg)
			}
			if !errors.Is(err, errConnString) {
				t.Errorf("error does not wrap errConnString")
			}
		})
	}
}

func TestConnectionStringAccessors(t *testing.T) {
	tests := []struct {
		in, canonical, resource, host string
		service                       bool
	}{
		{"SharedAccessKey=" + testKey + ";SharedAccessKeyName=iothubowner;HostName=h.net",
			"HostName=h.net;SharedAccessKeyName=iothubowner;SharedAccessKey=" + testKey, "h.net", "h.net", true},
		{"GatewayHostName=g;DeviceId=d;HostName=h.net:8883;SharedAccessKey=" + testKey,
			"HostName=h.net:8883;DeviceId=d;SharedAccessKey=" + testKey + ";GatewayHostName=g", "h.net:8883/devices/d", "h.net", false},
		{"ModuleId=m;x509=true;DeviceId=d;HostName=[::1]:1",
			"HostName=[::1]:1;DeviceId=d;ModuleId=m;x509=true", "[::1]:1/devices/d/modules/m", "::1", false},
	}
	for _, tt := range tests {
		c, err := ParseConnectionString(tt.in)
		if err != nil {
			t.Fatalf("parse %q: %v", tt.in, err)
		}
		if got := c.String(); got != tt.canonical {
			t.Errorf("String() = %q, want %q", got, tt.canonical)
		}
		if got := c.ResourceURI(); got != tt.resource {
			t.Errorf("ResourceURI() = %q, want %q", got, tt.resource)
		}
		if got := c.HostWithoutPort(); got != tt.host {
			t.Errorf("HostWithoutPort() = %q, want %q", got, tt.host)
		}
		if got := c.IsService(); got != tt.service {
			t.Errorf("IsService() = %v, want %v", got, tt.service)
		}
	}
}

func TestConnectionStringLogValueRedacts(t *testing.T) {
	var b strings.Builder
	c := ConnectionString{HostName: "h", DeviceID: "d", SharedAccessKey: testKey}
	slog.New(slog.NewTextHandler(&b, nil)).Info("dial", "cs", c)
	if strings.Contains(b.String(), testKey) || !strings.Contains(b.String(), "SharedAccessKey=REDACTED") {
		t.Errorf("log line %q", b.String())
	}
}

func FuzzParseConnectionString(f *testing.F) {
	for _, s := range []string{
		"HostName=h.net;SharedAccessKeyName=p;SharedAccessKey=" + testKey,
		"HostName=h:1;DeviceId=d;ModuleId=m;x509=true;GatewayHostName=[::1]",
		"HostName=h;DeviceId=d;SharedAccessSignature=SharedAccessSignature sr=a&sig=b&se=1;",
		"HostName=[::1;DeviceId=d", "a=b=c;;", "=", ";",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConnectionString(s)
		if err != nil {
			return
		}
		again, err := ParseConnectionString(c.String())
		if err != nil {
			t.Fatalf("String() %q of a valid string does not parse: %v", c.String(), err)
		}
		if again != c {
			t.Fatalf("round trip changed %+v into %+v", c, again)
		}
		_ = c.ResourceURI()
		_ = c.HostWithoutPort()
	})
}
