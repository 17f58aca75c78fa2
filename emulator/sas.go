package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// The emulator verifies SAS tokens with this file's code only, never with
// package hub's token builder: a bug shared by the signer and the verifier
// would agree with itself and only show against a real hub (a design
// decision: the fidelity table's "Verifier" row).

const (
	sasPrefix = "SharedAccessSignature "
	// sasClockSkew is how long after se a token still works: the service's
	// MaxClockSkew (CS SharedAccessSignatureConstants; "5 min grace period",
	// Azure/azure-iot-sdk-c#163).
	sasClockSkew = 5 * 60
)

// errIdentityDisabled is returned by authenticateIdentity for a valid token
// of a disabled device (or of a module of one): MQTT answers CONNACK 3.
var errIdentityDisabled = errors.New("device is disabled")

// sasToken is a parsed SharedAccessSignature.
type sasToken struct {
	rawResource string // sr exactly as sent: the signature covers these bytes
	resource    string // sr percent-decoded: the scope check uses it
	signature   string // sig percent-decoded
	rawExpiry   string // se as sent, also signed
	expiry      int64
	keyName     string // skn percent-decoded; "" for identity-key tokens
}

// parseToken parses "SharedAccessSignature sr=..&sig=..&se=..[&skn=..]".
// Fields may come in any order (Node writes sr, sig, skn, se); duplicates are
// rejected; unknown fields are ignored. sig and skn are decoded with path
// semantics, so a literal '+' stays '+' (PYHUB leaves '/' unencoded, some
// tools leave '+'): query semantics would turn it into a space.
func parseToken(s string) (sasToken, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), sasPrefix)
	if !ok {
		return sasToken{}, errors.New("not a SharedAccessSignature token")
	}
	var t sasToken
	seen := map[string]bool{}
	for i, field := range strings.Split(rest, "&") {
		if field == "" {
			continue
		}
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			// Never quote the field: a client that sends its raw key as
			// the token would find the key in the emulator's log.
			return sasToken{}, fmt.Errorf("token field %d (of %d bytes) has no '='", i+1, len(field))
		}
		if seen[k] {
			return sasToken{}, fmt.Errorf("token field %q appears twice", k)
		}
		seen[k] = true
		var err error
		switch k {
		case "sr":
			t.rawResource = v
			t.resource, err = url.PathUnescape(v)
		case "sig":
			t.signature, err = url.PathUnescape(v)
		case "skn":
			t.keyName, err = url.PathUnescape(v)
		case "se":
			t.rawExpiry = v
			t.expiry, err = parseExpiry(v)
		}
		if err != nil {
			return sasToken{}, fmt.Errorf("token field %s: %w", k, err)
		}
	}
	if t.rawResource == "" || t.signature == "" || t.rawExpiry == "" {
		return sasToken{}, errors.New("token needs sr, sig and se")
	}
	return t, nil
}

// maxExpiry is 9999-12-31T23:59:59Z, the last second the service's token
// parser can represent: it computes the expiry as a .NET DateTime (epoch +
// TimeSpan.FromSeconds(se)), which throws beyond it, so the token is refused
// (docs/fidelity.md, "se beyond year 9999"). Refusing it here also keeps
// every expiry computation far from int64 overflow.
const maxExpiry = 253402300799

// parseExpiry reads se: decimal seconds since the Unix epoch, digits only,
// no later than maxExpiry.
func parseExpiry(v string) (int64, error) {
	if !isDigits(v) {
		return 0, fmt.Errorf("%q is not a number of seconds", v)
	}
	se, err := strconv.ParseInt(v, 10, 64)
	if err == nil && se > maxExpiry {
		err = fmt.Errorf("%d is after 9999-12-31T23:59:59Z", se)
	}
	return se, err
}

// signedBy reports whether one of the base64 keys signed the token:
// HMAC-SHA256 over the raw sr, "\n" and the raw se, compared in constant time
// with the decoded sig. Using sr as sent is what lets both the C SDK
// (unencoded sr) and Python/Node (encoded sr) verify (the C# SDK's
// SharedAccessSignature.cs signs the same string; the fidelity table's
// "Signed string" row).
func (t sasToken) signedBy(keys ...string) bool {
	ok := false
	for _, k := range keys {
		key, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(key) == 0 {
			continue
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(t.rawResource + "\n" + t.rawExpiry))
		want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if subtle.ConstantTimeCompare([]byte(want), []byte(t.signature)) == 1 {
			ok = true
		}
	}
	return ok
}

