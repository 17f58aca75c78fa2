package hub

import "regexp"

// secretPatterns find the secrets IoT Hub traffic carries in clear text:
// a SAS token's signature (Authorization headers, MQTT CONNECT passwords,
// connection strings with SharedAccessSignature), a connection string's
// SharedAccessKey, and the symmetric keys of device and module bodies.
// Each keeps what precedes the secret (group 1) so a redacted text still
// says where a secret was.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`((?i:sig)=)[^&\s;"',]+`),
	regexp.MustCompile(`((?i:SharedAccessKey)=)[^;\s"',]+`),
	regexp.MustCompile(`("(?i:primaryKey|secondaryKey)"\s*:\s*")[^"]*`),
}

// Redacted replaces each secret.
const Redacted = "***"

// Redact masks every secret in s (SAS signatures, shared access keys,
// symmetric keys in JSON bodies) with Redacted, leaving the rest as it
// was. Reports and logs pass everything they show through it: evidence
// that leaks a key would make a test report a credential.
func Redact(s string) string {
	for _, p := range secretPatterns {
		s = p.ReplaceAllString(s, "${1}"+Redacted)
	}
	return s
}
