package emulator

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/hubspec/hubspec/hub"
)

// precondition is a parsed If-Match header, the optimistic concurrency of
// every registry and twin write (the IoT Hub REST reference's If-Match
// parameters; the fidelity table's If-Match rows).
type precondition struct {
	kind preconditionKind
	etag string // for condETag: the etag without quotes
}

type preconditionKind int

const (
	condNone preconditionKind = iota // absent, or an unquoted value the hub ignores
	condAny                          // * or "*"
	condETag                         // a quoted etag
)

// parseIfMatch reads If-Match the way the hub does: both * and "*" are
// wildcards (the C SDK and C# v2 send the bare form), a quoted value is an
// etag, and an unquoted value is ignored (Azure/azure-iot-sdk-node#606,
// Azure/azure-iot-sdk-java#574). A weak W/"..." counts as quoted.
func parseIfMatch(v string) precondition {
	v = strings.TrimSpace(v)
	if v == "*" || v == `"*"` {
		return precondition{kind: condAny}
	}
	w := strings.TrimPrefix(v, "W/")
	if len(w) >= 2 && w[0] == '"' && w[len(w)-1] == '"' {
		return precondition{kind: condETag, etag: w[1 : len(w)-1]}
	}
	return precondition{kind: condNone}
}

// stale reports a quoted etag that is not the entity's current one.
func (p precondition) stale(current string) bool {
	return p.kind == condETag && p.etag != current
}

// errStaleIdentity is the real hub's 412 text (the C# SDK's
// ServiceExceptionHandlingHelperTests quote it), whose versions are the
// decimal counters inside the identity etags.
func errStaleIdentity(kind, current, sent string) error {
	return hub.ErrPreconditionFailed.WithMessage("Precondition failed: %s version did not match, existingVersion:%s newVersion:%s",
		kind, etagVersion(current), etagVersion(sent))
}

func etagVersion(etag string) string {
	if b, err := base64.StdEncoding.DecodeString(etag); err == nil && len(b) > 0 && strings.Trim(string(b), "0123456789") == "" {
		return string(b)
	}
	return etag
}

// ifMatch is the precondition of a REST request.
func ifMatch(r *http.Request) precondition { return parseIfMatch(r.Header.Get("If-Match")) }

// errStaleTwin is the twin's 412; the real text is unknown (the fidelity
// table's "Twin 412 message" row).
func errStaleTwin(current, sent string) error {
	return hub.ErrPreconditionFailed.WithMessage("Precondition failed: the twin's etag is %s, not %s.", current, sent)
}
