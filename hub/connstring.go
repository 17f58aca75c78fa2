package hub

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// ConnectionString is a parsed IoT Hub connection string, as the portal and
// the SDKs write it: semicolon-separated Key=Value pairs.
// Three shapes are valid:
//
//	service: HostName=h;SharedAccessKeyName=p;SharedAccessKey=k
//	device:  HostName=h;DeviceId=d;(SharedAccessKey=k | SharedAccessSignature=t | x509=true)
//	module:  HostName=h;DeviceId=d;ModuleId=m;(same three choices)
//
// GatewayHostName may be added to any of them; it only changes the host a
// client dials, never the SAS resource or the MQTT username.
type ConnectionString struct {
	HostName              string
	SharedAccessKeyName   string
	SharedAccessKey       string
	DeviceID              string
	ModuleID              string
	GatewayHostName       string
	SharedAccessSignature string
	X509                  bool
}

// Connection string keys. They are case-sensitive, as in the Python, Node
// and C SDKs; note the lower-case "x509".
const (
	keyHostName              = "HostName"
	keySharedAccessKeyName   = "SharedAccessKeyName"
	keySharedAccessKey       = "SharedAccessKey"
	keySharedAccessSignature = "SharedAccessSignature"
	keyDeviceID              = "DeviceId"
	keyModuleID              = "ModuleId"
	keyGatewayHostName       = "GatewayHostName"
	keyX509                  = "x509"
)

var errConnString = errors.New("connection string")

func csErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errConnString}, args...)...)
}

// ParseConnectionString parses s strictly. It splits on ";" and each part at
// its first "=", so base64 padding in keys survives. Unlike the Node SDK,
// which silently drops malformed parts and lets later duplicates win, every
// mistake is an error here: a test harness should fail loudly on a typo
// rather than connect with half a configuration. Errors name keys but never
// print values, so a connection string in an error log leaks no secret.
func ParseConnectionString(s string) (ConnectionString, error) {
	var c ConnectionString
	if strings.TrimSpace(s) == "" {
		return c, csErrorf("empty")
	}
	parts := strings.Split(s, ";")
	seen := make(map[string]bool, len(parts))
	for i, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" && i == len(parts)-1 && i > 0 {
			continue // a trailing ";" is harmless
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return ConnectionString{}, csErrorf("part %d is not key=value", i+1)
		}
		dst, known := c.field(k)
		if !known {
			return ConnectionString{}, unknownKeyError(k, i+1)
		}
		if seen[k] {
			return ConnectionString{}, csErrorf("duplicate key %q", k)
		}
		seen[k] = true
		if v == "" {
			return ConnectionString{}, csErrorf("empty value for %s", k)
		}
		if k == keyX509 {
			if v != "true" {
				return ConnectionString{}, csErrorf(`x509 must be "true"`)
			}
			c.X509 = true
			continue
		}
		*dst = v
	}
	if err := c.validate(); err != nil {
		return ConnectionString{}, err
	}
	return c, nil
}

// field maps a key to the struct field it fills; x509 has no string field.
func (c *ConnectionString) field(key string) (*string, bool) {
	switch key {
	case keyHostName:
		return &c.HostName, true
	case keySharedAccessKeyName:
		return &c.SharedAccessKeyName, true
	case keySharedAccessKey:
		return &c.SharedAccessKey, true
	case keySharedAccessSignature:
		return &c.SharedAccessSignature, true
	case keyDeviceID:
		return &c.DeviceID, true
	case keyModuleID:
		return &c.ModuleID, true
	case keyGatewayHostName:
		return &c.GatewayHostName, true
	case keyX509:
		return nil, true
	}
	return nil, false
}

var allKeys = [...]string{keyHostName, keySharedAccessKeyName, keySharedAccessKey,
	keySharedAccessSignature, keyDeviceID, keyModuleID, keyGatewayHostName, keyX509}

// unknownKeyError names the key only when it cannot be a secret. A key
// without padding-free "=" splits into key "<most of the secret>" and value
// "=", so printing every unknown key would leak keys. IoT Hub keys are at
// least 16 bytes (22 base64 characters before padding), so identifiers of at
// most 20 characters are safe to show; so are case-variants of real keys,
// where the hint is the whole point ("Hostname" vs "HostName").
func unknownKeyError(k string, part int) error {
	for _, known := range allKeys {
		if strings.EqualFold(k, known) {
			return csErrorf("unknown key %q (keys are case-sensitive: did you mean %s?)", k, known)
		}
	}
	if len(k) <= 20 && isIdentifier(k) {
		return csErrorf("unknown key %q", k)
	}
	return csErrorf("unknown key in part %d", part)
}

func isIdentifier(s string) bool {
	for i, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_'
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return s != ""
}

