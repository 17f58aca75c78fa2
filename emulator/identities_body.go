package emulator

import (
	"encoding/base64"
	"strings"

	"github.com/hubspec/hubspec/hub"
)

// The registry's JSON: request bodies as the SDKs send them (protocol.md
// §3.9) and responses in the field order real hubs answer (§3.3, §3.4, §8).
// Read-only fields in requests (etag, generationId, connectionState, ...)
// are ignored, as the hub ignores them.

type deviceBody struct {
	DeviceID       string    `json:"deviceId"`
	Status         *string   `json:"status"`
	StatusReason   *string   `json:"statusReason"`
	Authentication *authBody `json:"authentication"`
	Capabilities   *struct {
		IoTEdge bool `json:"iotEdge"`
	} `json:"capabilities"`
}

type moduleBody struct {
	ModuleID       string    `json:"moduleId"`
	DeviceID       string    `json:"deviceId"`
	ManagedBy      *string   `json:"managedBy"`
	Authentication *authBody `json:"authentication"`
}

type authBody struct {
	SymmetricKey *struct {
		PrimaryKey   string `json:"primaryKey"`
		SecondaryKey string `json:"secondaryKey"`
	} `json:"symmetricKey"`
	X509Thumbprint *struct {
		PrimaryThumbprint   *string `json:"primaryThumbprint"`
		SecondaryThumbprint *string `json:"secondaryThumbprint"`
	} `json:"x509Thumbprint"`
	Type string `json:"type"`
}

type deviceJSON struct {
	DeviceID                   string                 `json:"deviceId"`
	GenerationID               string                 `json:"generationId"`
	ETag                       string                 `json:"etag"`
	ConnectionState            string                 `json:"connectionState"`
	Status                     string                 `json:"status"`
	StatusReason               *string                `json:"statusReason"`
	ConnectionStateUpdatedTime string                 `json:"connectionStateUpdatedTime"`
	StatusUpdatedTime          string                 `json:"statusUpdatedTime"`
	LastActivityTime           string                 `json:"lastActivityTime"`
	CloudToDeviceMessageCount  int                    `json:"cloudToDeviceMessageCount"`
	Authentication             authJSON               `json:"authentication"`
	Capabilities               hub.DeviceCapabilities `json:"capabilities"`
}

type moduleJSON struct {
	ModuleID                   string   `json:"moduleId"`
	ManagedBy                  *string  `json:"managedBy"`
	DeviceID                   string   `json:"deviceId"`
	GenerationID               string   `json:"generationId"`
	ETag                       string   `json:"etag"`
	ConnectionState            string   `json:"connectionState"`
	ConnectionStateUpdatedTime string   `json:"connectionStateUpdatedTime"`
	LastActivityTime           string   `json:"lastActivityTime"`
	CloudToDeviceMessageCount  int      `json:"cloudToDeviceMessageCount"`
	Authentication             authJSON `json:"authentication"`
}

// authJSON always carries both sub-objects: real hubs answer nulls for the
// mechanism an identity does not use (x509Thumbprint nulls on SAS devices).
type authJSON struct {
	SymmetricKey struct {
		PrimaryKey   *string `json:"primaryKey"`
		SecondaryKey *string `json:"secondaryKey"`
	} `json:"symmetricKey"`
	X509Thumbprint hub.X509Thumbprint `json:"x509Thumbprint"`
	Type           string             `json:"type"`
}

func (d *deviceEntry) toJSON() deviceJSON {
	return deviceJSON{
		DeviceID:                   d.id,
		GenerationID:               d.generationID,
		ETag:                       d.etag,
		ConnectionState:            d.connectionState(),
		Status:                     d.status,
		StatusReason:               copyString(d.statusReason),
		ConnectionStateUpdatedTime: d.connStateUpdated,
		StatusUpdatedTime:          d.statusUpdated,
		LastActivityTime:           d.lastActivity,
		CloudToDeviceMessageCount:  d.c2dCount,
		Authentication:             d.creds.toJSON(),
		Capabilities:               hub.DeviceCapabilities{IoTEdge: d.iotEdge},
	}
}

func (m *moduleEntry) toJSON(deviceID string) moduleJSON {
	return moduleJSON{
		ModuleID:                   m.id,
		ManagedBy:                  copyString(m.managedBy),
		DeviceID:                   deviceID,
		GenerationID:               m.generationID,
		ETag:                       m.etag,
		ConnectionState:            m.connectionState(),
		ConnectionStateUpdatedTime: m.connStateUpdated,
		LastActivityTime:           m.lastActivity,
		CloudToDeviceMessageCount:  m.c2dCount,
		Authentication:             m.creds.toJSON(),
	}
}

func (c credentials) toJSON() authJSON {
	var a authJSON
	if c.authType == hub.AuthSAS {
		a.SymmetricKey.PrimaryKey = &c.primaryKey
		a.SymmetricKey.SecondaryKey = &c.secondaryKey
	}
	a.X509Thumbprint = hub.X509Thumbprint{
		PrimaryThumbprint:   copyString(c.primaryThumbprint),
		SecondaryThumbprint: copyString(c.secondaryThumbprint),
	}
	a.Type = c.authType
	return a
}

func copyString(p *string) *string {
	if p == nil {
		return nil
	}
	s := *p
	return &s
}

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