// expired is true only once se plus the 5-minute skew has passed.
func (t sasToken) expired(now time.Time) bool {
	return t.expiry < now.Unix()-sasClockSkew
}

// resourceScope is what a token must cover: the hub host, then path
// segments. Ids compare case-sensitively (they are case-sensitive, and no
// SDK lower-cases them despite DOC-SAS's "lower case" advice); the host and
// the fixed words (devices, modules, twins, ...) compare case-insensitively.
type resourceScope struct {
	host string
	segs []scopeSegment
}

type scopeSegment struct {
	text string
	isID bool
}

func identityScope(host, deviceID, moduleID string) resourceScope {
	s := resourceScope{host: host, segs: []scopeSegment{{"devices", false}, {deviceID, true}}}
	if moduleID != "" {
		s.segs = append(s.segs, scopeSegment{"modules", false}, scopeSegment{moduleID, true})
	}
	return s
}

// coveredBy reports whether a decoded sr is a segment prefix of the scope
// (DOC-SAS: "/a/b" covers "/a/b/c" but not "/a/bc"), and how many path
// segments after the host it names. A trailing '/' is tolerated; the host
// ignores any ":port", since the embedded emulator's HostName carries one.
func (s resourceScope) coveredBy(sr string) (bool, int) {
	parts := strings.Split(strings.TrimSuffix(sr, "/"), "/")
	if !strings.EqualFold(hostOnly(parts[0]), hostOnly(s.host)) || len(parts)-1 > len(s.segs) {
		return false, 0
	}
	for i, p := range parts[1:] {
		seg := s.segs[i]
		if seg.isID && p != seg.text || !seg.isID && !strings.EqualFold(p, seg.text) {
			return false, 0
		}
	}
	return true, len(parts) - 1
}

// hostOnly drops a ":port" suffix, also from a bracketed IPv6 literal;
// anything else (a bare IPv6 address, a non-numeric port) is left whole.
func hostOnly(h string) string {
	host, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return h
		}
		host, port = h[:end+1], h[end+1:]
		if port == "" {
			return host
		}
		if p, ok := strings.CutPrefix(port, ":"); !ok || !isDigits(p) {
			return h
		}
		return host
	}
	if strings.Count(h, ":") != 1 {
		return h
	}
	host, port, _ = strings.Cut(h, ":")
	if !isDigits(port) {
		return h
	}
	return host
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func errUnauthorized(format string, args ...any) error {
	return hub.ErrUnauthorized.WithMessage(format, args...)
}

// authenticateIdentity checks a device or module CONNECT password. It
// accepts a token signed with the identity's own key whose sr names the
// device ({host}/devices/{d}) or, for a module, the module, and a token
// signed by a policy with DeviceConnect (skn set) whose sr covers the
// identity. It returns nil, an error wrapping errIdentityDisabled (valid
// token, disabled device), or a *hub.Error 401 for everything else —
// including an unknown identity, so CONNACK never reveals which ids exist.
func (r *registry) authenticateIdentity(p *policies, hostName, deviceID, moduleID, token string, now time.Time) error {
	t, err := parseToken(token)
	if err != nil {
		return errUnauthorized("%v", err)
	}
	primary, secondary, enabled, err := r.identityKeys(deviceID, moduleID)
	if err != nil {
		return errUnauthorized("identity %s is not registered", identityName(deviceID, moduleID))
	}
	covered, depth := identityScope(hostName, deviceID, moduleID).coveredBy(t.resource)
	if t.keyName != "" {
		pol, ok := p.lookup(t.keyName)
		switch {
		case !ok:
			return errUnauthorized("no shared access policy %q", t.keyName)
		case !pol.perms.allows(permDeviceConnect):
			return errUnauthorized("policy %q lacks DeviceConnect", t.keyName)
		case !t.signedBy(pol.primaryKey, pol.secondaryKey):
			return errUnauthorized("signature does not verify with policy %q", t.keyName)
		}
	} else {
		if !t.signedBy(primary, secondary) {
			return errUnauthorized("signature does not verify with the keys of %s", identityName(deviceID, moduleID))
		}
		covered = covered && depth >= 2
	}
	if t.expired(now) {
		return errUnauthorized("token expired at %d", t.expiry)
	}
	if !covered {
		return errUnauthorized("token scope %q does not cover %s", t.resource, identityName(deviceID, moduleID))
	}
	if !enabled {
		return fmt.Errorf("%w: %s", errIdentityDisabled, deviceID)
	}
	return nil
}

func identityName(deviceID, moduleID string) string {
	if moduleID == "" {
		return deviceID
	}
	return deviceID + "/" + moduleID
}
