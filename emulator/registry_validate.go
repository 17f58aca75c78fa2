package emulator

import (
	"encoding/base64"
	"strings"

	"github.com/hubspec/hubspec/hub"
)

// The registry's input rules: which device and module ids are valid, and
// how a request's authentication becomes an identity's credentials.

// idSpecials are the non-alphanumeric ASCII characters DOC-IDREG allows in
// device and module ids. '+' and '#' are absent: the 2025 doc says they
// "aren't supported" although the 2021 swagger still lists them.
const idSpecials = "-.%_*?!(),:=@$'"

// validateID applies the shared device/module id rules: 1–128 characters,
// ASCII alphanumerics and idSpecials (case is kept: ids are case-sensitive).
func validateID(kind, id string) error {
	if id == "" || len(id) > 128 {
		return hub.ErrArgumentInvalid.WithMessage("%s id '%s' is invalid: it must be 1 to 128 characters long.", kind, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && strings.IndexByte(idSpecials, c) < 0 {
			return hub.ErrArgumentInvalid.WithMessage("%s id '%s' is invalid: character %q is not allowed; use ASCII letters, digits and %s", kind, id, c, idSpecials)
		}
	}
	// "." and ".." are path segments, not names: HTTP clients normalise
	// them away, so no REST path could ever address such an identity.
	if strings.Trim(id, ".") == "" && len(id) <= 2 {
		return hub.ErrArgumentInvalid.WithMessage("%s id '%s' is invalid: '.' and '..' cannot be addressed in a URL.", kind, id)
	}
	return nil
}

func validateDeviceID(id string) error { return validateID("Device", id) }

// validateModuleID also refuses a leading '$': those names belong to IoT
// Edge system modules ($edgeAgent, $edgeHub) and user modules cannot take them.
func validateModuleID(id string) error {
	if err := validateID("Module", id); err != nil {
		return err
	}
	if id[0] == '$' {
		return hub.ErrArgumentInvalid.WithMessage("Module id '%s' is invalid: ids starting with '$' are reserved for IoT Edge system modules.", id)
	}
	return nil
}

// resolveCredentials turns a request's authentication into credentials. On
// create (old == nil) empty keys are generated; on update an absent
// authentication, or an empty key, keeps the current one, because the Node
// SDK sends empty keys on every update (its _normalizeAuthentication) and
// rotating keys on a status change would surprise everyone.
func resolveCredentials(a *authBody, old *credentials) (credentials, error) {
	if a == nil {
		if old != nil {
			return *old, nil
		}
		return credentials{authType: hub.AuthSAS, primaryKey: newKey(), secondaryKey: newKey()}, nil
	}
	c := credentials{authType: a.Type}
	if c.authType == "" {
		c.authType = hub.AuthSAS
	}
	switch c.authType {
	case hub.AuthSAS:
		var primary, secondary string
		if a.SymmetricKey != nil {
			primary, secondary = a.SymmetricKey.PrimaryKey, a.SymmetricKey.SecondaryKey
		}
		keep := old != nil && old.authType == hub.AuthSAS
		var err error
		if c.primaryKey, err = resolveKey("primary", primary, keep, oldKey(old, true)); err != nil {
			return credentials{}, err
		}
		if c.secondaryKey, err = resolveKey("secondary", secondary, keep, oldKey(old, false)); err != nil {
			return credentials{}, err
		}
	case hub.AuthSelfSigned:
		if a.X509Thumbprint != nil {
			c.primaryThumbprint = copyString(a.X509Thumbprint.PrimaryThumbprint)
			c.secondaryThumbprint = copyString(a.X509Thumbprint.SecondaryThumbprint)
		}
		for _, t := range []*string{c.primaryThumbprint, c.secondaryThumbprint} {
			if t != nil && !validThumbprint(*t) {
				return credentials{}, hub.ErrArgumentInvalid.WithMessage("Thumbprint '%s' is invalid: want 40 (SHA-1) or 64 (SHA-256) hex digits.", *t)
			}
		}
		if c.primaryThumbprint == nil {
			return credentials{}, hub.ErrArgumentInvalid.WithMessage("A selfSigned identity needs a primaryThumbprint.")
		}
	case hub.AuthCertificateAuthority, hub.AuthNone:
	default:
		return credentials{}, hub.ErrArgumentInvalid.WithMessage("Authentication type '%s' is not supported; use sas, selfSigned, certificateAuthority or none.", a.Type)
	}
	return c, nil
}

func oldKey(old *credentials, primary bool) string {
	switch {
	case old == nil:
		return ""
	case primary:
		return old.primaryKey
	default:
		return old.secondaryKey
	}
}

// resolveKey validates a supplied key: base64 decoding to 16–64 bytes, the
// range the service accepts (Azure/azure-iot-sdk-java PR #1323).
func resolveKey(which, supplied string, keep bool, current string) (string, error) {
	if supplied == "" {
		if keep {
			return current, nil
		}
		return newKey(), nil
	}
	raw, err := base64.StdEncoding.DecodeString(supplied)
	if err != nil || len(raw) < 16 || len(raw) > 64 {
		return "", hub.ErrArgumentInvalid.WithMessage("The %s key is invalid: it must be base64 encoding 16 to 64 bytes.", which)
	}
	return supplied, nil
}

func validThumbprint(t string) bool {
	if len(t) != 40 && len(t) != 64 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
