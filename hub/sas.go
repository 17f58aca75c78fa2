package hub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const sasPrefix = "SharedAccessSignature "

// BuildSASToken returns
//
//	SharedAccessSignature sr=<enc>&sig=<enc>&se=<unix>[&skn=<policy>]
//
// byte for byte as the Python device SDK builds it (azure-iot-device's
// sastoken.py): sr is resourceURI percent-encoded with nothing safe
// ("/" → %2F, ":" → %3A, upper-case hex); the HMAC-SHA256, keyed with the
// base64-decoded key, covers the encoded sr + "\n" + se; sig is the base64
// MAC percent-encoded the same way. skn is appended raw, as PYDEV does;
// policy names are plain identifiers. The hub verifies the HMAC over sr as
// sent, so this form works for REST, MQTT and policy tokens alike.
func BuildSASToken(resourceURI, base64Key, policyName string, expiry time.Time) (string, error) {
	if resourceURI == "" {
		return "", errors.New("sas token: empty resource URI")
	}
	key, err := decodeKey(base64Key)
	if err != nil {
		return "", err
	}
	sr := EscapeAll(resourceURI)
	se := strconv.FormatInt(expiry.Unix(), 10)
	sig := EscapeAll(sasSign(key, sr, se))
	tok := sasPrefix + "sr=" + sr + "&sig=" + sig + "&se=" + se
	if policyName != "" {
		tok += "&skn=" + policyName
	}
	return tok, nil
}

// decodeKey decodes a standard-base64 key; the error never shows the key.
func decodeKey(base64Key string) ([]byte, error) {
	if base64Key == "" {
		return nil, errors.New("sas token: empty key")
	}
	key, err := base64.StdEncoding.DecodeString(base64Key)
	if err != nil {
		return nil, errors.New("sas token: key is not valid base64")
	}
	return key, nil
}

// sasSign is base64(HMAC-SHA256(key, sr + "\n" + se)).
func sasSign(key []byte, sr, se string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(sr + "\n" + se))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SASToken is a parsed SAS token.
type SASToken struct {
	// Resource is sr exactly as sent (not decoded): the HMAC covers these
	// bytes, and SDKs differ in how they encode them (Python and C# encode
	// it whole, Node lower-cases the hex, the C SDK leaves it unencoded).
	Resource string
	// Signature is sig, percent-decoded: the base64 text of the MAC.
	Signature string
	// Policy is skn, percent-decoded; empty for identity-key tokens.
	Policy string
	// Expiry is se.
	Expiry time.Time
}

// ParseSASToken parses "SharedAccessSignature sr=…&sig=…&se=…[&skn=…]" with
// its fields in any order (Node sends sr, sig, skn, se). Like PYDEV's
// get_sastoken_info_from_string it requires sr, sig and se and rejects
// unknown fields; unlike it, duplicates are an error instead of last-wins.
// sig and skn are decoded with path-unescaping, so a literal "+" in a sig
// that a sender forgot to encode stays a "+" instead of becoming a space.
// It is meant for clients (reading the expiry of a SharedAccessSignature
// connection string); the emulator verifies tokens with its own code.
func ParseSASToken(s string) (SASToken, error) {
	var t SASToken
	body, ok := strings.CutPrefix(strings.TrimSpace(s), sasPrefix)
	if !ok {
		return t, errors.New(`sas token: missing "SharedAccessSignature " prefix`)
	}
	fields := map[string]string{}
	for _, f := range strings.Split(body, "&") {
		k, v, ok := strings.Cut(f, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case !ok:
			return SASToken{}, errors.New("sas token: field is not key=value")
		case k != "sr" && k != "sig" && k != "se" && k != "skn":
			return SASToken{}, errors.New("sas token: unknown field")
		case v == "":
			return SASToken{}, fmt.Errorf("sas token: empty %s", k)
		}
		if _, dup := fields[k]; dup {
			return SASToken{}, fmt.Errorf("sas token: duplicate %s", k)
		}
		fields[k] = v
	}
	for _, k := range []string{"sr", "sig", "se"} {
		if fields[k] == "" {
			return SASToken{}, fmt.Errorf("sas token: missing %s", k)
		}
	}
	t.Resource = fields["sr"]
	sig, err := url.PathUnescape(fields["sig"])
	if err != nil {
		return SASToken{}, errors.New("sas token: sig is not percent-encoded correctly")
	}
	if _, err := base64.StdEncoding.DecodeString(sig); err != nil {
		return SASToken{}, errors.New("sas token: sig is not base64")
	}
	t.Signature = sig
	if skn, ok := fields["skn"]; ok {
		if t.Policy, err = url.PathUnescape(skn); err != nil {
			return SASToken{}, errors.New("sas token: skn is not percent-encoded correctly")
		}
	}
	se := fields["se"]
	n, err := strconv.ParseInt(se, 10, 64)
	if err != nil || n < 0 || strings.TrimLeft(se, "0123456789") != "" {
		return SASToken{}, errors.New("sas token: se is not a non-negative integer")
	}
	t.Expiry = time.Unix(n, 0).UTC()
	return t, nil
}

// SASToken returns a token for c's ResourceURI signed with c's key, valid
// until now+ttl, with skn set for policy strings. A SharedAccessSignature
// string already holds its (non-renewable) token, which is returned as is.
func (c ConnectionString) SASToken(ttl time.Duration, now time.Time) (string, error) {
	switch {
	case c.SharedAccessSignature != "":
		return c.SharedAccessSignature, nil
	case c.X509:
		return "", errors.New("sas token: x509 connection string has no key")
	case ttl <= 0:
		return "", errors.New("sas token: ttl must be positive")
	}
	policy := ""
	if c.IsService() {
		policy = c.SharedAccessKeyName
	}
	return BuildSASToken(c.ResourceURI(), c.SharedAccessKey, policy, now.Add(ttl))
}