// validate checks that the fields form one of the three valid shapes.
func (c ConnectionString) validate() error {
	if c.HostName == "" {
		return csErrorf("missing %s", keyHostName)
	}
	if _, _, err := splitHostPort(c.HostName); err != nil {
		return csErrorf("%s: %v", keyHostName, err)
	}
	if c.GatewayHostName != "" {
		if _, _, err := splitHostPort(c.GatewayHostName); err != nil {
			return csErrorf("%s: %v", keyGatewayHostName, err)
		}
	}
	if c.SharedAccessKey != "" {
		if _, err := base64.StdEncoding.DecodeString(c.SharedAccessKey); err != nil {
			return csErrorf("%s is not valid base64", keySharedAccessKey)
		}
	}
	if c.ModuleID != "" && c.DeviceID == "" {
		return csErrorf("%s without %s", keyModuleID, keyDeviceID)
	}
	if c.DeviceID == "" {
		return c.validateService()
	}
	if c.SharedAccessKeyName != "" {
		return csErrorf("mixed: %s cannot be combined with %s", keySharedAccessKeyName, keyDeviceID)
	}
	n := 0
	for _, set := range []bool{c.SharedAccessKey != "", c.SharedAccessSignature != "", c.X509} {
		if set {
			n++
		}
	}
	switch n {
	case 0:
		return csErrorf("missing %s, %s or x509=true", keySharedAccessKey, keySharedAccessSignature)
	case 1:
		return nil
	}
	return csErrorf("mixed authentication: use exactly one of %s, %s and x509", keySharedAccessKey, keySharedAccessSignature)
}

func (c ConnectionString) validateService() error {
	switch {
	case c.SharedAccessKeyName == "":
		return csErrorf("missing %s or %s", keyDeviceID, keySharedAccessKeyName)
	case c.SharedAccessKey == "":
		return csErrorf("missing %s", keySharedAccessKey)
	case c.SharedAccessSignature != "" || c.X509:
		return csErrorf("mixed authentication: a service string takes only %s", keySharedAccessKey)
	}
	return nil
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port" and checks
// that a port, when present, is a number in 1-65535. It rejects characters
// that would change the meaning of the "https://" + HostName URL.
func splitHostPort(h string) (host, port string, err error) {
	if strings.ContainsAny(h, " /\\?#@") || strings.ContainsFunc(h, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", "", errors.New("contains a character not allowed in a host name")
	}
	host = h
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", "", errors.New("unterminated IPv6 literal")
		}
		host = h[1:end]
		rest := h[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", "", errors.New("unexpected text after IPv6 literal")
			}
			port = rest[1:]
			if err := checkPort(port); err != nil {
				return "", "", err
			}
		}
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
		if err := checkPort(port); err != nil {
			return "", "", err
		}
	}
	if host == "" {
		return "", "", errors.New("empty host")
	}
	return host, port, nil
}

func checkPort(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || strings.TrimLeft(p, "0123456789") != "" {
		return errors.New("port must be a number in 1-65535")
	}
	return nil
}

// String renders c in canonical order:
//
//	HostName;[DeviceId;[ModuleId;]][SharedAccessKeyName;]SharedAccessKey|SharedAccessSignature|x509=true[;GatewayHostName]
//
// The result contains the secret: it is what you pass to an SDK, not what
// you log. Log c through slog, which uses LogValue.
func (c ConnectionString) String() string {
	var b strings.Builder
	add := func(k, v string) {
		if v == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	add(keyHostName, c.HostName)
	add(keyDeviceID, c.DeviceID)
	add(keyModuleID, c.ModuleID)
	add(keySharedAccessKeyName, c.SharedAccessKeyName)
	add(keySharedAccessKey, c.SharedAccessKey)
	add(keySharedAccessSignature, c.SharedAccessSignature)
	if c.X509 {
		add(keyX509, "true")
	}
	add(keyGatewayHostName, c.GatewayHostName)
	return b.String()
}

// LogValue makes slog print c with its key and signature redacted.
func (c ConnectionString) LogValue() slog.Value {
	r := c
	if r.SharedAccessKey != "" {
		r.SharedAccessKey = "REDACTED"
	}
	if r.SharedAccessSignature != "" {
		r.SharedAccessSignature = "REDACTED"
	}
	return slog.StringValue(r.String())
}

// IsService reports whether c is a shared access policy (service) string.
func (c ConnectionString) IsService() bool {
	return c.SharedAccessKeyName != "" && c.DeviceID == ""
}

// ResourceURI is the SAS resource before encoding (IoT Hub "Control access
// with SAS", the resource URI of each scope):
// "{host}" for a policy, "{host}/devices/{d}" for a device and
// "{host}/devices/{d}/modules/{m}" for a module. The host keeps its port,
// as the Python SDKs do when HostName carries one.
func (c ConnectionString) ResourceURI() string {
	switch {
	case c.DeviceID == "":
		return c.HostName
	case c.ModuleID == "":
		return c.HostName + "/devices/" + c.DeviceID
	}
	return c.HostName + "/devices/" + c.DeviceID + "/modules/" + c.ModuleID
}

// HostWithoutPort is HostName minus any ":port", with IPv6 brackets removed
// like url.URL.Hostname, so it fits tls.Config.ServerName.
func (c ConnectionString) HostWithoutPort() string {
	host, _, err := splitHostPort(c.HostName)
	if err != nil {
		return c.HostName
	}
	return host
}
