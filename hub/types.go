package hub

// The registry and twin objects of the IoT Hub REST API (api-version
// 2021-04-12), with the JSON names of the service's swagger
// (azure-rest-api-specs, iothub data-plane). Read-only fields carry omitempty so request bodies stay as small
// as the official SDKs' are; fields the hub answers as null are pointers.

// Authentication types.
const (
	AuthSAS                  = "sas"
	AuthSelfSigned           = "selfSigned"
	AuthCertificateAuthority = "certificateAuthority"
	AuthNone                 = "none"
)

// Device status and connection state values, as the hub spells them in JSON.
const (
	StatusEnabled      = "enabled"
	StatusDisabled     = "disabled"
	StateConnected     = "Connected"
	StateDisconnected  = "Disconnected"
	NeverTime          = "0001-01-01T00:00:00Z"
	MetadataTimeFormat = "2006-01-02T15:04:05.0000000Z"
)

// SymmetricKey holds an identity's two base64 keys. Empty strings ask the hub
// to generate them, which is why these fields have no omitempty.
type SymmetricKey struct {
	PrimaryKey   string `json:"primaryKey"`
	SecondaryKey string `json:"secondaryKey"`
}

// X509Thumbprint is present (with nulls) even on SAS identities.
type X509Thumbprint struct {
	PrimaryThumbprint   *string `json:"primaryThumbprint"`
	SecondaryThumbprint *string `json:"secondaryThumbprint"`
}

// Authentication is an identity's authentication mechanism.
type Authentication struct {
	SymmetricKey   *SymmetricKey   `json:"symmetricKey,omitempty"`
	X509Thumbprint *X509Thumbprint `json:"x509Thumbprint,omitempty"`
	Type           string          `json:"type"`
}

// DeviceCapabilities says whether a device is an IoT Edge device.
type DeviceCapabilities struct {
	IoTEdge bool `json:"iotEdge"`
}

// Device is a device identity in the registry.
type Device struct {
	DeviceID                   string              `json:"deviceId"`
	GenerationID               string              `json:"generationId,omitempty"`
	ETag                       string              `json:"etag,omitempty"`
	ConnectionState            string              `json:"connectionState,omitempty"`
	Status                     string              `json:"status,omitempty"`
	StatusReason               *string             `json:"statusReason"`
	ConnectionStateUpdatedTime string              `json:"connectionStateUpdatedTime,omitempty"`
	StatusUpdatedTime          string              `json:"statusUpdatedTime,omitempty"`
	LastActivityTime           string              `json:"lastActivityTime,omitempty"`
	CloudToDeviceMessageCount  int                 `json:"cloudToDeviceMessageCount"`
	Authentication             *Authentication     `json:"authentication,omitempty"`
	Capabilities               *DeviceCapabilities `json:"capabilities,omitempty"`
}

// Module is a module identity on a device. Modules have no status: they
// cannot be disabled (DOC-IDREG).
type Module struct {
	ModuleID                   string          `json:"moduleId"`
	ManagedBy                  string          `json:"managedBy,omitempty"`
	DeviceID                   string          `json:"deviceId"`
	GenerationID               string          `json:"generationId,omitempty"`
	ETag                       string          `json:"etag,omitempty"`
	ConnectionState            string          `json:"connectionState,omitempty"`
	ConnectionStateUpdatedTime string          `json:"connectionStateUpdatedTime,omitempty"`
	LastActivityTime           string          `json:"lastActivityTime,omitempty"`
	CloudToDeviceMessageCount  int             `json:"cloudToDeviceMessageCount"`
	Authentication             *Authentication `json:"authentication,omitempty"`
}

// Twin is a device or module twin as the service sees it. Property values are
// whatever JSON the twin holds; "$version" and "$metadata" sit inside each
// properties section as the hub returns them.
type Twin struct {
	DeviceID                  string              `json:"deviceId,omitempty"`
	ModuleID                  string              `json:"moduleId,omitempty"`
	ETag                      string              `json:"etag,omitempty"`
	DeviceETag                string              `json:"deviceEtag,omitempty"`
	Status                    string              `json:"status,omitempty"`
	StatusUpdateTime          string              `json:"statusUpdateTime,omitempty"`
	ConnectionState           string              `json:"connectionState,omitempty"`
	LastActivityTime          string              `json:"lastActivityTime,omitempty"`
	CloudToDeviceMessageCount *int                `json:"cloudToDeviceMessageCount,omitempty"`
	AuthenticationType        string              `json:"authenticationType,omitempty"`
	X509Thumbprint            *X509Thumbprint     `json:"x509Thumbprint,omitempty"`
	Capabilities              *DeviceCapabilities `json:"capabilities,omitempty"`
	ModelID                   *string             `json:"modelId,omitempty"`
	Version                   int64               `json:"version,omitempty"`
	Tags                      map[string]any      `json:"tags,omitempty"`
	Properties                *TwinProperties     `json:"properties,omitempty"`
	// Configurations are the automatic configurations targeting the twin,
	// by id (read-only).
	Configurations map[string]TwinConfiguration `json:"configurations,omitempty"`
}

// TwinProperties holds the desired and reported sections.
type TwinProperties struct {
	Desired  map[string]any `json:"desired,omitempty"`
	Reported map[string]any `json:"reported,omitempty"`
}

// DesiredVersion returns the desired section's "$version", or 0.
func (t *Twin) DesiredVersion() int64 {
	if t.Properties == nil {
		return 0
	}
	return SectionVersion(t.Properties.Desired)
}

// ReportedVersion returns the reported section's "$version", or 0.
func (t *Twin) ReportedVersion() int64 {
	if t.Properties == nil {
		return 0
	}
	return SectionVersion(t.Properties.Reported)
}

// SectionVersion reads "$version" from a desired or reported section decoded
// from JSON (a float64 or json.Number), or 0 when absent.
func SectionVersion(section map[string]any) int64 {
	switch v := section["$version"].(type) {
	case float64:
		return int64(v)
	case interface{ Int64() (int64, error) }:
		n, _ := v.Int64()
		return n
	}
	return 0
}
