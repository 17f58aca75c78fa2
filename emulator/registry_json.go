package emulator

import "github.com/hubspec/hubspec/hub"

// The registry's JSON: request bodies as the service SDKs send them and
// responses in the field order real hubs answer (the Device and Module
// objects of the IoT Hub REST reference, "Service - Devices"; the fidelity
// table's "Identity registry (REST)" rows). Read-only fields in requests
// (etag, generationId, connectionState, ...) are ignored, as the hub ignores
// them. The renderers work on snapshots (registry.go), never on the state
// under the registry lock.

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

// deviceJSONOf renders a device snapshot.
func deviceJSONOf(d deviceEntry) deviceJSON {
	return deviceJSON{
		DeviceID:                   d.id,
		GenerationID:               d.generationID,
		ETag:                       d.etag,
		ConnectionState:            connectionState(d.connected),
		Status:                     d.status,
		StatusReason:               copyString(d.statusReason),
		ConnectionStateUpdatedTime: d.connStateUpdated,
		StatusUpdatedTime:          d.statusUpdated,
		LastActivityTime:           d.lastActivity,
		CloudToDeviceMessageCount:  d.c2dCount,
		Authentication:             authJSONOf(d.creds),
		Capabilities:               hub.DeviceCapabilities{IoTEdge: d.iotEdge},
	}
}

// moduleJSONOf renders a module snapshot of a module of deviceID.
func moduleJSONOf(m moduleEntry, deviceID string) moduleJSON {
	return moduleJSON{
		ModuleID:                   m.id,
		ManagedBy:                  copyString(m.managedBy),
		DeviceID:                   deviceID,
		GenerationID:               m.generationID,
		ETag:                       m.etag,
		ConnectionState:            connectionState(m.connected),
		ConnectionStateUpdatedTime: m.connStateUpdated,
		LastActivityTime:           m.lastActivity,
		CloudToDeviceMessageCount:  m.c2dCount,
		Authentication:             authJSONOf(m.creds),
	}
}

func authJSONOf(c credentials) authJSON {
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

// connectionState is an identity's connectionState field.
func connectionState(connected bool) string {
	if connected {
		return hub.StateConnected
	}
	return hub.StateDisconnected
}
